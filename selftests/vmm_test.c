// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm, the reference VMM: its control protocol
 * (user/include/kmig_vmm.h), every workload and its checker, pause/resume,
 * the migration hold, the dirty ring hand-off, and a cold migration through
 * kmig's load path:
 *
 *   source (paused) --/proc/PID/mem--> test --KMIG_LOAD--> destination
 *
 * after which the destination must continue the guest: its checker passes
 * and the guest keeps changing memory.
 *
 * Runs build/vmm/kmig-vmm (relative to the project root, the cwd), or
 * $KMIG_VMM. Needs /dev/kvm, and /dev/kmig for the tests that read guest
 * memory (they find it through KMIG_GET_MEMSLOTS); SKIPs without them.
 * Its control client, selftests/include/vmm_ctl.h, is also the example of
 * a kmig-vmm client.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/kmig.h>
#include <linux/kvm.h>

#include "kmig_vmm.h"
#include "kselftest_harness.h"
#include "test_util.h"
#include "vmm_ctl.h"

#define TEST_MEM_MIB		64
#define PAGE			4096
#define LOAD_BATCH		1024	/* pages per KMIG_LOAD */

/*
 * A KVM VM fd, as kmig gets it. KVM refuses VM ioctls from any process but
 * the VM's creator (-EIO), so ask the fd's file, and kmig when loaded: its
 * KMIG_ATTACH_VM takes nothing but a KVM VM.
 */
