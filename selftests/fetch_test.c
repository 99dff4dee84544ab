// SPDX-License-Identifier: GPL-2.0
/*
 * KMIG_FETCH, postcopy's urgent read on the source, against real guests
 * with anonymous and memfd RAM: the bytes, kinds and order of what it
 * returns (data, zero pages, holes that stay unpopulated), that it takes the pages from the dirty bitmaps
 * (and says how many in @taken), that it works while a KMIG_SEND_ROUND
 * runs on another thread with no page lost between the two, every
 * documented error, a VMM in another process (fetched across processes,
 * then -ESRCH once it exited), and the netlink counters. Prints the
 * latency of a 1-page and a 64-page fetch (median of 200) for the
 * postcopy budget; ratios only mean something within one sandbox run.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

/* EXPECT_EQ(literal, __u64): the 6.1 harness compares them as written. */
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "kmig_util.h"
#include "kvm_guest.h"
#include "test_util.h"

#define DATA_PAGES	2048		/* 8 MiB: four 2 MiB THP regions */
#define WORKERS		2
#define MAXP		KMIG_FETCH_MAX_PAGES
#define DGPA(p)		(GUEST_DATA_GPA + (__u64)(p) * GUEST_PAGE_SIZE)

/* What one fetch returned, with room for the most it may. */
struct fetched {
	struct kmig_rec recs[MAXP];
	__u8 data[MAXP * GUEST_PAGE_SIZE];
	struct kmig_fetch out;
};

static int fetch(int fd, const struct kmig_dirty_range *r, __u32 n,
		 struct fetched *f)
{
	memset(f->recs, 0xee, sizeof(f->recs));
	return kmig_fetch(fd, r, n, f->recs, f->data, sizeof(f->data),
			  &f->out);
}

/* A raw KMIG_FETCH of @arg, with the usual buffers where 0 is given. */
static int fetch_raw(int fd, struct kmig_fetch *arg, struct fetched *f)
{
	if (!arg->recs_uptr)
		arg->recs_uptr = (unsigned long)f->recs;
	if (!arg->data_uptr)
		arg->data_uptr = (unsigned long)f->data;
	if (!arg->data_len)
		arg->data_len = sizeof(f->data);
	return __kmig_ioctl(fd, KMIG_FETCH, arg);
}

#define RANGE(p, n)	((struct kmig_dirty_range){ .gpa = DGPA(p), .npages = (n) })

/* Whether the VMM's page is in memory (mincore: populated). */
static bool resident(const void *hva)
{
	unsigned char v = 0;

	CHECK_SYS(mincore((void *)hva, GUEST_PAGE_SIZE, &v));
	return v & 1;
}

/* Every data page different: its number in its first word, then a byte. */
static void fill_pages(__u8 *ram, __u64 first, __u64 n)
{
	__u64 p;

	for (p = first; p < first + n; p++) {
		memset(ram + p * GUEST_PAGE_SIZE, (int)(p * 7 + 1),
		       GUEST_PAGE_SIZE);
		memcpy(ram + p * GUEST_PAGE_SIZE, &p, sizeof(p));
	}
}

/* ---- netlink: the session's counters and its cancel ---- */

struct nl_counters {
	__u32 id;
	bool found;
	__u64 fetched_pages, fetched_bytes;
	bool has_pc;			/* KMIG_A_SESSION_PC_* came */
	__u64 pc_missing, pc_faults, pc_urgent, pc_ns;
	__u32 pc_p99_us;
};

