/*
 * criterion_shim.c: the runner behind tests/shim/criterion/criterion.h,
 * for ThreadSanitizer builds only.  Runs every registered test in a child
 * process, one at a time, with an alarm as watchdog (the test's timeout
 * times MPSAFE_TEST_TIMEOUT_SCALE, which the build sets to the tier's
 * slowdown, as it scales ctest's); a test passes when its child exits 0
 * or, for a death test, dies of the expected signal.
 * Prints Criterion's closing line so that reports read the same.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHIM_SKIP_STATUS 77

static struct shim_test *shim_head, **shim_tail = &shim_head;

void
shim_register(struct shim_test *t)
{
	*shim_tail = t;
	shim_tail = &t->next;
}

void
shim_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, what);
	if (fmt[1] != '\0') { /* the macro prepends a space */
		fputc(':', stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

void
shim_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("skipped:", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(SHIM_SKIP_STATUS);
}

void
shim_log(const char *fmt, ...)
{
	va_list ap;

	fputs("[----] ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static int
run_one(const struct shim_test *t)
{
	double timeout = t->params.timeout > 0 ? t->params.timeout
	                                       : t->suite_params->timeout;
	const char *scale = getenv("MPSAFE_TEST_TIMEOUT_SCALE");
	int expect_signal =
	    t->params.signal ? t->params.signal : t->suite_params->signal;
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		if (scale != NULL && atof(scale) > 1)
			timeout *= atof(scale);
		if (timeout > 0)
			alarm((unsigned)timeout + 1);
		void (*init)(void) =
		    t->params.init ? t->params.init : t->suite_params->init;
		void (*fini)(void) =
		    t->params.fini ? t->params.fini : t->suite_params->fini;

		if (init != NULL)
			init();
		t->fn();
		if (fini != NULL)
			fini();
		fflush(NULL);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == SHIM_SKIP_STATUS) {
		printf("[SKIP] %s::%s\n", t->suite, t->name);
		return -1;
	}
	if (expect_signal != 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == expect_signal)
			return 0;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		return 0;
	}
	if (WIFSIGNALED(status))
		printf("[FAIL] %s::%s: killed by signal %d%s\n", t->suite,
		    t->name, WTERMSIG(status),
		    WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
	else
		printf("[FAIL] %s::%s: exit status %d\n", t->suite, t->name,
		    WEXITSTATUS(status));
	return 1;
}

/* --list: the tests, in Criterion's format (scripts/torture.sh reads it). */
static int
shim_list(const char *prog)
{
	const char *base = strrchr(prog, '/');
	int n = 0;

	for (struct shim_test *t = shim_head; t != NULL; t = t->next)
		n++;
	printf("%s: %d tests\n", base != NULL ? base + 1 : prog, n);
	for (struct shim_test *t = shim_head; t != NULL; t = t->next)
		printf("%s %s/%s\n", t->next != NULL ? "|--" : "`--", t->suite,
		    t->name);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *filter = NULL;
	int passed = 0, failed = 0, skipped = 0;

	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--filter=", 9) == 0)
			filter = argv[i] + 9;
		if (strcmp(argv[i], "--list") == 0)
			return shim_list(argv[0]);
	}
	for (struct shim_test *t = shim_head; t != NULL; t = t->next) {
		char full[256];

		snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
		if (filter != NULL && strstr(full, filter) == NULL)
			continue;
		int r = run_one(t);
		if (r == 0) {
			printf("[PASS] %s::%s\n", t->suite, t->name);
			passed++;
		} else if (r < 0) {
			skipped++;
		} else {
			failed++;
		}
	}
	printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
	       "Crashing: 0 \n",
	    passed + failed, passed, failed);
	return failed == 0 ? 0 : 1;
}
