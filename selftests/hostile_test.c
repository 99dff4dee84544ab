// SPDX-License-Identifier: GPL-2.0
/*
 * The module under hostile and concurrent use (issue 11): one test per
 * defect the review found, each doing what a VMM or a destination may do
 * and asserting what its user would check.
 *
 *  1 memslot_churn_get_memslots      snapshots while memslots change
 *  2 load_follows_memslot_move       KMIG_LOAD after a memslot moved
 *    load_during_memslot_churn       ...and while memslots keep changing
 *  3 round_{interrupted,fault}_keeps_pages  a stopped round loses nothing
 *  4 log_toggle_*                    logging off and on between two syncs
 *  5 scratch_not_unmapped_by_detach, slot_grows_before_get_dirty_log
 *  6 ring_reset_by_vmm               the VMM resets the dirty ring itself
 *  7 load_zero_run_no_lockup         huge zero runs, killable
 *  8 ring_full_sync_during_round     a vCPU's ring-full sync is not held up
 *  9 dirty_mark                      the VMM's own writes (KMIG_DIRTY_MARK)
 * 10 abi_v2_*                        address spaces and entry sizes
 *
 * Every test ends by checking that kmig's object counters (debugfs
 * kmig/objects) are back to zero once its fds are closed. The two tests
 * that edit memslots without pause come last: on a module with defect 1
 * they can take the kernel down (a slab overflow in the memslot snapshot),
 * which ends the run; the panic is the failure.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* EXPECT_EQ(literal, __u64): the 6.1 harness compares them as written. */
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "kmig_debug.h"
#include "kmig_track.h"
#include "kmig_util.h"
#include "kvm_guest.h"
#include "test_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define SMM_SLOT(n)	((1U << 16) | (n))	/* address space 1 */
#define NS_PER_S	1000000000ULL

#ifndef offsetofend
#define offsetofend(t, m)	(offsetof(t, m) + sizeof(((t *)0)->m))
#endif

/* Every test ends with this, once all its fds are closed. */
#define ASSERT_OBJECTS_ZERO() do {					\
	char __why[256];						\
	int __r = kmig_objects_wait_zero(2000, __why, sizeof(__why));	\
	if (__r == -ENOENT)						\
		TH_LOG("no " KMIG_DEBUGFS_OBJECTS ": not checked");	\
	else								\
		ASSERT_EQ(0, __r)					\
			TH_LOG("objects left with no fd open: %s", __why); \
} while (0)

FIXTURE(hostile) {
	int unused;
};

FIXTURE_SETUP(hostile)
{
	const char *why;

	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why))
		SETUP_SKIP("%s", why);
	if (!kmig_available(&why))
		SETUP_SKIP("%s", why);
}

FIXTURE_TEARDOWN(hostile)
{
}

static void need_mode(struct __test_metadata *_metadata,
		      enum guest_dirty_mode mode)
{
	const char *why;

	if (!guest_dirty_mode_supported(mode, &why))
		SETUP_SKIP("%s", why);
}

/* A session attached to @vm (not tracking). */
static int session_on(struct __test_metadata *_metadata, struct guest_vm *vm)
{
	int fd = kmig_open();

	EXPECT_LE(0, fd);
	if (fd < 0)
		return fd;
	EXPECT_EQ(0, __kmig_attach(fd, vm->fd, NULL));
	return fd;
}

/* KVM_SET_USER_MEMORY_REGION as it is; 0 or -errno. */
static int set_region(struct guest_vm *vm, __u32 slot, __u32 flags, __u64 gpa,
		      __u64 size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (__u64)(uintptr_t)hva,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	CHECK(p != MAP_FAILED, "mmap %zu: %s", len, strerror(errno));
	return p;
}

static int load_recs(int fd, const void *recs, __u32 n, __u32 rec_size,
		     const void *data, __u64 data_len, struct kmig_load *out)
{
	*out = KMIG_ARG(kmig_load, .nr_recs = n, .rec_size = rec_size,
			.recs_uptr = (__u64)(uintptr_t)recs,
			.data_uptr = (__u64)(uintptr_t)data,
			.data_len = data_len);
	return __kmig_ioctl(fd, KMIG_LOAD, out);
}

/* One KMIG_REC_PAGE of bytes @val to @gpa of address space @as_id. */
static int load_page(int fd, __u8 as_id, __u64 gpa, __u8 val)
{
	struct kmig_rec r = { .gpa = gpa, .npages = 1, .kind = KMIG_REC_PAGE,
			      .as_id = as_id, .len = PAGE };
	static __u8 data[PAGE];
	struct kmig_load out;

	memset(data, val, sizeof(data));
	return load_recs(fd, &r, 1, 0, data, sizeof(data), &out);
}

static bool all_bytes(const void *p, __u8 val, size_t len)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != val)
			return false;
	return true;
}

/* Waits for @pid up to @ms; returns how long it took, or -1 if it did not end. */
static long reap_within(pid_t pid, int ms)
{
	__u64 t0 = now_ns();
	int status;

	while ((now_ns() - t0) / 1000000 < (__u64)ms) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return (now_ns() - t0) / 1000000;
		usleep(10 * 1000);
	}
	return -1;
}

/* ---- send rings and the pages their records name ---- */

struct ring_map {
	void *mem;
	size_t bytes;
	__u32 *head, *tail, mask;
	__u8 *recs;
	__u32 rec_size;
};

static int ring_map(int fd, __u32 i, const struct kmig_send_setup *setup,
		    struct ring_map *m)
{
	__u8 *mem = mmap(NULL, setup->ring_bytes, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, KMIG_MMAP_RING(i));

	if (mem == MAP_FAILED)
		return -errno;
	m->mem = mem;
	m->bytes = setup->ring_bytes;
	m->head = (__u32 *)(mem + setup->off.head);
	m->tail = (__u32 *)(mem + setup->off.tail);
	m->mask = *(__u32 *)(mem + setup->off.mask);
	m->recs = mem + setup->off.recs;
	/* API version 1 has no rec_size: its records are 16 bytes. */
	m->rec_size = setup->rec_size ?: KMIG_REC_SIZE_V1;
	return 0;
}

static void ring_unmap(struct ring_map *m)
{
	if (m->mem)
		munmap(m->mem, m->bytes);
	m->mem = NULL;
}

/* Per page of a memslot: how often records named it. */
struct region {
	__u8 as_id;
	__u16 slot;
	__u64 gpa, npages;
	__u8 *count;
};

struct tally {
	struct region reg[3];
	int nr;
	__u64 pages, recs, stray, bad, round_ends;
};

static void tally_add(struct tally *t, __u8 as_id, __u16 slot, __u64 gpa,
		      __u64 npages)
{
	struct region *r = &t->reg[t->nr++];

	r->as_id = as_id;
	r->slot = slot;
	r->gpa = gpa;
	r->npages = npages;
	r->count = calloc(npages, 1);
	CHECK(r->count, "out of memory");
}

static void tally_free(struct tally *t)
{
	int i;

	for (i = 0; i < t->nr; i++)
		free(t->reg[i].count);
	t->nr = 0;
}

static void tally_rec(struct tally *t, const struct kmig_rec *rec)
{
	__u64 i, gpa;
	int j;

	if (rec->kind == KMIG_REC_ROUND_END) {
		t->round_ends++;
		return;
	}
	if (!rec->npages || rec->gpa % PAGE ||
	    (rec->kind != KMIG_REC_PAGE && rec->kind != KMIG_REC_ZSTD &&
	     rec->kind != KMIG_REC_ZERO && rec->kind != KMIG_REC_HOLE)) {
		t->bad++;
		return;
	}
	t->recs++;
	for (i = 0; i < rec->npages; i++) {
		gpa = rec->gpa + i * PAGE;
		for (j = 0; j < t->nr; j++) {
			struct region *r = &t->reg[j];

			if (r->as_id == rec->as_id && gpa >= r->gpa &&
			    gpa < r->gpa + r->npages * PAGE) {
				r->count[(gpa - r->gpa) / PAGE]++;
				break;
			}
		}
		if (j == t->nr)
			t->stray++;
		t->pages++;
	}
}