static int counters_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[KMIG_A_SESSION_MAX + 1];
	struct nl_counters *c = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, KMIG_A_SESSION_MAX, NULL) ||
	    !tb[KMIG_A_SESSION_ID] ||
	    nla_get_u32(tb[KMIG_A_SESSION_ID]) != c->id)
		return NL_OK;
	c->found = true;
	if (tb[KMIG_A_SESSION_FETCHED_PAGES])
		c->fetched_pages = nla_get_u64(tb[KMIG_A_SESSION_FETCHED_PAGES]);
	if (tb[KMIG_A_SESSION_FETCHED_BYTES])
		c->fetched_bytes = nla_get_u64(tb[KMIG_A_SESSION_FETCHED_BYTES]);
	c->has_pc = tb[KMIG_A_SESSION_PC_MISSING_PAGES] &&
		    tb[KMIG_A_SESSION_PC_FAULTS] &&
		    tb[KMIG_A_SESSION_PC_URGENT_PAGES] &&
		    tb[KMIG_A_SESSION_PC_NS] &&
		    tb[KMIG_A_SESSION_PC_LATENCY_P99_US];
	if (c->has_pc) {
		c->pc_missing = nla_get_u64(tb[KMIG_A_SESSION_PC_MISSING_PAGES]);
		c->pc_faults = nla_get_u64(tb[KMIG_A_SESSION_PC_FAULTS]);
		c->pc_urgent = nla_get_u64(tb[KMIG_A_SESSION_PC_URGENT_PAGES]);
		c->pc_ns = nla_get_u64(tb[KMIG_A_SESSION_PC_NS]);
		c->pc_p99_us = nla_get_u32(tb[KMIG_A_SESSION_PC_LATENCY_P99_US]);
	}
	return NL_OK;
}

/* SESSION_GET of @id (@cmd) or SESSION_CANCEL; libnl's 0 or error. */
static int nl_session(__u32 id, __u8 cmd, struct nl_counters *c)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *m = nlmsg_alloc();
	int fam, ret = -NLE_NOMEM;

	if (!sk || !m)
		goto out;
	ret = genl_connect(sk);
	if (ret)
		goto out;
	fam = genl_ctrl_resolve(sk, KMIG_GENL_NAME);
	if (fam < 0) {
		ret = fam;
		goto out;
	}
	genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, fam, 0,
		    cmd == KMIG_NL_CMD_SESSION_GET ? NLM_F_DUMP : 0, cmd,
		    KMIG_GENL_VERSION);
	nla_put_u32(m, KMIG_A_SESSION_ID, id);
	if (c) {
		c->id = id;
		nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, counters_cb,
				    c);
	}
	ret = nl_send_auto(sk, m);
	if (ret >= 0)
		ret = c ? nl_recvmsgs_default(sk) : nl_wait_for_ack(sk);
out:
	nlmsg_free(m);
	nl_socket_free(sk);
	return ret < 0 ? ret : 0;
}

static __u32 session_id(int fd)
{
	struct kmig_info info = KMIG_ARG(kmig_info);

	return __kmig_ioctl(fd, KMIG_GET_INFO, &info) ? 0 : info.session_id;
}

/* ---- the fixture: a tracking session on a one-vCPU guest ---- */

FIXTURE(fetch) {
	struct guest_vm *vm;
	__u8 *ram;
	int fd;
	struct fetched *f;
};

/* Anonymous guest RAM and memfd RAM: their holes are found differently. */
FIXTURE_VARIANT(fetch) {
	bool memfd;
};

FIXTURE_VARIANT_ADD(fetch, anon) {
	.memfd = false,
};

FIXTURE_VARIANT_ADD(fetch, memfd) {
	.memfd = true,
};

FIXTURE_SETUP(fetch)
{
	struct guest_vm_opts opts = {
		.data_pages = DATA_PAGES, .nr_vcpus = 1, .memfd = variant->memfd,
	};
	struct kmig_info info = KMIG_ARG(kmig_info);
	const char *why;

	self->fd = -1;
	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SETUP_SKIP("%s", why);
	self->fd = kmig_open();
	ASSERT_LE(0, self->fd);
	kmig_ioctl(self->fd, KMIG_GET_INFO, &info);
	if (!(info.features & KMIG_FEATURE_FETCH)) {
		close(self->fd);
		SETUP_SKIP("kmig module without KMIG_FEATURE_FETCH");
	}
	self->f = calloc(1, sizeof(*self->f));
	ASSERT_NE(NULL, self->f);
	self->vm = guest_vm_create(&opts);
	self->ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(0, __kmig_start(self->fd, NULL));
}

FIXTURE_TEARDOWN(fetch)
{
	if (self->fd < 0)
		return;
	close(self->fd);
	guest_vm_free(self->vm);
	free(self->f);
}

/*
 * The guest writes pages 0..299 with 0x5a and 300..399 with zeros (all in
 * the first THP region); pages from 1024 on are never touched.
 */
