// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm's side of postcopy (control protocol v3, user/include/kmig_vmm.h):
 * VMM_POSTCOPY_BEGIN hands a real userfaultfd over the control socket, and
 * this test stands in for the destination's kmigctl. It makes the VMM's
 * mm fault by reading guest RAM with process_vm_readv() from a second
 * thread, reads the UFFD_EVENT_PAGEFAULT from the handed fd and places a
 * known page with UFFDIO_COPY. Then: VMM_DISCARD (pages fault again,
 * memfd included; a hostile list discards nothing), the holder going
 * away (orphaned: no resume, no start; a new client reattaches to the
 * same userfaultfd; VMM_QUIT still works), VMM_POSTCOPY_END (RAM is
 * ordinary memory again), and VMM_PAUSE with a vCPU blocked on a missing
 * page (returns within the bound; the vCPU does not run once its page
 * arrives until resumed).
 *
 * Runs build/vmm/kmig-vmm (or $KMIG_VMM). Needs /dev/kvm, and /dev/kmig
 * to learn where the VMM maps guest RAM (KMIG_GET_MEMSLOTS, as kmigctl
 * does); SKIPs without them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kmig.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kmig_vmm.h"
#include "kselftest_harness.h"
#include "vmm_ctl.h"

#define PAGE			4096
#define MEM_MIB			64
/* Plenty for one fault's round trip under the sandbox's emulation. */
#define FAULT_TIMEOUT_MS	10000
/* How long "no fault" is watched for. */
#define QUIET_MS		1000