static bool is_kvm_vm_fd(int fd)
{
	struct kmig_attach_vm attach = { .size = sizeof(attach), .vm_fd = fd };
	char path[64], target[64];
	ssize_t n;
	int kmig;
	bool ok;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	if (strcmp(target, "anon_inode:kvm-vm"))
		return false;
	kmig = open(KMIG_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (kmig < 0)
		return true;
	ok = !ioctl(kmig, KMIG_ATTACH_VM, &attach);
	close(kmig);
	return ok;
}

/*
 * The VMM's VM fd taken with pidfd_getfd(), as a migration tool may do:
 * unlike VMM_HELLO, the VMM does not learn about it.
 */
static int take_vm_fd(pid_t pid)
{
	char path[64], target[64];
	int pidfd, fd, got = -1;
	ssize_t n;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	for (fd = 0; fd < 1024 && got < 0; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (!strcmp(target, "anon_inode:kvm-vm"))
			got = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	}
	close(pidfd);
	return got;
}

/* All of RAM, memslot after memslot, into @buf (guest_ram_size bytes). */
static int guest_read_all(struct guest_mem *g, uint8_t *buf)
{
	uint32_t i;

	for (i = 0; i < g->nr; i++) {
		if (g->slot[i].as_id)
			continue;
		if (pread(g->mem, buf, g->slot[i].size, g->slot[i].hva) !=
		    (ssize_t)g->slot[i].size)
			return -EIO;
		buf += g->slot[i].size;
	}
	return 0;
}

static uint64_t pages_differing(const uint8_t *a, const uint8_t *b,
				uint64_t size)
{
	uint64_t n = 0, off;

	for (off = 0; off < size; off += PAGE)
		n += !!memcmp(a + off, b + off, PAGE);
	return n;
}

/* Pages whose first byte is not zero: where the counter has been. */
static uint64_t pages_touched(const uint8_t *ram, uint64_t size)
{
	uint64_t n = 0, off;

	for (off = 0; off < size; off += PAGE)
		n += ram[off] != 0;
	return n;
}

/* --------------------------------------------------------------------- */
/* Every workload: HELLO, CHECK, corruption, pause/resume.                */

FIXTURE(vmm) {
	struct vmm_proc vmm;
	bool ready;
};

FIXTURE_VARIANT(vmm) {
	const char *workload;
	const char *vcpus;
	bool memfd;
	const char *extra;	/* one more option, or NULL */
	bool keeps_writing;	/* RAM keeps changing while it runs */
};

FIXTURE_VARIANT_ADD(vmm, counter_anon_1) {
	.workload = "counter", .vcpus = "1", .keeps_writing = true,
};

FIXTURE_VARIANT_ADD(vmm, counter_memfd_4) {
	.workload = "counter", .vcpus = "4", .memfd = true,
	.keeps_writing = true,
};

FIXTURE_VARIANT_ADD(vmm, counter_manual_protect) {
	.workload = "counter", .vcpus = "2", .extra = "--manual-protect",
	.keeps_writing = true,
};

FIXTURE_VARIANT_ADD(vmm, idle_anon_2) {
	.workload = "idle", .vcpus = "2",
};

FIXTURE_VARIANT_ADD(vmm, zero_memfd_1) {
	.workload = "zero", .vcpus = "1", .memfd = true,
};

FIXTURE_VARIANT_ADD(vmm, text_anon_1) {
	.workload = "text", .vcpus = "1",
};

FIXTURE_VARIANT_ADD(vmm, random_memfd_2) {
	.workload = "random", .vcpus = "2", .memfd = true,
};

/* A partial fill: the corrupted page (at half of RAM) lies past it. */
FIXTURE_VARIANT_ADD(vmm, random_part_2) {
	.workload = "random:16", .vcpus = "2",
};

FIXTURE_VARIANT_ADD(vmm, dirty_anon_4) {
	.workload = "dirty:8:16", .vcpus = "4", .keeps_writing = true,
};

FIXTURE_SETUP(vmm)
{
	const char *args[12] = {
		"--mem", "64", "--workload", variant->workload,
		"--vcpus", variant->vcpus,
	};
	const char *why = missing_prereq();
	int n = 6;

	if (why)
		SKIP(return, "%s", why);
	if (variant->memfd)
		args[n++] = "--memfd";
	if (variant->extra)
		args[n++] = variant->extra;
	ASSERT_EQ(0, vmm_spawn(&self->vmm, args));
	ASSERT_EQ(0, ctl_hello(&self->vmm));
	self->ready = true;
}

FIXTURE_TEARDOWN(vmm)
{
	if (self->vmm.pid > 0)
		EXPECT_EQ(0, vmm_stop(&self->vmm));
}

TEST_F(vmm, hello)
{
	struct vmm_hello *h = &self->vmm.hello;
	uint64_t total = 0;
	uint32_t i;

	if (!self->ready)
		return;
	EXPECT_EQ(VMM_CONTROL_VERSION, (int)h->version);
	EXPECT_EQ(atoi(variant->vcpus), (int)h->nr_vcpus);
	EXPECT_EQ(0, (int)h->incoming);
	EXPECT_EQ((uint64_t)TEST_MEM_MIB << 20, h->ram_size);
	EXPECT_STREQ(variant->workload, h->workload);
	ASSERT_EQ(true, is_kvm_vm_fd(self->vmm.vm_fd));
	ASSERT_LE(1, (int)h->nr_regions);
	EXPECT_EQ((uint64_t)0, self->vmm.region[0].gpa);
	for (i = 0; i < h->nr_regions; i++) {
		/* kmig harvests KVM's dirty log: logging on every memslot. */
		EXPECT_TRUE(!!(self->vmm.region[i].flags &
			       KVM_MEM_LOG_DIRTY_PAGES));
		EXPECT_EQ((uint64_t)0, self->vmm.region[i].size % PAGE);
		total += self->vmm.region[i].size;
	}
	EXPECT_EQ(h->ram_size, total);
}

TEST_F(vmm, check_passes)
{
	struct vmm_check check;

	if (!self->ready)
		return;
	msleep(1500);
	ASSERT_EQ(0, ctl_check(&self->vmm, &check));
	TH_LOG("%s", check.verdict);
	EXPECT_EQ(1, check.ok);
	EXPECT_LT(0, (int)check.pages);
	/* The guest runs on after a check. */
	EXPECT_EQ(-EBUSY, ctl_simple(&self->vmm, VMM_GET_STATE));
}

/* A page changed behind the guest's back must fail its checker. */
TEST_F(vmm, corruption_detected)
{
	struct guest_mem g = { .kmig = -1, .mem = -1 };
	uint64_t gpa = (uint64_t)TEST_MEM_MIB << 19, hva;
	struct vmm_check check;
	uint8_t byte;

	if (!self->ready)
		return;
	if (!have_kmig())
		SKIP(return, "no %s to find guest memory", KMIG_DEVICE_PATH);
	ASSERT_EQ(0, guest_mem_open(&g, &self->vmm));
	hva = guest_hva(&g, gpa);
	ASSERT_NE((uint64_t)0, hva);
	msleep(1000);
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_PAUSE));
	ASSERT_EQ(1, pread(g.mem, &byte, 1, hva));
	byte ^= 0x5a;
	ASSERT_EQ(1, pwrite(g.mem, &byte, 1, hva));
	ASSERT_EQ(0, ctl_check(&self->vmm, &check));
	TH_LOG("corrupted: %s", check.verdict);
	EXPECT_EQ(0, check.ok);
	/* Put the byte back: the same memory passes again. */
	byte ^= 0x5a;
	ASSERT_EQ(1, pwrite(g.mem, &byte, 1, hva));
	ASSERT_EQ(0, ctl_check(&self->vmm, &check));
	TH_LOG("restored: %s", check.verdict);
	EXPECT_EQ(1, check.ok);
	EXPECT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
	guest_mem_close(&g);
}

/*
 * Paused, guest RAM stands still; resumed, it moves again (for workloads
 * that keep writing). Its own function: ASSERT_* may longjmp out of it.
 */
static void __attribute__((noinline))
check_ram_follows_pause(struct __test_metadata *_metadata, struct vmm_proc *p,
			bool keeps_writing)
{
	struct guest_mem g = { .kmig = -1, .mem = -1 };
	uint64_t size;
	uint8_t *a, *b;

	ASSERT_EQ(0, guest_mem_open(&g, p));
	size = guest_ram_size(&g);
	a = malloc(size);
	b = malloc(size);
	ASSERT_TRUE(a && b);
	ASSERT_EQ(0, ctl_simple(p, VMM_PAUSE));
	ASSERT_EQ(0, guest_read_all(&g, a));
	msleep(500);
	ASSERT_EQ(0, guest_read_all(&g, b));
	EXPECT_EQ((uint64_t)0, pages_differing(a, b, size));
	ASSERT_EQ(0, ctl_simple(p, VMM_RESUME));
	msleep(500);
	ASSERT_EQ(0, guest_read_all(&g, b));
	if (keeps_writing)
		EXPECT_LT((uint64_t)0, pages_differing(a, b, size));
	free(a);
	free(b);
	guest_mem_close(&g);
}