TEST_F(fetch, data_zero_and_hole_pages)
{
	const struct kmig_dirty_range r[] = {
		RANGE(5, 1), RANGE(298, 4), RANGE(1500, 2), RANGE(7, 1),
	};
	static const __u64 want_page[] = { 5, 298, 299, 300, 301, 1500, 1501, 7 };
	static const __u8 want_kind[] = {
		KMIG_REC_PAGE, KMIG_REC_PAGE, KMIG_REC_PAGE, KMIG_REC_ZERO,
		KMIG_REC_ZERO, KMIG_REC_HOLE, KMIG_REC_HOLE, KMIG_REC_PAGE,
	};
	struct fetched *f = self->f;
	__u64 off = 0;
	unsigned int i;

	guest_vcpu_write_range(&self->vm->vcpus[0], GUEST_DATA_SLOT, 0, 300,
			       0x5a);
	guest_vcpu_write_range(&self->vm->vcpus[0], GUEST_DATA_SLOT, 300, 100,
			       0);
	ASSERT_FALSE(resident(self->ram + 1500 * GUEST_PAGE_SIZE));

	ASSERT_EQ(0, fetch(self->fd, r, ARRAY_SIZE(r), f));
	ASSERT_EQ(ARRAY_SIZE(want_page), f->out.nr_recs);
	EXPECT_EQ(4 * GUEST_PAGE_SIZE, f->out.data_used);
	/* All dirty since DIRTY_START: every page asked was taken. */
	EXPECT_EQ(ARRAY_SIZE(want_page), f->out.taken);
	for (i = 0; i < ARRAY_SIZE(want_page); i++) {
		const struct kmig_rec *rec = &f->recs[i];

		EXPECT_EQ(DGPA(want_page[i]), rec->gpa) TH_LOG("record %u", i);
		EXPECT_EQ(1, rec->npages) TH_LOG("record %u", i);
		EXPECT_EQ(0, rec->as_id) TH_LOG("record %u", i);
		ASSERT_EQ(want_kind[i], rec->kind)
			TH_LOG("page %llu", (unsigned long long)want_page[i]);
		if (rec->kind != KMIG_REC_PAGE) {
			EXPECT_EQ(0, rec->len);
			continue;
		}
		EXPECT_EQ(GUEST_PAGE_SIZE, rec->len);
		ASSERT_EQ(0, memcmp(f->data + off,
				    self->ram + want_page[i] * GUEST_PAGE_SIZE,
				    GUEST_PAGE_SIZE))
			TH_LOG("page %llu", (unsigned long long)want_page[i]);
		/* The guest stored its byte at the start of the page. */
		EXPECT_EQ(0x5a, f->data[off]);
		off += GUEST_PAGE_SIZE;
	}
	/* Fetching the hole did not fault it in. */
	EXPECT_FALSE(resident(self->ram + 1500 * GUEST_PAGE_SIZE));
	EXPECT_FALSE(resident(self->ram + 1501 * GUEST_PAGE_SIZE));
}

/* The session's bitmap of the data memslot, and its count. */
static __u64 data_bitmap(int fd, __u64 *map)
{
	__u64 dirty = 0;

	CHECK(!__kmig_get_bitmap(fd, 0, GUEST_DATA_SLOT, 0, DATA_PAGES, 0, map,
				 &dirty), "KMIG_DIRTY_GET_BITMAP");
	return dirty;
}

