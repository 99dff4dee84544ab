// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm's side of recovering a postcopy (user/include/kmig_vmm.h,
 * "Recovering a postcopy"), driven over the control socket the way
 * kmigctl postcopy-recover and kmigctl migrate --resume do, with real
 * userfaultfds and a real nested guest:
 *
 *  - missing: VMM_POSTCOPY_MISSING reports exactly the pages that would
 *    fault: never populated, or discarded and not placed since
 *    (anonymous and memfd RAM); and who may ask.
 *  - recover: a destination whose postcopy client went away is recovered
 *    by a new client, twice: VMM_POSTCOPY_BEGIN hands it the same
 *    userfaultfd (the fault raised before is read on the new fd),
 *    VMM_RESUME is allowed for it and refused for a bystander, and once
 *    it has placed what VMM_POSTCOPY_MISSING lists the guest's checker
 *    passes and the guest runs on.
 *  - takeover: a source whose migration committed and whose client left
 *    is taken over by a new client's VMM_HOLD(COMMITTED); a VMM that is
 *    not orphaned that way refuses it.
 *
 * The test plays kmigctl itself: it reads the source's RAM through
 * /proc/PID/mem and places it with UFFDIO_COPY. Runs build/vmm/kmig-vmm,
 * or $KMIG_VMM. Needs /dev/kvm, and /dev/kmig (KMIG_GET_MEMSLOTS tells
 * where the VMMs map guest RAM); SKIPs without them.
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
#include <linux/kcmp.h>
#include <linux/kmig.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kmig_vmm.h"
#include "kselftest_harness.h"
#include "test_util.h"
#include "vmm_ctl.h"

#define PAGE			4096
#define HUGE			(2ULL << 20)
#define COPY_BATCH		256	/* pages per UFFDIO_COPY */

/* --------------------------------------------------------------------- */
/* Postcopy helpers.                                                      */

/* VMM_POSTCOPY_BEGIN: the userfaultfd, or -errno; @msg gets an error's. */
static int ctl_begin(struct vmm_proc *p, char *msg, size_t msg_len)
{
	struct vmm_postcopy pc;
	size_t len = 0;
	void *reply;
	int fd, ret;

	ret = ctl_call(p, VMM_POSTCOPY_BEGIN, NULL, 0, &reply, &len, &fd);
	if (ret && msg)
		snprintf(msg, msg_len, "%s", reply ? (char *)reply : "");
	if (!ret && (len != sizeof(pc) || fd < 0))
		ret = -EPROTO;
	if (!ret) {
		memcpy(&pc, reply, sizeof(pc));
		if (pc.flags || pc.reserved ||
		    pc.ram_size != p->hello.ram_size)
			ret = -EPROTO;
	}
	free(reply);
	if (ret && fd >= 0)
		close(fd);
	return ret ? ret : fd;
}

/*
 * VMM_POSTCOPY_MISSING: the bitmap in *@bm (malloc'ed), its pages in
 * *@nr; the reply's length checked against them. 0 or -errno.
 */
static int ctl_missing(struct vmm_proc *p, uint8_t **bm, uint64_t *nr,
		       char *msg, size_t msg_len)
{
	size_t len = 0;
	void *reply;
	int ret;

	*bm = NULL;
	*nr = 0;
	ret = ctl_call(p, VMM_POSTCOPY_MISSING, NULL, 0, &reply, &len, NULL);
	if (ret) {
		if (msg)
			snprintf(msg, msg_len, "%s",
				 reply ? (char *)reply : "");
		free(reply);
		return ret;
	}
	if (len < sizeof(uint64_t)) {
		free(reply);
		return -EPROTO;
	}
	memcpy(nr, reply, sizeof(*nr));
	if (len - sizeof(uint64_t) != (*nr + 7) / 8) {
		free(reply);
		return -EPROTO;
	}
	memmove(reply, (char *)reply + sizeof(uint64_t), len - sizeof(uint64_t));
	*bm = reply;
	return 0;
}

static bool bit_test(const uint8_t *bm, uint64_t i)
{
	return bm[i / 8] & (1U << (i % 8));
}

static void bit_assign(uint8_t *bm, uint64_t i, bool on)
{
	if (on)
		bm[i / 8] |= 1U << (i % 8);
	else
		bm[i / 8] &= ~(1U << (i % 8));
}