TEST_F(vmm, pause_resume)
{
	void *blob;
	size_t len;

	if (!self->ready)
		return;
	msleep(500);
	ASSERT_EQ(-EBUSY, ctl_simple(&self->vmm, VMM_GET_STATE));
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_PAUSE));
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_PAUSE));	/* idempotent */
	ASSERT_EQ(0, ctl_call(&self->vmm, VMM_GET_STATE, NULL, 0, &blob,
			      &len, NULL));
	ASSERT_LT((size_t)64, len);
	EXPECT_EQ(0, memcmp(blob, "KMIGVMM1", 8));
	free(blob);
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
	msleep(200);
	EXPECT_EQ(-EBUSY, ctl_simple(&self->vmm, VMM_GET_STATE));
	if (have_kmig())
		check_ram_follows_pause(_metadata, &self->vmm,
					variant->keeps_writing);
}

/* --------------------------------------------------------------------- */
/* The protocol's refusals.                                               */

static bool spawn_or_skip(struct __test_metadata *_metadata,
			  struct vmm_proc *p, const char *const *args)
{
	const char *why = missing_prereq();

	if (why)
		SKIP(return false, "%s", why);
	ASSERT_EQ(0, vmm_spawn(p, args));
	return true;
}

TEST(source_refusals)
{
	static const char * const args[] = { "--mem", "32", NULL };
	struct vmm_proc p;
	void *reply;

	if (!spawn_or_skip(_metadata, &p, args))
		return;
	EXPECT_EQ(-EBUSY, ctl_simple(&p, VMM_GET_STATE));
	EXPECT_EQ(-EALREADY, ctl_simple(&p, VMM_START));
	EXPECT_EQ(-EBUSY, ctl_call(&p, VMM_SET_STATE, "KMIGVMM1", 8, &reply,
				   NULL, NULL));
	free(reply);
	EXPECT_EQ(-EOPNOTSUPP, ctl_simple(&p, 99));
	EXPECT_EQ(-EINVAL, ctl_call(&p, VMM_PAUSE, "x", 1, &reply, NULL,
				    NULL));
	free(reply);
	EXPECT_EQ(0, vmm_stop(&p));
}