TEST_F(fetch, takes_the_pages_from_the_bitmaps)
{
	const struct kmig_dirty_range r[] = { RANGE(10, 3), RANGE(700, 1) };
	const struct kmig_dirty_range twice[] = { RANGE(20, 1), RANGE(20, 1) };
	__u64 map[BITMAP_WORDS(DATA_PAGES)], p;
	struct nl_counters c = { 0 };
	struct fetched *f = self->f;

	fill_pages(self->ram, 0, 1024);
	ASSERT_EQ(0, fetch(self->fd, r, ARRAY_SIZE(r), f));
	EXPECT_EQ(4, f->out.taken);
	EXPECT_EQ(4, f->out.nr_recs);
	EXPECT_EQ(4 * GUEST_PAGE_SIZE, f->out.data_used);
	EXPECT_EQ(DATA_PAGES - 4, data_bitmap(self->fd, map));
	for (p = 0; p < DATA_PAGES; p++)
		ASSERT_EQ(!(p >= 10 && p < 13) && p != 700,
			  test_bit64(map, p)) TH_LOG("page %llu",
						     (unsigned long long)p);

	/* Again: the same pages and data, nothing left to take. */
	ASSERT_EQ(0, fetch(self->fd, r, ARRAY_SIZE(r), f));
	EXPECT_EQ(0, f->out.taken);
	EXPECT_EQ(4, f->out.nr_recs);
	EXPECT_EQ(0, memcmp(f->data + 3 * GUEST_PAGE_SIZE,
			    self->ram + 700 * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE));

	/* A page asked twice comes twice and is taken once. */
	ASSERT_EQ(0, fetch(self->fd, twice, 2, f));
	EXPECT_EQ(2, f->out.nr_recs);
	EXPECT_EQ(1, f->out.taken);
	EXPECT_EQ(DATA_PAGES - 5, data_bitmap(self->fd, map));

	/* A page the guest writes again is dirty again after the next sync. */
	guest_vcpu_write_range(&self->vm->vcpus[0], GUEST_DATA_SLOT, 10, 1,
			       0x44);
	ASSERT_EQ(0, __kmig_sync(self->fd, NULL));
	data_bitmap(self->fd, map);
	EXPECT_TRUE(test_bit64(map, 10));
	ASSERT_EQ(0, fetch(self->fd, r, 1, f));
	EXPECT_EQ(1, f->out.taken);
	EXPECT_EQ(0x44, f->data[0]);

	/* Netlink counts every page returned and its data. */
	ASSERT_EQ(0, nl_session(session_id(self->fd), KMIG_NL_CMD_SESSION_GET,
				&c));
	ASSERT_TRUE(c.found);
	EXPECT_EQ(4 + 4 + 2 + 3, c.fetched_pages);
	EXPECT_EQ((4 + 4 + 2 + 3) * GUEST_PAGE_SIZE, c.fetched_bytes);
}

/* ---- beside a running round ---- */

struct ring_map {
	void *mem;
	__u32 *head, *tail, mask;
	struct kmig_rec *recs;
};

struct drainer {
	int fd;
	__u32 idx;
	struct ring_map *ring;
	__u8 *sent;			/* per data page: records seen */
	pthread_mutex_t *lock;
	int err;
};

/* Consumes ring @idx until its KMIG_REC_ROUND_END, slowly. */
static void *drain(void *arg)
{
	struct drainer *d = arg;
	struct ring_map *m = d->ring;

	for (;;) {
		struct kmig_ring_wait w = {
			.size = sizeof(w), .ring = d->idx, .timeout_ms = 200,
		};
		__u32 head = *m->head, tail, i;

		d->err = __kmig_ioctl(d->fd, KMIG_RING_WAIT, &w);
		if (d->err)
			return NULL;
		/* Acquire: records are complete up to tail. */
		tail = __atomic_load_n(m->tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			struct kmig_rec *r = &m->recs[head & m->mask];

			if (r->kind == KMIG_REC_ROUND_END) {
				__atomic_store_n(m->head, head + 1,
						 __ATOMIC_RELEASE);
				return NULL;
			}
			pthread_mutex_lock(d->lock);
			for (i = 0; i < r->npages; i++) {
				__u64 gpa = r->gpa + (__u64)i * GUEST_PAGE_SIZE;

				if (gpa >= DGPA(0) && gpa < DGPA(DATA_PAGES))
					d->sent[(gpa - DGPA(0)) /
						GUEST_PAGE_SIZE]++;
			}
			pthread_mutex_unlock(d->lock);
			usleep(100);
			/* Release: our reads of the slot precede its reuse. */
			__atomic_store_n(m->head, head + 1, __ATOMIC_RELEASE);
		}
	}
}

struct rounder {
	int fd;
	struct kmig_send_round out;
	int ret;
	bool done;
};