static uint64_t bits_set(const uint8_t *bm, uint64_t nr)
{
	uint64_t i, n = 0;

	for (i = 0; i < nr; i++)
		n += bit_test(bm, i);
	return n;
}

/* Pages of guest RAM, over the regions in VMM_HELLO order. */
static uint64_t hello_pages(const struct vmm_proc *p)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < p->hello.nr_regions; i++)
		n += p->region[i].size / PAGE;
	return n;
}

/* The guest-physical address of page @i, counted as MISSING counts. */
static uint64_t page_gpa(const struct vmm_proc *p, uint64_t i)
{
	uint32_t r;

	for (r = 0; r < p->hello.nr_regions; r++) {
		if (i < p->region[r].size / PAGE)
			return p->region[r].gpa + i * PAGE;
		i -= p->region[r].size / PAGE;
	}
	return UINT64_MAX;
}

/* Page index of @gpa as MISSING counts, or UINT64_MAX. */
static uint64_t gpa_page(const struct vmm_proc *p, uint64_t gpa)
{
	uint64_t base = 0;
	uint32_t r;

	for (r = 0; r < p->hello.nr_regions; r++) {
		if (gpa >= p->region[r].gpa &&
		    gpa - p->region[r].gpa < p->region[r].size)
			return base + (gpa - p->region[r].gpa) / PAGE;
		base += p->region[r].size / PAGE;
	}
	return UINT64_MAX;
}

/*
 * The pages where @got and @want differ: their number, and the first in
 * *@first (for the log).
 */
static uint64_t bits_differing(const uint8_t *got, const uint8_t *want,
			       uint64_t nr, uint64_t *first)
{
	uint64_t i, n = 0;

	*first = UINT64_MAX;
	for (i = 0; i < nr; i++) {
		if (bit_test(got, i) == bit_test(want, i))
			continue;
		if (!n++)
			*first = i;
	}
	return n;
}

/* One UFFDIO_COPY of @len bytes; 0, or -errno (-EEXIST: already there). */
static int uffd_copy(int uffd, uint64_t dst, const void *src, uint64_t len,
		     uint64_t *copied)
{
	struct uffdio_copy c = {
		.dst = dst, .src = (uintptr_t)src, .len = len,
	};
	int ret;

	do {
		ret = ioctl(uffd, UFFDIO_COPY, &c) ? -errno : 0;
	} while (ret == -EAGAIN && c.copy <= 0);
	*copied = c.copy > 0 ? (uint64_t)c.copy : 0;
	return ret;
}

/*
 * kmigctl's job: every page @bm lists, read from the source at the same
 * gpa, placed at the destination through @uffd. The pages placed, or
 * -errno. A page already there (-EEXIST) counts in *@existed.
 */
static int64_t place_missing(int uffd, const struct vmm_proc *dst,
			     struct guest_mem *src_mem,
			     struct guest_mem *dst_mem, const uint8_t *bm,
			     uint64_t nr, uint64_t *existed)
{
	uint8_t *buf = malloc(COPY_BATCH * PAGE);
	uint64_t i = 0, run, done, copied, gpa;
	int64_t placed = 0;
	int ret;

	*existed = 0;
	if (!buf)
		return -ENOMEM;
	while (i < nr) {
		if (!bit_test(bm, i)) {
			i++;
			continue;
		}
		gpa = page_gpa(dst, i);
		for (run = 1; run < COPY_BATCH && i + run < nr &&
		     bit_test(bm, i + run) &&
		     page_gpa(dst, i + run) == gpa + run * PAGE; run++)
			;
		if (pread(src_mem->mem, buf, run * PAGE,
			  guest_hva(src_mem, gpa)) != (ssize_t)(run * PAGE)) {
			free(buf);
			return -EIO;
		}
		for (done = 0; done < run; done += copied) {
			ret = uffd_copy(uffd, guest_hva(dst_mem, gpa + done * PAGE),
					buf + done * PAGE, (run - done) * PAGE,
					&copied);
			copied /= PAGE;
			placed += copied;
			if (ret == -EEXIST && !copied) {
				(*existed)++;
				copied = 1;
			} else if (ret && ret != -EEXIST) {
				free(buf);
				return ret;
			}
		}
		i += run;
	}
	free(buf);
	return placed;
}