/* Consumes every record ready in @m; returns how many. */
static __u32 ring_drain(struct ring_map *m, struct tally *t)
{
	__u32 head = *m->head, n = 0;
	/* Acquire: records are complete up to tail. */
	__u32 tail = __atomic_load_n(m->tail, __ATOMIC_ACQUIRE);

	for (; head != tail; head++, n++)
		tally_rec(t, (struct kmig_rec *)(m->recs + (size_t)(head & m->mask) *
						 m->rec_size));
	/* Release: our reads of the records precede their reuse. */
	__atomic_store_n(m->head, head, __ATOMIC_RELEASE);
	return n;
}

static __u32 ring_ready(struct ring_map *m)
{
	return __atomic_load_n(m->tail, __ATOMIC_ACQUIRE) - *m->head;
}

/* A consumer thread: drains ring 0 until a ROUND_END or @stop. */
struct drainer {
	int fd;
	struct ring_map *ring;
	struct tally *tally;
	int slow_us;		/* delay per record */
	volatile bool stop;
	int err;
	pthread_t thread;
};

static void *drain_fn(void *arg)
{
	struct drainer *d = arg;
	struct ring_map *m = d->ring;

	while (!d->stop && !d->tally->round_ends) {
		struct kmig_ring_wait w = KMIG_ARG(kmig_ring_wait,
						   .timeout_ms = 50);
		__u32 tail, head = *m->head;

		d->err = __kmig_ioctl(d->fd, KMIG_RING_WAIT, &w);
		if (d->err)
			return NULL;
		tail = __atomic_load_n(m->tail, __ATOMIC_ACQUIRE);
		for (; head != tail && !d->tally->round_ends; head++) {
			tally_rec(d->tally, (struct kmig_rec *)(m->recs +
				  (size_t)(head & m->mask) * m->rec_size));
			if (d->slow_us)
				usleep(d->slow_us);
			__atomic_store_n(m->head, head + 1, __ATOMIC_RELEASE);
			if (d->slow_us) {
				/* Wake the worker for each record we free. */
				w = KMIG_ARG(kmig_ring_wait);
				__kmig_ioctl(d->fd, KMIG_RING_WAIT, &w);
			}
		}
	}
	return NULL;
}

static void drainer_start(struct drainer *d, int fd, struct ring_map *m,
			  struct tally *t, int slow_us)
{
	*d = (struct drainer){ .fd = fd, .ring = m, .tally = t,
			       .slow_us = slow_us };
	CHECK(!pthread_create(&d->thread, NULL, drain_fn, d), "pthread_create");
}

static void drainer_join(struct drainer *d)
{
	d->stop = true;
	pthread_join(d->thread, NULL);
}

/* KMIG_SEND_ROUND on a thread of its own. */
struct round_thread {
	int fd;
	struct kmig_send_round out;
	int ret;
	volatile bool done;
	__u64 ns;
	pthread_t thread;
};

static void *round_fn(void *arg)
{
	struct round_thread *r = arg;
	__u64 t0 = now_ns();

	r->out = KMIG_ARG(kmig_send_round);
	r->ret = __kmig_ioctl(r->fd, KMIG_SEND_ROUND, &r->out);
	r->ns = now_ns() - t0;
	r->done = true;
	return NULL;
}

static void round_start(struct round_thread *r, int fd)
{
	*r = (struct round_thread){ .fd = fd };
	CHECK(!pthread_create(&r->thread, NULL, round_fn, r), "pthread_create");
}

/* Adds the bits set in the session's bitmap of @r to its counts. */
static int tally_bitmap(int fd, struct region *r, __u64 *set)
{
	__u64 *bm = calloc(BITMAP_WORDS(r->npages), 8), dirty = 0, p;
	int ret;

	CHECK(bm, "out of memory");
	ret = __kmig_get_bitmap(fd, r->as_id, r->slot, 0, r->npages, 0, bm,
				&dirty);
	*set = 0;
	for (p = 0; !ret && p < r->npages; p++) {
		if (test_bit64(bm, p)) {
			r->count[p]++;
			(*set)++;
		}
	}
	free(bm);
	return ret;
}

/* How many of @count[first..first + n) are @val. */
static __u64 count_eq(const __u8 *count, __u64 first, __u64 n, __u8 val)
{
	__u64 c = 0, p;

	for (p = first; p < first + n; p++)
		c += count[p] == val;
	return c;
}

/* Pages of @t not counted exactly once; the first few in @why. */
static __u64 tally_not_once(struct tally *t, char *why, size_t len)
{
	__u64 bad = 0, p;
	size_t pos = 0;
	int j;

	why[0] = '\0';
	for (j = 0; j < t->nr; j++) {
		struct region *r = &t->reg[j];

		for (p = 0; p < r->npages; p++) {
			if (r->count[p] == 1)
				continue;
			if (bad < 8 && pos < len)
				pos += snprintf(why + pos, len - pos,
						"%sslot %u page %llu x%u",
						bad ? ", " : "", r->slot,
						(unsigned long long)p,
						r->count[p]);
			bad++;
		}
	}
	return bad;
}

/* A tracking session on @vm with @entries-record ring 0 mapped. */
static int sender_open(struct __test_metadata *_metadata, struct guest_vm *vm,
		       __u32 entries, struct kmig_send_setup *setup,
		       struct ring_map *m, struct kmig_dirty_start *start)
{
	int fd = session_on(_metadata, vm);

	EXPECT_EQ(0, __kmig_start(fd, start));
	*setup = KMIG_ARG(kmig_send_setup, .nr_workers = 1,
			  .ring_entries = entries);
	EXPECT_EQ(0, __kmig_ioctl(fd, KMIG_SEND_SETUP, setup));
	EXPECT_EQ(0, ring_map(fd, 0, setup, m));
	return fd;
}

/* ---- 9 (helper used by several tests): the VMM's ring discard ---- */

/*
 * What a VMM without a migration does on KVM_EXIT_DIRTY_RING_FULL, and what
 * kmig-vmm's ring_discard() does: hand every dirty entry back and reset.
 */
static void vmm_ring_discard(struct guest_vcpu *vcpu, void *opaque)
{
	struct guest_vm *vm = vcpu->vm;
	__u32 i, f;
	int v;

	for (v = 0; v < vm->nr_vcpus; v++) {
		struct guest_vcpu *c = &vm->vcpus[v];

		for (i = 0; i < c->ring_entries; i++) {
			f = __atomic_load_n(&c->ring[i].flags, __ATOMIC_ACQUIRE);
			if (f & KVM_DIRTY_GFN_F_DIRTY)
				__atomic_store_n(&c->ring[i].flags,
						 KVM_DIRTY_GFN_F_RESET,
						 __ATOMIC_RELEASE);
		}
	}
	CHECK(ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0) >= 0,
	      "KVM_RESET_DIRTY_RINGS: %s", strerror(errno));
}

/* ---- 2 ---- */