static void *round_fn(void *arg)
{
	struct rounder *r = arg;

	r->out = KMIG_ARG(kmig_send_round);
	r->ret = __kmig_ioctl(r->fd, KMIG_SEND_ROUND, &r->out);
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F(fetch, beside_a_running_round_nothing_is_lost)
{
	struct kmig_send_setup setup = KMIG_ARG(kmig_send_setup,
		.nr_workers = WORKERS, .ring_entries = 16);
	struct ring_map rings[WORKERS];
	struct drainer d[WORKERS];
	struct rounder rd = { .fd = self->fd };
	pthread_t t[WORKERS], rt;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	__u8 *sent = calloc(DATA_PAGES, 1), *fetched = calloc(DATA_PAGES, 1);
	__u64 taken = 0, during = 0, nfetch = 0, missing = 0, both = 0, p;
	__u64 map[BITMAP_WORDS(DATA_PAGES)];
	struct fetched *f = self->f;
	int i, ret = 0;

	ASSERT_NE(NULL, sent);
	ASSERT_NE(NULL, fetched);
	/* Data everywhere: one record per page, so the round takes a while. */
	fill_pages(self->ram, 0, DATA_PAGES);
	kmig_ioctl(self->fd, KMIG_SEND_SETUP, &setup);
	for (i = 0; i < WORKERS; i++) {
		__u8 *mem = mmap(NULL, setup.ring_bytes, PROT_READ | PROT_WRITE,
				 MAP_SHARED, self->fd, KMIG_MMAP_RING(i));

		ASSERT_NE(MAP_FAILED, mem);
		rings[i] = (struct ring_map){
			.mem = mem,
			.head = (__u32 *)(mem + setup.off.head),
			.tail = (__u32 *)(mem + setup.off.tail),
			.mask = *(__u32 *)(mem + setup.off.mask),
			.recs = (struct kmig_rec *)(mem + setup.off.recs),
		};
	}
	ASSERT_EQ(0, __kmig_sync(self->fd, NULL));
	for (i = 0; i < WORKERS; i++) {
		d[i] = (struct drainer){ .fd = self->fd, .idx = i,
					 .ring = &rings[i], .sent = sent,
					 .lock = &lock };
		pthread_create(&t[i], NULL, drain, &d[i]);
	}
	pthread_create(&rt, NULL, round_fn, &rd);

	/*
	 * Eight pages at a time from the end down (the round's cursor gets
	 * there last), until the round is over or 512 pages were asked.
	 */
	for (p = DATA_PAGES; p >= DATA_PAGES - 512 + 8; p -= 8) {
		struct kmig_dirty_range r = RANGE(p - 8, 8);
		__u64 j;

		if (__atomic_load_n(&rd.done, __ATOMIC_ACQUIRE))
			break;
		ret = fetch(self->fd, &r, 1, f);
		if (ret)
			break;
		/* Finished while the round still ran. */
		during += !__atomic_load_n(&rd.done, __ATOMIC_ACQUIRE);
		nfetch++;
		taken += f->out.taken;
		for (j = 0; j < 8; j++) {
			if (f->recs[j].kind != KMIG_REC_PAGE ||
			    f->recs[j].gpa != DGPA(p - 8 + j) ||
			    memcmp(f->data + j * GUEST_PAGE_SIZE,
				   self->ram + (p - 8 + j) * GUEST_PAGE_SIZE,
				   GUEST_PAGE_SIZE))
				ret = -EBADMSG;
			fetched[p - 8 + j] = 1;
		}
		if (ret)
			break;
	}
	pthread_join(rt, NULL);
	for (i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(0, ret) TH_LOG("fetch beside the round: %s",
				 ret == -EBADMSG ? "wrong record or data" :
				 kmig_errname(ret));
	ASSERT_EQ(0, rd.ret) TH_LOG("the round: %s", kmig_errname(rd.ret));
	for (i = 0; i < WORKERS; i++)
		ASSERT_EQ(0, d[i].err);

	for (p = 0; p < DATA_PAGES; p++) {
		missing += !sent[p] && !fetched[p];
		both += sent[p] && fetched[p];
		ASSERT_GE(1, sent[p]) TH_LOG("page %llu sent twice by the round",
					     (unsigned long long)p);
	}
	TH_LOG("%llu fetches (%llu during the round), %llu pages taken, "
	       "%llu also sent by the round; round: %llu pages",
	       (unsigned long long)nfetch, (unsigned long long)during,
	       (unsigned long long)taken, (unsigned long long)both,
	       (unsigned long long)rd.out.pages);
	EXPECT_EQ(0, missing) TH_LOG("pages neither sent nor fetched");
	EXPECT_LT(0, during) TH_LOG("no fetch overlapped the round");
	EXPECT_LT(0, taken) TH_LOG("the fetches took nothing from the round");
	/*
	 * Every page was taken once, by the round or a fetch, except that a
	 * page a worker had just found may be taken by both.
	 */
	EXPECT_LE(DATA_PAGES + GUEST_SYS_PAGES, rd.out.pages + taken);
	EXPECT_GE(DATA_PAGES + GUEST_SYS_PAGES + both, rd.out.pages + taken);
	/* Nothing is left dirty in the data memslot. */
	EXPECT_EQ(0, data_bitmap(self->fd, map));

	for (i = 0; i < WORKERS; i++)
		munmap(rings[i].mem, setup.ring_bytes);
	free(sent);
	free(fetched);
}

/* ---- errors ---- */

/* With no ranges given, the one range at @one. */
static struct kmig_fetch *default_ranges(struct kmig_fetch *a,
					 const struct kmig_dirty_range *one)
{
	if (!a->ranges_uptr) {
		a->ranges_uptr = (unsigned long)one;
		a->nr_ranges = 1;
	}
	return a;
}

TEST_F(fetch, errors)
{
	struct fetched *f = self->f;
	struct kmig_dirty_range r[MAXP + 1], one = RANGE(5, 1);
	struct {
		struct kmig_dirty_range r;
		__u64 tail;
	} wide = { .r = RANGE(6, 1) };
	struct {
		struct kmig_rec rec;
		__u64 tail;
	} wrec[2];
	__u64 map[BITMAP_WORDS(DATA_PAGES)];
	struct kmig_fetch a;
	unsigned int i;
	int fd2;

	fill_pages(self->ram, 0, 1024);
	/* An argument for @one unless other ranges are given. */
#define A(...)	(a = KMIG_ARG(kmig_fetch, ##__VA_ARGS__),		\
		 default_ranges(&a, &one))
	ASSERT_EQ(0, fetch_raw(self->fd, A(), f));
	ASSERT_EQ(1, a.nr_recs);

	/* Shape of the ranges. */
	one = RANGE(5, 1);
	one.gpa += 8;
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(), f)) TH_LOG("misaligned");
	one = RANGE(5, 0);
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(), f)) TH_LOG("npages 0");
	one = RANGE(5, MAXP + 1);
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(), f)) TH_LOG("257 pages");
	one = RANGE(5, 1);
	one.__reserved = 1;
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(), f)) TH_LOG("range resv");
	r[0] = RANGE(0, 200);
	r[1] = RANGE(400, 57);
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(.nr_ranges = 2,
		  .ranges_uptr = (unsigned long)r), f)) TH_LOG("257 in two");
	for (i = 0; i <= MAXP; i++)
		r[i] = RANGE(i, 1);
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(.nr_ranges = MAXP + 1,
		  .ranges_uptr = (unsigned long)r), f)) TH_LOG("257 ranges");
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd,
		  A(.ranges_uptr = (unsigned long)&one), f)) TH_LOG("0 ranges");
	ASSERT_EQ(0, fetch_raw(self->fd, A(.nr_ranges = MAXP,
		  .ranges_uptr = (unsigned long)r), f)) TH_LOG("256 ranges");
	EXPECT_EQ(MAXP, a.nr_recs);

	/* Memslots. */
	one = RANGE(5, 1);
	one.gpa = 0x7000000000ULL;
	EXPECT_EQ(-ENOENT, fetch_raw(self->fd, A(), f)) TH_LOG("no memslot");
	one = RANGE(DATA_PAGES - 2, 4);
	EXPECT_EQ(-ENOENT, fetch_raw(self->fd, A(), f)) TH_LOG("crosses end");
	one = RANGE(DATA_PAGES, 1);
	EXPECT_EQ(-ENOENT, fetch_raw(self->fd, A(), f)) TH_LOG("past end");
	one = RANGE(5, 1);
	one.as_id = 1;
	EXPECT_EQ(-ENOENT, fetch_raw(self->fd, A(), f)) TH_LOG("SMM space");

	/* Room, strides, pointers. */
	one = RANGE(8, 2);
	EXPECT_EQ(-ENOSPC, fetch_raw(self->fd,
		  A(.data_len = 2 * GUEST_PAGE_SIZE - 1), f));
	for (i = 0; i < 3; i++) {
		static const __u32 bad[] = { 8, 12, 20 };

		one = RANGE(8, 1);
		EXPECT_EQ(-EINVAL, fetch_raw(self->fd,
			  A(.range_size = bad[i]), f)) TH_LOG("range_size");
		EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(.rec_size = bad[i]),
					     f)) TH_LOG("rec_size");
	}
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(.rec_size = 264), f));
	EXPECT_EQ(0, fetch_raw(self->fd, A(.nr_ranges = 1,
		  .range_size = sizeof(wide),
		  .ranges_uptr = (unsigned long)&wide), f));
	wide.tail = 1;
	EXPECT_EQ(-E2BIG, fetch_raw(self->fd, A(.nr_ranges = 1,
		  .range_size = sizeof(wide),
		  .ranges_uptr = (unsigned long)&wide), f));
	one = RANGE(8, 2);
	memset(wrec, 0xff, sizeof(wrec));
	ASSERT_EQ(0, fetch_raw(self->fd, A(.rec_size = sizeof(wrec[0]),
		  .recs_uptr = (unsigned long)wrec), f));
	EXPECT_EQ(DGPA(9), wrec[1].rec.gpa);
	EXPECT_EQ(0, wrec[0].tail);
	EXPECT_EQ(0, wrec[1].tail);

	/* A page nobody took yet: a failed fetch must leave it dirty. */
	one = RANGE(600, 1);
	EXPECT_EQ(-EFAULT, fetch_raw(self->fd, A(.nr_ranges = 1,
		  .ranges_uptr = 8), f));
	EXPECT_EQ(-EFAULT, fetch_raw(self->fd, A(.recs_uptr = 8), f));
	EXPECT_EQ(-EFAULT, fetch_raw(self->fd, A(.data_uptr = 8), f));
	data_bitmap(self->fd, map);
	EXPECT_TRUE(test_bit64(map, 600)) TH_LOG("taken by a failed fetch");

	/* Flags and reserved fields. */
	for (i = 0; i < 32; i++)
		EXPECT_EQ(-EOPNOTSUPP, fetch_raw(self->fd,
			  A(.flags = 1U << i), f)) TH_LOG("flag %u", i);
	EXPECT_EQ(-EOPNOTSUPP, fetch_raw(self->fd, A(.__reserved = 1), f));
	EXPECT_EQ(-EOPNOTSUPP, fetch_raw(self->fd, A(.__reserved2 = 1), f));

	/* No VM, no tracking. */
	fd2 = kmig_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-ENOTCONN, fetch_raw(fd2, A(), f));
	close(fd2);
	ASSERT_EQ(0, __kmig_stop(self->fd));
	EXPECT_EQ(-EINVAL, fetch_raw(self->fd, A(), f)) TH_LOG("not tracking");

	/* Cancelled over netlink: refused until the next DIRTY_START. */
	ASSERT_EQ(0, __kmig_start(self->fd, NULL));
	ASSERT_EQ(0, nl_session(session_id(self->fd),
				KMIG_NL_CMD_SESSION_CANCEL, NULL));
	EXPECT_EQ(-ECANCELED, fetch_raw(self->fd, A(), f));
	ASSERT_EQ(0, __kmig_start(self->fd, NULL));
	EXPECT_EQ(0, fetch_raw(self->fd, A(), f));
	EXPECT_EQ(1, a.taken);