static bool same_file(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

/* --------------------------------------------------------------------- */
/* VMM_POSTCOPY_MISSING on a destination that has not started.            */

FIXTURE(missing) {
	struct vmm_proc vmm;	/* its ctl: the migration's client */
	struct vmm_proc other;	/* a bystander */
	struct guest_mem mem;
	int uffd;
};

FIXTURE_VARIANT(missing) {
	bool memfd;
};

FIXTURE_VARIANT_ADD(missing, anon) {
	.memfd = false,
};

FIXTURE_VARIANT_ADD(missing, memfd) {
	.memfd = true,
};

FIXTURE_SETUP(missing)
{
	const char *args[] = {
		"--mem", "64", "--incoming",
		variant->memfd ? "--memfd" : NULL, NULL,
	};
	const char *why = missing_prereq();

	self->mem = (struct guest_mem) { .kmig = -1, .mem = -1 };
	self->other.ctl = -1;
	self->uffd = -1;
	if (why)
		SETUP_SKIP("%s", why);
	if (!have_kmig())
		SETUP_SKIP("no %s for KMIG_GET_MEMSLOTS", KMIG_DEVICE_PATH);
	ASSERT_EQ(0, vmm_spawn(&self->vmm, args));
	ASSERT_EQ(0, ctl_hello(&self->vmm));
	ASSERT_EQ(1, (int)self->vmm.hello.incoming);
	ASSERT_EQ(0, guest_mem_open(&self->mem, &self->vmm));
	ASSERT_EQ(self->vmm.hello.ram_size, guest_ram_size(&self->mem));
	ASSERT_EQ(0, vmm_client(&self->vmm, &self->other));
}

FIXTURE_TEARDOWN(missing)
{
	if (self->uffd >= 0)
		close(self->uffd);
	vmm_client_close(&self->other);
	guest_mem_close(&self->mem);
	if (self->vmm.pid > 0)
		vmm_stop(&self->vmm);
}

/*
 * Populates the HVA-aligned 2 MiB window that starts at or after @gpa
 * (so that a transparent huge page fills exactly it) and marks its pages
 * present in @want; returns the window's gpa.
 */
static uint64_t populate_window(struct __test_metadata *_metadata,
				FIXTURE_DATA(missing) *self, uint64_t gpa,
				uint8_t *want)
{
	static uint8_t data[HUGE];
	uint64_t hva = guest_hva(&self->mem, gpa), start, i;

	start = (hva + HUGE - 1) / HUGE * HUGE;
	gpa += start - hva;
	for (i = 0; i < HUGE; i++)
		data[i] = (uint8_t)(i / PAGE + 1);
	EXPECT_EQ((ssize_t)HUGE, pwrite(self->mem.mem, data, HUGE, start));
	for (i = 0; i < HUGE / PAGE; i++)
		bit_assign(want, gpa_page(&self->vmm, gpa) + i, false);
	return gpa;
}

/* MISSING equals @want, page for page. */
static void expect_missing(struct __test_metadata *_metadata,
			   struct vmm_proc *p, const uint8_t *want,
			   uint64_t nr, const char *when)
{
	uint64_t got_nr, n, first;
	char msg[256] = "";
	uint8_t *got;

	ASSERT_EQ(0, ctl_missing(p, &got, &got_nr, msg, sizeof(msg)))
		TH_LOG("%s: %s", when, msg);
	ASSERT_EQ(nr, got_nr);
	n = bits_differing(got, want, nr, &first);
	TH_LOG("%s: %llu pages missing of %llu", when,
	       (unsigned long long)bits_set(got, nr), (unsigned long long)nr);
	EXPECT_EQ((uint64_t)0, n)
		TH_LOG("%s: %llu pages wrong, the first page %llu (gpa 0x%llx): reported %s",
		       when, (unsigned long long)n, (unsigned long long)first,
		       (unsigned long long)page_gpa(p, first),
		       bit_test(got, first) ? "missing" : "present");
	free(got);
}

TEST_F_TIMEOUT(missing, exact, 120)
{
	struct vmm_discard d[3];
	uint64_t nr = hello_pages(&self->vmm), a, b, far, copied;
	static uint8_t page[PAGE];
	uint8_t *want, *bm;
	char msg[256];

	ASSERT_EQ(nr, self->vmm.hello.ram_size / PAGE);
	want = malloc((nr + 7) / 8);
	ASSERT_NE(NULL, want);
	memset(want, 0xff, (nr + 7) / 8);
	if (nr % 8)
		want[nr / 8] = (1U << (nr % 8)) - 1;

	ASSERT_EQ(0, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
	/* Not before POSTCOPY_BEGIN, and never from a bystander. */
	EXPECT_EQ(-EINVAL, ctl_missing(&self->vmm, &bm, &copied, msg,
				       sizeof(msg)));
	TH_LOG("before BEGIN: %s", msg);

	/* What precopy would have loaded: three windows of 2 MiB. */
	a = populate_window(_metadata, self, 4 << 20, want);
	b = populate_window(_metadata, self, 20 << 20, want);
	populate_window(_metadata, self, 40 << 20, want);
	far = 56 << 20;		/* never populated */

	self->uffd = ctl_begin(&self->vmm, msg, sizeof(msg));
	ASSERT_LE(0, self->uffd) TH_LOG("VMM_POSTCOPY_BEGIN: %s", msg);
	EXPECT_EQ(-EPERM, ctl_missing(&self->other, &bm,
				      &copied, msg, sizeof(msg)));
	TH_LOG("bystander: %s", msg);
	EXPECT_EQ(-EINVAL, ctl_call(&self->vmm, VMM_POSTCOPY_MISSING, "x", 1,
				    NULL, NULL, NULL));
	expect_missing(_metadata, &self->vmm, want, nr, "after BEGIN");

	/* The source's discards: pages 3-5 of a, all of b, a missing one. */
	d[0] = (struct vmm_discard) { .gpa = a + 3 * PAGE, .npages = 3 };
	d[1] = (struct vmm_discard) { .gpa = b, .npages = HUGE / PAGE };
	d[2] = (struct vmm_discard) { .gpa = far, .npages = 1 };
	ASSERT_EQ(0, ctl_call(&self->vmm, VMM_DISCARD, d, sizeof(d), NULL,
			      NULL, NULL));
	for (copied = 0; copied < 3; copied++)
		bit_assign(want, gpa_page(&self->vmm, a) + 3 + copied, true);
	for (copied = 0; copied < HUGE / PAGE; copied++)
		bit_assign(want, gpa_page(&self->vmm, b) + copied, true);
	expect_missing(_metadata, &self->vmm, want, nr, "after DISCARD");

	/* Placed: one discarded page, two never populated, one zero page. */
	memset(page, 0x5a, sizeof(page));
	EXPECT_EQ(0, uffd_copy(self->uffd, guest_hva(&self->mem, a + 4 * PAGE),
			       page, PAGE, &copied));
	bit_assign(want, gpa_page(&self->vmm, a) + 4, false);
	EXPECT_EQ(0, uffd_copy(self->uffd, guest_hva(&self->mem, far + PAGE),
			       page, PAGE, &copied));
	EXPECT_EQ(0, uffd_copy(self->uffd, guest_hva(&self->mem, 0),
			       page, PAGE, &copied));
	bit_assign(want, gpa_page(&self->vmm, far) + 1, false);
	bit_assign(want, 0, false);
	{
		struct uffdio_zeropage z = {
			.range = {
				.start = guest_hva(&self->mem, b + 7 * PAGE),
				.len = PAGE,
			},
		};

		EXPECT_EQ(0, ioctl(self->uffd, UFFDIO_ZEROPAGE, &z));
		bit_assign(want, gpa_page(&self->vmm, b) + 7, false);
	}
	/* A page already there stays there: UFFDIO_COPY says EEXIST. */
	EXPECT_EQ(-EEXIST, uffd_copy(self->uffd,
				     guest_hva(&self->mem, a + 100 * PAGE),
				     page, PAGE, &copied));
	expect_missing(_metadata, &self->vmm, want, nr, "after placing");

	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_POSTCOPY_END));
	EXPECT_EQ(-EINVAL, ctl_missing(&self->vmm, &bm,
				       &copied, msg, sizeof(msg)));
	TH_LOG("after END: %s", msg);
	free(want);
}