/* missing_prereq(), and /dev/kmig too: every test finds guest RAM. */
static const char *pc_missing_prereq(void)
{
	const char *why = missing_prereq();

	if (why)
		return why;
	if (!have_kmig())
		return "no " KMIG_DEVICE_PATH " to find guest RAM (KMIG_GET_MEMSLOTS)";
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* VMM_POSTCOPY_BEGIN: the reply's status; the userfaultfd in *@uffd. */
static int begin(struct vmm_proc *p, int *uffd, uint64_t *ram_size)
{
	struct vmm_postcopy pc;
	size_t len;
	void *reply;
	int ret;

	ret = ctl_call(p, VMM_POSTCOPY_BEGIN, NULL, 0, &reply, &len, uffd);
	if (!ret && (len != sizeof(pc) || *uffd < 0))
		ret = -EPROTO;
	if (!ret) {
		memcpy(&pc, reply, sizeof(pc));
		if (ram_size)
			*ram_size = pc.ram_size;
	}
	free(reply);
	return ret;
}

/*
 * HELLO (the VM fd) and the memslots through kmig, as kmigctl finds them,
 * into @g; neither a kmig session nor /proc/PID/mem is kept open.
 */
static int find_ram(struct vmm_proc *p, struct guest_mem *g)
{
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	struct kmig_get_memslots get = {
		.size = sizeof(get), .nr_slots = VMM_MAX_SLOTS,
		.slots_uptr = (uintptr_t)g->slot,
	};
	int vm_fd, kmig, ret = 0;

	g->kmig = g->mem = -1;
	g->nr = 0;
	ret = ctl_call(p, VMM_HELLO, NULL, 0, NULL, NULL, &vm_fd);
	if (ret)
		return ret;
	if (vm_fd < 0)
		return -EPROTO;
	kmig = open(KMIG_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	attach.vm_fd = vm_fd;
	if (kmig < 0 || ioctl(kmig, KMIG_ATTACH_VM, &attach) ||
	    ioctl(kmig, KMIG_GET_MEMSLOTS, &get))
		ret = -errno;
	else
		g->nr = get.nr_slots;
	if (kmig >= 0)
		close(kmig);
	close(vm_fd);
	return ret;
}

/* ---- the VMM's mm, read and written from here --------------------- */

struct reader {
	pthread_t thread;
	pid_t pid;
	uint64_t hva;
	void *buf;
	size_t len;
	ssize_t got;
	int err;
	bool done;		/* atomically */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct iovec local = { .iov_base = r->buf, .iov_len = r->len };
	struct iovec remote = { .iov_base = (void *)r->hva, .iov_len = r->len };

	r->got = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
	r->err = r->got < 0 ? errno : 0;
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Starts reading @len bytes at the VMM's @hva in a thread of its own. */
static int reader_start(struct reader *r, pid_t pid, uint64_t hva, void *buf,
			size_t len)
{
	*r = (struct reader) {
		.pid = pid, .hva = hva, .buf = buf, .len = len,
	};
	return -pthread_create(&r->thread, NULL, reader_main, r);
}

static bool reader_done(struct reader *r)
{
	return __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
}

/* Bytes read, or -errno. */
static ssize_t reader_join(struct reader *r)
{
	pthread_join(r->thread, NULL);
	return r->got < 0 ? -r->err : r->got;
}

static int remote_write(pid_t pid, uint64_t hva, const void *buf, size_t len)
{
	struct iovec local = { .iov_base = (void *)buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)hva, .iov_len = len };

	return process_vm_writev(pid, &local, 1, &remote, 1, 0) ==
	       (ssize_t)len ? 0 : -errno;
}

/*
 * Waits up to @ms for a page fault on @uffd (O_NONBLOCK, as the VMM makes
 * it): 1 (in *@msg), 0, or -errno.
 */
static int wait_fault(int uffd, int ms, struct uffd_msg *msg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	uint64_t end = now_ms() + ms, left;
	int n;

	for (;;) {
		left = end > now_ms() ? end - now_ms() : 0;
		n = poll(&pfd, 1, left);
		if (n < 0)
			return -errno;
		if (!n)
			return 0;
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EBADF;
		if (read(uffd, msg, sizeof(*msg)) == sizeof(*msg))
			return msg->event == UFFD_EVENT_PAGEFAULT ? 1 : -EBADMSG;
		/* Woken before it was read: the fault may be gone. */
		if (errno != EAGAIN)
			return -errno;
	}
}

/* UFFDIO_COPY of @page at the VMM's @hva (page-aligned). 0 or -errno. */
static int place(int uffd, uint64_t hva, const void *page)
{
	struct uffdio_copy copy = {
		.dst = hva, .src = (uintptr_t)page, .len = PAGE,
	};

	return ioctl(uffd, UFFDIO_COPY, &copy) ? -errno : 0;
}

static void fill(uint8_t *page, uint8_t seed)
{
	int i;

	for (i = 0; i < PAGE; i++)
		page[i] = (uint8_t)(seed + i * 7);
}

/* ------------------------------------------------------------------- */

FIXTURE(pc) {
	struct vmm_proc vmm;
	struct guest_mem ram;
	int uffd;
	uint64_t base;		/* HVA of gpa 0 */
};

FIXTURE_VARIANT(pc) {
	bool memfd;
};

FIXTURE_VARIANT_ADD(pc, anon) {
	.memfd = false,
};

FIXTURE_VARIANT_ADD(pc, memfd) {
	.memfd = true,
};

FIXTURE_SETUP(pc)
{
	const char *args[] = {
		"--mem", "64", "--incoming", variant->memfd ? "--memfd" : NULL,
		NULL,
	};
	const char *why = pc_missing_prereq();

	self->uffd = -1;
	self->vmm.pid = 0;
	if (why)
		SKIP(_exit(255), "%s", why);
	ASSERT_EQ(0, vmm_spawn(&self->vmm, args));
	ASSERT_EQ(0, find_ram(&self->vmm, &self->ram));
	self->base = guest_hva(&self->ram, 0);
	ASSERT_NE((uint64_t)0, self->base);
	ASSERT_EQ(MEM_MIB << 20, (int)self->ram.slot[0].size);
}

FIXTURE_TEARDOWN(pc)
{
	if (self->uffd >= 0)
		close(self->uffd);
	if (self->vmm.pid > 0)
		EXPECT_EQ(0, vmm_stop(&self->vmm));
}

/*
 * A read of a missing page faults to the handed userfaultfd; the page
 * placed there is what the read returns.
 */
TEST_F_TIMEOUT(pc, fault_resolved, 120)
{
	static uint8_t page[PAGE], got[PAGE];
	uint64_t gpa = 8 << 20, addr = self->base + gpa, ram_size = 0;
	struct vmm_status st;
	struct uffd_msg msg;
	struct reader r;
	char link[64], target[64];
	int again;

	/* Only the holder of the VM may begin. */
	EXPECT_EQ(-EPERM, begin(&self->vmm, &again, NULL));
	ASSERT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, begin(&self->vmm, &self->uffd, &ram_size));
	EXPECT_EQ((uint64_t)MEM_MIB << 20, ram_size);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", self->uffd);
	memset(target, 0, sizeof(target));
	ASSERT_LT(0, readlink(link, target, sizeof(target) - 1));
	EXPECT_STREQ("anon_inode:[userfaultfd]", target);
	EXPECT_TRUE(fcntl(self->uffd, F_GETFL) & O_NONBLOCK);
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_INCOMING | VMM_ST_POSTCOPY, st.flags);
	/* Postcopy keeps the hold: its holder answers for the faults. */
	EXPECT_EQ(-EBUSY, ctl_hold_phase(&self->vmm, VMM_PHASE_NONE));

	fill(page, 0x5a);
	ASSERT_EQ(0, reader_start(&r, self->vmm.pid, addr, got, PAGE));
	ASSERT_EQ(1, wait_fault(self->uffd, FAULT_TIMEOUT_MS, &msg));
	EXPECT_EQ(addr, msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1));
	EXPECT_FALSE(reader_done(&r));
	ASSERT_EQ(0, place(self->uffd, addr, page));
	ASSERT_EQ(PAGE, reader_join(&r));
	EXPECT_EQ(0, memcmp(page, got, PAGE));

	/* Placed: read again without a fault. */
	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, reader_start(&r, self->vmm.pid, addr, got, PAGE));
	EXPECT_EQ(0, wait_fault(self->uffd, QUIET_MS, &msg));
	ASSERT_EQ(PAGE, reader_join(&r));
	EXPECT_EQ(0, memcmp(page, got, PAGE));

	/* BEGIN again: the same userfaultfd, and postcopy stays. */
	ASSERT_EQ(0, begin(&self->vmm, &again, NULL));
	EXPECT_LE(0, again);
	close(again);
	/* Postcopy changes nothing else: START still wants a state. */
	EXPECT_EQ(-EINVAL, ctl_simple(&self->vmm, VMM_START));
}

