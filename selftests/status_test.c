// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl status` against the real module: a KVM VM with one 4 MiB memslot
 * that a session attached and synced twice shows the right state and
 * counters in `--json` and in text; a session without a VM is idle; a
 * closed session is gone from the list.
 *
 * Runs as root in the sandbox with kvm and kmig.ko loaded, from the project
 * root; $KMIGCTL overrides the path of kmigctl. The JSON is read with
 * python3's json module, so a malformed document fails the test.
 * Sessions are driven with the raw ioctls (kmig_util.h), so what is under
 * test here is only kmigctl and the module's netlink family.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create(), pipe2(), asprintf() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "bare_vm.h"
#include "kmig_util.h"
#include "libkmig.h"

#define KMIGCTL_DEFAULT	"build/user/kmigctl"
#define MEMSLOT_SIZE	(4UL << 20)
#define MEMSLOT_PAGES	(MEMSLOT_SIZE / 4096)
#define MEMSLOT_GPA	0ULL

/*
 * Prints "key<TAB>python type<TAB>value" for each field of the session whose
 * id is argv[1], nothing if it is not listed; fails on anything that is not
 * a JSON array of objects (NaN and Infinity included) or a duplicate id.
 */
static const char session_fields_py[] =
	"import json, sys\n"
	"doc = json.load(sys.stdin, parse_constant=lambda c: sys.exit('bad constant ' + c))\n"
	"if not isinstance(doc, list) or not all(isinstance(o, dict) for o in doc):\n"
	"    sys.exit('not a JSON array of objects')\n"
	"found = [o for o in doc if o.get('id') == int(sys.argv[1])]\n"
	"if len(found) > 1:\n"
	"    sys.exit('session listed twice')\n"
	"for k, v in (found[0].items() if found else ()):\n"
	"    print('%s\\t%s\\t%s' % (k, type(v).__name__, v))\n";

/*
 * Runs @argv with @input (may be NULL) on stdin and its stdout collected in
 * *@out (free() it). stderr stays the test's, so diagnostics reach the log.
 * Returns the wait status, or -1.
 */