TEST_F(hostile, load_follows_memslot_move)
{
	struct guest_vm_opts opts = { .data_pages = 16 };
	struct guest_vm *vm = guest_vm_create(&opts);
	struct guest_slot *s = guest_vm_slot(vm, GUEST_DATA_SLOT);
	__u8 *h1 = s->hva, *h2 = map_anon(16 * PAGE);
	int fd = session_on(_metadata, vm), r;
	char why[128];

	/* The first load snapshots the memslots: page 0 goes into H1. */
	ASSERT_EQ(0, load_page(fd, 0, GUEST_DATA_GPA, 0x11));
	ASSERT_TRUE(all_bytes(h1, 0x11, PAGE));

	/* The VMM moves the RAM behind G to H2; H1 stays its own memory. */
	ASSERT_EQ(0, set_region(vm, GUEST_DATA_SLOT, 0, GUEST_DATA_GPA, 0, h1));
	ASSERT_EQ(0, set_region(vm, GUEST_DATA_SLOT, s->flags, GUEST_DATA_GPA,
				16 * PAGE, h2));
	memset(h1 + PAGE, 0x77, PAGE);

	ASSERT_EQ(0, load_page(fd, 0, GUEST_DATA_GPA + PAGE, 0x22));
	/* The counters see the open session (so their check can fail). */
	r = kmig_objects_wait_zero(0, why, sizeof(why));
	EXPECT_NE(0, r) TH_LOG("kmig/objects all zero with a session open");
	EXPECT_TRUE(all_bytes(h2 + PAGE, 0x22, PAGE))
		TH_LOG("the page did not reach the memslot's new memory");
	EXPECT_TRUE(all_bytes(h1 + PAGE, 0x77, PAGE))
		TH_LOG("the load wrote into the memslot's old memory");
	EXPECT_TRUE(all_bytes(h1, 0x11, PAGE));

	close(fd);
	guest_vm_free(vm);
	munmap(h2, 16 * PAGE);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 3 ---- */

static void sigalrm_noop(int sig)
{
}

TEST_F(hostile, round_interrupted_keeps_pages)
{
	struct guest_vm_opts opts = { .data_pages = 1024, .nr_vcpus = 1 };
	struct sigaction sa = { .sa_handler = sigalrm_noop };	/* no SA_RESTART */
	struct guest_vm *vm = guest_vm_create(&opts);
	struct kmig_dirty_start start;
	struct kmig_send_setup setup;
	struct round_thread rt;
	struct ring_map ring = { 0 };
	struct tally first = { 0 }, second = { 0 };
	struct drainer d;
	__u64 set, left = 0, p, waited;
	char why[256];
	int fd, j;

	/* Data in the first half, so the ring fills with page records. */
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 0, 512, 0x5a);
	fd = sender_open(_metadata, vm, 16, &setup, &ring, &start);
	ASSERT_EQ(1024 + GUEST_SYS_PAGES, start.nr_pages);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	tally_add(&first, 0, GUEST_SYS_SLOT, GUEST_SYS_GPA, GUEST_SYS_PAGES);
	tally_add(&first, 0, GUEST_DATA_SLOT, GUEST_DATA_GPA, 1024);
	tally_add(&second, 0, GUEST_SYS_SLOT, GUEST_SYS_GPA, GUEST_SYS_PAGES);
	tally_add(&second, 0, GUEST_DATA_SLOT, GUEST_DATA_GPA, 1024);

	/* Nobody drains: the worker fills the ring and waits for space. */
	round_start(&rt, fd);
	for (waited = 0; ring_ready(&ring) < 16 && waited < 5000; waited += 10)
		usleep(10 * 1000);
	ASSERT_EQ(16, ring_ready(&ring));
	usleep(100 * 1000);
	ASSERT_FALSE(rt.done);
	pthread_kill(rt.thread, SIGALRM);
	pthread_join(rt.thread, NULL);
	ASSERT_EQ(-EINTR, rt.ret) TH_LOG("round: %s", kmig_errname(rt.ret));

	/* What the ring holds is the caller's; the rest must still be set. */
	ring_drain(&ring, &first);
	EXPECT_EQ(0, first.round_ends);
	EXPECT_EQ(0, first.bad);
	EXPECT_EQ(0, first.stray);
	for (j = 0; j < first.nr; j++) {
		ASSERT_EQ(0, tally_bitmap(fd, &first.reg[j], &set));
		left += set;
	}
	TH_LOG("interrupted: %llu pages in %llu records, %llu still set, of %llu",
	       (unsigned long long)first.pages, (unsigned long long)first.recs,
	       (unsigned long long)left, (unsigned long long)start.nr_pages);
	EXPECT_EQ(start.nr_pages, first.pages + left);
	EXPECT_EQ(0, tally_not_once(&first, why, sizeof(why)))
		TH_LOG("records + bitmaps: %s", why);

	/* The next round takes exactly the rest. */
	for (j = 0; j < first.nr; j++)
		for (p = 0; p < first.reg[j].npages; p++)
			first.reg[j].count[p] = 0;
	drainer_start(&d, fd, &ring, &second, 0);
	round_start(&rt, fd);
	pthread_join(rt.thread, NULL);
	drainer_join(&d);
	ASSERT_EQ(0, rt.ret) TH_LOG("second round: %s", kmig_errname(rt.ret));
	ring_drain(&ring, &second);
	EXPECT_EQ(1, second.round_ends);
	EXPECT_EQ(left, second.pages);
	EXPECT_EQ(left, rt.out.pages);

	ring_unmap(&ring);
	close(fd);
	guest_vm_free(vm);
	tally_free(&first);
	tally_free(&second);
	ASSERT_OBJECTS_ZERO();
}

TEST_F(hostile, round_fault_keeps_pages)
{
	struct guest_vm_opts opts = { .data_pages = 1024, .nr_vcpus = 1 };
	struct guest_vm *vm = guest_vm_create(&opts);
	__u8 *ram = guest_vm_slot(vm, GUEST_DATA_SLOT)->hva;
	struct kmig_dirty_start start;
	struct kmig_send_setup setup;
	struct round_thread rt;
	struct ring_map ring = { 0 };
	struct tally t1 = { 0 }, t2 = { 0 };
	struct region *data;
	struct drainer d;
	__u64 set, left = 0;
	char why[256];
	void *back;
	int fd, j;

	/* 0..63 data, 64..127 zero (a zero run), 128..255 unreadable. */
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 0, 64, 0x5a);
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 64, 64, 0);
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 128, 128, 0x5b);
	fd = sender_open(_metadata, vm, 16, &setup, &ring, &start);
	ASSERT_EQ(0, munmap(ram + 128 * PAGE, 128 * PAGE));
	tally_add(&t1, 0, GUEST_SYS_SLOT, GUEST_SYS_GPA, GUEST_SYS_PAGES);
	tally_add(&t1, 0, GUEST_DATA_SLOT, GUEST_DATA_GPA, 1024);
	tally_add(&t2, 0, GUEST_SYS_SLOT, GUEST_SYS_GPA, GUEST_SYS_PAGES);
	tally_add(&t2, 0, GUEST_DATA_SLOT, GUEST_DATA_GPA, 1024);
	data = &t1.reg[1];

	drainer_start(&d, fd, &ring, &t1, 0);
	round_start(&rt, fd);
	pthread_join(rt.thread, NULL);
	drainer_join(&d);
	ASSERT_EQ(-EFAULT, rt.ret) TH_LOG("round: %s", kmig_errname(rt.ret));
	ring_drain(&ring, &t1);
	EXPECT_EQ(0, t1.round_ends);
	EXPECT_EQ(0, t1.bad);

	/* Pages 0..63 went as data; nothing of 64..128 reached a record. */
	EXPECT_EQ(64, count_eq(data->count, 0, 64, 1));
	EXPECT_EQ(65, count_eq(data->count, 64, 65, 0));
	for (j = 0; j < t1.nr; j++) {
		ASSERT_EQ(0, tally_bitmap(fd, &t1.reg[j], &set));
		left += set;
	}
	/* The pending zero run and the unreadable page are still set. */
	EXPECT_EQ(65, count_eq(data->count, 64, 65, 1))
		TH_LOG("pages 64..128 (a zero run, then the unreadable page) "
		       "lost by the failed round");
	EXPECT_EQ(start.nr_pages, t1.pages + left);
	EXPECT_EQ(0, tally_not_once(&t1, why, sizeof(why)))
		TH_LOG("records + bitmaps: %s", why);
	TH_LOG("faulted: %llu pages in records, %llu still set, of %llu",
	       (unsigned long long)t1.pages, (unsigned long long)left,
	       (unsigned long long)start.nr_pages);

	/* RAM back (fresh, never populated): the next round takes the rest. */
	back = mmap(ram + 128 * PAGE, 128 * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ((void *)(ram + 128 * PAGE), back);
	drainer_start(&d, fd, &ring, &t2, 0);
	round_start(&rt, fd);
	pthread_join(rt.thread, NULL);
	drainer_join(&d);
	ASSERT_EQ(0, rt.ret) TH_LOG("second round: %s", kmig_errname(rt.ret));
	ring_drain(&ring, &t2);
	EXPECT_EQ(left, t2.pages);
	EXPECT_EQ(65, count_eq(t2.reg[1].count, 64, 65, 1));

	ring_unmap(&ring);
	close(fd);
	guest_vm_free(vm);
	tally_free(&t1);
	tally_free(&t2);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 4 ---- */

#define TOGGLE_PAGE	100

static void log_toggle(struct __test_metadata *_metadata,
		       enum guest_dirty_mode mode, int toggles)
{
	struct guest_vm_opts opts = { .mode = mode, .data_pages = 512,
				      .nr_vcpus = 1 };
	static const __u64 page = TOGGLE_PAGE;
	struct kmig_tracker t = { .fd = -1 };
	struct kmig_dirty_sync sync;
	struct guest_vm *vm;
	struct guest_slot *s;
	__u64 bm[BITMAP_WORDS(512)] = { 0 }, sys[BITMAP_WORDS(GUEST_SYS_PAGES)];
	__u64 dirty;
	int i, r;

	need_mode(_metadata, mode);
	vm = guest_vm_create(&opts);
	s = guest_vm_slot(vm, GUEST_DATA_SLOT);
	ASSERT_EQ(0, kmig_track_start(&t, vm));
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	/* The bulk round takes everything. */
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, KMIG_BITMAP_CLEAR,
				       bm, &dirty));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_SYS_SLOT, KMIG_BITMAP_CLEAR,
				       sys, &dirty));

	for (i = 0; i < toggles; i++) {
		ASSERT_EQ(0, set_region(vm, s->id, 0, s->gpa, s->npages * PAGE,
					s->hva));
		/* Written while KVM logs nothing. */
		if (!i)
			guest_vcpu_write_pages(&vm->vcpus[0], GUEST_DATA_SLOT,
					       &page, 1, 0x42);
		ASSERT_EQ(0, set_region(vm, s->id, s->flags, s->gpa,
					s->npages * PAGE, s->hva));
	}

	do
		r = __kmig_sync(t.fd, &sync);
	while (r == -EAGAIN);
	ASSERT_EQ(0, r) TH_LOG("sync: %s", kmig_errname(r));
	EXPECT_TRUE(sync.out_flags & KMIG_SYNC_MEMSLOTS_CHANGED);
	memset(bm, 0, sizeof(bm));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, 0, bm, &dirty));
	EXPECT_TRUE(test_bit64(bm, TOGGLE_PAGE))
		TH_LOG("page %d, written while logging was off, was lost "
		       "(%llu dirty)", TOGGLE_PAGE, (unsigned long long)dirty);

	kmig_track_close(&t);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