/* Discarded pages fault again; a hostile list discards nothing. */
TEST_F_TIMEOUT(pc, discard, 120)
{
	static uint8_t a[3][PAGE], b[PAGE], got[PAGE];
	const uint64_t gpa = 16 << 20, ram = (uint64_t)MEM_MIB << 20;
	struct vmm_discard good = { .gpa = gpa, .npages = 2 };
	const struct {
		const char *what;
		struct vmm_discard d;
	} bad[] = {
		{ "outside RAM", { .gpa = ram, .npages = 1 } },
		{ "unaligned", { .gpa = gpa + 8, .npages = 1 } },
		{ "no pages", { .gpa = gpa, .npages = 0 } },
		{ "overflow", { .gpa = gpa, .npages = UINT64_MAX / PAGE } },
		{ "past the end", { .gpa = ram - PAGE, .npages = 2 } },
	};
	struct vmm_discard list[2];
	struct uffd_msg msg;
	struct reader r;
	char err[256];
	struct vmm_proc c2;
	unsigned int i;

	/* Three pages with data before postcopy: the precopy's part. */
	for (i = 0; i < 3; i++) {
		fill(a[i], 0x10 * (i + 1));
		ASSERT_EQ(0, remote_write(self->vmm.pid,
					  self->base + gpa + i * PAGE, a[i],
					  PAGE));
	}
	ASSERT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
	EXPECT_EQ(-EINVAL, ctl_call_msg(&self->vmm, VMM_DISCARD, &good,
				    sizeof(good), err, sizeof(err)));
	TH_LOG("before BEGIN: %s", err);
	ASSERT_EQ(0, begin(&self->vmm, &self->uffd, NULL));
	/* Only the holder. */
	ASSERT_EQ(0, vmm_client(&self->vmm, &c2));
	EXPECT_EQ(-EPERM, ctl_call_msg(&c2, VMM_DISCARD, &good, sizeof(good),
				       err, sizeof(err)));
	vmm_client_close(&c2);

	/* A good entry first, then a bad one: all refused. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		list[0] = good;
		list[1] = bad[i].d;
		EXPECT_EQ(-EINVAL, ctl_call_msg(&self->vmm, VMM_DISCARD, list,
					    sizeof(list), err, sizeof(err)));
		TH_LOG("%s: %s", bad[i].what, err);
		EXPECT_NE(NULL, strstr(err, "entry 1"));
	}
	EXPECT_EQ(-EINVAL, ctl_call_msg(&self->vmm, VMM_DISCARD, list,
				    sizeof(list) - 8, err, sizeof(err)));
	TH_LOG("truncated: %s", err);
	EXPECT_EQ(-EINVAL, ctl_call_msg(&self->vmm, VMM_DISCARD, NULL, 0, err,
				    sizeof(err)));
	TH_LOG("empty: %s", err);

	/* Nothing was discarded: every page reads back, without a fault. */
	for (i = 0; i < 3; i++) {
		memset(got, 0, sizeof(got));
		ASSERT_EQ(0, reader_start(&r, self->vmm.pid,
					  self->base + gpa + i * PAGE, got,
					  PAGE));
		EXPECT_EQ(0, wait_fault(self->uffd, QUIET_MS, &msg));
		if (!reader_done(&r))
			place(self->uffd, self->base + gpa + i * PAGE, a[i]);
		ASSERT_EQ(PAGE, reader_join(&r));
		EXPECT_EQ(0, memcmp(a[i], got, PAGE));
	}

	/* The good list alone: its two pages fault, the third does not. */
	ASSERT_EQ(0, ctl_call_msg(&self->vmm, VMM_DISCARD, &good, sizeof(good),
			      err, sizeof(err)));
	for (i = 0; i < 2; i++) {
		uint64_t addr = self->base + gpa + i * PAGE;

		fill(b, 0xa0 + i);
		ASSERT_EQ(0, reader_start(&r, self->vmm.pid, addr, got, PAGE));
		ASSERT_EQ(1, wait_fault(self->uffd, FAULT_TIMEOUT_MS, &msg));
		EXPECT_EQ(addr, msg.arg.pagefault.address &
				~(uint64_t)(PAGE - 1));
		ASSERT_EQ(0, place(self->uffd, addr, b));
		ASSERT_EQ(PAGE, reader_join(&r));
		EXPECT_EQ(0, memcmp(b, got, PAGE));
	}
	ASSERT_EQ(0, reader_start(&r, self->vmm.pid, self->base + gpa + 2 * PAGE,
				  got, PAGE));
	EXPECT_EQ(0, wait_fault(self->uffd, QUIET_MS, &msg));
	if (!reader_done(&r))
		place(self->uffd, self->base + gpa + 2 * PAGE, a[2]);
	ASSERT_EQ(PAGE, reader_join(&r));
	EXPECT_EQ(0, memcmp(a[2], got, PAGE));
}

