/*
 * torture_lltable.c: the neighbour-table torture test, both designs.
 *
 * Two writer threads keep changing a table of NKEYS addresses: they
 * replace an entry's link-layer address with a new version (every byte
 * of the address is the version's low byte, and the flags carry the
 * version's parity as LLE_STATIC), delete entries and add them again.
 * Retired entries are poisoned (their bytes overwritten with 0x6b) and
 * really freed, after a grace period in the lockless design, at once
 * under the write lock in the rwlock design.  Readers, more of them than
 * there are cores, look keys up and check that every copy they get
 *   - is consistent: all address bytes equal, the length 6, the
 *     LLE_STATIC bit matching the byte's parity: a torn or poisoned
 *     entry fails this (the poison byte 0x6b is odd and poisons the
 *     flags too, to 0x6b6b6b6b, which fails the flag check).
 * Any violation fails the test; AddressSanitizer sees a use after free.
 *
 * MPSAFE_TORTURE_SECONDS sets each run's length (default 2).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpsafe/defer.h>
#include <mpsafe/net/lltable.h>
#include <mpsafe/thread.h>

#define NKEYS 64
#define NREADERS 4
#define NWRITERS 2

TestSuite(torture, .timeout = 120);

static struct lltable *llt;
static _Atomic unsigned version[NKEYS]; /* newest version written */
static pthread_mutex_t key_lock[NKEYS];
static atomic_bool stop;
static _Atomic uint64_t violations, lookups, hits, updates;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct sockaddr_in
key_addr(unsigned k)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	sin.sin_addr.s_addr = htonl(0xc0000200u + k); /* 192.0.2.k */
	return sin;
}

static void *
writer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned k = (unsigned)rand_r(&seed) % NKEYS;
		struct sockaddr_in a = key_addr(k);
		int op = rand_r(&seed) % 8;

		/* Per-key lock: versions of one key are written in order. */
		pthread_mutex_lock(&key_lock[k]);
		if (op == 0) {
			int error = lla_delete(
			    llt, (const struct sockaddr *)(void *)&a);

			if (error != 0 && error != ESRCH)
				atomic_fetch_add(&violations, 1);
		} else {
			unsigned v = atomic_load(&version[k]) + 1;
			uint8_t mac[6];

			memset(mac, (int)(v & 0xff), sizeof(mac));
			if (lla_update(llt, (const struct sockaddr *)(void *)&a,
			        mac, sizeof(mac),
			        (v & 1) ? LLE_STATIC : 0) != 0)
				atomic_fetch_add(&violations, 1);
			atomic_store(&version[k], v);
		}
		pthread_mutex_unlock(&key_lock[k]);
		atomic_fetch_add_explicit(&updates, 1, memory_order_relaxed);
	}
	mpsafe_thread_unregister();
	return NULL;
}

static void *
reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	uint64_t n = 0, found = 0, bad = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned k = (unsigned)rand_r(&seed) % NKEYS;
		struct sockaddr_in a = key_addr(k);
		struct lla_info info;
		int error;

		error =
		    lla_lookup(llt, (const struct sockaddr *)(void *)&a, &info);
		n++;
		if (error == ENOENT)
			continue;
		if (error != 0) {
			bad++;
			continue;
		}
		found++;
		uint8_t b = info.lli_addr[0];
		bool odd = (b & 1) != 0;
		bool ok =
		    info.lli_len == 6 &&
		    info.lli_flags == (LLE_VALID | (odd ? LLE_STATIC : 0u));

		for (int i = 1; i < 6; i++)
			ok = ok && info.lli_addr[i] == b;
		if (!ok)
			bad++;
		if (n % 64 == 0)
			sched_yield();
	}
	atomic_fetch_add(&violations, bad);
	atomic_fetch_add(&lookups, n);
	atomic_fetch_add(&hits, found);
	mpsafe_thread_unregister();
	return NULL;
}

static void
torture(enum lltable_sync sync)
{
	pthread_t r[NREADERS], w[NWRITERS];
	const char *env = getenv("MPSAFE_TORTURE_SECONDS");
	double secs = env != NULL ? atof(env) : 2.0;
	double end;

	if (secs <= 0)
		secs = 2.0;
	cr_assert_eq(lltable_create(&llt, AF_INET, 1, sync, 16), 0);
	for (unsigned k = 0; k < NKEYS; k++) {
		pthread_mutex_init(&key_lock[k], NULL);
		atomic_store(&version[k], 0);
	}
	atomic_store(&stop, false);
	atomic_store(&violations, 0);
	atomic_store(&lookups, 0);
	atomic_store(&hits, 0);
	atomic_store(&updates, 0);
	for (uintptr_t i = 0; i < NWRITERS; i++)
		cr_assert_eq(
		    pthread_create(&w[i], NULL, writer, (void *)(i + 1)), 0);
	for (uintptr_t i = 0; i < NREADERS; i++)
		cr_assert_eq(
		    pthread_create(&r[i], NULL, reader, (void *)(i + 100)), 0);
	end = now() + secs;
	while (now() < end) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(r[i], NULL);
	lltable_destroy(llt);
	mpsafe_defer_barrier();
	cr_log_info("lltable torture (%s): %llu lookups (%llu hits), %llu "
	            "updates, %llu violations",
	    sync == LLT_SYNC_RWLOCK ? "rwlock" : "pserialize",
	    (unsigned long long)atomic_load(&lookups),
	    (unsigned long long)atomic_load(&hits),
	    (unsigned long long)atomic_load(&updates),
	    (unsigned long long)atomic_load(&violations));
	cr_assert_gt(atomic_load(&hits), 0, "readers found no entry");
	cr_assert_gt(atomic_load(&updates), 0, "writers made no update");
	cr_assert_eq(atomic_load(&violations), 0,
	    "readers saw torn or poisoned entries");
	for (unsigned k = 0; k < NKEYS; k++)
		pthread_mutex_destroy(&key_lock[k]);
}

Test(torture, pserialize)
{
	torture(LLT_SYNC_PSERIALIZE);
}

Test(torture, rwlock)
{
	torture(LLT_SYNC_RWLOCK);
}