#undef A
}

/* The VMM in another process, as with kmigctl: fetched, then -ESRCH. */
TEST(vmm_in_another_process_then_gone)
{
	struct kmig_dirty_range r = RANGE(0, 4);
	struct guest_child child;
	struct fetched *f;
	const char *why;
	int fd;

	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SKIP(return, "%s", why);
	f = calloc(1, sizeof(*f));
	ASSERT_NE(NULL, f);
	guest_child_spawn(&child, 512);
	fd = kmig_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __kmig_attach(fd, child.vm_fd, NULL));
	ASSERT_EQ(0, __kmig_start(fd, NULL));
	ASSERT_EQ(0, fetch(fd, &r, 1, f));
	EXPECT_EQ(4, f->out.nr_recs);
	EXPECT_EQ(4, f->out.taken);

	guest_child_kill(&child);
	EXPECT_EQ(-ESRCH, fetch(fd, &r, 1, f));
	close(fd);
	close(child.vm_fd);
	free(f);
}

/*
 * KMIG_POSTCOPY_PROGRESS: a destination's counts, shown by the netlink
 * dump of its session as published, the last call's, and only there.
 */
TEST(postcopy_progress_in_netlink)
{
	struct kmig_postcopy_progress p = {
		.missing_pages = 1000, .faults = 7, .urgent_pages = 5,
		.postcopy_ns = 123456789, .latency_p99_us = 4321,
	};
	struct nl_counters c = { 0 };
	const char *why;
	int fd, other;

	if (!kmig_available(&why))
		SKIP(return, "%s", why);
	fd = kmig_open();
	other = kmig_open();
	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	/* Nothing published yet: no postcopy attributes. */
	ASSERT_EQ(0, nl_session(session_id(fd), KMIG_NL_CMD_SESSION_GET, &c));
	ASSERT_TRUE(c.found);
	EXPECT_FALSE(c.has_pc);

	ASSERT_EQ(0, kmig_postcopy_progress(fd, &p));
	p.missing_pages = 10;
	p.faults = 9;
	ASSERT_EQ(0, kmig_postcopy_progress(fd, &p));
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(0, nl_session(session_id(fd), KMIG_NL_CMD_SESSION_GET, &c));
	ASSERT_TRUE(c.has_pc);
	EXPECT_EQ(10, c.pc_missing);
	EXPECT_EQ(9, c.pc_faults);
	EXPECT_EQ(5, c.pc_urgent);
	EXPECT_EQ(123456789, c.pc_ns);
	EXPECT_EQ(4321, c.pc_p99_us);
	/* Another session's dump is its own. */
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(0, nl_session(session_id(other), KMIG_NL_CMD_SESSION_GET,
				&c));
	ASSERT_TRUE(c.found);
	EXPECT_FALSE(c.has_pc);
	close(other);
	close(fd);
}