/* Waits for the holder's departure to show in VMM_STATUS. */
static int wait_orphaned(struct vmm_proc *p, struct vmm_status *st)
{
	int i, ret;

	for (i = 0; i < 100; i++) {
		ret = ctl_status(p, st);
		if (ret || (st->flags & VMM_ST_ORPHANED))
			return ret;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

/*
 * The holder goes away: orphaned, the guest may not run; a fault waits
 * (the VMM's copy keeps the userfaultfd alive) and a new client that
 * reattaches gets it on the same userfaultfd.
 */
TEST_F_TIMEOUT(pc, orphaned_recovery, 120)
{
	static uint8_t page[PAGE], got[PAGE];
	uint64_t addr = self->base + (24 << 20);
	struct vmm_status st;
	struct uffd_msg msg;
	struct reader r;
	char err[256];
	struct vmm_proc mig;
	int uffd;

	ASSERT_EQ(0, vmm_client(&self->vmm, &mig));
	ASSERT_EQ(0, ctl_hold_phase(&mig, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, begin(&mig, &uffd, NULL));
	/* kmigctl dies: its connection and its userfaultfd close. */
	close(uffd);
	vmm_client_close(&mig);
	ASSERT_EQ(0, wait_orphaned(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_INCOMING | VMM_ST_POSTCOPY | VMM_ST_ORPHANED,
		  st.flags);
	EXPECT_EQ(0, st.holder_pid);
	EXPECT_EQ(-EPERM, ctl_call_msg(&self->vmm, VMM_RESUME, NULL, 0, err,
				   sizeof(err)));
	TH_LOG("resume: %s", err);
	EXPECT_NE(NULL, strstr(err, "incomplete"));
	EXPECT_EQ(-EPERM, ctl_call_msg(&self->vmm, VMM_START, NULL, 0, err,
				   sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "incomplete"));
	EXPECT_EQ(-EPERM, ctl_call_msg(&self->vmm, VMM_CHECK, NULL, 0, err,
				   sizeof(err)));

	/* A missing page waits: not filled with zeros behind our back. */
	fill(page, 0x77);
	ASSERT_EQ(0, reader_start(&r, self->vmm.pid, addr, got, PAGE));
	usleep(QUIET_MS * 1000);
	EXPECT_FALSE(reader_done(&r));

	/* A recovering kmigctl reattaches: the same userfaultfd. */
	ASSERT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, begin(&self->vmm, &self->uffd, NULL));
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_INCOMING | VMM_ST_POSTCOPY, st.flags);
	EXPECT_EQ(getpid(), st.holder_pid);
	/* The fault raised while nobody listened is there to read. */
	ASSERT_EQ(1, wait_fault(self->uffd, FAULT_TIMEOUT_MS, &msg));
	EXPECT_EQ(addr, msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1));
	ASSERT_EQ(0, place(self->uffd, addr, page));
	ASSERT_EQ(PAGE, reader_join(&r));
	EXPECT_EQ(0, memcmp(page, got, PAGE));
	/* And a new one. */
	addr += PAGE;
	fill(page, 0x99);
	ASSERT_EQ(0, reader_start(&r, self->vmm.pid, addr, got, PAGE));
	ASSERT_EQ(1, wait_fault(self->uffd, FAULT_TIMEOUT_MS, &msg));
	EXPECT_EQ(addr, msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1));
	ASSERT_EQ(0, place(self->uffd, addr, page));
	ASSERT_EQ(PAGE, reader_join(&r));
	EXPECT_EQ(0, memcmp(page, got, PAGE));
}