/* A source has no postcopy to report on. */
TEST(missing_on_source)
{
	static const char * const args[] = {
		"--mem", "32", "--workload", "counter", NULL,
	};
	struct vmm_proc vmm;
	uint64_t nr;
	uint8_t *bm;
	char msg[256];
	const char *why = missing_prereq();

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, vmm_spawn(&vmm, args));
	ASSERT_EQ(0, ctl_hold_phase(&vmm, VMM_PHASE_MIGRATING));
	EXPECT_EQ(-EINVAL, ctl_missing(&vmm, &bm, &nr, msg, sizeof(msg)));
	TH_LOG("source: %s", msg);
	EXPECT_NE(NULL, strstr(msg, "not a destination"));
	EXPECT_EQ(0, vmm_stop(&vmm));
}

/* --------------------------------------------------------------------- */
/* Recovering a destination whose postcopy client went away, twice.       */

FIXTURE(recover) {
	struct vmm_proc src, dst, other;
	struct guest_mem src_mem, dst_mem;
};

FIXTURE_VARIANT(recover) {
	bool memfd;
};

FIXTURE_VARIANT_ADD(recover, anon) {
	.memfd = false,
};

FIXTURE_VARIANT_ADD(recover, memfd) {
	.memfd = true,
};

FIXTURE_SETUP(recover)
{
	self->src_mem = self->dst_mem = (struct guest_mem) {
		.kmig = -1, .mem = -1,
	};
	self->other.ctl = -1;
}