/* Exit status of kmig-vmm run with @workload on 64 MiB, its output dropped. */
static int vmm_exit_status(const char *workload)
{
	int status, null;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(vmm_path(), vmm_path(), "--control", "/tmp/kmig-vmm-refused.sock",
		      "--mem", "64", "--workload", workload, "--check-after", "1",
		      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Bad workload specs are refused (exit 2) before any guest runs. */
TEST(workload_refusals)
{
	static const char * const bad[] = {
		"random:0", "random:x", "text:16x", "zero:", "idle:4",
		"counter:8", "zero:64", "dirty:8", "dirty:8:0", "bogus",
	};
	size_t i;

	if (missing_prereq())
		SKIP(return, "%s", missing_prereq());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TH_LOG("--workload %s", bad[i]);
		EXPECT_EQ(2, vmm_exit_status(bad[i]));
	}
	/* The same syntax with a size that fits runs and passes its check. */
	EXPECT_EQ(0, vmm_exit_status("zero:8"));
	EXPECT_EQ(0, vmm_exit_status("text:4"));
}

TEST(incoming_refusals)
{
	static const char * const src_args[] = { "--mem", "32", NULL };
	static const char * const dst_args[] = { "--mem", "64", "--incoming", NULL };
	struct vmm_proc src, dst;
	struct vmm_check check;
	void *blob, *reply;
	size_t len;

	if (!spawn_or_skip(_metadata, &dst, dst_args))
		return;
	ASSERT_EQ(0, ctl_hello(&dst));
	EXPECT_EQ(1, (int)dst.hello.incoming);
	EXPECT_EQ(true, is_kvm_vm_fd(dst.vm_fd));
	EXPECT_EQ(-EINVAL, ctl_simple(&dst, VMM_START));
	EXPECT_EQ(-EINVAL, ctl_simple(&dst, VMM_RESUME));
	EXPECT_EQ(-ENODATA, ctl_simple(&dst, VMM_GET_STATE));
	EXPECT_EQ(-ENODATA, ctl_check(&dst, &check));
	EXPECT_EQ(-EINVAL, ctl_call(&dst, VMM_SET_STATE, "garbage!", 8, &reply,
				    NULL, NULL));
	TH_LOG("garbage: %s", (char *)reply);
	free(reply);

	/* A blob from a VM of another size. */
	ASSERT_EQ(0, vmm_spawn(&src, src_args));
	ASSERT_EQ(0, ctl_simple(&src, VMM_PAUSE));
	ASSERT_EQ(0, ctl_call(&src, VMM_GET_STATE, NULL, 0, &blob, &len, NULL));
	EXPECT_EQ(-EINVAL, ctl_call(&dst, VMM_SET_STATE, blob, len, &reply,
				    NULL, NULL));
	TH_LOG("other size: %s", (char *)reply);
	free(reply);
	/* A truncated blob. */
	EXPECT_EQ(-EINVAL, ctl_call(&dst, VMM_SET_STATE, blob, len - 8, &reply,
				    NULL, NULL));
	free(reply);
	free(blob);
	EXPECT_EQ(0, vmm_stop(&src));
	EXPECT_EQ(0, vmm_stop(&dst));
}

/* --check-after: a verdict on stdout and the exit status, for scripts. */
TEST(check_after)
{
	static const char * const args[] = {
		"--mem", "32", "--workload", "counter", "--check-after", "1",
		NULL,
	};
	struct vmm_proc p;
	char line[512];
	int status;

	if (!spawn_or_skip(_metadata, &p, args))
		return;
	ASSERT_TRUE(wait_line(&p, "kmig-vmm: check ", line, sizeof(line),
			      20000));
	TH_LOG("%s", line);
	EXPECT_EQ(0, strncmp(line, "kmig-vmm: check PASSED: ", 24));
	ASSERT_EQ(p.pid, waitpid(p.pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	p.pid = 0;
	close(p.ctl);
	fclose(p.out);
}

/* --------------------------------------------------------------------- */
/* Version 2: the migration hold.                                         */

/*
 * A running counter guest and two control clients of its VMM: the
 * fixture's own (self->vmm.ctl), playing the operator or a second
 * kmigctl, and self->mig, the migration that takes the hold.
 */
FIXTURE(hold) {
	struct vmm_proc vmm;
	struct vmm_proc mig;
};

FIXTURE_SETUP(hold)
{
	static const char * const args[] = {
		"--mem", "32", "--workload", "counter", NULL,
	};
	const char *why = missing_prereq();

	self->mig.ctl = -1;
	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, vmm_spawn(&self->vmm, args));
	ASSERT_EQ(0, vmm_client(&self->vmm, &self->mig));
}

FIXTURE_TEARDOWN(hold)
{
	vmm_client_close(&self->mig);
	if (self->vmm.pid > 0)
		EXPECT_EQ(0, vmm_stop(&self->vmm));
}

TEST_F_TIMEOUT(hold, status_progress, 60)
{
	struct vmm_status st;

	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_STARTED, st.flags);
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);
	EXPECT_EQ(0, st.holder_pid);
	EXPECT_EQ(0, (int)st.reserved);
	EXPECT_LT(0, progress_in(&self->vmm, 1000));

	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_PAUSE));
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED, st.flags);
	TH_LOG("paused at %llu pages", (unsigned long long)st.guest_progress);
	EXPECT_LT((uint64_t)0, st.guest_progress);
	EXPECT_EQ(0, progress_in(&self->vmm, 1000));

	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_STARTED, st.flags);
	EXPECT_LT(0, progress_in(&self->vmm, 1000));
	/* VMM_STATUS takes no payload. */
	EXPECT_EQ(-EINVAL, ctl_call(&self->vmm, VMM_STATUS, "x", 1, NULL, NULL,
				    NULL));
}

TEST_F_TIMEOUT(hold, second_client_busy, 60)
{
	char msg[256], pid[32];
	struct vmm_status st;

	ASSERT_EQ(0, ctl_hold(&self->mig, VMM_PHASE_MIGRATING, 0, &st,
			      NULL, 0));
	EXPECT_EQ(VMM_PHASE_MIGRATING, (int)st.phase);
	/* SO_PEERCRED: both clients are this process. */
	EXPECT_EQ(getpid(), st.holder_pid);
	EXPECT_EQ(VMM_ST_STARTED, st.flags);
	/* Idempotent for the holder. */
	ASSERT_EQ(0, ctl_hold(&self->mig, VMM_PHASE_MIGRATING, 0, &st,
			      NULL, 0));
	EXPECT_EQ(VMM_PHASE_MIGRATING, (int)st.phase);

	EXPECT_EQ(-EBUSY, ctl_hold(&self->vmm, VMM_PHASE_MIGRATING, 0, NULL,
				   msg, sizeof(msg)));
	TH_LOG("second client: %s", msg);
	snprintf(pid, sizeof(pid), "pid %d", getpid());
	EXPECT_NE(NULL, strstr(msg, pid));
	/* Nor may it commit or release another client's hold. */
	EXPECT_EQ(-EPERM, ctl_hold(&self->vmm, VMM_PHASE_COMMITTED, 0, NULL,
				   msg, sizeof(msg)));
	EXPECT_EQ(-EPERM, ctl_hold(&self->vmm, VMM_PHASE_NONE, 0, NULL, msg,
				   sizeof(msg)));
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_PHASE_MIGRATING, (int)st.phase);
	EXPECT_EQ(getpid(), st.holder_pid);

	/* Released, the VM is free for the next migration. */
	ASSERT_EQ(0, ctl_hold(&self->mig, VMM_PHASE_NONE, 0, &st,
			      NULL, 0));
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);
	EXPECT_EQ(0, st.holder_pid);
	ASSERT_EQ(0, ctl_hold(&self->vmm, VMM_PHASE_MIGRATING, 0, &st,
			      NULL, 0));
	EXPECT_EQ(VMM_PHASE_MIGRATING, (int)st.phase);
	EXPECT_EQ(-EBUSY, ctl_hold(&self->mig, VMM_PHASE_MIGRATING, 0, NULL,
				   msg, sizeof(msg)));
}