TEST_F(hostile, log_toggle_between_syncs)
{
	log_toggle(_metadata, GUEST_DIRTY_BITMAP, 1);
}

TEST_F(hostile, log_toggle_twice_between_syncs)
{
	log_toggle(_metadata, GUEST_DIRTY_BITMAP, 2);
}

TEST_F(hostile, log_toggle_between_syncs_manual)
{
	log_toggle(_metadata, GUEST_DIRTY_MANUAL, 1);
}

/* ---- 5 ---- */

struct map_ent {
	unsigned long start, end;
	bool anon;		/* no path */
	bool scratch;		/* kmig's named scratch file */
};

#define MAX_MAPS	1024

/* /proc/self/maps without malloc (a new heap mapping would show). */
static int read_maps(struct map_ent *e, int max)
{
	static char buf[256 * 1024];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t got, len = 0;
	char *p, *nl;

	CHECK(fd >= 0, "open maps");
	while ((got = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += got;
	close(fd);
	buf[len] = '\0';
	for (p = buf; p < buf + len && n < max; p = nl + 1) {
		char path[128] = "";

		nl = strchrnul(p, '\n');
		*nl = '\0';
		if (sscanf(p, "%lx-%lx %*s %*s %*s %*s %127s", &e[n].start,
			   &e[n].end, path) < 2)
			continue;
		e[n].anon = !path[0];
		e[n].scratch = strstr(path, "kmig-scratch") != NULL;
		n++;
	}
	return n;
}

static bool mapped(const void *addr, size_t len)
{
	unsigned long a = (unsigned long)addr, cur = a;
	struct map_ent *e = calloc(MAX_MAPS, sizeof(*e));
	int n = read_maps(e, MAX_MAPS), i;

	for (i = 0; i < n; i++)
		if (e[i].start <= cur && e[i].end > cur)
			cur = e[i].end;
	free(e);
	return cur >= a + len;
}

/*
 * kmig's scratch mapping: "[kmig-scratch]" on a module that names it, else
 * the first anonymous range in @after that was not mapped in @before.
 */
static bool find_scratch(struct map_ent *before, int nb, struct map_ent *after,
			 int na, unsigned long *start, unsigned long *len)
{
	int i, j;

	for (i = 0; i < na; i++) {
		if (after[i].scratch) {
			*start = after[i].start;
			*len = after[i].end - after[i].start;
			return true;
		}
	}
	for (i = 0; i < na; i++) {
		unsigned long cur = after[i].start;

		if (!after[i].anon)
			continue;
		for (j = 0; j < nb; j++) {
			if (before[j].end <= cur || before[j].start >= after[i].end)
				continue;
			if (before[j].start > cur)
				break;
			cur = before[j].end;
		}
		if (cur < after[i].end) {
			*start = cur;
			*len = (j < nb && before[j].start < after[i].end ?
				before[j].start : after[i].end) - cur;
			return true;
		}
	}
	return false;
}

/* Sets up tracking on @vm and returns where its scratch mapping is. */
static int track_find_scratch(struct __test_metadata *_metadata,
			      struct guest_vm *vm, struct kmig_tracker *t,
			      unsigned long *start, unsigned long *len)
{
	struct map_ent *before = calloc(MAX_MAPS, sizeof(*before));
	struct map_ent *after = calloc(MAX_MAPS, sizeof(*after));
	int nb, na, r;

	CHECK(before && after, "out of memory");
	t->vm = vm;
	t->fd = kmig_open();
	nb = read_maps(before, MAX_MAPS);
	r = t->fd < 0 ? t->fd : __kmig_attach(t->fd, vm->fd, &t->attach);
	r = r ?: __kmig_start(t->fd, &t->start);
	/* A harvest makes the scratch mapping, if START did not. */
	r = r ?: __kmig_sync(t->fd, NULL);
	na = read_maps(after, MAX_MAPS);
	if (!r && !find_scratch(before, nb, after, na, start, len))
		r = -ENOENT;
	free(before);
	free(after);
	return r;
}

#define MINE_BYTES	(64 * 1024)

TEST_F(hostile, scratch_not_unmapped_by_detach)
{
	struct guest_vm_opts opts = { .data_pages = 64, .nr_vcpus = 1 };
	struct guest_vm *vm = guest_vm_create(&opts);
	struct kmig_tracker t = { .fd = -1 };
	unsigned long scratch, len;
	size_t mine_len;
	__u8 *mine;

	ASSERT_EQ(0, track_find_scratch(_metadata, vm, &t, &scratch, &len));
	TH_LOG("scratch at 0x%lx, %lu bytes", scratch, len);

	/* The VMM takes the address for memory of its own. */
	mine_len = len < MINE_BYTES ? len : MINE_BYTES;
	ASSERT_EQ(0, munmap((void *)scratch, len));
	mine = mmap((void *)scratch, mine_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ((void *)scratch, mine);
	memset(mine, 0xa5, mine_len);

	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 0, 8, 1);
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	EXPECT_TRUE(all_bytes(mine, 0xa5, mine_len))
		TH_LOG("the sync wrote into the VMM's memory");
	kmig_track_close(&t);

	ASSERT_TRUE(mapped(mine, mine_len))
		TH_LOG("closing the session unmapped the VMM's memory");
	EXPECT_TRUE(all_bytes(mine, 0xa5, mine_len));
	munmap(mine, mine_len);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

#define GROW_SMALL	64
#define GROW_BIG	(256 * 1024)	/* 1 GiB: a 32 KiB bitmap */
#define SENTINEL_BYTES	(2 << 20)

TEST_F(hostile, slot_grows_before_get_dirty_log)
{
	struct guest_vm_opts opts = { .data_pages = 64, .nr_vcpus = 1 };
	struct guest_vm *vm = guest_vm_create(&opts);
	struct kmig_tracker t = { .fd = -1 };
	struct kmig_dirty_sync sync;
	unsigned long scratch, len;
	__u64 *bm, dirty;
	__u8 *after;
	int r;

	guest_vm_add_slot(vm, GUEST_FIRST_EXTRA_SLOT, GUEST_EXTRA_GPA(0),
			  GROW_SMALL, KVM_MEM_LOG_DIRTY_PAGES);
	/*
	 * VMM memory mapped last: mmap places the scratch mapping, made
	 * next, right below it, so this is what an overflow would hit.
	 */
	after = map_anon(SENTINEL_BYTES);
	memset(after, 0xa5, SENTINEL_BYTES);
	ASSERT_EQ(0, track_find_scratch(_metadata, vm, &t, &scratch, &len));
	TH_LOG("scratch at 0x%lx, %lu bytes; VMM memory %s it", scratch, len,
	       scratch + len == (unsigned long)after ? "right after" :
						      "not next to");

	/* Recreated larger than anything the scratch was sized for. */
	ASSERT_EQ(0, guest_vm_del_slot(vm, GUEST_FIRST_EXTRA_SLOT));
	guest_vm_add_slot(vm, GUEST_FIRST_EXTRA_SLOT, GUEST_EXTRA_GPA(0),
			  GROW_BIG, KVM_MEM_LOG_DIRTY_PAGES);
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_FIRST_EXTRA_SLOT, 0, 4, 1);
	do
		r = __kmig_sync(t.fd, &sync);
	while (r == -EAGAIN);
	ASSERT_EQ(0, r) TH_LOG("sync: %s", kmig_errname(r));
	EXPECT_TRUE(sync.out_flags & KMIG_SYNC_MEMSLOTS_CHANGED);
	EXPECT_TRUE(mapped(after, SENTINEL_BYTES));
	EXPECT_TRUE(all_bytes(after, 0xa5, SENTINEL_BYTES))
		TH_LOG("memory after the scratch mapping was overwritten");

	bm = calloc(BITMAP_WORDS(GROW_BIG), 8);
	ASSERT_NE(NULL, bm);
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_FIRST_EXTRA_SLOT, 0, bm, &dirty));
	EXPECT_EQ(GROW_BIG, dirty) TH_LOG("the new memslot is not all dirty");
	EXPECT_EQ(GROW_BIG, bitmap_weight64(bm, GROW_BIG));
	free(bm);

	kmig_track_close(&t);
	munmap(after, SENTINEL_BYTES);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 6 ---- */

TEST_F(hostile, ring_reset_by_vmm)
{
	struct guest_vm_opts opts = { .mode = GUEST_DIRTY_RING,
				      .data_pages = 512, .nr_vcpus = 1 };
	struct kmig_tracker t = { .fd = -1 };
	struct guest_vm *vm;
	__u64 bm[BITMAP_WORDS(512)], sys[BITMAP_WORDS(GUEST_SYS_PAGES)];
	__u64 dirty, p, n;

	need_mode(_metadata, GUEST_DIRTY_RING);
	vm = guest_vm_create(&opts);
	ASSERT_EQ(0, kmig_track_start(&t, vm));
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, KMIG_BITMAP_CLEAR,
				       bm, &dirty));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_SYS_SLOT, KMIG_BITMAP_CLEAR,
				       sys, &dirty));

	/* A: harvested by kmig. */
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 0, 32, 1);
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, KMIG_BITMAP_CLEAR,
				       bm, &dirty));
	EXPECT_EQ(32, dirty);

	/* B: the VMM throws the entries away itself (ring_discard()). */
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 100, 32, 2);
	vmm_ring_discard(&vm->vcpus[0], NULL);

	/* C: must be reported. */
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 200, 32, 3);
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	memset(bm, 0, sizeof(bm));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, 0, bm, &dirty));
	for (p = 200, n = 0; p < 232; p++)
		n += test_bit64(bm, p);
	EXPECT_EQ(32, n) TH_LOG("pages written after the VMM's reset were lost");

	kmig_track_close(&t);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 7 ---- */

