/*
 * membarrier.c: the process-wide memory barrier behind the membarrier
 * ordering mode.
 *
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) makes every CPU that is
 * running a thread of this process execute a full memory barrier before
 * the call returns (threads not running pass through one when they are
 * switched out).  A grace period issues it once, so readers need only
 * compiler barriers: a reader's accesses are either before that barrier
 * point in its program order, and visible to the writer after the call,
 * or after it, and see everything the writer did before the call.
 *
 * The kernel refuses the command with EPERM until the process registers
 * with MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED; the registration
 * survives fork() and is dropped by execve().
 */
#include <errno.h>
#include <string.h>

#include "mpsafe_impl.h"

#if defined(MPSAFE_HAVE_LINUX_MEMBARRIER_H)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

static int
sys_membarrier(int cmd)
{
	return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

/*
 * mpsafe_membarrier_setup()
 *
 *	Register for private expedited membarrier.  Returns 0, or the errno
 *	that says why the mode is unavailable (ENOSYS, ENOTSUP, EPERM).
 */
int
mpsafe_membarrier_setup(void)
{
	int cmds;

#ifdef MPSAFE_FAULT_INJECTION
	if (mpsafe_fault_membarrier_error() != 0)
		return mpsafe_fault_membarrier_error();
#endif
	cmds = sys_membarrier(MEMBARRIER_CMD_QUERY);

	if (cmds < 0)
		return errno;
	if ((cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 ||
	    (cmds & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0)
		return ENOTSUP;
	if (sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0)
		return errno;
	return 0;
}

void
mpsafe_membarrier(void)
{
	if (sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
		mpsafe_panic("membarrier(PRIVATE_EXPEDITED) failed after "
		             "registration: %s",
		    strerror(errno));
}

#else
int
mpsafe_membarrier_setup(void)
{
	return ENOSYS;
}

void
mpsafe_membarrier(void)
{
	mpsafe_panic("membarrier ordering mode selected on a system without "
	             "membarrier");
}
#endif