/* Orphaned, with a fault waiting: VMM_QUIT still ends the VMM. */
TEST_F_TIMEOUT(pc, orphaned_quit, 120)
{
	static uint8_t got[PAGE];
	struct vmm_status st;
	struct reader r;
	struct vmm_proc mig;
	int uffd, wst;
	uint64_t t0;

	ASSERT_EQ(0, vmm_client(&self->vmm, &mig));
	ASSERT_EQ(0, ctl_hold_phase(&mig, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, begin(&mig, &uffd, NULL));
	close(uffd);
	vmm_client_close(&mig);
	ASSERT_EQ(0, wait_orphaned(&self->vmm, &st));
	ASSERT_EQ(0, reader_start(&r, self->vmm.pid, self->base + PAGE, got,
				  PAGE));
	t0 = now_ms();
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_QUIT));
	ASSERT_EQ(self->vmm.pid, waitpid(self->vmm.pid, &wst, 0));
	TH_LOG("exited %llu ms after VMM_QUIT",
	       (unsigned long long)(now_ms() - t0));
	EXPECT_TRUE(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	self->vmm.pid = 0;
	reader_join(&r);
	close(self->vmm.ctl);
	self->vmm.ctl = -1;
	fclose(self->vmm.out);
	self->vmm.out = NULL;
	unlink(self->vmm.sock);
}

