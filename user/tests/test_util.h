/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the host unit tests: capture a printer's output in
 * memory, and ask python3's json module whether a document is valid JSON.
 */
#ifndef KMIG_TEST_UTIL_H
#define KMIG_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* An open_memstream() buffer: open, print into .fp, then capture_end(). */
struct capture {
	FILE *fp;
	char *buf;
	size_t len;
};

static inline bool capture_begin(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->buf, &c->len);
	return c->fp != NULL;
}

/* Returns the NUL-terminated text; free() it. */
static inline char *capture_end(struct capture *c)
{
	fclose(c->fp);
	return c->buf;
}

/*
 * SKIP for a FIXTURE_SETUP: 6.1's kselftest_harness runs the body after a
 * SKIP() in the setup, so end the test's process as the harness ends a
 * skipped test, with exit status 255.
 */
#define SETUP_SKIP(fmt, ...)	SKIP(_exit(255), fmt, ##__VA_ARGS__)

static inline bool have_python3(void)
{
	return system("python3 -c '' >/dev/null 2>&1") == 0;
}

/*
 * 1 if @doc parses as JSON, 0 if not, -1 if python3 could not be run.
 * A strict parser that is not ours is the point: it catches what an exact
 * string comparison written by the same hand might share. python's json
 * module accepts NaN and Infinity unless parse_constant refuses them.
 */
static inline int json_is_valid(const char *doc)
{
	FILE *py;
	int status;

	py = popen("python3 -c 'import json, sys; json.load(sys.stdin, "
		   "parse_constant=lambda c: sys.exit(1))' 2>/dev/null", "w");
	if (!py)
		return -1;
	fputs(doc, py);
	status = pclose(py);
	if (status < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 0;
}

/*
 * LeakSanitizer normally checks at exit, but kselftest_harness.h ends each
 * test's child with _exit(), which skips it: ask explicitly. The weak
 * reference is NULL in builds without SANITIZE=1.
 */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

/* 0 when nothing leaked (or when there is no LeakSanitizer to ask). */
static inline int leak_check(void)
{
	return __lsan_do_recoverable_leak_check ?
		__lsan_do_recoverable_leak_check() : 0;
}

#endif /* KMIG_TEST_UTIL_H */