/* While held, only the holder pauses or resumes; others may look. */
TEST_F_TIMEOUT(hold, non_holder_run_state, 60)
{
	struct vmm_check check;
	struct vmm_status st;
	char msg[256];

	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_MIGRATING));
	EXPECT_EQ(-EBUSY, ctl_simple_msg(&self->vmm, VMM_PAUSE, msg,
					 sizeof(msg)));
	TH_LOG("pause: %s", msg);
	EXPECT_NE(NULL, strstr(msg, "kmigctl cancel"));
	/* The refused pause did not pause it. */
	EXPECT_LT(0, progress_in(&self->vmm, 1000));
	EXPECT_EQ(-EBUSY, ctl_simple(&self->vmm, VMM_RESUME));

	ASSERT_EQ(0, ctl_simple(&self->mig, VMM_PAUSE));
	EXPECT_EQ(-EBUSY, ctl_simple(&self->vmm, VMM_RESUME));
	EXPECT_EQ(-EBUSY, ctl_simple(&self->vmm, VMM_PAUSE));
	/* Still paused: the refused resume did not resume it. */
	EXPECT_EQ(0, progress_in(&self->vmm, 1000));
	/* Looking is for anyone. */
	ASSERT_EQ(0, ctl_check(&self->vmm, &check));
	EXPECT_EQ(1, check.ok);
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED, st.flags);

	ASSERT_EQ(0, ctl_simple(&self->mig, VMM_RESUME));
	EXPECT_LT(0, progress_in(&self->vmm, 1000));
	/* Released, anyone may again. */
	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_NONE));
	EXPECT_EQ(0, ctl_simple(&self->vmm, VMM_PAUSE));
	EXPECT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
}

TEST_F_TIMEOUT(hold, bad_requests, 60)
{
	struct vmm_hold hold = { .phase = VMM_PHASE_MIGRATING };
	struct vmm_status st;
	char msg[256];

	EXPECT_EQ(-EINVAL, ctl_hold(&self->mig, VMM_PHASE_MIGRATING, 1, NULL,
				    msg, sizeof(msg)));
	TH_LOG("reserved: %s", msg);
	EXPECT_EQ(-EINVAL, ctl_hold(&self->mig, 3, 0, NULL, NULL, 0));
	EXPECT_EQ(-EINVAL, ctl_call(&self->mig, VMM_HOLD, &hold, 4, NULL, NULL,
				    NULL));
	EXPECT_EQ(-EINVAL, ctl_call(&self->mig, VMM_HOLD, NULL, 0, NULL, NULL,
				    NULL));
	/* None of that took a hold. */
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(0, st.holder_pid);
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);
	/* Commit or release without a hold. */
	EXPECT_EQ(-EPERM, ctl_hold_phase(&self->mig, VMM_PHASE_COMMITTED));
	EXPECT_EQ(-EPERM, ctl_hold_phase(&self->mig, VMM_PHASE_NONE));

	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_MIGRATING));
	/* Committing a running guest would let it run on both hosts. */
	EXPECT_EQ(-EBUSY, ctl_hold(&self->mig, VMM_PHASE_COMMITTED, 0, NULL,
				   msg, sizeof(msg)));
	TH_LOG("commit while running: %s", msg);
	ASSERT_EQ(0, ctl_simple(&self->mig, VMM_PAUSE));
	ASSERT_EQ(0, ctl_hold(&self->mig, VMM_PHASE_COMMITTED, 0, &st,
			      NULL, 0));
	EXPECT_EQ(VMM_PHASE_COMMITTED, (int)st.phase);
	EXPECT_EQ(-EINVAL, ctl_hold_phase(&self->mig, VMM_PHASE_MIGRATING));
	/* An explicit release changes the hold, not the guest. */
	ASSERT_EQ(0, ctl_hold(&self->mig, VMM_PHASE_NONE, 0, &st,
			      NULL, 0));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED, st.flags);
	EXPECT_EQ(0, st.holder_pid);
	EXPECT_EQ(0, progress_in(&self->vmm, 500));
	EXPECT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
}

/*
 * A child process takes the hold and pauses the guest, as kmigctl migrate
 * does for its last round, then dies before committing: GO was never sent,
 * so the guest must run here again.
 */