/* After VMM_POSTCOPY_END guest RAM is ordinary memory: no more faults. */
TEST_F_TIMEOUT(pc, end, 120)
{
	static uint8_t got[PAGE], zero[PAGE];
	uint64_t addr = self->base + (32 << 20);
	struct vmm_status st;
	struct uffd_msg msg;
	struct reader r;

	EXPECT_EQ(-EPERM, ctl_simple(&self->vmm, VMM_POSTCOPY_END));
	ASSERT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
	EXPECT_EQ(-EINVAL, ctl_simple(&self->vmm, VMM_POSTCOPY_END));
	ASSERT_EQ(0, begin(&self->vmm, &self->uffd, NULL));
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_POSTCOPY_END));
	ASSERT_EQ(0, ctl_status(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_INCOMING, st.flags);
	/* Our copy of the fd is still open; it hears nothing now. */
	memset(got, 0xff, sizeof(got));
	ASSERT_EQ(0, reader_start(&r, self->vmm.pid, addr, got, PAGE));
	EXPECT_EQ(0, wait_fault(self->uffd, QUIET_MS, &msg));
	if (!reader_done(&r))
		place(self->uffd, addr, zero);
	ASSERT_EQ(PAGE, reader_join(&r));
	EXPECT_EQ(0, memcmp(zero, got, PAGE));
	EXPECT_EQ(-EINVAL, ctl_simple(&self->vmm, VMM_POSTCOPY_END));
	/* The migration is over: the hold can go. */
	EXPECT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_NONE));
}

/* ---- a real guest on the destination: the pause bound ------------- */

struct pair {
	struct vmm_proc src, dst;
	struct guest_mem src_ram, dst_ram;
	int src_mem;		/* /proc/SRC/mem */
	int uffd;
};

/* The source's copy of the page at the destination's @dst_hva. */
static int src_page(struct pair *m, uint64_t dst_hva, uint8_t *page)
{
	uint64_t gpa = 0, src;
	uint32_t i;

	for (i = 0; i < m->dst_ram.nr; i++)
		if (!m->dst_ram.slot[i].as_id &&
		    dst_hva >= m->dst_ram.slot[i].hva &&
		    dst_hva - m->dst_ram.slot[i].hva < m->dst_ram.slot[i].size)
			gpa = m->dst_ram.slot[i].gpa + dst_hva -
			      m->dst_ram.slot[i].hva;
	src = guest_hva(&m->src_ram, gpa);
	if (!src || pread(m->src_mem, page, PAGE, src) != PAGE)
		return -EIO;
	return 0;
}

/* Places the source's page at @dst_hva: 0, or -errno (-EEXIST: there). */
static int place_from_src(struct pair *m, uint64_t dst_hva)
{
	static const uint8_t zero[PAGE];
	uint8_t page[PAGE];
	struct uffdio_zeropage zp = {
		.range = { .start = dst_hva, .len = PAGE },
	};
	int ret = src_page(m, dst_hva, page);

	if (ret)
		return ret;
	if (memcmp(page, zero, PAGE))
		return place(m->uffd, dst_hva, page);
	return ioctl(m->uffd, UFFDIO_ZEROPAGE, &zp) ? -errno : 0;
}

/*
 * The source's guest runs a while and pauses; the destination gets its
 * state but none of its RAM, starts, and its vCPU blocks on the first
 * page it touches. VMM_PAUSE must return anyway, within the bound; the
 * page placed while paused must not let the vCPU run; after VMM_RESUME
 * it runs (faults again). Then every page from the source, and the
 * destination's checker passes after VMM_POSTCOPY_END.
 */
FIXTURE(guest) {
	int unused;
};

FIXTURE_SETUP(guest)
{
}

FIXTURE_TEARDOWN(guest)
{
}