FIXTURE_TEARDOWN(recover)
{
	/* The first client's connection went; quit through the bystander's. */
	if (self->dst.ctl < 0) {
		self->dst.ctl = self->other.ctl;
		self->other.ctl = -1;
	}
	vmm_client_close(&self->other);
	guest_mem_close(&self->src_mem);
	guest_mem_close(&self->dst_mem);
	if (self->src.pid > 0)
		vmm_stop(&self->src);
	if (self->dst.pid > 0)
		vmm_stop(&self->dst);
}

/* The VMM saw its holder go: paused, orphaned, still in postcopy. */
static void expect_orphaned(struct __test_metadata *_metadata,
			    struct vmm_proc *p)
{
	struct vmm_status st;

	ASSERT_EQ(0, wait_unheld(p, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED | VMM_ST_INCOMING |
		  VMM_ST_ORPHANED | VMM_ST_POSTCOPY, st.flags);
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);
}

/* RESUME from @p is refused as the guest's memory is incomplete. */
static void expect_resume_refused(struct __test_metadata *_metadata,
				  struct vmm_proc *p, const char *who)
{
	char msg[256];

	EXPECT_EQ(-EPERM, ctl_simple_msg(p, VMM_RESUME, msg, sizeof(msg)));
	TH_LOG("VMM_RESUME from %s: %s", who, msg);
	EXPECT_NE(NULL, strstr(msg, "memory is incomplete"));
}

