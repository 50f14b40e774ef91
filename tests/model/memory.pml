/*
 * memory.pml: the memory model shared by the mpsafe Promela models.
 *
 * Promela is sequentially consistent; the machine is not.  Every shared
 * variable lives in mem[], and every thread owns a FIFO store buffer
 * (x86-TSO): a store goes into the buffer, a load returns the newest
 * buffered store of the thread to that variable or else memory, and the
 * process "memory" commits the oldest entry of any buffer at any moment.
 * So a thread's store may become visible to others after its own later
 * loads (store->load reordering, the store-buffering pattern), which is
 * the reordering every barrier pair in mpsafe is there to forbid.
 * Store->store and load->load order are kept (TSO), so release stores
 * and acquire loads are plain st()/ld() here.
 *
 *   fence(t)       atomic_thread_fence(seq_cst): drain t's buffer.
 *   rmw_*(t, ...)  seq_cst read-modify-write (x86 locked instruction):
 *                  drain t's buffer, then operate on memory atomically
 *                  (rmw_add, rmw_xchg, rmw_cas).
 *   mutex_enter(t, m) / mutex_exit(t, m)  a pthread mutex (a bit of the
 *                  model): locked instructions, which drain t's buffer.
 *   membarrier(t)  membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) by t: a
 *                  full barrier on t, then on every thread, one at a
 *                  time in any order while the others run: each buffer
 *                  drains at some point of its thread's program.
 *   futex_wait(t, v, val) / futex_wake(t, v): futex(2); the wait compares
 *                  memory with val atomically with falling asleep, and a
 *                  sleeper stays blocked (not an end state: a lost
 *                  wake-up is an "invalid end state") until a wake on v.
 *
 * SC_MEMORY (-D) turns the buffers off: every store goes straight to
 * memory, a sequentially consistent machine.  It exists to show which
 * broken variants only the store buffers catch (see
 * docs/design/verification.md).
 *
 * A model defines NT (threads with buffers), NVARS (shared words) and
 * SBSZ (buffer entries per thread) before including this file, and runs
 * the process memory() next to its threads.  Values are bytes, or
 * MEMTYPE.
 */
#ifndef SBSZ
#define SBSZ 2
#endif
#ifndef MEMTYPE
#define MEMTYPE byte /* short where words go negative (localcount) */
#endif

MEMTYPE mem[NVARS];
byte sb_var[NT * SBSZ]; /* buffer entries of thread t: t*SBSZ .. +sb_n[t]-1 */
MEMTYPE sb_val[NT * SBSZ];
byte sb_n[NT];

/* Scratch indices of the inlines below (always 0 between steps). */
byte _k, _k2;

byte mb_done[NT]; /* membarrier(): threads that had their barrier */

bit asleep[NT];   /* blocked in futex_wait */
byte sleep_on[NT]; /* the futex word it sleeps on */

/* Commit the oldest buffered store of thread t (t's buffer not empty). */
inline commit_one(tid_)
{
	mem[sb_var[tid_ * SBSZ]] = sb_val[tid_ * SBSZ];
	_k = 0;
	do
	:: _k + 1 < sb_n[tid_] ->
		sb_var[tid_ * SBSZ + _k] = sb_var[tid_ * SBSZ + _k + 1];
		sb_val[tid_ * SBSZ + _k] = sb_val[tid_ * SBSZ + _k + 1];
		_k++
	:: else -> break
	od;
	sb_n[tid_]--;
	sb_var[tid_ * SBSZ + sb_n[tid_]] = 0;
	sb_val[tid_ * SBSZ + sb_n[tid_]] = 0;
	_k = 0
}

/* Drain t's buffer (a full fence). */
inline drain(tid_)
{
	do
	:: sb_n[tid_] > 0 -> commit_one(tid_)
	:: else -> break
	od
}

/* Store x to variable v (relaxed or release): into t's buffer. */
inline st(tid_, var_, x_)
{
#ifdef SC_MEMORY
	mem[var_] = x_
#else
	d_step {
		if
		:: sb_n[tid_] == SBSZ -> commit_one(tid_) /* full: oldest goes out */
		:: else -> skip
		fi;
		sb_var[tid_ * SBSZ + sb_n[tid_]] = var_;
		sb_val[tid_ * SBSZ + sb_n[tid_]] = x_;
		sb_n[tid_]++
	}
#endif
}