#define BIG_PAGES	(256 * 1024ULL)	/* 1 GiB */
#define EVERY		64
#define NR_LOAD		4096

struct big_load {
	struct kmig_rec *pages, *zeros;
	__u8 *data;
};

static void big_load_init(struct big_load *b)
{
	__u32 i;

	b->pages = calloc(NR_LOAD, sizeof(*b->pages));
	b->zeros = calloc(NR_LOAD, sizeof(*b->zeros));
	b->data = malloc((size_t)NR_LOAD * PAGE);
	CHECK(b->pages && b->zeros && b->data, "out of memory");
	for (i = 0; i < NR_LOAD; i++) {
		b->pages[i] = (struct kmig_rec){
			.gpa = GUEST_DATA_GPA + (__u64)i * EVERY * PAGE,
			.npages = 1, .kind = KMIG_REC_PAGE, .len = PAGE };
		memset(b->data + (size_t)i * PAGE, (i & 0x7f) | 1, PAGE);
		/* Each covers the whole memslot. */
		b->zeros[i] = (struct kmig_rec){ .gpa = GUEST_DATA_GPA,
			.npages = BIG_PAGES, .kind = KMIG_REC_ZERO };
	}
}

static void big_load_free(struct big_load *b)
{
	free(b->pages);
	free(b->zeros);
	free(b->data);
}