TEST_F_TIMEOUT(recover, twice, 240)
{
	const char *src_args[] = {
		"--mem", "64", "--workload", "counter", "--rate", "32",
		variant->memfd ? "--memfd" : NULL, NULL,
	};
	const char *dst_args[] = {
		"--mem", "64", "--incoming",
		variant->memfd ? "--memfd" : NULL, NULL,
	};
	struct vmm_proc first, second, third;
	uint64_t nr, existed, hva;
	struct uffd_msg fault;
	struct vmm_check check;
	struct vmm_status st;
	struct pollfd pfd;
	int uffd0, uffd1, uffd2;
	void *blob, *reply;
	int64_t placed;
	char msg[256];
	uint8_t *bm;
	size_t len;
	const char *why = missing_prereq();

	if (why)
		SKIP(return, "%s", why);
	if (!have_kmig())
		SKIP(return, "no %s for KMIG_GET_MEMSLOTS", KMIG_DEVICE_PATH);

	/* The source ran a while and stopped: its RAM and state are final. */
	ASSERT_EQ(0, vmm_spawn(&self->src, src_args));
	msleep(1500);
	ASSERT_EQ(0, ctl_hello(&self->src));
	ASSERT_EQ(0, ctl_simple(&self->src, VMM_PAUSE));
	ASSERT_EQ(0, ctl_call(&self->src, VMM_GET_STATE, NULL, 0, &blob, &len,
			      NULL));
	ASSERT_EQ(0, guest_mem_open(&self->src_mem, &self->src));

	/* The first postcopy client: not one page placed when it goes. */
	ASSERT_EQ(0, vmm_spawn(&self->dst, dst_args));
	ASSERT_EQ(0, ctl_hello(&self->dst));
	first = self->dst;
	ASSERT_EQ(0, guest_mem_open(&self->dst_mem, &self->dst));
	ASSERT_EQ(0, vmm_client(&self->dst, &self->other));
	ASSERT_EQ(0, ctl_hold_phase(&self->dst, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, ctl_call(&self->dst, VMM_SET_STATE, blob, len, &reply,
			      NULL, NULL));
	free(reply);
	free(blob);
	uffd0 = ctl_begin(&self->dst, msg, sizeof(msg));
	ASSERT_LE(0, uffd0) TH_LOG("VMM_POSTCOPY_BEGIN: %s", msg);
	ASSERT_EQ(0, ctl_simple(&self->dst, VMM_START));
	/*
	 * The guest faults at once; nobody reads the fault. (poll() on a
	 * blocking userfaultfd says only POLLERR: make it O_NONBLOCK, which
	 * the VMM's copy shares and the VMM never reads.)
	 */
	ASSERT_EQ(0, fcntl(uffd0, F_SETFL, O_NONBLOCK));
	pfd = (struct pollfd) { .fd = uffd0, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 20000)) TH_LOG("no fault on the first fd");
	ASSERT_EQ(POLLIN, pfd.revents);
	expect_resume_refused(_metadata, &self->other, "a bystander");
	vmm_client_close(&self->dst);
	expect_orphaned(_metadata, &self->other);
	expect_resume_refused(_metadata, &self->other, "anyone, orphaned");
	EXPECT_EQ(-EPERM, ctl_simple(&self->other, VMM_START));
	/* Not the source-side takeover: that is for an orphaned commit. */
	EXPECT_EQ(-EPERM, ctl_hold_phase(&self->other, VMM_PHASE_COMMITTED));

	/* The second: reattaches, sees the old fault, resumes, goes away. */
	ASSERT_EQ(0, vmm_client(&first, &second));
	second.hello = first.hello;
	ASSERT_EQ(0, ctl_hold(&second, VMM_PHASE_MIGRATING, 0, &st, msg,
			      sizeof(msg))) TH_LOG("HOLD: %s", msg);
	EXPECT_EQ(getpid(), st.holder_pid);
	expect_resume_refused(_metadata, &second, "the new holder before BEGIN");
	EXPECT_EQ(-EINVAL, ctl_missing(&second, &bm, &nr, msg, sizeof(msg)));
	uffd1 = ctl_begin(&second, msg, sizeof(msg));
	ASSERT_LE(0, uffd1) TH_LOG("VMM_POSTCOPY_BEGIN again: %s", msg);
	EXPECT_TRUE(same_file(uffd0, uffd1));
	close(uffd0);
	ASSERT_EQ(0, ctl_status(&self->other, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED | VMM_ST_INCOMING |
		  VMM_ST_POSTCOPY, st.flags);
	EXPECT_EQ(O_NONBLOCK, fcntl(uffd1, F_GETFL) & O_NONBLOCK);
	pfd = (struct pollfd) { .fd = uffd1, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_EQ(POLLIN, pfd.revents);
	ASSERT_EQ((ssize_t)sizeof(fault), read(uffd1, &fault, sizeof(fault)));
	EXPECT_EQ(UFFD_EVENT_PAGEFAULT, fault.event);
	hva = guest_hva(&self->dst_mem, 0);
	EXPECT_LE(hva, fault.arg.pagefault.address);
	EXPECT_GT(hva + self->dst.hello.ram_size, fault.arg.pagefault.address);
	TH_LOG("the fault raised before, read on the new fd: hva 0x%llx",
	       (unsigned long long)fault.arg.pagefault.address);
	expect_resume_refused(_metadata, &self->other, "a bystander");
	ASSERT_EQ(0, ctl_simple(&second, VMM_RESUME));
	ASSERT_EQ(0, ctl_status(&self->other, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_INCOMING | VMM_ST_POSTCOPY,
		  st.flags);
	/* A holder in postcopy cannot just let go. */
	EXPECT_EQ(-EBUSY, ctl_hold_phase(&second, VMM_PHASE_NONE));
	vmm_client_close(&second);
	close(uffd1);
	expect_orphaned(_metadata, &self->other);
	expect_resume_refused(_metadata, &self->other, "anyone, orphaned again");

	/* The third: places what MISSING lists, resumes, ends postcopy. */
	ASSERT_EQ(0, vmm_client(&first, &third));
	third.hello = first.hello;
	ASSERT_EQ(0, ctl_hold_phase(&third, VMM_PHASE_MIGRATING));
	uffd2 = ctl_begin(&third, msg, sizeof(msg));
	ASSERT_LE(0, uffd2) TH_LOG("VMM_POSTCOPY_BEGIN a third time: %s", msg);
	ASSERT_EQ(0, ctl_missing(&third, &bm, &nr, msg, sizeof(msg)))
		TH_LOG("MISSING: %s", msg);
	ASSERT_EQ(hello_pages(&self->dst), nr);
	TH_LOG("%llu pages missing of %llu", (unsigned long long)bits_set(bm, nr),
	       (unsigned long long)nr);
	EXPECT_LT((uint64_t)0, bits_set(bm, nr));
	ASSERT_EQ(0, ctl_simple(&third, VMM_RESUME));
	placed = place_missing(uffd2, &self->dst, &self->src_mem,
			       &self->dst_mem, bm, nr, &existed);
	free(bm);
	ASSERT_LE(0, placed);
	TH_LOG("placed %lld pages, %llu already there", (long long)placed,
	       (unsigned long long)existed);
	EXPECT_EQ((uint64_t)0, existed);
	ASSERT_EQ(0, ctl_missing(&third, &bm, &nr, msg, sizeof(msg)));
	EXPECT_EQ((uint64_t)0, bits_set(bm, nr));
	free(bm);
	ASSERT_EQ(0, ctl_simple(&third, VMM_POSTCOPY_END));
	close(uffd2);
	ASSERT_EQ(0, ctl_status(&self->other, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_INCOMING, st.flags);
	ASSERT_EQ(0, ctl_check(&self->other, &check));
	TH_LOG("destination: %s", check.verdict);
	EXPECT_EQ(1, check.ok);
	EXPECT_LT(0, progress_in(&self->other, 1000));
	vmm_client_close(&third);
}

/* --------------------------------------------------------------------- */
/* The source: taking over a committed migration whose client left.       */

FIXTURE(takeover) {
	struct vmm_proc vmm;	/* its ctl: the operator, a bystander */
	struct vmm_proc mig;	/* the migration that committed */
};

FIXTURE_SETUP(takeover)
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

FIXTURE_TEARDOWN(takeover)
{
	vmm_client_close(&self->mig);
	if (self->vmm.pid > 0)
		vmm_stop(&self->vmm);
}

static void commit_and_leave(struct __test_metadata *_metadata,
			     FIXTURE_DATA(takeover) *self)
{
	struct vmm_status st;

	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_MIGRATING));
	ASSERT_EQ(0, ctl_simple(&self->mig, VMM_PAUSE));
	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_COMMITTED));
	vmm_client_close(&self->mig);
	ASSERT_EQ(0, wait_unheld(&self->vmm, &st));
	ASSERT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED | VMM_ST_ORPHANED, st.flags);
}