TEST_F_TIMEOUT(guest, pause_blocked_vcpu, 300)
{
	static const char * const src_args[] = {
		"--mem", "64", "--workload", "counter", "--rate", "4", NULL,
	};
	static const char * const dst_args[] = {
		"--mem", "64", "--incoming", NULL,
	};
	const char *why = pc_missing_prereq();
	uint64_t t0, ms, addr, off, placed = 0;
	struct vmm_check check;
	struct vmm_status st;
	struct uffd_msg msg;
	struct pair m;
	char path[64];
	size_t len;
	void *blob;
	int ret;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, vmm_spawn(&m.src, src_args));
	usleep(1000 * 1000);
	ASSERT_EQ(0, find_ram(&m.src, &m.src_ram));
	ASSERT_EQ(0, ctl_simple(&m.src, VMM_PAUSE));
	ASSERT_EQ(0, ctl_call(&m.src, VMM_GET_STATE, NULL, 0, &blob, &len,
			  NULL));
	snprintf(path, sizeof(path), "/proc/%d/mem", m.src.pid);
	m.src_mem = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, m.src_mem);

	ASSERT_EQ(0, vmm_spawn(&m.dst, dst_args));
	ASSERT_EQ(0, find_ram(&m.dst, &m.dst_ram));
	ASSERT_EQ(0, ctl_hold_phase(&m.dst, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, begin(&m.dst, &m.uffd, NULL));
	ASSERT_EQ(0, ctl_call(&m.dst, VMM_SET_STATE, blob, len, NULL, NULL,
			  NULL));
	free(blob);
	ASSERT_EQ(0, ctl_simple(&m.dst, VMM_START));
	/* The vCPU's first touch of RAM: it waits in KVM for the page. */
	ASSERT_EQ(1, wait_fault(m.uffd, FAULT_TIMEOUT_MS, &msg));
	addr = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
	TH_LOG("first fault at hva 0x%llx (RAM offset 0x%llx)",
	       (unsigned long long)addr,
	       (unsigned long long)(addr - guest_hva(&m.dst_ram, 0)));

	t0 = now_ms();
	ASSERT_EQ(0, ctl_simple(&m.dst, VMM_PAUSE));
	ms = now_ms() - t0;
	TH_LOG("VMM_PAUSE with the vCPU blocked took %llu ms (bound %d ms)",
	       (unsigned long long)ms, VMM_POSTCOPY_PARK_MS);
	EXPECT_LE(ms, (uint64_t)VMM_POSTCOPY_PARK_MS * 10);
	/* VMM_STATUS does not wait for the guest's missing pages either. */
	ASSERT_EQ(0, ctl_status(&m.dst, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED | VMM_ST_INCOMING |
		  VMM_ST_POSTCOPY, st.flags);
	/* A state saved here would go with a partial image. */
	EXPECT_EQ(-EBUSY, ctl_simple(&m.dst, VMM_GET_STATE));

	/* Its page arrives while paused: it must not run (fault again). */
	ASSERT_EQ(0, place_from_src(&m, addr));
	placed++;
	EXPECT_EQ(0, wait_fault(m.uffd, 2 * QUIET_MS, &msg));

	/* Resumed, it runs: more pages wanted. */
	ASSERT_EQ(0, ctl_simple(&m.dst, VMM_RESUME));
	ASSERT_EQ(1, wait_fault(m.uffd, FAULT_TIMEOUT_MS, &msg));
	/* Serve the faults a while, as kmigctl would. */
	t0 = now_ms();
	do {
		addr = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
		ret = place_from_src(&m, addr);
		if (ret && ret != -EEXIST)
			break;
		placed += !ret;
	} while (now_ms() - t0 < 2000 &&
		 wait_fault(m.uffd, FAULT_TIMEOUT_MS, &msg) == 1);
	EXPECT_TRUE(!ret || ret == -EEXIST);
	TH_LOG("%llu pages placed on demand", (unsigned long long)placed);
	EXPECT_LT((uint64_t)2, placed);

	/* The rest in the background, as a postcopy's bulk copy does. */
	for (off = 0; off < m.dst_ram.slot[0].size; off += PAGE) {
		ret = place_from_src(&m, m.dst_ram.slot[0].hva + off);
		if (ret && ret != -EEXIST)
			break;
	}
	EXPECT_TRUE(!ret || ret == -EEXIST);
	ASSERT_EQ(0, ctl_simple(&m.dst, VMM_POSTCOPY_END));
	usleep(1000 * 1000);
	ASSERT_EQ(0, ctl_call(&m.dst, VMM_CHECK, NULL, 0, &blob, &len, NULL));
	ASSERT_EQ(sizeof(check), len);
	memcpy(&check, blob, sizeof(check));
	free(blob);
	TH_LOG("destination: %s", check.verdict);
	EXPECT_EQ(1, check.ok);

	close(m.uffd);
	close(m.src_mem);
	EXPECT_EQ(0, vmm_stop(&m.dst));
	EXPECT_EQ(0, vmm_stop(&m.src));
}

TEST_HARNESS_MAIN