static pid_t spawn_holder(const struct vmm_proc *p, int *ready_fd)
{
	int pipefd[2];
	struct vmm_proc c;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid) {
		close(pipefd[1]);
		*ready_fd = pipefd[0];
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (vmm_client(p, &c) || ctl_hold_phase(&c, VMM_PHASE_MIGRATING) ||
	    ctl_simple(&c, VMM_PAUSE))
		_exit(1);
	if (write(pipefd[1], "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

TEST_F_TIMEOUT(hold, holder_dies_before_commit, 60)
{
	struct pollfd pfd = { .events = POLLIN };
	struct vmm_status st;
	pid_t child;
	char c;

	child = spawn_holder(&self->vmm, &pfd.fd);
	ASSERT_LT(0, child);
	ASSERT_EQ(1, poll(&pfd, 1, 20000));
	ASSERT_EQ(1, read(pfd.fd, &c, 1));
	close(pfd.fd);
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(child, st.holder_pid);
	EXPECT_EQ(VMM_PHASE_MIGRATING, (int)st.phase);
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED, st.flags);
	EXPECT_EQ(0, progress_in(&self->vmm, 1000));

	ASSERT_EQ(0, kill(child, SIGKILL));
	ASSERT_EQ(child, waitpid(child, NULL, 0));
	ASSERT_EQ(0, wait_unheld(&self->vmm, &st));
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);
	EXPECT_EQ(VMM_ST_STARTED, st.flags);
	EXPECT_LT(0, progress_in(&self->vmm, 1000));
	/* Nothing is left over: the next migration may start. */
	EXPECT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
}

/*
 * After the commit the destination may be running the guest: the source's
 * stays paused when its client goes, until an operator decides.
 */
TEST_F_TIMEOUT(hold, holder_leaves_after_commit, 60)
{
	struct vmm_status st;
	char msg[256];

	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, ctl_simple(&self->mig, VMM_PAUSE));
	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_COMMITTED));
	vmm_client_close(&self->mig);

	ASSERT_EQ(0, wait_unheld(&self->vmm, &st));
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED | VMM_ST_ORPHANED, st.flags);
	EXPECT_EQ(0, progress_in(&self->vmm, 1000));
	/* No second migration of a guest that may run elsewhere. */
	EXPECT_EQ(-EBUSY, ctl_hold(&self->vmm, VMM_PHASE_MIGRATING, 0, NULL,
				   msg, sizeof(msg)));
	TH_LOG("orphaned: %s", msg);
	EXPECT_NE(NULL, strstr(msg, "kmigctl resume"));

	/* The operator's call: the guest runs here. */
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_STARTED, st.flags);
	EXPECT_LT(0, progress_in(&self->vmm, 1000));
	EXPECT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
}

/* A destination, not started: held, loaded and started by its holder only. */
TEST(hold_incoming)
{
	static const char * const args[] = {
		"--mem", "32", "--incoming", NULL,
	};
	struct vmm_proc dst, mig;
	struct vmm_status st;
	void *reply;

	if (!spawn_or_skip(_metadata, &dst, args))
		return;
	ASSERT_EQ(0, vmm_client(&dst, &mig));
	ASSERT_EQ(0, ctl_status(&dst, &st));
	EXPECT_EQ(VMM_ST_INCOMING, st.flags);
	/* No workload before VMM_SET_STATE: nothing to count. */
	EXPECT_EQ((uint64_t)0, st.guest_progress);

	ASSERT_EQ(0, ctl_hold(&mig, VMM_PHASE_MIGRATING, 0, &st, NULL, 0));
	EXPECT_EQ(VMM_ST_INCOMING, st.flags);
	EXPECT_EQ(-EBUSY, ctl_call(&dst, VMM_SET_STATE, "KMIGVMM1", 8, &reply,
				   NULL, NULL));
	TH_LOG("set-state: %s", (char *)reply);
	free(reply);
	EXPECT_EQ(-EBUSY, ctl_simple(&dst, VMM_START));
	/* The holder gets past the hold (and fails on what it sent). */
	EXPECT_EQ(-EINVAL, ctl_call(&mig, VMM_SET_STATE, "KMIGVMM1", 8, NULL,
				    NULL, NULL));
	EXPECT_EQ(-EINVAL, ctl_simple(&mig, VMM_START));

	/* Its holder gone, a destination that never started stays as it is. */
	vmm_client_close(&mig);
	ASSERT_EQ(0, wait_unheld(&dst, &st));
	EXPECT_EQ(VMM_ST_INCOMING, st.flags);
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);
	EXPECT_EQ(-EINVAL, ctl_simple(&dst, VMM_START));
	EXPECT_EQ(0, vmm_stop(&dst));
}

/* --------------------------------------------------------------------- */
/* The dirty ring: who harvests.                                          */

static int kmig_sync(int kmig)
{
	struct kmig_dirty_sync sync = { .size = sizeof(sync) };

	return ioctl(kmig, KMIG_DIRTY_SYNC, &sync) ? -errno : 0;
}

/* Reads RAM until the counter touched @want pages; what it touched. */
static uint64_t wait_touched(struct guest_mem *g, uint8_t *ram, uint64_t size,
			    uint64_t want, int kmig_syncs)
{
	uint64_t touched = 0;
	int i, k;

	for (i = 0; i < 100 && touched < want; i++) {
		for (k = 0; k < 4; k++) {
			msleep(50);
			if (kmig_syncs && kmig_sync(g->kmig))
				return 0;
		}
		if (guest_read_all(g, ram))
			return 0;
		touched = pages_touched(ram, size);
	}
	return touched;
}

/*
 * While no client holds the VM fd, the VMM empties full rings itself and
 * the guest runs on past its ring; once one got it by VMM_HELLO, only
 * kmig's harvests let the guest go on.
 */
FIXTURE(dirty_ring) {
	int unused;
};

FIXTURE_SETUP(dirty_ring)
{
}

FIXTURE_TEARDOWN(dirty_ring)
{
}