static int run_capture(char *const argv[], const char *input, char **out)
{
	size_t len = 0, cap = 4096;
	int pipefd[2], in_fd = -1, status;
	char *buf;
	pid_t pid;
	ssize_t n;

	*out = NULL;
	buf = malloc(cap);
	if (!buf)
		return -1;
	if (input) {
		/* A memfd, not a pipe: no deadlock however long the input. */
		in_fd = memfd_create("stdin", MFD_CLOEXEC);
		if (in_fd < 0 ||
		    write(in_fd, input, strlen(input)) != (ssize_t)strlen(input) ||
		    lseek(in_fd, 0, SEEK_SET) != 0)
			goto err_free;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		goto err_free;

	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		goto err_free;
	}
	if (pid == 0) {
		if (dup2(pipefd[1], STDOUT_FILENO) < 0 ||
		    (in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0))
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "# exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], buf + len, cap - len - 1)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += n;
		if (cap - len == 1) {
			char *grown = realloc(buf, cap * 2);

			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
	}
	close(pipefd[0]);
	buf[len] = '\0';
	if (in_fd >= 0)
		close(in_fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			goto err_buf;
	*out = buf;
	return status;

err_free:
	if (in_fd >= 0)
		close(in_fd);
err_buf:
	free(buf);
	return -1;
}

/* True for a child that exited with @code. */
static bool exited_with(int status, int code)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/*
 * The "type<TAB>value" that session_fields_py printed for @key, copied into
 * @buf; "missing" when the session has no such field.
 */
static const char *field(const char *fields, const char *key, char *buf,
			 size_t size)
{
	size_t klen = strlen(key);
	const char *line, *end;

	for (line = fields; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (!strncmp(line, key, klen) && line[klen] == '\t') {
			line += klen + 1;
			snprintf(buf, size, "%.*s",
				 (int)(end ? end - line : (long)strlen(line)), line);
			return buf;
		}
	}
	snprintf(buf, size, "missing");
	return buf;
}

FIXTURE(status) {
	const char *kmigctl;
	struct bare_vm vm;
	int kmig_fd;		/* the session under test */
	__u32 session_id;
	int other_fd;		/* a second session, when a test opens one */
};

/* 6.1's harness runs the test body even after SKIP() in FIXTURE_SETUP. */
#define RETURN_IF_SKIPPED()	do { if (_metadata->skip) return; } while (0)

FIXTURE_SETUP(status)
{
	struct kmig_info info = KMIG_ARG(kmig_info);
	const char *step;
	int ret;

	/* Teardown runs after a skip too: nothing it closes may be stdin. */
	self->vm = BARE_VM_INIT;
	self->kmig_fd = -1;
	self->other_fd = -1;

	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm: load kvm and kvm-amd or kvm-intel");
	if (access(KMIG_DEVICE_PATH, R_OK | W_OK))
		SKIP(return, "no %s: load kmig.ko", KMIG_DEVICE_PATH);

	self->kmigctl = getenv("KMIGCTL") ? getenv("KMIGCTL") : KMIGCTL_DEFAULT;
	ASSERT_EQ(0, access(self->kmigctl, X_OK)) {
		TH_LOG("%s: %s (build it, or set KMIGCTL)", self->kmigctl,
		       strerror(errno));
	}

	ret = bare_vm_create(&self->vm, MEMSLOT_SIZE, &step);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", step, strerror(-ret));

	self->kmig_fd = kmig_open();
	ASSERT_LE(0, self->kmig_fd) TH_LOG("open %s: %s", KMIG_DEVICE_PATH,
					   kmig_errname(self->kmig_fd));
	kmig_ioctl(self->kmig_fd, KMIG_GET_INFO, &info);
	self->session_id = info.session_id;
}

FIXTURE_TEARDOWN(status)
{
	if (self->other_fd >= 0)
		close(self->other_fd);
	if (self->kmig_fd >= 0)
		close(self->kmig_fd);
	bare_vm_destroy(&self->vm);
}

/* `kmigctl status [--json]`: its stdout, or NULL if it did not exit 0. */
static char *kmigctl_status(struct __test_metadata *_metadata,
			    const char *kmigctl, bool json)
{
	char *argv[] = { (char *)kmigctl, "status", json ? "--json" : NULL,
			 NULL };
	char *out;
	int status;

	status = run_capture(argv, NULL, &out);
	EXPECT_TRUE(exited_with(status, 0))
		TH_LOG("%s status%s: wait status 0x%x", kmigctl,
		       json ? " --json" : "", status);
	if (!exited_with(status, 0)) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * The fields of session @id in `kmigctl status --json`, as session_fields_py
 * prints them ("" when it is not listed); NULL after a failure.
 */
static char *session_fields(struct __test_metadata *_metadata,
			    const char *kmigctl, __u32 id)
{
	char id_arg[16];
	char *argv[] = { "python3", "-c", (char *)session_fields_py, id_arg,
			 NULL };
	char *json, *fields;
	int status;

	json = kmigctl_status(_metadata, kmigctl, true);
	if (!json)
		return NULL;
	snprintf(id_arg, sizeof(id_arg), "%u", id);
	status = run_capture(argv, json, &fields);
	EXPECT_TRUE(exited_with(status, 0))
		TH_LOG("kmigctl status --json printed what python3 rejects:\n%s",
		       json);
	if (!exited_with(status, 0)) {
		free(fields);
		fields = NULL;
	}
	free(json);
	return fields;
}

static bool have_python3(void)
{
	return system("python3 -c '' >/dev/null 2>&1") == 0;
}

#define FIELD(fields, key)	field(fields, key, buf, sizeof(buf))

TEST_F(status, tracking_session_json)
{
	struct kmig_attach_vm attach = KMIG_ARG(kmig_attach_vm,
						.vm_fd = self->vm.fd);
	struct kmig_dirty_start start = KMIG_ARG(kmig_dirty_start);
	struct kmig_dirty_sync sync = KMIG_ARG(kmig_dirty_sync);
	char buf[64], expect[64];
	char *fields;

	RETURN_IF_SKIPPED();
	if (!have_python3())
		SKIP(return, "python3 not found: it checks the JSON");

	kmig_ioctl(self->kmig_fd, KMIG_ATTACH_VM, &attach);
	/* No dirty ring was enabled: the VM must be in bitmap mode. */
	ASSERT_EQ((__u32)KMIG_DIRTY_MODE_BITMAP, attach.dirty_mode);
	kmig_ioctl(self->kmig_fd, KMIG_DIRTY_START, &start);
	ASSERT_EQ((__u64)MEMSLOT_PAGES, start.nr_pages);
	kmig_ioctl(self->kmig_fd, KMIG_DIRTY_SYNC, &sync);
	sync = KMIG_ARG(kmig_dirty_sync);
	kmig_ioctl(self->kmig_fd, KMIG_DIRTY_SYNC, &sync);

	fields = session_fields(_metadata, self->kmigctl, self->session_id);
	ASSERT_NE(NULL, fields);
	ASSERT_NE(0, fields[0]) TH_LOG("session %u not listed", self->session_id);

	/* Counters are JSON numbers, state and dirty_mode JSON strings. */
	EXPECT_STREQ("str\ttracking", FIELD(fields, "state"));
	EXPECT_STREQ("str\tbitmap", FIELD(fields, "dirty_mode"));
	EXPECT_STREQ("int\t1", FIELD(fields, "memslots"));
	snprintf(expect, sizeof(expect), "int\t%lu", MEMSLOT_PAGES);
	EXPECT_STREQ(expect, FIELD(fields, "pages"));
	EXPECT_STREQ("int\t2", FIELD(fields, "syncs"));
	snprintf(expect, sizeof(expect), "int\t%d", getpid());
	EXPECT_STREQ(expect, FIELD(fields, "vm_pid"));
	EXPECT_STRNE("missing", FIELD(fields, "generation"));
	EXPECT_STRNE("missing", FIELD(fields, "harvested"));
	/* The traffic totals are there before any round or load. */
	EXPECT_STREQ("int\t0", FIELD(fields, "rounds"));
	EXPECT_STREQ("int\t0", FIELD(fields, "sent_pages"));
	EXPECT_STREQ("int\t0", FIELD(fields, "compressed_pages"));
	EXPECT_STREQ("int\t0", FIELD(fields, "loaded_pages"));
	free(fields);
}

/* Pages written by KMIG_LOAD show up in the session's loaded_pages. */
TEST_F(status, loaded_pages)
{
	struct kmig_attach_vm attach = KMIG_ARG(kmig_attach_vm,
						.vm_fd = self->vm.fd);
	struct kmig_rec recs[3] = {
		{ .gpa = MEMSLOT_GPA, .npages = 1, .kind = KMIG_REC_PAGE,
		  .len = 4096 },
		{ .gpa = MEMSLOT_GPA + 4096, .npages = 1,
		  .kind = KMIG_REC_PAGE, .len = 4096 },
		{ .gpa = MEMSLOT_GPA + 8192, .npages = 4,
		  .kind = KMIG_REC_ZERO },
	};
	static char data[2 * 4096] = { 'k', [4096] = 'm' };
	struct kmig_load load = KMIG_ARG(kmig_load, .nr_recs = 3,
		.recs_uptr = (__u64)(uintptr_t)recs,
		.data_uptr = (__u64)(uintptr_t)data, .data_len = sizeof(data));
	char buf[64];
	char *fields;

	RETURN_IF_SKIPPED();
	if (!have_python3())
		SKIP(return, "python3 not found: it checks the JSON");

	kmig_ioctl(self->kmig_fd, KMIG_ATTACH_VM, &attach);
	kmig_ioctl(self->kmig_fd, KMIG_LOAD, &load);
	ASSERT_EQ(3ULL, load.done);
	ASSERT_EQ(2ULL, load.pages);
	EXPECT_EQ('m', ((char *)self->vm.mem)[4096]);

	fields = session_fields(_metadata, self->kmigctl, self->session_id);
	ASSERT_NE(NULL, fields);
	EXPECT_STREQ("int\t2", FIELD(fields, "loaded_pages"));
	EXPECT_STREQ("int\t0", FIELD(fields, "rounds"));
	free(fields);
}

/* The traffic totals after a real round are that round's own counters. */
TEST_F(status, round_totals)
{
	struct kmig_attach_vm attach = KMIG_ARG(kmig_attach_vm,
						.vm_fd = self->vm.fd);
	struct kmig_dirty_start start = KMIG_ARG(kmig_dirty_start);
	struct kmig_dirty_sync sync = KMIG_ARG(kmig_dirty_sync);
	struct kmig_send_round round;
	struct kmig_ring *rings;
	char buf[64], expect[64];
	char *fields;
	int i;

	RETURN_IF_SKIPPED();
	if (!have_python3())
		SKIP(return, "python3 not found: it checks the JSON");

	/* 16 pages of data, 16 touched but zero, the rest never touched. */
	for (i = 0; i < 32; i++)
		memset((char *)self->vm.mem + i * 4096, i < 16 ? 0xab : 0, 4096);
	kmig_ioctl(self->kmig_fd, KMIG_ATTACH_VM, &attach);
	kmig_ioctl(self->kmig_fd, KMIG_DIRTY_START, &start);
	kmig_ioctl(self->kmig_fd, KMIG_DIRTY_SYNC, &sync);
	/* Rings big enough for the whole round: nobody needs to drain. */
	ASSERT_EQ(0, kmig_send_setup(self->kmig_fd, 1, 4096, &rings));
	ASSERT_EQ(0, kmig_send_round(self->kmig_fd, &round));
	ASSERT_LE(16ULL, round.normal);
	ASSERT_LE(16ULL, round.zero + round.hole);

	fields = session_fields(_metadata, self->kmigctl, self->session_id);
	ASSERT_NE(NULL, fields);
	EXPECT_STREQ("int\t1", FIELD(fields, "rounds"));
#define EXPECT_TOTAL(key, val) do { \
	snprintf(expect, sizeof(expect), "int\t%llu", \
		 (unsigned long long)(val)); \
	EXPECT_STREQ(expect, FIELD(fields, key)); \
} while (0)
	EXPECT_TOTAL("sent_pages", round.pages);
	EXPECT_TOTAL("zero_pages", round.zero);
	EXPECT_TOTAL("hole_pages", round.hole);
	EXPECT_TOTAL("sent_bytes", round.bytes);
	EXPECT_TOTAL("compressed_pages", 0);
#undef EXPECT_TOTAL
	free(fields);
	kmig_rings_unmap(rings, 1);
}

/* A session without a VM is idle, one with a VM but no tracking attached. */
TEST_F(status, idle_and_attached_sessions)
{
	struct kmig_attach_vm attach = KMIG_ARG(kmig_attach_vm,
						.vm_fd = self->vm.fd);
	struct kmig_info info = KMIG_ARG(kmig_info);
	char buf[64];
	char *fields;

	RETURN_IF_SKIPPED();
	if (!have_python3())
		SKIP(return, "python3 not found: it checks the JSON");

	kmig_ioctl(self->kmig_fd, KMIG_ATTACH_VM, &attach);
	self->other_fd = kmig_open();
	ASSERT_LE(0, self->other_fd) TH_LOG("open %s: %s", KMIG_DEVICE_PATH,
					    kmig_errname(self->other_fd));
	kmig_ioctl(self->other_fd, KMIG_GET_INFO, &info);
	EXPECT_NE(self->session_id, info.session_id);

	fields = session_fields(_metadata, self->kmigctl, info.session_id);
	ASSERT_NE(NULL, fields);
	EXPECT_STREQ("str\tidle", FIELD(fields, "state"));
	free(fields);

	fields = session_fields(_metadata, self->kmigctl, self->session_id);
	ASSERT_NE(NULL, fields);
	EXPECT_STREQ("str\tattached", FIELD(fields, "state"));
	free(fields);
}

/*
 * close() runs the session's release before it returns (the last fput's
 * task work runs on the way back to userspace), so the very next dump must
 * no longer list it.
 */
TEST_F(status, closed_session_disappears)
{
	struct kmig_info info = KMIG_ARG(kmig_info);
	char buf[64];
	char *fields;

	RETURN_IF_SKIPPED();
	if (!have_python3())
		SKIP(return, "python3 not found: it checks the JSON");

	self->other_fd = kmig_open();
	ASSERT_LE(0, self->other_fd) TH_LOG("open %s: %s", KMIG_DEVICE_PATH,
					    kmig_errname(self->other_fd));
	kmig_ioctl(self->other_fd, KMIG_GET_INFO, &info);

	fields = session_fields(_metadata, self->kmigctl, info.session_id);
	ASSERT_NE(NULL, fields);
	EXPECT_STREQ("str\tidle", FIELD(fields, "state"));
	free(fields);

	ASSERT_EQ(0, close(self->other_fd));
	self->other_fd = -1;
	fields = session_fields(_metadata, self->kmigctl, info.session_id);
	ASSERT_NE(NULL, fields);
	EXPECT_STREQ("", fields) TH_LOG("session %u still listed after close",
					info.session_id);
	free(fields);

	/* The other session is still there. */
	fields = session_fields(_metadata, self->kmigctl, self->session_id);
	ASSERT_NE(NULL, fields);
	EXPECT_STREQ("str\tidle", FIELD(fields, "state"));
	free(fields);
}

TEST_F(status, text_output_names_session)
{
	char *out, *text, line[32];

	RETURN_IF_SKIPPED();
	out = kmigctl_status(_metadata, self->kmigctl, false);
	ASSERT_NE(NULL, out);
	/* Each block starts with "session <id>:" on a line of its own. */
	ASSERT_LT(0, asprintf(&text, "\n%s", out));
	snprintf(line, sizeof(line), "\nsession %u:\n", self->session_id);
	EXPECT_NE(NULL, strstr(text, line))
		TH_LOG("no \"session %u:\" line in:\n%s", self->session_id, out);
	free(text);
	free(out);
}

TEST_HARNESS_MAIN