/* ---- latency ---- */

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

#define RUNS	200

/* Median ns of RUNS calls of fetch (@r) or, with @r NULL, KMIG_GET_INFO. */
static int median_ns(int fd, const struct kmig_dirty_range *r,
		     struct fetched *f, __u64 *median)
{
	static __u64 ns[RUNS];
	struct kmig_info info;
	int i, ret;

	for (i = 0; i < RUNS; i++) {
		__u64 t0 = now_ns();

		info = KMIG_ARG(kmig_info);
		ret = r ? fetch(fd, r, 1, f) :
			  __kmig_ioctl(fd, KMIG_GET_INFO, &info);
		if (ret)
			return ret;
		ns[i] = now_ns() - t0;
	}
	qsort(ns, RUNS, sizeof(ns[0]), cmp_u64);
	*median = ns[RUNS / 2];
	return 0;
}

TEST_F(fetch, latency)
{
	struct kmig_dirty_range r1 = RANGE(100, 1), r64 = RANGE(256, 64);
	struct kmig_dirty_range hole = RANGE(1500, 1);
	__u64 info_ns, one_ns, many_ns, hole_ns;

	fill_pages(self->ram, 0, 1024);
	ASSERT_EQ(0, median_ns(self->fd, NULL, self->f, &info_ns));
	ASSERT_EQ(0, median_ns(self->fd, &r1, self->f, &one_ns));
	ASSERT_EQ(0, median_ns(self->fd, &r64, self->f, &many_ns));
	/* Nothing to copy: the worker hop and the bookkeeping. */
	ASSERT_EQ(0, median_ns(self->fd, &hole, self->f, &hole_ns));
	TH_LOG("median of %d: KMIG_FETCH 1 page %llu us, 64 pages %llu us "
	       "(%.1f us/page); 1 hole page %llu us; KMIG_GET_INFO %llu us",
	       RUNS, (unsigned long long)one_ns / 1000,
	       (unsigned long long)many_ns / 1000,
	       (double)many_ns / 64 / 1000,
	       (unsigned long long)hole_ns / 1000,
	       (unsigned long long)info_ns / 1000);
}

TEST_HARNESS_MAIN