/* Load variable v into r (relaxed or acquire): own buffer first. */
inline ld(tid_, var_, r_)
{
	d_step {
		r_ = mem[var_];
		_k = 0;
		do
		:: _k < sb_n[tid_] ->
			if
			:: sb_var[tid_ * SBSZ + _k] == var_ -> r_ = sb_val[tid_ * SBSZ + _k]
			:: else -> skip
			fi;
			_k++
		:: else -> break
		od;
		_k = 0
	}
}

inline fence(tid_)
{
	d_step { drain(tid_); skip } /* skip: the loop's break stays inside */
}

/* r = old value; mem[v] += d (seq_cst fetch_add, fetch_sub with d < 0). */
inline rmw_add(tid_, var_, d_, r_)
{
	d_step {
		drain(tid_);
		r_ = mem[var_];
		mem[var_] = mem[var_] + d_
	}
}

/* r = old value; mem[v] = x (a seq_cst exchange: a locked RMW). */
inline rmw_xchg(tid_, var_, x_, r_)
{
	d_step { drain(tid_); r_ = mem[var_]; mem[var_] = x_ }
}

/* Compare-and-swap (seq_cst): ok = (mem[v] == old), then mem[v] = new. */
inline rmw_cas(tid_, var_, old_, new_, ok_)
{
	d_step {
		drain(tid_);
		if
		:: mem[var_] == old_ -> mem[var_] = new_; ok_ = 1
		:: else -> ok_ = 0
		fi
	}
}

/*
 * membarrier() called by thread tid_: its own full barrier (the system
 * call), then one on every thread, one thread at a time in any order, the
 * other threads running in between (the IPIs reach the CPUs at different
 * moments); returns once every thread has had its barrier.
 */
inline membarrier(tid_)
{
	d_step { drain(tid_); skip };
	do
	:: d_step { (mb_done[tid_] & 1) == 0 -> drain(0); mb_done[tid_] = mb_done[tid_] | 1 }
#if NT > 1
	:: d_step { (mb_done[tid_] & 2) == 0 -> drain(1); mb_done[tid_] = mb_done[tid_] | 2 }
#endif
#if NT > 2
	:: d_step { (mb_done[tid_] & 4) == 0 -> drain(2); mb_done[tid_] = mb_done[tid_] | 4 }
#endif
#if NT > 3
	:: d_step { (mb_done[tid_] & 8) == 0 -> drain(3); mb_done[tid_] = mb_done[tid_] | 8 }
#endif
	:: d_step { mb_done[tid_] == (1 << NT) - 1 -> mb_done[tid_] = 0 }; break
	od
}

/*
 * futex(FUTEX_WAIT): sleep if mem[v] still equals val; return at once
 * otherwise.  The system call is a full barrier for the caller.
 */
inline futex_wait(tid_, var_, val_)
{
	d_step {
		drain(tid_);
		if
		:: mem[var_] == val_ -> asleep[tid_] = 1; sleep_on[tid_] = var_
		:: else -> skip
		fi
	};
	!asleep[tid_] /* a lost wake-up blocks here for ever */
}

/* futex(FUTEX_WAKE, INT_MAX): wake every sleeper on v. */
inline futex_wake(tid_, var_)
{
	d_step {
		drain(tid_);
		_k2 = 0;
		do
		:: _k2 < NT ->
			if
			:: asleep[_k2] && sleep_on[_k2] == var_ ->
				asleep[_k2] = 0;
				sleep_on[_k2] = 0
			:: else -> skip
			fi;
			_k2++
		:: else -> break
		od;
		_k2 = 0
	}
}

/*
 * pthread_mutex_lock() / _unlock() by thread t of the mutex m (a bit of
 * the model): both are locked instructions, which drain t's buffer.
 */
inline mutex_enter(tid_, m_)
{
	d_step { m_ == 0 -> drain(tid_); m_ = 1 }
}

inline mutex_exit(tid_, m_)
{
	d_step { drain(tid_); m_ = 0 }
}

/* The memory subsystem: commits buffered stores, any thread's, any time. */
active proctype memory()
{
end:
	do
	:: d_step { sb_n[0] > 0 -> commit_one(0) }
#if NT > 1
	:: d_step { sb_n[1] > 0 -> commit_one(1) }
#endif
#if NT > 2
	:: d_step { sb_n[2] > 0 -> commit_one(2) }
#endif
#if NT > 3
	:: d_step { sb_n[3] > 0 -> commit_one(3) }
#endif
#if NT > 4
#error "memory.pml: at most 4 threads"
#endif
	od
}