TEST_F_TIMEOUT(takeover, orphaned_commit, 90)
{
	struct vmm_proc resume, again;
	struct vmm_status st;
	char msg[256];
	int status = -1;

	commit_and_leave(_metadata, self);

	/* kmigctl migrate --resume: holds it in COMMITTED, paused. */
	ASSERT_EQ(0, vmm_client(&self->vmm, &resume));
	ASSERT_EQ(0, ctl_hold(&resume, VMM_PHASE_COMMITTED, 0, &st, msg,
			      sizeof(msg))) TH_LOG("takeover: %s", msg);
	EXPECT_EQ(VMM_PHASE_COMMITTED, (int)st.phase);
	EXPECT_EQ(getpid(), st.holder_pid);
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED, st.flags);
	EXPECT_EQ(0, progress_in(&self->vmm, 500));
	/* Repeating it is a no-op; nobody else gets in. */
	EXPECT_EQ(0, ctl_hold_phase(&resume, VMM_PHASE_COMMITTED));
	EXPECT_EQ(-EINVAL, ctl_hold_phase(&resume, VMM_PHASE_MIGRATING));
	EXPECT_EQ(-EPERM, ctl_hold_phase(&self->vmm, VMM_PHASE_COMMITTED));
	EXPECT_EQ(-EBUSY, ctl_hold_phase(&self->vmm, VMM_PHASE_MIGRATING));
	EXPECT_EQ(-EBUSY, ctl_simple(&self->vmm, VMM_RESUME));

	/* It goes away without QUIT: orphaned again, as it found it. */
	vmm_client_close(&resume);
	ASSERT_EQ(0, wait_unheld(&self->vmm, &st));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED | VMM_ST_ORPHANED, st.flags);
	EXPECT_EQ(VMM_PHASE_NONE, (int)st.phase);

	/* Released by hand: the same. */
	ASSERT_EQ(0, vmm_client(&self->vmm, &again));
	ASSERT_EQ(0, ctl_hold_phase(&again, VMM_PHASE_COMMITTED));
	ASSERT_EQ(0, ctl_hold(&again, VMM_PHASE_NONE, 0, &st, NULL, 0));
	EXPECT_EQ(VMM_ST_STARTED | VMM_ST_PAUSED | VMM_ST_ORPHANED, st.flags);
	EXPECT_EQ(0, st.holder_pid);

	/* Taken over once more, it ends as a migration does: VMM_QUIT. */
	ASSERT_EQ(0, ctl_hold_phase(&again, VMM_PHASE_COMMITTED));
	EXPECT_EQ(0, ctl_simple(&again, VMM_QUIT));
	vmm_client_close(&again);
	for (int i = 0; i < 100 && waitpid(self->vmm.pid, &status, WNOHANG) !=
	     self->vmm.pid; i++)
		msleep(50);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	self->vmm.pid = 0;
	close(self->vmm.ctl);
	self->vmm.ctl = -1;
	fclose(self->vmm.out);
	unlink(self->vmm.sock);
}