TEST_F_TIMEOUT(dirty_ring, handoff, 90)
{
	static const char * const args[] = {
		"--mem", "64", "--workload", "counter", "--dirty-ring", "512",
		NULL,
	};
	struct kmig_dirty_start start = { .size = sizeof(start) };
	struct guest_mem g = { .kmig = -1, .mem = -1 };
	uint64_t size, before, after;
	struct vmm_check check;
	struct vmm_proc p;
	uint8_t *ram;
	int vm_fd;

	if (!have_kmig())
		SKIP(return, "no %s", KMIG_DEVICE_PATH);
	if (!spawn_or_skip(_metadata, &p, args))
		return;
	vm_fd = take_vm_fd(p.pid);
	ASSERT_LE(0, vm_fd);
	ASSERT_EQ(0, guest_mem_attach(&g, p.pid, vm_fd));
	size = guest_ram_size(&g);
	ram = malloc(size);
	ASSERT_NE(NULL, ram);
	/* Four rings' worth: the VMM must have emptied it a few times. */
	before = wait_touched(&g, ram, size, 4 * 512, 0);
	TH_LOG("%llu pages written before the hand-off (ring: 512 entries)",
	       (unsigned long long)before);
	ASSERT_LE((uint64_t)4 * 512, before);
	guest_mem_close(&g);
	close(vm_fd);

	ASSERT_EQ(0, ctl_hello(&p));
	ASSERT_EQ(0, guest_mem_open(&g, &p));
	ASSERT_EQ(0, ioctl(g.kmig, KMIG_DIRTY_START, &start));
	after = wait_touched(&g, ram, size, before + 4 * 512, 1);
	TH_LOG("%llu pages written with kmig harvesting",
	       (unsigned long long)after);
	EXPECT_LE(before + 4 * 512, after);
	ASSERT_EQ(0, ctl_check(&p, &check));
	TH_LOG("%s", check.verdict);
	EXPECT_EQ(1, check.ok);
	free(ram);
	guest_mem_close(&g);
	EXPECT_EQ(0, vmm_stop(&p));
}

/* --------------------------------------------------------------------- */
/* Cold migration through kmig's load path.                               */

FIXTURE(migration) {
	struct vmm_proc src, dst;
	struct guest_mem src_mem, dst_mem;
};

FIXTURE_VARIANT(migration) {
	const char *workload;
	const char *vcpus;
	bool memfd;
	const char *rate;
};

FIXTURE_VARIANT_ADD(migration, counter_anon_1) {
	.workload = "counter", .vcpus = "1", .rate = "32",
};

FIXTURE_VARIANT_ADD(migration, counter_memfd_4) {
	.workload = "counter", .vcpus = "4", .memfd = true, .rate = "32",
};

/* Slow enough to be caught mid-fill: the destination finishes it. */
FIXTURE_VARIANT_ADD(migration, text_memfd_2) {
	.workload = "text", .vcpus = "2", .memfd = true, .rate = "8",
};

FIXTURE_VARIANT_ADD(migration, dirty_anon_2) {
	.workload = "dirty:8:32", .vcpus = "2", .rate = "32",
};

FIXTURE_SETUP(migration)
{
	self->src_mem = self->dst_mem = (struct guest_mem) {
		.kmig = -1, .mem = -1,
	};
}

FIXTURE_TEARDOWN(migration)
{
	guest_mem_close(&self->src_mem);
	guest_mem_close(&self->dst_mem);
	if (self->src.pid > 0)
		vmm_stop(&self->src);
	if (self->dst.pid > 0)
		vmm_stop(&self->dst);
}

static int load(int kmig, struct kmig_rec *recs, uint32_t nr,
		const uint8_t *data, uint64_t data_len)
{
	struct kmig_load arg = {
		.size = sizeof(arg), .nr_recs = nr,
		.recs_uptr = (uintptr_t)recs, .data_uptr = (uintptr_t)data,
		.data_len = data_len,
	};

	if (ioctl(kmig, KMIG_LOAD, &arg))
		return -errno;
	return arg.done == nr ? 0 : -EIO;
}

/* Appends a zero page to @recs, growing the last record's run if it can. */
static uint32_t add_zero(struct kmig_rec *recs, uint32_t nr, uint64_t gpa)
{
	struct kmig_rec *last = nr ? &recs[nr - 1] : NULL;

	if (last && last->kind == KMIG_REC_ZERO &&
	    last->gpa + (uint64_t)last->npages * PAGE == gpa) {
		last->npages++;
		return nr;
	}
	recs[nr] = (struct kmig_rec) {
		.gpa = gpa, .npages = 1, .kind = KMIG_REC_ZERO,
	};
	return nr + 1;
}

/*
 * Copies the source's RAM (a copy lands in @snap) into the destination, a
 * batch at a time: a KMIG_REC_PAGE record per data page, its data back to
 * back in @data, and KMIG_REC_ZERO runs for zero pages, which kmig leaves
 * untouched in the destination's fresh RAM.
 */