TEST_F_TIMEOUT(hostile, load_zero_run_no_lockup, 120)
{
	struct guest_vm_opts opts = { .data_pages = BIG_PAGES };
	struct guest_vm *vm = guest_vm_create(&opts);
	__u8 *ram = guest_vm_slot(vm, GUEST_DATA_SLOT)->hva;
	__u64 lockups = kernel_log_count("soft lockup");
	__u64 stalls = kernel_log_count("self-detected stall");
	struct kmig_load out;
	struct big_load b;
	__u64 t0, ms, i, nonzero = 0;
	long reaped;
	pid_t pid;
	int fd = session_on(_metadata, vm);

	big_load_init(&b);
	ASSERT_EQ(0, load_recs(fd, b.pages, NR_LOAD, 0, b.data,
			       (__u64)NR_LOAD * PAGE, &out));
	ASSERT_EQ(NR_LOAD, out.pages);

	t0 = now_ns();
	ASSERT_EQ(0, load_recs(fd, b.zeros, NR_LOAD, 0, NULL, 0, &out));
	ms = (now_ns() - t0) / 1000000;
	TH_LOG("%d zero records of %llu pages: %llu ms", NR_LOAD,
	       (unsigned long long)BIG_PAGES, (unsigned long long)ms);
	EXPECT_EQ(NR_LOAD, out.done);
	EXPECT_EQ(NR_LOAD, out.zeroed);
	for (i = 0; i < NR_LOAD; i++)
		nonzero += !all_bytes(ram + i * EVERY * PAGE, 0, PAGE);
	EXPECT_EQ(0, nonzero) TH_LOG("pages the zero records left written");
	/* Here about 0.1 s; a bit-by-bit walk of the runs takes seconds. */
	EXPECT_GT(5000, ms);

	/* Someone loading such runs without end dies when killed. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		for (;;) {
			load_recs(fd, b.pages, NR_LOAD, 0, b.data,
				  (__u64)NR_LOAD * PAGE, &out);
			load_recs(fd, b.zeros, NR_LOAD, 0, NULL, 0, &out);
		}
	}
	usleep(1500 * 1000);
	kill(pid, SIGKILL);
	reaped = reap_within(pid, 5000);
	EXPECT_LE(0, reaped) TH_LOG("a killed loader did not end within 5 s");
	if (reaped < 0)
		waitpid(pid, NULL, 0);
	TH_LOG("killed loader reaped after %ld ms", reaped);

	EXPECT_EQ(lockups, kernel_log_count("soft lockup"));
	EXPECT_EQ(stalls, kernel_log_count("self-detected stall"));
	close(fd);
	big_load_free(&b);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 8 ---- */

struct timed_sync {
	struct kmig_tracker *t;
	__u64 max_ns, calls;
	int err;
	struct round_thread *rt;
	__u64 during_round;	/* calls made while the round ran */
};

static void timed_ring_full(struct guest_vcpu *vcpu, void *opaque)
{
	struct timed_sync *ts = opaque;
	bool in_round = !ts->rt->done;
	__u64 t0 = now_ns(), ns;
	int r = __kmig_sync(ts->t->fd, NULL);

	ns = now_ns() - t0;
	if (r && !ts->err)
		ts->err = r;
	if (r)
		vmm_ring_discard(vcpu, NULL); /* let the test go on */
	if (ns > ts->max_ns)
		ts->max_ns = ns;
	ts->calls++;
	ts->during_round += in_round && !ts->rt->done;
}

TEST_F_TIMEOUT(hostile, ring_full_sync_during_round, 90)
{
	struct guest_vm_opts opts = { .mode = GUEST_DIRTY_RING,
				      .ring_bytes = 4096, .data_pages = 2048,
				      .nr_vcpus = 1 };
	struct kmig_tracker t = { .fd = -1 };
	struct kmig_send_setup setup;
	struct ring_map ring = { 0 };
	struct tally tl = { 0 };
	struct round_thread rt;
	struct timed_sync ts = { 0 };
	struct drainer d;
	struct guest_vm *vm;
	__u64 waited, set, p, lost = 0;
	bool killed_in_round;
	long reaped;
	pid_t pid;

	need_mode(_metadata, GUEST_DIRTY_RING);
	vm = guest_vm_create(&opts);
	/* Before tracking the VMM itself empties full rings. */
	vm->ring_full = vmm_ring_discard;
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 0, 1024, 0x5a);

	ASSERT_EQ(0, kmig_track_start(&t, vm));
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	setup = KMIG_ARG(kmig_send_setup, .nr_workers = 1, .ring_entries = 16);
	ASSERT_EQ(0, __kmig_ioctl(t.fd, KMIG_SEND_SETUP, &setup));
	ASSERT_EQ(0, ring_map(t.fd, 0, &setup, &ring));
	tally_add(&tl, 0, GUEST_SYS_SLOT, GUEST_SYS_GPA, GUEST_SYS_PAGES);
	tally_add(&tl, 0, GUEST_DATA_SLOT, GUEST_DATA_GPA, 2048);

	/* A long round: over a thousand records taken at 5 ms each. */
	round_start(&rt, t.fd);
	drainer_start(&d, t.fd, &ring, &tl, 5000);
	for (waited = 0; !tl.recs && waited < 5000; waited += 10)
		usleep(10 * 1000);
	ASSERT_NE(0, tl.recs);

	/* Another process syncing (or blocked) on the session is killable. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		for (;;)
			__kmig_sync(t.fd, NULL);
	}
	usleep(300 * 1000);
	killed_in_round = !rt.done;
	kill(pid, SIGKILL);
	reaped = reap_within(pid, 2000);
	if (reaped < 0)
		waitpid(pid, NULL, 0);

	/* The vCPU fills its 256-entry ring a few times meanwhile. */
	ts.t = &t;
	ts.rt = &rt;
	vm->ring_full = timed_ring_full;
	vm->ring_full_opaque = &ts;
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 1024, 600, 0x6b);

	pthread_join(rt.thread, NULL);
	drainer_join(&d);
	ring_drain(&ring, &tl);
	TH_LOG("round %llu ms; %llu ring-full syncs (%llu during the round), "
	       "longest %llu ms; killed child reaped after %ld ms",
	       (unsigned long long)(rt.ns / 1000000),
	       (unsigned long long)ts.calls,
	       (unsigned long long)ts.during_round,
	       (unsigned long long)(ts.max_ns / 1000000), reaped);
	EXPECT_EQ(0, rt.ret) TH_LOG("round: %s", kmig_errname(rt.ret));
	EXPECT_EQ(0, ts.err) TH_LOG("ring-full sync: %s", kmig_errname(ts.err));
	EXPECT_LT(0, vm->vcpus[0].ring_full_exits);
	EXPECT_LT(0, ts.during_round) TH_LOG("no ring-full sync during the round");
	EXPECT_GT(2 * NS_PER_S, ts.max_ns) TH_LOG("a ring-full sync waited for the round");
	EXPECT_LT(2 * ts.max_ns, rt.ns);
	EXPECT_TRUE(killed_in_round);
	EXPECT_LE(0, reaped) TH_LOG("a killed process blocked on the session lived on");

	/* What the vCPU wrote is in the round's records or still set. */
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	ASSERT_EQ(0, tally_bitmap(t.fd, &tl.reg[1], &set));
	for (p = 1024; p < 1624; p++)
		lost += !tl.reg[1].count[p];
	EXPECT_EQ(0, lost) TH_LOG("pages written during the round were lost");

	ring_unmap(&ring);
	kmig_track_close(&t);
	guest_vm_free(vm);
	tally_free(&tl);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 9 ---- */

static int dirty_mark(int fd, int vm_fd, __u64 gpa, __u32 npages, __u16 as_id,
		      __u64 *marked)
{
	struct kmig_dirty_range r = { .gpa = gpa, .npages = npages,
				      .as_id = as_id };
	struct kmig_dirty_mark m = KMIG_ARG(kmig_dirty_mark, .vm_fd = vm_fd,
		.nr_ranges = 1, .ranges_uptr = (__u64)(uintptr_t)&r);
	int ret = __kmig_ioctl(fd, KMIG_DIRTY_MARK, &m);

	if (marked)
		*marked = m.marked;
	return ret;
}