/* Nothing orphaned it: VMM_HOLD(COMMITTED) from a new client fails. */
TEST_F_TIMEOUT(takeover, refused, 90)
{
	struct vmm_proc other;
	struct vmm_status st;
	char msg[256];

	/* A running guest, nobody holding it. */
	EXPECT_EQ(-EPERM, ctl_hold(&self->vmm, VMM_PHASE_COMMITTED, 0, NULL,
				   msg, sizeof(msg)));
	TH_LOG("fresh: %s", msg);
	/* Paused by hand, not orphaned. */
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_PAUSE));
	EXPECT_EQ(-EPERM, ctl_hold_phase(&self->vmm, VMM_PHASE_COMMITTED));
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
	/* Another client holds it, committed. */
	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_MIGRATING));
	EXPECT_EQ(-EPERM, ctl_hold_phase(&self->vmm, VMM_PHASE_COMMITTED));
	ASSERT_EQ(0, ctl_simple(&self->mig, VMM_PAUSE));
	ASSERT_EQ(0, ctl_hold_phase(&self->mig, VMM_PHASE_COMMITTED));
	EXPECT_EQ(-EPERM, ctl_hold_phase(&self->vmm, VMM_PHASE_COMMITTED));
	/* Orphaned, then resumed by the operator: nothing to take over. */
	vmm_client_close(&self->mig);
	ASSERT_EQ(0, wait_unheld(&self->vmm, &st));
	ASSERT_EQ(0, ctl_simple(&self->vmm, VMM_RESUME));
	ASSERT_EQ(0, vmm_client(&self->vmm, &other));
	EXPECT_EQ(-EPERM, ctl_hold_phase(&other, VMM_PHASE_COMMITTED));
	ASSERT_EQ(0, ctl_status(&other, &st));
	EXPECT_EQ(VMM_ST_STARTED, st.flags);
	EXPECT_EQ(0, st.holder_pid);
	vmm_client_close(&other);
}

TEST_HARNESS_MAIN