static int copy_ram(struct guest_mem *src, int dst_kmig, uint8_t *snap,
		    uint64_t *data_pages)
{
	static const uint8_t zero[PAGE];
	static struct kmig_rec recs[LOAD_BATCH];
	uint8_t *data = malloc(LOAD_BATCH * PAGE);
	uint64_t done, off;
	uint32_t i, n, nr, nr_data;
	int ret = 0;

	if (!data)
		return -ENOMEM;
	*data_pages = 0;
	for (i = 0; i < src->nr && !ret; i++) {
		const struct kmig_memslot *s = &src->slot[i];

		for (done = 0; !s->as_id && done < s->size && !ret;
		     done += (uint64_t)n * PAGE, snap += (uint64_t)n * PAGE) {
			n = (s->size - done) / PAGE < LOAD_BATCH ?
			    (s->size - done) / PAGE : LOAD_BATCH;
			if (pread(src->mem, snap, (size_t)n * PAGE,
				  s->hva + done) != (ssize_t)n * PAGE) {
				ret = -EIO;
				break;
			}
			nr = nr_data = 0;
			for (off = 0; off < (uint64_t)n * PAGE; off += PAGE) {
				if (!memcmp(snap + off, zero, PAGE)) {
					nr = add_zero(recs, nr, s->gpa + done + off);
					continue;
				}
				memcpy(data + (size_t)nr_data++ * PAGE,
				       snap + off, PAGE);
				recs[nr++] = (struct kmig_rec) {
					.gpa = s->gpa + done + off, .npages = 1,
					.kind = KMIG_REC_PAGE, .len = PAGE,
				};
			}
			ret = load(dst_kmig, recs, nr, data,
				   (uint64_t)nr_data * PAGE);
			*data_pages += nr_data;
		}
	}
	free(data);
	return ret;
}

TEST_F_TIMEOUT(migration, cold, 120)
{
	const char *src_args[12] = {
		"--mem", "64", "--workload", variant->workload,
		"--vcpus", variant->vcpus, "--rate", variant->rate,
	};
	const char *dst_args[12] = {
		"--mem", "64", "--incoming", "--vcpus", variant->vcpus,
		variant->memfd ? "--memfd" : NULL,
	};
	uint64_t size, data_pages, changed;
	struct vmm_check check;
	uint8_t *snap, *now;
	const char *why = missing_prereq();
	void *blob, *reply;
	size_t len;

	if (why)
		SKIP(return, "%s", why);
	if (!have_kmig())
		SKIP(return, "no %s for KMIG_LOAD", KMIG_DEVICE_PATH);
	if (variant->memfd)
		src_args[8] = "--memfd";

	/* The source runs a while, then stops for good. */
	ASSERT_EQ(0, vmm_spawn(&self->src, src_args));
	msleep(2000);
	ASSERT_EQ(0, ctl_hello(&self->src));
	ASSERT_EQ(0, ctl_simple(&self->src, VMM_PAUSE));
	ASSERT_EQ(0, ctl_call(&self->src, VMM_GET_STATE, NULL, 0, &blob, &len,
			      NULL));
	ASSERT_EQ(0, ctl_check(&self->src, &check));
	TH_LOG("source: %s", check.verdict);
	ASSERT_EQ(1, check.ok);
	ASSERT_EQ(0, guest_mem_open(&self->src_mem, &self->src));

	/* The destination: same VM, RAM from the source through kmig. */
	ASSERT_EQ(0, vmm_spawn(&self->dst, dst_args));
	ASSERT_EQ(0, ctl_hello(&self->dst));
	ASSERT_EQ(1, (int)self->dst.hello.incoming);
	ASSERT_EQ(self->src.hello.nr_regions, self->dst.hello.nr_regions);
	ASSERT_EQ(0, guest_mem_open(&self->dst_mem, &self->dst));
	size = guest_ram_size(&self->src_mem);
	ASSERT_EQ(size, guest_ram_size(&self->dst_mem));
	snap = malloc(size);
	now = malloc(size);
	ASSERT_TRUE(snap && now);
	ASSERT_EQ(0, copy_ram(&self->src_mem, self->dst_mem.kmig, snap,
			      &data_pages));
	TH_LOG("loaded %llu data pages of %llu",
	       (unsigned long long)data_pages,
	       (unsigned long long)(size / PAGE));
	ASSERT_EQ(0, guest_read_all(&self->dst_mem, now));
	ASSERT_EQ((uint64_t)0, pages_differing(snap, now, size));

	ASSERT_EQ(0, ctl_call(&self->dst, VMM_SET_STATE, blob, len, &reply,
			      NULL, NULL));
	free(reply);
	free(blob);
	/* The source is done: the guest lives on at the destination only. */
	EXPECT_EQ(0, vmm_stop(&self->src));
	ASSERT_EQ(0, ctl_simple(&self->dst, VMM_START));
	msleep(2000);
	ASSERT_EQ(0, ctl_check(&self->dst, &check));
	TH_LOG("destination: %s", check.verdict);
	EXPECT_EQ(1, check.ok);
	/* It really continued: memory moved on from the source's. */
	ASSERT_EQ(0, ctl_simple(&self->dst, VMM_PAUSE));
	ASSERT_EQ(0, guest_read_all(&self->dst_mem, now));
	changed = pages_differing(snap, now, size);
	TH_LOG("%llu pages changed on the destination",
	       (unsigned long long)changed);
	EXPECT_LT((uint64_t)0, changed);
	free(snap);
	free(now);
}

TEST_HARNESS_MAIN