TEST_F(hostile, dirty_mark)
{
	struct guest_vm_opts opts = { .data_pages = 64, .nr_vcpus = 1 };
	struct guest_vm *vm = guest_vm_create(&opts);
	__u8 *ram = guest_vm_slot(vm, GUEST_DATA_SLOT)->hva;
	struct kmig_tracker t = { .fd = -1 };
	__u64 bm[1], sys[BITMAP_WORDS(GUEST_SYS_PAGES)], dirty, marked = ~0ULL;
	struct guest_vm *other;
	int mfd;

	ASSERT_EQ(0, kmig_track_start(&t, vm));
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, KMIG_BITMAP_CLEAR,
				       bm, &dirty));
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_SYS_SLOT, KMIG_BITMAP_CLEAR,
				       sys, &dirty));

	/* Device emulation writes page 5: KVM never sees it. */
	memset(ram + 5 * PAGE, 0x55, PAGE);
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	bm[0] = 0;
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, 0, bm, &dirty));
	ASSERT_FALSE(test_bit64(bm, 5)) TH_LOG("KVM saw a write from userspace?");

	/* With the mark, from a /dev/kmig file of the VMM's, not attached. */
	mfd = kmig_open();
	ASSERT_LE(0, mfd);
	memset(ram + 7 * PAGE, 0x77, 2 * PAGE);
	ASSERT_EQ(0, dirty_mark(mfd, vm->fd, GUEST_DATA_GPA + 7 * PAGE, 2, 0,
				&marked));
	EXPECT_EQ(2, marked);
	ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
	bm[0] = 0;
	ASSERT_EQ(0, kmig_track_bitmap(&t, GUEST_DATA_SLOT, 0, bm, &dirty));
	EXPECT_TRUE(test_bit64(bm, 7));
	EXPECT_TRUE(test_bit64(bm, 8));
	EXPECT_FALSE(test_bit64(bm, 5));
	EXPECT_EQ(2, dirty);

	/* Bad ranges. */
	EXPECT_EQ(-EINVAL, dirty_mark(mfd, vm->fd, GUEST_DATA_GPA + 1, 1, 0, NULL));
	EXPECT_EQ(-EINVAL, dirty_mark(mfd, vm->fd, GUEST_DATA_GPA, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, dirty_mark(mfd, vm->fd, GUEST_DATA_GPA, 1, 2, NULL));
	EXPECT_EQ(-EINVAL, dirty_mark(mfd, vm->fd, 1ULL << 52, 1, 0, NULL));
	EXPECT_EQ(-EINVAL, dirty_mark(mfd, vm->fd, (1ULL << 52) - PAGE, 2, 0,
				      NULL));
	EXPECT_EQ(-EINVAL, dirty_mark(mfd, mfd, GUEST_DATA_GPA, 1, 0, NULL));
	EXPECT_EQ(-EBADF, dirty_mark(mfd, -1, GUEST_DATA_GPA, 1, 0, NULL));

	/* No tracking session: nothing to mark. */
	ASSERT_EQ(0, __kmig_stop(t.fd));
	marked = ~0ULL;
	EXPECT_EQ(0, dirty_mark(mfd, vm->fd, GUEST_DATA_GPA, 1, 0, &marked));
	EXPECT_EQ(0, marked);
	opts.nr_vcpus = 0;
	other = guest_vm_create(&opts);
	marked = ~0ULL;
	EXPECT_EQ(0, dirty_mark(mfd, other->fd, GUEST_DATA_GPA, 1, 0, &marked));
	EXPECT_EQ(0, marked);

	close(mfd);
	kmig_track_close(&t);
	guest_vm_free(other);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 10 ---- */

/* A VM with the data memslot and @smm_pages of SMM memory at the same gpa. */
static struct guest_vm *smm_vm(struct __test_metadata *_metadata,
			       __u64 smm_pages)
{
	struct guest_vm_opts opts = { .data_pages = 16 };
	struct guest_vm *vm = guest_vm_create(&opts);
	int spaces = ioctl(vm->fd, KVM_CHECK_EXTENSION,
			   KVM_CAP_MULTI_ADDRESS_SPACE);

	if (spaces < 2) {
		guest_vm_free(vm);
		SETUP_SKIP("KVM has no SMM address space (%d)", spaces);
	}
	guest_vm_add_slot(vm, SMM_SLOT(GUEST_FIRST_EXTRA_SLOT), GUEST_DATA_GPA,
			  smm_pages, KVM_MEM_LOG_DIRTY_PAGES);
	return vm;
}

TEST_F(hostile, abi_v2_load_as_id)
{
	struct guest_vm *vm = smm_vm(_metadata, 16);
	__u8 *data = guest_vm_slot(vm, GUEST_DATA_SLOT)->hva;
	__u8 *smm = guest_vm_slot(vm, SMM_SLOT(GUEST_FIRST_EXTRA_SLOT))->hva;
	struct { struct kmig_rec r; __u64 tail; } big;
	struct kmig_load out;
	static __u8 page[PAGE];
	int fd = session_on(_metadata, vm);

	ASSERT_EQ(0, load_page(fd, 1, GUEST_DATA_GPA + 3 * PAGE, 0xc3));
	EXPECT_TRUE(all_bytes(smm + 3 * PAGE, 0xc3, PAGE))
		TH_LOG("the as_id 1 record missed the SMM memslot");
	EXPECT_TRUE(all_bytes(data + 3 * PAGE, 0, PAGE))
		TH_LOG("the as_id 1 record went to address space 0");
	ASSERT_EQ(0, load_page(fd, 0, GUEST_DATA_GPA + 3 * PAGE, 0x3c));
	EXPECT_TRUE(all_bytes(data + 3 * PAGE, 0x3c, PAGE));
	EXPECT_TRUE(all_bytes(smm + 3 * PAGE, 0xc3, PAGE));

	/* Record stride: a longer record with a zero tail, then not zero. */
	memset(page, 0x24, sizeof(page));
	big.r = (struct kmig_rec){ .gpa = GUEST_DATA_GPA + 4 * PAGE,
				   .npages = 1, .kind = KMIG_REC_PAGE,
				   .len = PAGE };
	big.tail = 0;
	EXPECT_EQ(0, load_recs(fd, &big, 1, sizeof(big), page, PAGE, &out));
	EXPECT_EQ(1, out.pages);
	EXPECT_TRUE(all_bytes(data + 4 * PAGE, 0x24, PAGE));
	big.tail = 1;
	EXPECT_EQ(-E2BIG, load_recs(fd, &big, 1, sizeof(big), page, PAGE, &out));
	EXPECT_EQ(-EINVAL, load_recs(fd, &big, 1, 12, page, PAGE, &out));

	close(fd);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

TEST_F(hostile, abi_v2_memslots_entry_size)
{
	struct guest_vm_opts opts = { .data_pages = 16 };
	struct guest_vm *vm = guest_vm_create(&opts);
	struct kmig_memslot v1[4];
	__u8 buf[4 * 40];
	struct kmig_get_memslots g;
	__u32 i;
	int fd = session_on(_metadata, vm);

	g = KMIG_ARG(kmig_get_memslots, .nr_slots = 4,
		     .slots_uptr = (__u64)(uintptr_t)v1);
	ASSERT_EQ(0, __kmig_ioctl(fd, KMIG_GET_MEMSLOTS, &g));
	ASSERT_EQ(2, g.nr_slots);

	memset(buf, 0xff, sizeof(buf));
	g = KMIG_ARG(kmig_get_memslots, .nr_slots = 4, .slot_size = 40,
		     .slots_uptr = (__u64)(uintptr_t)buf);
	ASSERT_EQ(0, __kmig_ioctl(fd, KMIG_GET_MEMSLOTS, &g));
	ASSERT_EQ(2, g.nr_slots);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, memcmp(buf + i * 40, &v1[i], sizeof(v1[i])));
		EXPECT_TRUE(all_bytes(buf + i * 40 + 32, 0, 8))
			TH_LOG("entry %u: the tail was not zeroed", i);
	}
	EXPECT_TRUE(all_bytes(buf + 2 * 40, 0xff, 2 * 40));

	g = KMIG_ARG(kmig_get_memslots, .nr_slots = 4, .slot_size = 24,
		     .slots_uptr = (__u64)(uintptr_t)buf);
	EXPECT_EQ(-EINVAL, __kmig_ioctl(fd, KMIG_GET_MEMSLOTS, &g));

	close(fd);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

TEST_F(hostile, abi_v2_send_setup_v1_refuses_smm)
{
	struct guest_vm *vm = smm_vm(_metadata, 16);
	struct kmig_send_setup setup;
	struct kmig_send_round round = KMIG_ARG(kmig_send_round);
	int fd = session_on(_metadata, vm);

	ASSERT_EQ(0, __kmig_start(fd, NULL));
	/* What a binary built against API version 1 passes. */
	setup = KMIG_ARG(kmig_send_setup, .nr_workers = 1, .ring_entries = 16);
	setup.size = offsetofend(struct kmig_send_setup, __reserved);
	ASSERT_EQ(0, __kmig_ioctl(fd, KMIG_SEND_SETUP, &setup));
	EXPECT_EQ(-EOPNOTSUPP, __kmig_ioctl(fd, KMIG_SEND_ROUND, &round))
		TH_LOG("SMM pages sent to a reader that cannot tell their space");

	close(fd);
	guest_vm_free(vm);
	ASSERT_OBJECTS_ZERO();
}

TEST_F(hostile, abi_v2_ring_records_carry_as_id)
{
	struct guest_vm *vm = smm_vm(_metadata, 16);
	struct kmig_dirty_start start;
	struct kmig_send_setup setup;
	struct ring_map ring = { 0 };
	struct round_thread rt;
	struct tally t = { 0 };
	struct drainer d;
	char why[256];
	int fd;

	memset(guest_vm_slot(vm, GUEST_DATA_SLOT)->hva, 0x0a, 16 * PAGE);
	memset(guest_vm_slot(vm, SMM_SLOT(GUEST_FIRST_EXTRA_SLOT))->hva, 0x1a,
	       16 * PAGE);
	fd = sender_open(_metadata, vm, 16, &setup, &ring, &start);
	EXPECT_EQ(sizeof(struct kmig_rec), setup.rec_size);
	tally_add(&t, 0, GUEST_SYS_SLOT, GUEST_SYS_GPA, GUEST_SYS_PAGES);
	tally_add(&t, 0, GUEST_DATA_SLOT, GUEST_DATA_GPA, 16);
	tally_add(&t, 1, GUEST_FIRST_EXTRA_SLOT, GUEST_DATA_GPA, 16);

	drainer_start(&d, fd, &ring, &t, 0);
	round_start(&rt, fd);
	pthread_join(rt.thread, NULL);
	drainer_join(&d);
	ASSERT_EQ(0, rt.ret) TH_LOG("round: %s", kmig_errname(rt.ret));
	ring_drain(&ring, &t);
	EXPECT_EQ(0, t.bad);
	EXPECT_EQ(0, t.stray);
	EXPECT_EQ(start.nr_pages, t.pages);
	EXPECT_EQ(0, tally_not_once(&t, why, sizeof(why)))
		TH_LOG("each page of each space once: %s", why);

	ring_unmap(&ring);
	close(fd);
	guest_vm_free(vm);
	tally_free(&t);
	ASSERT_OBJECTS_ZERO();
}

/* ---- 2, under memslot edits: a load that re-reads the memslots ---- */

struct load_churn {
	volatile __u64 loads, edits;
	volatile bool stop;
	int err;
};

static void *load_churn_edit(void *arg)
{
	void **a = arg;
	struct load_churn *lc = a[0];
	struct guest_vm *vm = a[1];
	__u8 *mem = a[2];
	int r;

	/*
	 * Dirty logging off and on: the memslot is always there, and each
	 * edit gives it a new KVM object, so every load after one re-reads.
	 */
	while (!lc->stop) {
		r = set_region(vm, GUEST_FIRST_EXTRA_SLOT,
			       lc->edits & 1 ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			       GUEST_EXTRA_GPA(0), 16 * PAGE, mem);
		if (r && !lc->err)
			lc->err = r;
		lc->edits++;
	}
	return NULL;
}

/* The VMM process: one thread edits a memslot, another loads into it. */
static void load_churn_child(struct load_churn *lc)
{
	struct guest_vm_opts opts = { .data_pages = 16 };
	struct guest_vm *vm = guest_vm_create(&opts);
	__u8 *mem = map_anon(16 * PAGE);
	void *arg[3] = { lc, vm, mem };
	int fd = kmig_open(), r;
	pthread_t th;

	CHECK(fd >= 0 && !__kmig_attach(fd, vm->fd, NULL), "session");
	CHECK(!set_region(vm, GUEST_FIRST_EXTRA_SLOT, 0, GUEST_EXTRA_GPA(0),
			  16 * PAGE, mem), "memslot");
	CHECK(!pthread_create(&th, NULL, load_churn_edit, arg), "thread");
	while (!lc->stop) {
		r = load_page(fd, 0, GUEST_EXTRA_GPA(0), 0x5c);
		if (r && r != -ENOENT && r != -EAGAIN && !lc->err)
			lc->err = r;
		lc->loads++;
	}
	pthread_join(th, NULL);
	_exit(0);
}

/* The kernel stacks of @pid's threads, for a report of where they hang. */
static void log_stacks(struct __test_metadata *_metadata, pid_t pid)
{
	char path[300], line[256];
	struct dirent *de;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", pid,
			 de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		TH_LOG("thread %s:", de->d_name);
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			TH_LOG("  %s", line);
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
}

TEST_F_TIMEOUT(hostile, load_during_memslot_churn, 60)
{
	struct load_churn *lc = mmap(NULL, sizeof(*lc), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	__u64 loads = 0, edits = 0, t0, last, stalled_ms = 0;
	long reaped;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, lc);
	memset(lc, 0, sizeof(*lc));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		load_churn_child(lc);

	/* Both threads must keep going: a deadlock stops both. */
	t0 = last = now_ns();
	while (now_ns() - t0 < 5 * NS_PER_S) {
		usleep(100 * 1000);
		if (lc->loads != loads && lc->edits != edits) {
			loads = lc->loads;
			edits = lc->edits;
			last = now_ns();
		} else if ((now_ns() - last) / 1000000 > stalled_ms) {
			stalled_ms = (now_ns() - last) / 1000000;
		}
	}
	lc->stop = true;
	reaped = reap_within(pid, 3000);
	if (reaped < 0)
		log_stacks(_metadata, pid);
	if (reaped < 0) {
		/* A killed loader leaves the SRCU section; KVM can go on. */
		kill(pid, SIGKILL);
		reaped = reap_within(pid, 5000);
		EXPECT_LE(0, reaped) TH_LOG("the VMM did not end when killed");
		stalled_ms = stalled_ms ?: 1;
	}
	TH_LOG("%llu loads beside %llu memslot edits; longest stall %llu ms",
	       (unsigned long long)lc->loads, (unsigned long long)lc->edits,
	       (unsigned long long)stalled_ms);
	EXPECT_GT(2000, stalled_ms)
		TH_LOG("KMIG_LOAD and KVM_SET_USER_MEMORY_REGION stopped each other");
	EXPECT_LT(0, lc->loads);
	EXPECT_LT(0, lc->edits);
	EXPECT_EQ(0, lc->err) TH_LOG("%s", kmig_errname(lc->err));
	munmap(lc, sizeof(*lc));
	ASSERT_OBJECTS_ZERO();
}

/* ---- 1 (last: on a module with the defect it takes the kernel down) ---- */

/* A longer walk of the set gives a swap more time to land in it. */
#define CHURN_SLOTS	96
#define CHURN_MAX	128

struct churn {
	struct guest_vm *vm;
	__u8 *mem;
	volatile bool stop;
	__u64 edits;
	int err;
};

static void *churn_fn(void *arg)
{
	struct churn *c = arg;
	int i, r;

	while (!c->stop) {
		for (i = 0; i < CHURN_SLOTS * 2 && !c->err; i++) {
			int n = i % CHURN_SLOTS;
			bool del = i >= CHURN_SLOTS;

			r = set_region(c->vm, GUEST_FIRST_EXTRA_SLOT + n,
				       KVM_MEM_LOG_DIRTY_PAGES,
				       GUEST_EXTRA_GPA(0) + (__u64)n * PAGE,
				       del ? 0 : PAGE, c->mem + (size_t)n * PAGE);
			if (r)
				c->err = r;
			c->edits++;
		}
	}
	return NULL;
}

/* Whether @s[0..n) is what GET_MEMSLOTS promises; @why if not. */
static bool memslots_sane(const struct kmig_memslot *s, __u32 n, char *why,
			  size_t len)
{
	__u32 i;

	for (i = 0; i < n; i++) {
		if (!s[i].size || s[i].size % PAGE || s[i].gpa % PAGE) {
			snprintf(why, len, "entry %u: gpa 0x%llx size 0x%llx", i,
				 (unsigned long long)s[i].gpa,
				 (unsigned long long)s[i].size);
			return false;
		}
		if (!i)
			continue;
		if (s[i].as_id < s[i - 1].as_id ||
		    (s[i].as_id == s[i - 1].as_id &&
		     s[i].gpa < s[i - 1].gpa + s[i - 1].size)) {
			snprintf(why, len, "entries %u, %u out of order or overlapping: "
				 "%u/0x%llx+0x%llx, %u/0x%llx", i - 1, i,
				 s[i - 1].as_id, (unsigned long long)s[i - 1].gpa,
				 (unsigned long long)s[i - 1].size, s[i].as_id,
				 (unsigned long long)s[i].gpa);
			return false;
		}
	}
	return true;
}

TEST_F_TIMEOUT(hostile, memslot_churn_get_memslots, 60)
{
	struct guest_vm_opts opts = { .data_pages = 16 };
	struct guest_vm *vm = guest_vm_create(&opts);
	struct churn c = { .vm = vm, .mem = map_anon(CHURN_SLOTS * PAGE) };
	struct kmig_memslot s[CHURN_MAX];
	__u64 t0 = now_ns(), calls = 0, gets = 0;
	pthread_t th;
	char why[256] = "";
	bool sane = true;
	int fd = session_on(_metadata, vm), r, bad = 0, i;

	ASSERT_EQ(0, pthread_create(&th, NULL, churn_fn, &c));
	while (now_ns() - t0 < 5 * NS_PER_S && sane && !bad) {
		for (i = 0; i < 16 && sane && !bad; i++) {
			__u32 n = CHURN_MAX;

			r = __kmig_get_memslots(fd, s, &n, NULL);
			if (!r) {
				gets++;
				sane = n >= 2 && n <= CHURN_SLOTS + 2 &&
				       memslots_sane(s, n, why, sizeof(why));
				if (n < 2 || n > CHURN_SLOTS + 2)
					snprintf(why, sizeof(why),
						 "%u memslots", n);
			} else if (r != -ENOSPC) {
				bad = r;
			}
		}
		r = __kmig_start(fd, NULL);
		if (r && r != -EAGAIN && !bad)
			bad = r;
		r = __kmig_sync(fd, NULL);
		if (r && r != -EAGAIN && r != -ENOSPC && !bad)
			bad = r;
		calls += 18;
	}
	c.stop = true;
	pthread_join(th, NULL);
	TH_LOG("%llu calls (%llu memslot lists) beside %llu memslot edits",
	       (unsigned long long)calls, (unsigned long long)gets,
	       (unsigned long long)c.edits);
	EXPECT_EQ(0, c.err) TH_LOG("KVM_SET_USER_MEMORY_REGION: %s",
				   kmig_errname(c.err));
	EXPECT_TRUE(sane) TH_LOG("%s", why);
	EXPECT_EQ(0, bad) TH_LOG("unexpected %s", kmig_errname(bad));
	EXPECT_LT(0, gets);
	EXPECT_LT(0, c.edits);

	close(fd);
	guest_vm_free(vm);
	munmap(c.mem, CHURN_SLOTS * PAGE);
	ASSERT_OBJECTS_ZERO();
}

TEST_HARNESS_MAIN
