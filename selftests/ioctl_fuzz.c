// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: a seeded, time-bounded fuzzer of every /dev/kmig ioctl, run
 * inside the sandbox (make fuzz-ioctl, make fuzz-ioctl-quick). Not a
 * *_test: run_tests.sh runs it only when named.
 *
 *   ioctl_fuzz [--seed N] [--seconds S] [--threads N] [workaround switches]
 *
 * Options also come from the environment, before the command line:
 * KMIG_FUZZ_SEED, KMIG_FUZZ_SECONDS and KMIG_FUZZ_ARGS (more options,
 * split at blanks), so `make fuzz-ioctl FUZZ_SEED=...` reaches it through
 * run.sh and run_tests.sh. The seed is printed first: the same seed makes
 * the same choices in every thread, though threads interleave as the
 * scheduler likes, so a replay reproduces a race only most of the time.
 *
 * What runs at once, for --seconds:
 *  - three VMs in this process (bitmap, manual-protect, dirty-ring mode)
 *    whose vCPUs keep writing guest pages, and up to two VMMs in child
 *    processes (lib/kvm_child.c: their VM fd arrives by SCM_RIGHTS) that
 *    are SIGKILLed at random times and respawned;
 *  - --threads threads issuing random sequences of every kmig ioctl on
 *    several sessions: random sizes (too small, too big, non-zero tails),
 *    flags and reserved fields, VM fds that are right, wrong (not KVM, a
 *    vCPU, /dev/kvm, another session), closed or attached elsewhere, user
 *    pointers that are NULL, unmapped, read-only, straddle a guard page or
 *    are kernel addresses, KMIG_LOAD records inside, outside and across
 *    memslots, of every kind, with huge npages and bad zstd frames, and
 *    unknown ioctl numbers (which also reach any ioctl added after this);
 *  - a drainer for the send rings (which sometimes stops draining), and a
 *    chaos thread that closes and reopens sessions, closes VM fds,
 *    munmaps rings mid-round, scribbles on ring headers, maps rings with
 *    wrong offsets and lengths, and probes delete_module("kmig"), which
 *    must fail: an anchor session stays open all the time;
 *  - a memslot thread: a few dozen small slots created, deleted,
 *    resized, moved, dirty logging toggled (also on the data slots), and
 *    guest RAM munmapped and mapped again behind the memslots;
 *  - a signal thread that interrupts ioctls blocked for a while
 *    (KMIG_SEND_ROUND, KMIG_RING_WAIT), and a generic-netlink thread
 *    that dumps and cancels sessions (also with malformed requests).
 *
 * The kernel is the judge: an oops or WARN panics the sandbox
 * (panic_on_warn), the runner's dmesg check catches BUG and leak reports,
 * and a watchdog thread catches hangs: any call blocked for more than
 * 20 s is reported with its kernel stack (/proc/self/task/TID/stack) and
 * the program exits 3. It exits 0 if it survived, after one summary line
 * "ioctl_fuzz: seed S, N ioctls in T s, ..." and the count of every
 * ioctl's results by errno. 4 (KSFT_SKIP) without /dev/kvm or /dev/kmig.
 *
 * The debug heap: make fuzz-ioctl boots the sandbox with slub_debug=FZPU
 * (run.sh --append): consistency checks, red zones, poisoning and
 * alloc/free owner tracking on every slab cache, so an overflow or a
 * use-after-free of a kmalloc'd object is reported ("BUG kmalloc-N ...
 * Redzone overwritten", "Poison overwritten"), at the next free or
 * allocation, and the runner's dmesg check fails the run. The fuzzer
 * prints /proc/cmdline and kmalloc-64's debug flags first to show it took.
 * Why not KASAN, which catches the bad access itself: Debian's 6.1 has
 * CONFIG_SLUB_DEBUG=y but no KASAN, kmemleak or KFENCE, so it would mean
 * building a kernel from linux-source-6.1 on the 2-core host. Measured
 * here: kmig's own 11 files take 5.3 s of CPU (~0.5 s a file, with
 * kvm_host.h); the tree has 32,005 .c files and Debian's config builds
 * 4,023 modules, some 20,000 objects: 10,000 CPU-seconds, about 1.5 hours
 * on 2 cores before KASAN's instrumentation (20-50% more) and the vmlinux
 * and BTF link. Even a localmodconfig of what the sandbox loads (~3,000
 * objects) is an estimated 25-40 minutes plus unpacking the 140 MB
 * tarball, past CI's 30 minutes on a fresh clone, and kmig.ko would need
 * that kernel's headers too. So we don't.
 *
 * Workaround switches, to keep exploring past a known kernel bug (see
 * selftests/ioctl_fuzz.findings.md): --no-memslot-churn, --no-ram-remap,
 * --no-load, --load-max-npages N, --no-child, --no-signals,
 * --no-netlink, --no-rmmod, --no-ring-chaos, --no-session-close,
 * --no-vm-close, --big-slot-mib N (0: none; default 1024).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <linux/kvm.h>
#include <linux/kmig.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "kmig_util.h"
#include "kvm_guest.h"
#include "test_util.h"

#define MAX_SESS		6	/* session 0 is the anchor: never closed */
#define MAX_CHILDREN		2
#define MAX_FUZZERS		16
#define MAX_TSLOTS		64
#define WATCHDOG_S		20
#define SIG_AFTER_MS		1500	/* interrupt calls blocked this long */
#define CACHE_SLOTS		64

#define DATA_SLOT_ID		0
#define BIG_SLOT_ID		2
#define DATA_PAGES		512
#define CHURN_FIRST_ID		8
#define CHURN_SLOTS		32
#define CHURN_POSITIONS		256
#define CHURN_STRIDE		(64 * 1024)
#define SLOT_DATA		0	/* index into struct fvm.slots */
#define SLOT_BIG		1
#define SLOT_CHURN		2
#define NR_MYSLOTS		(SLOT_CHURN + CHURN_SLOTS)

#define SCRATCH_BYTES		(1 << 20)
#define RO_BYTES		(64 * 1024)
#define ARG_BYTES		8192
#define PG			4096UL
/* The ioctls this file knows; op_raw() also reaches those past them. */
#define KMIG_NR_CMDS		(KMIG_CMD_POSTCOPY_PROGRESS + 1)
#ifndef offsetofend
#define offsetofend(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))
#endif

/* Option values */
static struct {
	uint64_t seed;
	unsigned int seconds;
	int threads;
	bool no_churn, no_remap, no_load, no_child, no_signals, no_netlink;
	bool no_rmmod, no_ring_chaos, no_session_close, no_vm_close;
	unsigned int big_slot_mib;
	uint64_t load_max_npages;	/* 0: no cap */
} opt = { .seconds = 60, .threads = 4, .big_slot_mib = 1024 };

static atomic_bool stop;
static uint64_t t_start;

/* ---- random numbers: splitmix64, one state per thread ---- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rn(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

/* true with probability @pct percent */
static bool pct(struct rng *r, unsigned int p)
{
	return rn(r, 100) < p;
}

static void rng_init(struct rng *r, unsigned int stream)
{
	r->s = opt.seed ^ (0x51ed2701ULL * (stream + 1));
	rnd(r);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
		;
}

static double elapsed_s(void)
{
	return (now_ns() - t_start) / 1e9;
}

/* ---- threads the watchdog and the signal thread know ---- */

enum role { R_FUZZ, R_OTHER };

struct tslot {
	char name[24];
	pid_t tid;
	pthread_t thread;
	enum role role;
	_Atomic(const char *) op;	/* the call in progress, or NULL */
	_Atomic uint64_t since;
};

static struct tslot tslots[MAX_TSLOTS];
static atomic_int nr_tslots;
static __thread struct tslot *my_slot;

static struct tslot *tslot_register(const char *name, enum role role)
{
	int i = atomic_fetch_add(&nr_tslots, 1);
	struct tslot *t;

	stack_t ss = { .ss_size = 64 * 1024 };

	CHECK(i < MAX_TSLOTS, "too many threads");
	/* on_fault() runs there, also when the thread's stack overflowed */
	ss.ss_sp = malloc(ss.ss_size);
	if (ss.ss_sp)
		sigaltstack(&ss, NULL);
	t = &tslots[i];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->tid = gettid();
	t->thread = pthread_self();
	t->role = role;
	my_slot = t;
	return t;
}

static void busy(const char *op)
{
	if (!my_slot)
		return;
	atomic_store(&my_slot->since, now_ns());
	atomic_store(&my_slot->op, op);
}

/*
 * How long @t has been in its call. Read after the op and the start: a
 * call that starts between our clock read and its own would otherwise
 * look 2^64 ns old.
 */
static uint64_t busy_age(struct tslot *t)
{
	uint64_t since = atomic_load(&t->since), now = now_ns();

	return now > since ? now - since : 0;
}

static void idle(void)
{
	if (my_slot)
		atomic_store(&my_slot->op, NULL);
}

/* ---- result counting ---- */

enum {
	C_GET_INFO, C_ATTACH_VM, C_GET_MEMSLOTS, C_DIRTY_START, C_DIRTY_SYNC,
	C_DIRTY_GET_BITMAP, C_DIRTY_STOP, C_SEND_SETUP, C_SEND_ROUND,
	C_RING_WAIT, C_LOAD, C_DIRTY_MARK, C_FETCH, C_PROGRESS, C_UNKNOWN,
	C_RAW, C_MMAP,
	C_NL_DUMP, C_NL_CANCEL, C_RMMOD, NR_C
};

static const char *const c_name[NR_C] = {
	"GET_INFO", "ATTACH_VM", "GET_MEMSLOTS", "DIRTY_START", "DIRTY_SYNC",
	"DIRTY_GET_BITMAP", "DIRTY_STOP", "SEND_SETUP", "SEND_ROUND",
	"RING_WAIT", "LOAD", "DIRTY_MARK", "FETCH", "POSTCOPY_PROGRESS",
	"unknown-ioctl", "raw-ioctl",
	"mmap",
	"nl-dump", "nl-cancel", "delete_module",
};

#define MAX_ERRNO	134
static atomic_ulong counts[NR_C][MAX_ERRNO + 1];	/* [cmd][errno], 0 = ok */

enum {
	S_SIGNALS, S_SESS_REOPEN, S_VM_CLOSE, S_SLOT_CHANGES, S_SLOT_REFUSED,
	S_REMAPS, S_CHILD_KILLS, S_RING_GARBAGE, S_RING_UNMAPS, S_DRAINED,
	S_VCPU_RUNS, S_VCPU_ERRS, NR_S
};

static const char *const s_name[NR_S] = {
	"signals", "session-reopens", "vm-fd-closes", "memslot-changes",
	"memslot-refused", "ram-remaps", "child-kills", "ring-scribbles",
	"ring-unmaps", "records-drained", "vcpu-runs", "vcpu-errors",
};

static atomic_ulong stats[NR_S];

static void count(int c, int err)
{
	if (err < 0)
		err = -err;
	if (err > MAX_ERRNO)
		err = MAX_ERRNO;
	atomic_fetch_add(&counts[c][err], 1);
}

static void stat_inc(int s)
{
	atomic_fetch_add(&stats[s], 1);
}

/* ---- VMs in this process ---- */

struct myslot {
	bool used;
	bool unmapped;		/* RAM munmapped behind the memslot */
	__u32 id;
	__u32 flags;
	__u64 gpa;
	__u64 npages;
	void *hva;
	int memfd;		/* -1: anonymous */
};

struct fvm {
	struct guest_vm *g;
	enum guest_dirty_mode mode;
	bool memfd;
	pthread_mutex_t lock;	/* slots */
	struct myslot slots[NR_MYSLOTS];
	_Atomic int target_fd;	/* a dup of g->fd that sessions attach; -1 */
	pthread_t vcpu_thread[GUEST_MAX_VCPUS];
};

static struct fvm fvms[3];
static int nr_fvms;

static int set_region(struct fvm *v, struct myslot *s, __u64 size)
{
	struct kvm_userspace_memory_region r = {
		.slot = s->id, .flags = s->flags, .guest_phys_addr = s->gpa,
		.memory_size = size, .userspace_addr = (unsigned long)s->hva,
	};
	int ret;

	busy("KVM_SET_USER_MEMORY_REGION");
	ret = ioctl(v->g->fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
	idle();
	stat_inc(ret ? S_SLOT_REFUSED : S_SLOT_CHANGES);
	return ret;
}

static void *map_ram(struct myslot *s, void *at)
{
	size_t len = s->npages * PG;
	int fl = at ? MAP_FIXED : 0;
	void *p;

	if (s->memfd >= 0)
		p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | fl,
			 s->memfd, 0);
	else
		p = mmap(at, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | fl, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* The child VMMs fork from us: don't copy guest RAM into them. */
	madvise(p, len, MADV_DONTFORK);
	return p;
}

static int slot_create(struct fvm *v, struct myslot *s, __u32 id, __u64 gpa,
		       __u64 npages, __u32 flags, bool memfd)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->gpa = gpa;
	s->npages = npages;
	s->flags = flags;
	s->memfd = -1;
	if (memfd) {
		s->memfd = CHECK_SYS(memfd_create("kmig-fuzz", MFD_CLOEXEC));
		CHECK_SYS(ftruncate(s->memfd, npages * PG));
	}
	s->hva = map_ram(s, NULL);
	CHECK(s->hva, "mmap guest RAM");
	if (set_region(v, s, npages * PG)) {
		munmap(s->hva, npages * PG);
		if (s->memfd >= 0)
			close(s->memfd);
		return -1;
	}
	s->used = true;
	return 0;
}

static void slot_destroy(struct fvm *v, struct myslot *s)
{
	if (set_region(v, s, 0))
		return;	/* KVM refused: keep it */
	munmap(s->hva, s->npages * PG);
	if (s->memfd >= 0)
		close(s->memfd);
	s->used = false;
}

static void fvm_create(enum guest_dirty_mode mode, int nr_vcpus, bool memfd,
		       bool big)
{
	struct guest_vm_opts o = { .mode = mode, .nr_vcpus = nr_vcpus };
	struct fvm *v = &fvms[nr_fvms++];

	v->mode = mode;
	v->memfd = memfd;
	pthread_mutex_init(&v->lock, NULL);
	v->g = guest_vm_create(&o);
	CHECK(!slot_create(v, &v->slots[SLOT_DATA], DATA_SLOT_ID,
			   GUEST_DATA_GPA, DATA_PAGES,
			   KVM_MEM_LOG_DIRTY_PAGES, memfd),
	      "data memslot");
	if (big && opt.big_slot_mib)
		CHECK(!slot_create(v, &v->slots[SLOT_BIG], BIG_SLOT_ID,
				   GUEST_EXTRA_GPA(1),
				   (__u64)opt.big_slot_mib * 256,
				   KVM_MEM_LOG_DIRTY_PAGES, false),
		      "big memslot");
	atomic_store(&v->target_fd, dup(v->g->fd));
}

/* ---- vCPUs: our own run loop, which survives what the chaos does ---- */

extern const char guest_code_start[], guest_write_range[];

/* Marks every dirty entry of the vCPU's ring collected, then resets. */
static void vcpu_ring_reset(struct guest_vcpu *c)
{
	__u32 i;

	for (i = 0; i < c->ring_entries; i++) {
		struct kvm_dirty_gfn *e = &c->ring[i];

		if (__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		    KVM_DIRTY_GFN_F_DIRTY)
			__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
					 __ATOMIC_RELEASE);
	}
	ioctl(c->vm->fd, KVM_RESET_DIRTY_RINGS, 0);
}

static int vcpu_write(struct guest_vcpu *c, __u64 gpa, __u64 n, __u8 val)
{
	struct kvm_regs regs = {
		.rip = GUEST_CODE_GPA + (guest_write_range - guest_code_start),
		.rdi = gpa, .rsi = n, .rdx = val, .rflags = 2,
	};
	int i;

	if (ioctl(c->fd, KVM_SET_REGS, &regs))
		return -errno;
	for (i = 0; i < 4096 && !stop; i++) {
		if (ioctl(c->fd, KVM_RUN, 0)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;	/* e.g. EFAULT: RAM munmapped */
		}
		switch (c->run->exit_reason) {
		case KVM_EXIT_IO:
			if (c->run->io.port == GUEST_DONE_PORT)
				return 0;
			continue;
		case KVM_EXIT_MMIO:	/* slot moved, deleted or read-only */
		case KVM_EXIT_INTR:
			continue;
		case KVM_EXIT_DIRTY_RING_FULL:
			vcpu_ring_reset(c);
			continue;
		default:
			return -1000 - (int)c->run->exit_reason;
		}
	}
	return -ETIMEDOUT;
}

struct vcpu_arg {
	struct fvm *v;
	int idx;
};

static void *vcpu_thread(void *p)
{
	struct vcpu_arg *a = p;
	struct fvm *v = a->v;
	struct guest_vcpu *c = &v->g->vcpus[a->idx];
	struct rng r;
	char name[24];
	__u8 val = 1;

	snprintf(name, sizeof(name), "vcpu%d.%d", (int)(v - fvms), a->idx);
	tslot_register(name, R_OTHER);
	rng_init(&r, 100 + (v - fvms) * 8 + a->idx);
	while (!stop) {
		struct myslot *s;
		__u64 gpa, n;
		int ret, k;

		pthread_mutex_lock(&v->lock);
		k = pct(&r, 60) ? SLOT_DATA : pct(&r, 50) ? SLOT_BIG :
		    SLOT_CHURN + rn(&r, CHURN_SLOTS);
		s = &v->slots[k];
		if (!s->used)
			s = &v->slots[SLOT_DATA];
		n = 1 + rn(&r, 16);
		if (n > s->npages)
			n = s->npages;
		gpa = s->gpa + rn(&r, s->npages - n + 1) * PG;
		pthread_mutex_unlock(&v->lock);

		busy("KVM_RUN");
		ret = vcpu_write(c, gpa, n, val++);
		idle();
		stat_inc(ret ? S_VCPU_ERRS : S_VCPU_RUNS);
		/* A rate the sandbox takes (nonstop dirtying stalls it). */
		sleep_ms(ret ? 20 : 2 + rn(&r, 8));
	}
	free(a);
	return NULL;
}

/* ---- child VMMs ---- */

struct fchild {
	struct guest_child c;
	_Atomic int vm_fd;	/* -1 while none */
};

static struct fchild children[MAX_CHILDREN];

/* ---- sessions ---- */

struct sess {
	_Atomic int fd;
	pthread_rwlock_t maplock;	/* the ring mappings below */
	bool setup;
	__u32 nr_rings, entries;
	__u64 ring_bytes;
	__u32 rec_size;			/* stride of off.recs */
	struct kmig_ring_offsets off;
	void *maps[KMIG_MAX_WORKERS];
	_Atomic uint64_t drain_pause_until;
	pthread_mutex_t cache_lock;
	struct kmig_memslot slots[CACHE_SLOTS];
	__u32 nslots;
};

static struct sess sessions[MAX_SESS];

static int open_session(void)
{
	return open(KMIG_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

/* Under maplock (write). */
static void unmap_rings(struct sess *s)
{
	__u32 i;

	for (i = 0; i < KMIG_MAX_WORKERS; i++) {
		if (s->maps[i])
			munmap(s->maps[i], s->ring_bytes);
		s->maps[i] = NULL;
	}
}

/* Under maplock (write). */
static void map_rings(struct sess *s, int fd, struct rng *r)
{
	__u32 i;

	if (!s->setup || s->ring_bytes > (64 << 20))
		return;
	for (i = 0; i < s->nr_rings && i < KMIG_MAX_WORKERS; i++) {
		void *p;

		if (s->maps[i] || pct(r, 5))
			continue;
		busy("mmap ring");
		p = mmap(NULL, s->ring_bytes, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, KMIG_MMAP_RING(i));
		idle();
		count(C_MMAP, p == MAP_FAILED ? errno : 0);
		if (p != MAP_FAILED)
			s->maps[i] = p;
	}
}

/* ---- user memory for the ioctls: valid, read-only, guarded ---- */

static void *g_unmapped;	/* PROT_NONE: faults like an unmapped address */
static char *g_ro;		/* a read-only zero page region */

struct fuzzer {
	struct rng r;
	int idx;
	char *arg;		/* ARG_BYTES, then a guard page */
	char *ro_arg;		/* one page, made read-only around calls */
	char *scratch;		/* SCRATCH_BYTES, then a guard page */
};

static char *map_guarded(size_t len)
{
	char *p = mmap(NULL, len + PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap");
	CHECK_SYS(mprotect(p + len, PG, PROT_NONE));
	return p;
}

/* A user pointer for @bytes at @valid: mostly that, sometimes bad. */
static __u64 pick_uptr(struct fuzzer *f, void *valid, size_t bytes)
{
	struct rng *r = &f->r;
	size_t back = bytes / 2 ? bytes / 2 : 1;

	switch (rn(r, 100)) {
	case 0 ... 81: return (uintptr_t)valid;
	case 82 ... 85: return 0;
	case 86 ... 88: return (uintptr_t)g_unmapped;
	case 89 ... 91: return (uintptr_t)g_ro;
	case 92 ... 94:	/* runs into the guard page after the scratch */
		return (uintptr_t)(f->scratch + SCRATCH_BYTES -
				   (back > SCRATCH_BYTES ? SCRATCH_BYTES : back));
	case 95 ... 96: return 0xffff888000000000ULL;
	case 97 ... 98: return (uintptr_t)valid + 1 + rn(r, 7);
	default: return rnd(r);
	}
}

/*
 * The struct's size field: mostly right, sometimes below the first
 * version, above the kernel's with a zero or non-zero tail, or above a
 * page. The buffer (ARG_BYTES) is zero past @ksize unless a tail is made.
 */
static void pick_size(struct fuzzer *f, void *buf, size_t ksize, size_t min)
{
	struct rng *r = &f->r;
	char *b = buf;
	__u32 size = ksize;

	memset(b + ksize, 0, ARG_BYTES - ksize);
	switch (rn(r, 100)) {
	case 0 ... 87: break;
	case 88 ... 89: size = min - 1 - rn(r, min > 8 ? 8 : min); break;
	case 90: size = min; break;
	case 91 ... 92: size = ksize + 8 * (1 + rn(r, 8)); break;
	case 93 ... 94:
		size = ksize + 1 + rn(r, 64);
		b[ksize + rn(r, size - ksize)] = 1 + rn(r, 255);
		break;
	case 95 ... 96: size = 4096 + rn(r, 2); break;
	case 97: size = ARG_BYTES; break;
	default: size = rn(r, 2 * ksize + 1); break;
	}
	if (size > ARG_BYTES)
		size = ARG_BYTES;
	*(__u32 *)b = size;
}

/* Flags: mostly @valid (0 or known bits), sometimes unknown bits. */
static __u32 pick_flags(struct fuzzer *f, __u32 valid)
{
	if (pct(&f->r, 95))
		return valid;
	return pct(&f->r, 50) ? 1U << rn(&f->r, 32) : (__u32)rnd(&f->r);
}

static __u32 pick_resv(struct fuzzer *f)
{
	return pct(&f->r, 96) ? 0 : 1U << rn(&f->r, 32);
}

/*
 * Issues @cmd with the struct in f->arg. Usually from there; sometimes
 * from a read-only copy (the kernel's output copy fails), NULL, an
 * unmapped address or a pointer that runs into a guard page.
 */
static int fuzz_ioctl(struct fuzzer *f, int c, int fd, unsigned long cmd)
{
	void *arg = f->arg;
	bool ro = false;
	int ret;

	switch (rn(&f->r, 100)) {
	case 0 ... 93: break;
	case 94 ... 95:
		memcpy(f->ro_arg, f->arg, PG);
		mprotect(f->ro_arg, PG, PROT_READ);
		arg = f->ro_arg;
		ro = true;
		break;
	case 96: arg = NULL; break;
	case 97: arg = g_unmapped; break;
	case 98:	/* size readable, the rest in the guard page */
		arg = f->arg + ARG_BYTES - 4 - 4 * rn(&f->r, 4);
		memcpy(arg, f->arg, 4);
		break;
	default: arg = (void *)0xffff888000000000ULL; break;
	}
	busy(c_name[c]);
	ret = ioctl(fd, cmd, arg) ? errno : 0;
	idle();
	if (ro)
		mprotect(f->ro_arg, PG, PROT_READ | PROT_WRITE);
	count(c, ret);
	return arg == f->arg ? ret : -1;	/* -1: outputs not in f->arg */
}

/* ---- attach targets: VM fds good and bad ---- */

static int fd_devnull, fd_eventfd, fd_closed;

static int pick_vm_fd(struct fuzzer *f)
{
	struct rng *r = &f->r;
	int fd;

	switch (rn(r, 100)) {
	case 0 ... 49:
		return atomic_load(&fvms[rn(r, nr_fvms)].target_fd);
	case 50 ... 69:
		fd = atomic_load(&children[rn(r, MAX_CHILDREN)].vm_fd);
		return fd;
	case 70 ... 74: return fvms[0].g->fd;	/* the VMM's own fd */
	case 75 ... 77: return fd_devnull;
	case 78 ... 80: return fd_eventfd;
	case 81 ... 83: return fvms[0].g->kvm_fd;
	case 84 ... 86: return fvms[0].g->vcpus[0].fd;
	case 87 ... 90: return atomic_load(&sessions[rn(r, MAX_SESS)].fd);
	case 91 ... 93: return fd_closed;
	case 94 ... 96: return -1;
	default: return (int)rnd(r);
	}
}

/* ---- the ioctls, one builder each ---- */

static struct sess *pick_sess(struct fuzzer *f, int *fd)
{
	struct sess *s = &sessions[rn(&f->r, MAX_SESS)];

	*fd = atomic_load(&s->fd);
	return s;
}

static bool cached_slot(struct fuzzer *f, struct sess *s,
			struct kmig_memslot *out, bool as0)
{
	bool ok = false;
	int tries;

	pthread_mutex_lock(&s->cache_lock);
	for (tries = 0; tries < 4 && s->nslots; tries++) {
		*out = s->slots[rn(&f->r, s->nslots)];
		/* Not the system memslot: the vCPUs' code lives there. */
		if (out->gpa < GUEST_SYS_BYTES && out->as_id == 0)
			continue;
		if (as0 && out->as_id)
			continue;
		ok = true;
		break;
	}
	pthread_mutex_unlock(&s->cache_lock);
	return ok;
}

static void op_get_info(struct fuzzer *f, int fd)
{
	struct kmig_info *a = (void *)f->arg;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_GET_INFO, fd, KMIG_GET_INFO);
}

static void op_attach(struct fuzzer *f, int fd)
{
	struct kmig_attach_vm *a = (void *)f->arg;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->vm_fd = pick_vm_fd(f);
	a->__reserved = pick_resv(f);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_ATTACH_VM, fd, KMIG_ATTACH_VM);
}

static void op_get_memslots(struct fuzzer *f, struct sess *s, int fd)
{
	struct kmig_get_memslots *a = (void *)f->arg;
	struct kmig_memslot *buf = (void *)f->scratch;
	static const __u32 sizes[] = { 0, 0, 0, 32, 40, 64, 24, 31, 4096 };
	__u32 room, esize;

	switch (rn(&f->r, 10)) {
	case 0: room = 0; break;
	case 1: room = 1 + rn(&f->r, 4); break;
	case 2: room = rnd(&f->r); break;
	default: room = CACHE_SLOTS; break;
	}
	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->nr_slots = room;
	a->slot_size = pct(&f->r, 95) ? sizes[rn(&f->r, ARRAY_SIZE(sizes))] :
		       (__u32)rnd(&f->r);
	esize = a->slot_size ?: sizeof(*buf);
	a->slots_uptr = pick_uptr(f, buf, (room < 256 ? room : 256) *
				  (esize < 4096 ? esize : 4096));
	/* The kernel writes nr_slots entries of esize: all in the scratch. */
	if (a->slots_uptr - (uintptr_t)buf < 8 &&
	    (__u64)room * esize > SCRATCH_BYTES - 8)
		a->nr_slots = room = (SCRATCH_BYTES - 8) / esize;
	pick_size(f, a, sizeof(*a), offsetofend(struct kmig_get_memslots,
						slots_uptr));
	if (!fuzz_ioctl(f, C_GET_MEMSLOTS, fd, KMIG_GET_MEMSLOTS) &&
	    a->slots_uptr == (uintptr_t)buf && a->nr_slots <= room &&
	    esize == sizeof(*buf)) {
		pthread_mutex_lock(&s->cache_lock);
		s->nslots = a->nr_slots < CACHE_SLOTS ? a->nr_slots : CACHE_SLOTS;
		memcpy(s->slots, buf, s->nslots * sizeof(*buf));
		pthread_mutex_unlock(&s->cache_lock);
	}
}

static void op_dirty_start(struct fuzzer *f, int fd)
{
	struct kmig_dirty_start *a = (void *)f->arg;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->__reserved = pick_resv(f);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_DIRTY_START, fd, KMIG_DIRTY_START);
}

static void op_dirty_sync(struct fuzzer *f, int fd)
{
	struct kmig_dirty_sync *a = (void *)f->arg;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->__reserved = pick_resv(f);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_DIRTY_SYNC, fd, KMIG_DIRTY_SYNC);
}

static void op_get_bitmap(struct fuzzer *f, struct sess *s, int fd)
{
	struct kmig_dirty_bitmap *a = (void *)f->arg;
	struct rng *r = &f->r;
	struct kmig_memslot m = { .size = 64 * PG };
	__u64 np, first, n;

	if (!cached_slot(f, s, &m, false) || pct(r, 10)) {
		m.as_id = rn(r, 3);
		m.id = pct(r, 50) ? rn(r, 4) : rnd(r);
	}
	np = m.size / PG;
	switch (rn(r, 8)) {
	case 0 ... 3: first = 0; break;
	case 4 ... 5: first = np > 64 ? rn(r, np / 64) * 64 : 0; break;
	case 6: first = np; break;
	default: first = rnd(r) >> rn(r, 64); break;
	}
	switch (rn(r, 8)) {
	case 0 ... 3: n = np > first ? np - first : 1; break;
	case 4: n = 64; break;
	case 5: n = 1 + rn(r, 100); break;
	case 6: n = 0; break;
	default: n = rnd(r) >> rn(r, 64); break;
	}
	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, pct(r, 50) ? KMIG_BITMAP_CLEAR : 0);
	a->as_id = m.as_id;
	a->slot_id = m.id;
	a->__reserved = pick_resv(f);
	a->first_page = first;
	a->nr_pages = n;
	a->bitmap_uptr = pick_uptr(f, f->scratch,
				   n / 8 < SCRATCH_BYTES ? n / 8 + 8 :
				   SCRATCH_BYTES);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_DIRTY_GET_BITMAP, fd, KMIG_DIRTY_GET_BITMAP);
}

static void op_dirty_stop(struct fuzzer *f, int fd)
{
	struct kmig_dirty_stop *a = (void *)f->arg;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_DIRTY_STOP, fd, KMIG_DIRTY_STOP);
}

static void op_send_setup(struct fuzzer *f, struct sess *s, int fd)
{
	struct kmig_send_setup *a = (void *)f->arg;
	struct rng *r = &f->r;
	static const __u32 entries[] = { 16, 32, 64, 128, 256 };

	memset(a, 0, sizeof(*a));
	a->nr_workers = pct(r, 85) ? 1 + rn(r, 4) :
			pct(r, 50) ? rn(r, 2) * (KMIG_MAX_WORKERS + 1) :
			KMIG_MAX_WORKERS;
	a->ring_entries = pct(r, 85) ? entries[rn(r, ARRAY_SIZE(entries))] :
			  pct(r, 30) ? KMIG_MAX_RING_ENTRIES :
			  (__u32)(rnd(r) >> rn(r, 32));
	a->flags = pick_flags(f, pct(r, 30) ? KMIG_SEND_F_ZSTD |
			      (pct(r, 50) ? KMIG_SEND_F_ZSTD_RUN : 0) : 0);
	if (a->flags & KMIG_SEND_F_ZSTD || pct(r, 5))
		a->zstd_level = pct(r, 90) ? rn(r, 4) : rn(r, 25);
	a->__reserved = pick_resv(f);
	a->__reserved2 = pick_resv(f);
	pick_size(f, a, sizeof(*a), offsetofend(struct kmig_send_setup, off));
	if (fuzz_ioctl(f, C_SEND_SETUP, fd, KMIG_SEND_SETUP))
		return;
	pthread_rwlock_wrlock(&s->maplock);
	if (atomic_load(&s->fd) == fd) {
		unmap_rings(s);
		s->setup = true;
		s->nr_rings = a->nr_workers;
		s->entries = a->ring_entries;
		s->ring_bytes = a->ring_bytes;
		/* 0 from a first-version struct (size 56): 16-byte records */
		s->rec_size = a->rec_size ?: KMIG_REC_SIZE_V1;
		s->off = a->off;
		map_rings(s, fd, r);
	}
	pthread_rwlock_unlock(&s->maplock);
}

static void op_send_round(struct fuzzer *f, int fd)
{
	struct kmig_send_round *a = (void *)f->arg;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->__reserved = pick_resv(f);
	pick_size(f, a, sizeof(*a),
		  offsetofend(struct kmig_send_round, scan_ns));
	fuzz_ioctl(f, C_SEND_ROUND, fd, KMIG_SEND_ROUND);
}

static void op_ring_wait(struct fuzzer *f, struct sess *s, int fd)
{
	struct kmig_ring_wait *a = (void *)f->arg;
	struct rng *r = &f->r;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->ring = pct(r, 90) ? rn(r, s->nr_rings + 1) : rnd(r);
	switch (rn(r, 20)) {
	case 0 ... 5: a->timeout_ms = 0; break;
	case 6 ... 16: a->timeout_ms = 1 + rn(r, 100); break;
	case 17 ... 18: a->timeout_ms = 1000 + rn(r, 4000); break;
	default: a->timeout_ms = ~0U; break;	/* only a signal ends it */
	}
	a->__reserved = pick_resv(f);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_RING_WAIT, fd, KMIG_RING_WAIT);
}

/*
 * zstd frames without libzstd: a single-segment frame of one RLE block,
 * @content bytes of @byte (content size in the header, 2-byte field).
 */
static size_t zstd_rle_frame(__u8 *out, __u32 content, __u32 block, __u8 byte)
{
	__u32 fcs = content - 256, bh = 1 | (1 << 1) | (block << 3);

	out[0] = 0x28; out[1] = 0xb5; out[2] = 0x2f; out[3] = 0xfd;
	out[4] = 0x60;			/* FCS 2 bytes, single segment */
	out[5] = fcs & 0xff; out[6] = fcs >> 8;
	out[7] = bh & 0xff; out[8] = (bh >> 8) & 0xff; out[9] = bh >> 16;
	out[10] = byte;
	return 11;
}

/* One raw block of @n bytes (last), after the same header. */
static size_t zstd_raw_frame(__u8 *out, __u32 content, __u32 n, struct rng *r)
{
	__u32 fcs = content - 256, bh = 1 | (n << 3), i;

	out[0] = 0x28; out[1] = 0xb5; out[2] = 0x2f; out[3] = 0xfd;
	out[4] = 0x60;
	out[5] = fcs & 0xff; out[6] = fcs >> 8;
	out[7] = bh & 0xff; out[8] = (bh >> 8) & 0xff; out[9] = bh >> 16;
	for (i = 0; i < n; i++)
		out[10 + i] = rnd(r);
	return 10 + n;
}

/* A zstd record's data: valid, the wrong size, corrupt or garbage. */
static __u16 make_zstd(struct fuzzer *f, __u8 *out, size_t room)
{
	struct rng *r = &f->r;
	size_t len, i;

	if (room < 4095)
		return 0;
	switch (rn(r, 10)) {
	case 0 ... 3: len = zstd_rle_frame(out, 4096, 4096, rnd(r)); break;
	case 4:	/* a page and a byte more or less */
		len = zstd_rle_frame(out, 4095 + rn(r, 3), 4095 + rn(r, 3),
				     rnd(r));
		break;
	case 5: len = zstd_rle_frame(out, 4096, 1 << 16, rnd(r)); break;
	case 6: len = zstd_raw_frame(out, 4096, 1000 + rn(r, 3000), r); break;
	case 7:
		len = zstd_rle_frame(out, 4096, 4096, 0);
		out[rn(r, len)] ^= 1 << rn(r, 8);
		break;
	case 8:
		len = zstd_rle_frame(out, 4096, 4096, 0) - 1 - rn(r, 5);
		break;
	default:
		len = 1 + rn(r, 4095);
		for (i = 0; i < len; i++)
			out[i] = rnd(r);
		break;
	}
	/* What was written: the caller lies about the length, not us. */
	return len > room ? 0 : len;
}

static void op_load(struct fuzzer *f, struct sess *s, int fd)
{
	struct kmig_load *a = (void *)f->arg;
	struct rng *r = &f->r;
	/* Records at the scratch's start (stride @stride), data after them. */
	static const __u32 strides[] = { 0, 0, 0, 16, 24, 32, 256, 8, 20, 264 };
	__u32 rec_size = pct(r, 95) ? strides[rn(r, ARRAY_SIZE(strides))] :
			 (__u32)rnd(r);
	size_t stride = rec_size >= 16 && rec_size <= 256 ? rec_size : 16;
	char *recs = f->scratch;
	__u8 *data = (__u8 *)f->scratch + 4097 * 32;
	size_t room = SCRATCH_BYTES - 4097 * 32, off = 0;
	__u32 nr, i;

	switch (rn(r, 20)) {
	case 0: nr = 0; break;
	case 1: nr = 4096; break;
	case 2: nr = 4097 + rn(r, 2) * (rnd(r) >> 33); break;
	case 3 ... 4: nr = 33 + rn(r, 500); break;
	default: nr = 1 + rn(r, 32); break;
	}
	if (nr > 4097 * 32 / stride)	/* what fits before the data */
		nr = pct(r, 50) ? 4097 * 32 / stride : nr;
	memset(recs, 0, 4097 * 32);
	for (i = 0; i < nr && i < 4097 * 32 / stride; i++) {
		struct kmig_rec *e = (void *)(recs + i * stride);
		struct kmig_memslot m;
		__u64 np, p;

		if (stride > sizeof(*e) && pct(r, 3))	/* a non-zero tail */
			((char *)e)[sizeof(*e) + rn(r, stride - sizeof(*e))] = 1;
		e->kind = pct(r, 95) ? KMIG_REC_PAGE + rn(r, 5) : rnd(r);
		e->as_id = pct(r, 95) ? 0 : rn(r, 3);
		if (e->kind == KMIG_REC_ROUND_END && pct(r, 70))
			e->kind = KMIG_REC_ZERO;
		if (cached_slot(f, s, &m, true) && pct(r, 85)) {
			np = m.size / PG;
			switch (rn(r, 10)) {
			case 0 ... 6: p = rn(r, np); break;
			case 7: p = np - 1; break;		/* last page */
			case 8: p = np + rn(r, 16); break;	/* past it */
			default: p = rn(r, np + 1); break;
			}
			e->gpa = m.gpa + p * PG;
		} else {
			np = 1;
			e->gpa = pct(r, 50) ? GUEST_SYS_BYTES +
				 rn(r, 8ULL << 30) : rnd(r);
			e->gpa &= ~(PG - 1);
			if (e->gpa < GUEST_SYS_BYTES)
				e->gpa = GUEST_SYS_BYTES;
		}
		if (pct(r, 3))
			e->gpa += 1 + rn(r, PG - 1);	/* misaligned */
		if (e->kind == KMIG_REC_ZERO || e->kind == KMIG_REC_HOLE) {
			switch (rn(r, 10)) {
			case 0 ... 5: e->npages = 1 + rn(r, 64); break;
			case 6: e->npages = np; break;	/* whole slot-ish */
			case 7: e->npages = 1 + rn(r, np); break;
			case 8: e->npages = rnd(r); break;	/* huge */
			default: e->npages = pct(r, 50) ? 0 : ~0U; break;
			}
			if (opt.load_max_npages &&
			    e->npages > opt.load_max_npages)
				e->npages = opt.load_max_npages;
			e->len = pct(r, 95) ? 0 : rnd(r);
		} else if (e->kind == KMIG_REC_ZSTD) {
			/* Runs of 1..KMIG_ZSTD_RUN_MAX, and a few beyond. */
			e->npages = pct(r, 80) ? 1 :
				    rn(r, KMIG_ZSTD_RUN_MAX + 2);
		} else {
			e->npages = pct(r, 95) ? 1 : rn(r, 3);
		}
		if (e->kind == KMIG_REC_PAGE) {
			e->len = pct(r, 95) ? KMIG_PAGE_SIZE : rnd(r);
			if (room - off >= PG) {
				memset(data + off, rnd(r), PG);
				off += PG;
			}
		} else if (e->kind == KMIG_REC_ZSTD) {
			e->len = make_zstd(f, data + off, room - off);
			off += e->len;
			if (pct(r, 5))
				e->len = pct(r, 50) ? 0 : 4096 + rn(r, 100);
			else if (pct(r, 3))
				e->len = rnd(r);
		}
	}
	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->nr_recs = nr;
	a->__reserved = pick_resv(f);
	a->rec_size = rec_size;
	a->__reserved2 = pick_resv(f);
	a->recs_uptr = pick_uptr(f, recs, (nr < 4097 ? nr : 4097) * stride);
	a->data_uptr = pick_uptr(f, data, off);
	switch (rn(r, 10)) {
	case 0: a->data_len = off ? rn(r, off) : 0; break;
	case 1: a->data_len = rnd(r); break;
	default: a->data_len = off; break;
	}
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_LOAD, fd, KMIG_LOAD);
}

/* KMIG_DIRTY_MARK: pages "the VMM wrote", of any VM, from any session. */
static void op_dirty_mark(struct fuzzer *f, struct sess *s, int fd)
{
	struct kmig_dirty_mark *a = (void *)f->arg;
	struct kmig_dirty_range *g = (void *)f->scratch;
	struct rng *r = &f->r;
	static const __u32 sizes[] = { 0, 0, 0, 16, 24, 32, 8, 12 };
	__u32 nr, i, esize;
	size_t stride;

	switch (rn(r, 10)) {
	case 0: nr = 0; break;
	case 1: nr = 4096 + rn(r, 2); break;
	case 2: nr = rnd(r); break;
	default: nr = 1 + rn(r, 64); break;
	}
	esize = pct(r, 95) ? sizes[rn(r, ARRAY_SIZE(sizes))] : (__u32)rnd(r);
	stride = esize >= 16 && esize <= 256 ? esize : 16;
	for (i = 0; i < nr && (i + 1) * stride <= SCRATCH_BYTES; i++) {
		struct kmig_dirty_range *e = (void *)((char *)g + i * stride);
		struct kmig_memslot m;

		memset(e, 0, stride);
		if (cached_slot(f, s, &m, false) && pct(r, 85)) {
			e->gpa = m.gpa + rn(r, m.size / PG + 2) * PG;
			e->as_id = m.as_id;
			e->npages = pct(r, 80) ? 1 + rn(r, 64) : rnd(r);
		} else {
			e->gpa = rnd(r) >> rn(r, 64);
			e->npages = rnd(r) >> rn(r, 32);
			e->as_id = rn(r, 3);
		}
		if (pct(r, 90))
			e->gpa &= ~(PG - 1);
		e->__reserved = pick_resv(f);
	}
	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->vm_fd = pick_vm_fd(f);
	a->nr_ranges = nr;
	a->range_size = esize;
	a->ranges_uptr = pick_uptr(f, g, (nr < 4097 ? nr : 4097) * stride);
	a->__reserved = pick_resv(f);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_DIRTY_MARK, fd, KMIG_DIRTY_MARK);
}

/*
 * KMIG_FETCH: pages of the session's VM read now, also beside a round:
 * ranges inside, across and outside memslots, too many pages, odd
 * strides, short data room, bad pointers.
 */
static void op_fetch(struct fuzzer *f, struct sess *s, int fd)
{
	struct kmig_fetch *a = (void *)f->arg;
	char *ranges = f->scratch, *recs = f->scratch + 16 * 1024;
	char *data = f->scratch + 64 * 1024;
	size_t room = SCRATCH_BYTES - 64 * 1024;
	static const __u32 sizes[] = { 0, 0, 0, 16, 24, 32, 8, 12 };
	static const __u32 rsizes[] = { 0, 0, 0, 16, 24, 256, 8, 264 };
	struct rng *r = &f->r;
	__u32 nr, i, esize, stride, pages = 0;

	switch (rn(r, 10)) {
	case 0: nr = 0; break;
	case 1: nr = KMIG_FETCH_MAX_PAGES + rn(r, 2); break;
	case 2: nr = rnd(r); break;
	default: nr = 1 + rn(r, 8); break;
	}
	/* Mostly sound, so that the reads themselves run often. */
	esize = pct(r, 75) ? 0 : pct(r, 95) ? sizes[rn(r, ARRAY_SIZE(sizes))] :
				      (__u32)rnd(r);
	stride = esize >= 16 && esize <= 32 ? esize : 16;
	for (i = 0; i < nr && (i + 1) * stride <= 16 * 1024; i++) {
		struct kmig_dirty_range *e = (void *)(ranges + i * stride);
		struct kmig_memslot m;

		memset(e, 0, stride);
		if (cached_slot(f, s, &m, false) && pct(r, 90)) {
			e->as_id = m.as_id;
			e->gpa = m.gpa + rn(r, m.size / PG + 2) * PG;
			e->npages = pct(r, 93) ? 1 + rn(r, 32) :
				    rnd(r) >> rn(r, 32);
		} else {
			e->gpa = rnd(r) >> rn(r, 64);
			e->npages = 1 + rn(r, 4);
			e->as_id = rn(r, 3);
		}
		if (pct(r, 95))
			e->gpa &= ~(PG - 1);
		if (stride > sizeof(*e) && pct(r, 3))	/* a non-zero tail */
			((char *)e)[sizeof(*e) + rn(r, stride - sizeof(*e))] = 1;
		e->__reserved = pick_resv(f);
		pages += e->npages;
	}
	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->nr_ranges = nr;
	a->range_size = esize;
	a->ranges_uptr = pick_uptr(f, ranges, (size_t)(nr < 4097 ? nr : 4097) *
				   stride);
	a->rec_size = pct(r, 75) ? 0 :
		      pct(r, 95) ? rsizes[rn(r, ARRAY_SIZE(rsizes))] :
		      (__u32)rnd(r);
	a->recs_uptr = pick_uptr(f, recs, 48 * 1024);
	a->data_uptr = pick_uptr(f, data, room);
	switch (rn(r, 10)) {
	case 0: a->data_len = rnd(r); break;
	case 1: a->data_len = (__u64)pages * PG - 1; break;
	default: a->data_len = room; break;
	}
	a->__reserved = pick_resv(f);
	a->__reserved2 = pick_resv(f);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_FETCH, fd, KMIG_FETCH);
}

/*
 * KMIG_POSTCOPY_PROGRESS: any numbers at all (they are the caller's), with
 * bad flags, reserved fields, sizes and pointers, also beside a round.
 */
static void op_progress(struct fuzzer *f, int fd)
{
	struct kmig_postcopy_progress *a = (void *)f->arg;
	struct rng *r = &f->r;

	memset(a, 0, sizeof(*a));
	a->flags = pick_flags(f, 0);
	a->missing_pages = rnd(r);
	a->faults = rnd(r);
	a->requested_pages = rnd(r);
	a->urgent_pages = rnd(r);
	a->background_pages = rnd(r);
	a->blocked_ns = rnd(r);
	a->postcopy_ns = rnd(r);
	a->latency_p50_us = rnd(r);
	a->latency_p99_us = rnd(r);
	a->latency_max_us = rnd(r);
	a->__reserved = pick_resv(f);
	pick_size(f, a, sizeof(*a), sizeof(*a));
	fuzz_ioctl(f, C_PROGRESS, fd, KMIG_POSTCOPY_PROGRESS);
}

/* Ioctl numbers /dev/kmig does not know: ENOTTY, whatever the struct. */
static void op_unknown(struct fuzzer *f, int fd)
{
	struct rng *r = &f->r;
	unsigned long cmd;

	switch (rn(r, 5)) {
	case 0: cmd = _IO(KMIG_TYPE, KMIG_NR_CMDS + rn(r, 200)); break;
	case 1: cmd = _IOW(KMIG_TYPE, rn(r, KMIG_NR_CMDS), 24); break;
	case 2: cmd = _IOWR(KMIG_TYPE, rn(r, KMIG_NR_CMDS), 64); break;
	case 3: cmd = _IO(KMIG_TYPE + 1, rn(r, 16)); break;
	default: cmd = (__u32)rnd(r); break;
	}
	memset(f->arg, 0, 64);
	*(__u32 *)f->arg = 64;
	fuzz_ioctl(f, C_UNKNOWN, fd, cmd);
}

/*
 * Every number from 0 to a few past KMIG_CMD_LOAD with a struct of random
 * bytes: reaches every ioctl, and any the header gains after this file.
 */
static void op_raw(struct fuzzer *f, int fd)
{
	struct rng *r = &f->r;
	__u32 nr = rn(r, KMIG_NR_CMDS + 3), size = 8 + 8 * rn(r, 16), i;

	for (i = 0; i < size; i += 8)
		*(__u64 *)(f->arg + i) = pct(r, 50) ? 0 : rnd(r) >> rn(r, 64);
	pick_size(f, f->arg, size, size);
	if (pct(r, 60))
		*(__u32 *)(f->arg + 4) = 0;	/* flags */
	fuzz_ioctl(f, C_RAW, fd, _IO(KMIG_TYPE, nr));
}

static void *fuzz_thread(void *p)
{
	struct fuzzer *f = p;
	char name[24];

	snprintf(name, sizeof(name), "fuzz%d", f->idx);
	tslot_register(name, R_FUZZ);
	while (!stop) {
		struct sess *s;
		int fd;

		s = pick_sess(f, &fd);
		switch (rn(&f->r, 100)) {
		case 0 ... 2: op_get_info(f, fd); break;
		case 3 ... 10: op_attach(f, fd); break;
		case 11 ... 20: op_get_memslots(f, s, fd); break;
		case 21 ... 29: op_dirty_start(f, fd); break;
		case 30 ... 41: op_dirty_sync(f, fd); break;
		case 42 ... 51: op_get_bitmap(f, s, fd); break;
		case 52 ... 54: op_dirty_stop(f, fd); break;
		case 55 ... 60: op_send_setup(f, s, fd); break;
		case 61 ... 69: op_send_round(f, fd); break;
		case 70 ... 77: op_ring_wait(f, s, fd); break;
		case 78 ... 87:
			if (!opt.no_load)
				op_load(f, s, fd);
			break;
		case 88 ... 90: op_dirty_mark(f, s, fd); break;
		case 91 ... 92: op_fetch(f, s, fd); break;
		case 93: op_progress(f, fd); break;
		case 94: op_unknown(f, fd); break;
		default: op_raw(f, fd); break;
		}
		if (pct(&f->r, 20))
			sleep_ms(rn(&f->r, 5));
	}
	return NULL;
}

/* ---- the ring drainer ---- */

static void drain_ring(struct sess *s, __u32 i)
{
	char *m = s->maps[i];
	__u32 *head = (__u32 *)(m + s->off.head);
	__u32 *tail = (__u32 *)(m + s->off.tail);
	__u32 mask = s->entries - 1, h, t, n;
	volatile __u8 sink;

	/* Trust nothing in the mapping but what fits the layout we got. */
	if (s->off.head + 4 > s->ring_bytes || s->off.tail + 4 > s->ring_bytes)
		return;
	t = __atomic_load_n(tail, __ATOMIC_ACQUIRE);
	h = __atomic_load_n(head, __ATOMIC_RELAXED);
	if (t - h > s->entries) {
		h = t;	/* a scribbled header: skip to the tail */
	} else {
		for (n = 0; h != t; h++, n++) {
			size_t rec = s->off.recs + (size_t)(h & mask) *
				     s->rec_size;
			size_t dat = s->off.data + (size_t)(h & mask) * PG;

			if (rec + sizeof(struct kmig_rec) <= s->ring_bytes)
				sink = m[rec + 12];
			if (dat + PG <= s->ring_bytes)
				sink = m[dat] ^ m[dat + PG - 1];
			(void)sink;
		}
		atomic_fetch_add(&stats[S_DRAINED], n);
	}
	__atomic_store_n(head, h, __ATOMIC_RELEASE);
}

static void *drain_thread(void *p)
{
	struct rng r;

	tslot_register("drainer", R_OTHER);
	rng_init(&r, 200);
	while (!stop) {
		int k;

		for (k = 0; k < MAX_SESS; k++) {
			struct sess *s = &sessions[k];
			int fd = atomic_load(&s->fd);
			__u32 i, nr;

			if (now_ns() < atomic_load(&s->drain_pause_until))
				continue;
			if (pct(&r, 1))	/* sometimes stop draining a while */
				atomic_store(&s->drain_pause_until, now_ns() +
					     rn(&r, 4000) * 1000000ULL);
			pthread_rwlock_rdlock(&s->maplock);
			nr = s->setup ? s->nr_rings : 0;
			for (i = 0; i < nr && i < KMIG_MAX_WORKERS; i++)
				if (s->maps[i])
					drain_ring(s, i);
			pthread_rwlock_unlock(&s->maplock);
			for (i = 0; i < nr; i++) {
				struct kmig_ring_wait w = KMIG_ARG(kmig_ring_wait,
					.ring = i, .timeout_ms = rn(&r, 3));

				busy("RING_WAIT (drainer)");
				count(C_RING_WAIT, ioctl(fd, KMIG_RING_WAIT, &w) ?
				      errno : 0);
				idle();
			}
		}
		sleep_ms(1);
	}
	return NULL;
}

/* ---- chaos: sessions, VM fds, rings, delete_module ---- */

static void chaos_reopen(struct rng *r)
{
	struct sess *s = &sessions[1 + rn(r, MAX_SESS - 1)];
	int fd = atomic_load(&s->fd), nfd;
	bool unmap_first = pct(r, 50);

	pthread_rwlock_wrlock(&s->maplock);
	if (unmap_first)
		unmap_rings(s);
	atomic_store(&s->fd, -1);
	busy("close session");
	close(fd);
	idle();
	/* The mappings outlive the session: touch them after the close. */
	if (!unmap_first) {
		__u32 i;

		for (i = 0; i < KMIG_MAX_WORKERS; i++)
			if (s->maps[i])
				drain_ring(s, i);
		unmap_rings(s);
	}
	s->setup = false;
	s->nr_rings = 0;
	pthread_rwlock_unlock(&s->maplock);
	pthread_mutex_lock(&s->cache_lock);
	s->nslots = 0;
	pthread_mutex_unlock(&s->cache_lock);
	busy("open session");
	nfd = open_session();
	idle();
	CHECK(nfd >= 0, "reopen /dev/kmig: %s", strerror(errno));
	atomic_store(&s->fd, nfd);
	stat_inc(S_SESS_REOPEN);
}

static void chaos_vm_fd(struct rng *r)
{
	struct fvm *v = &fvms[rn(r, nr_fvms)];
	int fd = atomic_exchange(&v->target_fd, -1);

	if (fd >= 0) {
		busy("close VM fd");
		close(fd);
		idle();
		stat_inc(S_VM_CLOSE);
	}
	/* Sessions keep their reference; a new fd for the next attach. */
	atomic_store(&v->target_fd, dup(v->g->fd));
}

static void chaos_rings(struct rng *r)
{
	struct sess *s = &sessions[rn(r, MAX_SESS)];
	int fd = atomic_load(&s->fd);
	__u32 i;

	pthread_rwlock_wrlock(&s->maplock);
	if (!s->setup)
		goto out;
	i = rn(r, s->nr_rings);
	switch (rn(r, 4)) {
	case 0:	/* munmap, mid-round or not */
		if (s->maps[i]) {
			munmap(s->maps[i], s->ring_bytes);
			s->maps[i] = NULL;
			stat_inc(S_RING_UNMAPS);
		}
		break;
	case 1:
		map_rings(s, fd, r);
		break;
	default:	/* scribble on the header */
		if (s->maps[i] && s->ring_bytes >= PG) {
			__u32 *w = (__u32 *)s->maps[i];

			w[rn(r, PG / 4)] = pct(r, 50) ? rnd(r) :
					   w[rn(r, PG / 4)] + rn(r, 3) - 1;
			if (pct(r, 50))
				*(__u32 *)((char *)w + s->off.head) = rnd(r);
			stat_inc(S_RING_GARBAGE);
		}
		break;
	}
out:
	pthread_rwlock_unlock(&s->maplock);
}

/* mmap with wrong offsets, lengths and protections: must fail cleanly. */
static void chaos_mmap(struct rng *r)
{
	struct sess *s = &sessions[rn(r, MAX_SESS)];
	int fd = atomic_load(&s->fd);
	size_t len = pct(r, 50) && s->ring_bytes ? s->ring_bytes :
		     PG * (1 + rn(r, 300));
	off_t off = pct(r, 50) ? (off_t)KMIG_MMAP_RING(rn(r, 18)) :
		    (off_t)(rn(r, 1 << 20) * PG);
	int prot = pct(r, 80) ? PROT_READ | PROT_WRITE :
		   PROT_READ | PROT_EXEC;
	int flags = pct(r, 80) ? MAP_SHARED : MAP_PRIVATE;
	void *p;

	if (pct(r, 30))
		len += pct(r, 50) ? PG : -PG;
	busy("mmap probe");
	p = mmap(NULL, len, prot, flags, fd, off);
	idle();
	count(C_MMAP, p == MAP_FAILED ? errno : 0);
	if (p != MAP_FAILED) {
		volatile char c = *(char *)p;

		(void)c;
		munmap(p, len);
	}
}

static void chaos_rmmod(void)
{
	int ret;

	busy("delete_module");
	ret = syscall(SYS_delete_module, "kmig", O_NONBLOCK) ? errno : 0;
	idle();
	count(C_RMMOD, ret);
	if (!ret) {
		printf("ioctl_fuzz: BUG: delete_module(kmig) succeeded with sessions open\n");
		fflush(stdout);
		_exit(1);
	}
}

static void *chaos_thread(void *p)
{
	struct rng r;

	tslot_register("chaos", R_OTHER);
	rng_init(&r, 300);
	while (!stop) {
		switch (rn(&r, 100)) {
		case 0 ... 3:
			if (!opt.no_session_close)
				chaos_reopen(&r);
			break;
		case 4 ... 24:
			if (!opt.no_vm_close)
				chaos_vm_fd(&r);
			break;
		case 25 ... 64:
			if (!opt.no_ring_chaos)
				chaos_rings(&r);
			break;
		case 65 ... 84:
			chaos_mmap(&r);
			break;
		default:
			if (!opt.no_rmmod)
				chaos_rmmod();
			break;
		}
		sleep_ms(5 + rn(&r, 50));
	}
	return NULL;
}

/* ---- memslots and guest RAM ---- */

static __u64 churn_gpa(struct rng *r)
{
	return GUEST_EXTRA_GPA(0) + rn(r, CHURN_POSITIONS) * CHURN_STRIDE;
}

static void churn_once(struct fvm *v, struct rng *r)
{
	struct myslot *s = &v->slots[SLOT_CHURN + rn(r, CHURN_SLOTS)];
	struct myslot *d = &v->slots[pct(r, 70) ? SLOT_DATA : SLOT_BIG];
	__u32 flags = pct(r, 85) ? KVM_MEM_LOG_DIRTY_PAGES :
		      pct(r, 50) ? KVM_MEM_READONLY : 0;

	switch (rn(r, 9)) {
	case 0 ... 2:	/* create, or delete */
		if (!s->used)
			slot_create(v, s, CHURN_FIRST_ID + (s - v->slots),
				    churn_gpa(r), 1 + (pct(r, 50) ? 0 :
				    rn(r, 16)), flags, false);
		else
			slot_destroy(v, s);
		break;
	case 3:		/* resize: KVM wants delete + create */
		if (s->used) {
			__u64 gpa = s->gpa;

			slot_destroy(v, s);
			if (!s->used)
				slot_create(v, s, s->id, gpa, 1 + rn(r, 16),
					    flags, false);
		}
		break;
	case 4:		/* move */
		if (s->used) {
			__u64 old = s->gpa;

			s->gpa = churn_gpa(r);
			if (set_region(v, s, s->npages * PG))
				s->gpa = old;
		}
		break;
	case 5 ... 6:	/* toggle dirty logging, here or on a data slot */
		if (pct(r, 50))
			s = d;
		if (s->used && !(s->flags & KVM_MEM_READONLY)) {
			s->flags ^= KVM_MEM_LOG_DIRTY_PAGES;
			if (set_region(v, s, s->npages * PG))
				s->flags ^= KVM_MEM_LOG_DIRTY_PAGES;
		}
		break;
	case 7:		/* move the data slot */
		if (d == &v->slots[SLOT_DATA] && d->used) {
			__u64 old = d->gpa;

			d->gpa = old == GUEST_DATA_GPA ?
				 GUEST_DATA_GPA + (512ULL << 20) : GUEST_DATA_GPA;
			if (set_region(v, d, d->npages * PG))
				d->gpa = old;
		}
		break;
	default:	/* a data slot back with logging, if it lost it */
		if (d->used && !(d->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
			d->flags |= KVM_MEM_LOG_DIRTY_PAGES;
			if (set_region(v, d, d->npages * PG))
				d->flags &= ~KVM_MEM_LOG_DIRTY_PAGES;
		}
		break;
	}
}

/*
 * munmap guest RAM behind a memslot, map it again, or drop its pages. The
 * "munmap" maps PROT_NONE over the RAM (MAP_FIXED unmaps the old pages
 * first, as munmap does: the same MMU notifier calls for KVM), so no hole
 * is ever left for malloc or a ring mapping to land in while the memslot,
 * the guest and KMIG_LOAD still point there.
 */
static void remap_once(struct fvm *v, struct rng *r)
{
	struct myslot *s = &v->slots[pct(r, 60) ? SLOT_DATA :
				     pct(r, 50) ? SLOT_BIG :
				     SLOT_CHURN + rn(r, CHURN_SLOTS)];
	size_t len = s->npages * PG;

	if (!s->used)
		return;
	busy("remap guest RAM");
	if (s->unmapped) {
		if (map_ram(s, s->hva))
			s->unmapped = false;
	} else {
		switch (rn(r, 3)) {
		case 0:
			if (mmap(s->hva, len, PROT_NONE, MAP_PRIVATE |
				 MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
				 -1, 0) != MAP_FAILED)
				s->unmapped = true;
			break;
		case 1:
			map_ram(s, s->hva);	/* fresh pages, same place */
			break;
		default:
			madvise(s->hva, len, MADV_DONTNEED);
			break;
		}
	}
	idle();
	stat_inc(S_REMAPS);
}

static void *churn_thread(void *p)
{
	struct rng r;

	tslot_register("memslots", R_OTHER);
	rng_init(&r, 400);
	while (!stop) {
		struct fvm *v = &fvms[rn(&r, nr_fvms)];
		bool churn = !opt.no_churn, remap = !opt.no_remap;

		pthread_mutex_lock(&v->lock);
		if (churn && (!remap || pct(&r, 80)))
			churn_once(v, &r);
		else if (remap)
			remap_once(v, &r);
		pthread_mutex_unlock(&v->lock);
		sleep_ms(rn(&r, 8));
	}
	return NULL;
}

/* ---- child VMMs, killed at random times ---- */

static void *child_thread(void *p)
{
	struct rng r;
	int k = 0, old_fd[MAX_CHILDREN] = { -1, -1 };

	tslot_register("children", R_OTHER);
	rng_init(&r, 500);
	while (!stop) {
		struct fchild *c = &children[k];

		if (!c->c.pid) {
			busy("spawn child VMM");
			guest_child_spawn(&c->c, 64);
			idle();
			atomic_store(&c->vm_fd, c->c.vm_fd);
			if (old_fd[k] >= 0)
				close(old_fd[k]);
			old_fd[k] = -1;
		}
		sleep_ms(100 + rn(&r, 3000));
		if (stop)
			break;
		c = &children[k = rn(&r, MAX_CHILDREN)];
		if (!c->c.pid)
			continue;
		busy("kill child VMM");
		guest_child_kill(&c->c);
		idle();
		stat_inc(S_CHILD_KILLS);
		/* Its VM fd: closed now, or kept until the next child. */
		if (pct(&r, 50)) {
			close(atomic_exchange(&c->vm_fd, -1));
		} else {
			old_fd[k] = atomic_exchange(&c->vm_fd, -1);
		}
	}
	for (k = 0; k < MAX_CHILDREN; k++) {
		guest_child_kill(&children[k].c);
		if (old_fd[k] >= 0)
			close(old_fd[k]);
	}
	return NULL;
}

/* ---- signals to blocked ioctls ---- */

static void on_sigusr1(int sig)
{
}

/* A crash of ours, not the kernel's: say where, for the findings. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	char buf[200];
	const char *op = my_slot ? atomic_load(&my_slot->op) : NULL;
	ucontext_t *u = uc;
	int n = snprintf(buf, sizeof(buf),
			 "ioctl_fuzz: signal %d at %p, rip %llx, in thread %s (op %s), seed %" PRIu64 "\n",
			 sig, si->si_addr,
			 (unsigned long long)u->uc_mcontext.gregs[REG_RIP],
			 my_slot ? my_slot->name : "main", op ?: "none",
			 opt.seed);

	if (write(1, buf, n) < 0)
		_exit(128 + sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void *signal_thread(void *p)
{
	struct rng r;

	tslot_register("signals", R_OTHER);
	rng_init(&r, 600);
	while (!stop) {
		int i, n = atomic_load(&nr_tslots);

		for (i = 0; i < n; i++) {
			struct tslot *t = &tslots[i];
			const char *op = atomic_load(&t->op);
			uint64_t age = busy_age(t);

			if (t->role != R_FUZZ || !op)
				continue;
			if (age > SIG_AFTER_MS * 1000000ULL || pct(&r, 2)) {
				pthread_kill(t->thread, SIGUSR1);
				stat_inc(S_SIGNALS);
			}
		}
		sleep_ms(20 + rn(&r, 200));
	}
	return NULL;
}

/* ---- generic netlink: dumps and cancels ---- */

static int nl_valid(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

static void *netlink_thread(void *p)
{
	struct nl_sock *sk;
	struct rng r;
	int fam;

	tslot_register("netlink", R_OTHER);
	rng_init(&r, 700);
	sk = nl_socket_alloc();
	CHECK(sk, "nl_socket_alloc");
	CHECK(!genl_connect(sk), "genl_connect");
	fam = genl_ctrl_resolve(sk, KMIG_GENL_NAME);
	CHECK(fam >= 0, "no kmig genl family");
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, nl_valid, NULL);
	while (!stop) {
		struct nl_msg *msg = nlmsg_alloc();
		bool dump = pct(&r, 70);
		int sid = atomic_load(&sessions[rn(&r, MAX_SESS)].fd) >= 0 ?
			  1 + rn(&r, 64) : 0, ret;

		CHECK(msg, "nlmsg_alloc");
		genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, fam, 0,
			    dump ? NLM_F_DUMP : NLM_F_ACK,
			    dump ? KMIG_NL_CMD_SESSION_GET :
			    pct(&r, 95) ? KMIG_NL_CMD_SESSION_CANCEL :
			    rn(&r, 8), KMIG_GENL_VERSION);
		if (pct(&r, dump ? 30 : 90))
			nla_put_u32(msg, KMIG_A_SESSION_ID, sid);
		if (pct(&r, 1))	/* the wrong size */
			nla_put(msg, KMIG_A_SESSION_ID, 1 + rn(&r, 3), &sid);
		busy(dump ? "netlink dump" : "netlink cancel");
		ret = nl_send_auto(sk, msg);
		if (ret >= 0)
			ret = nl_recvmsgs_default(sk);
		idle();
		count(dump ? C_NL_DUMP : C_NL_CANCEL, ret < 0 ? -ret : 0);
		nlmsg_free(msg);
		sleep_ms(5 + rn(&r, 40));
	}
	nl_socket_free(sk);
	return NULL;
}

/* ---- the watchdog ---- */

static void dump_stack_of(const char *path)
{
	char line[256];
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("ioctl_fuzz:     %s", line);
	fclose(f);
}

/* The module's kthreads (kmig/<session>[:<worker>]): what they wait for. */
static void dump_kmig_threads(void)
{
	char path[300], comm[32];
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "kmig/", 5)) {
			comm[strcspn(comm, "\n")] = 0;
			printf("ioctl_fuzz:   kthread %s (pid %s):\n", comm,
			       e->d_name);
			snprintf(path, sizeof(path), "/proc/%s/stack", e->d_name);
			dump_stack_of(path);
		}
		fclose(f);
	}
	closedir(d);
}

static void *watchdog_thread(void *p)
{
	uint64_t deadline = t_start + (opt.seconds + 90) * 1000000000ULL;

	for (;;) {
		int i, n = atomic_load(&nr_tslots);
		uint64_t now = now_ns();
		bool hung = false;
		char path[64];

		for (i = 0; i < n; i++) {
			struct tslot *t = &tslots[i];
			const char *op = atomic_load(&t->op);
			uint64_t age = busy_age(t);

			if (!op || age < WATCHDOG_S * 1000000000ULL)
				continue;
			printf("ioctl_fuzz: HANG: thread %s (tid %d) in %s for %" PRIu64 " s (seed %" PRIu64 ")\n",
			       t->name, t->tid, op, (uint64_t)(age / 1000000000ULL),
			       opt.seed);
			snprintf(path, sizeof(path), "/proc/self/task/%d/stack",
				 t->tid);
			dump_stack_of(path);
			hung = true;
		}
		if (now > deadline) {
			printf("ioctl_fuzz: HANG: did not stop %u s after the end\n", 90);
			hung = true;
		}
		if (hung) {
			dump_kmig_threads();
			fflush(stdout);
			_exit(3);
		}
		if (stop && !n)
			break;
		sleep_ms(500);
	}
	return NULL;
}

/* ---- setup, options, summary ---- */

static void parse_args(int argc, char **argv);

static void parse_env(char *prog)
{
	const char *e;
	char *copy, *tok, *save, *argv[64] = { prog };
	int argc = 1;

	e = getenv("KMIG_FUZZ_SEED");
	if (e && *e)
		opt.seed = strtoull(e, NULL, 0);
	e = getenv("KMIG_FUZZ_SECONDS");
	if (e && *e)
		opt.seconds = strtoul(e, NULL, 0);
	e = getenv("KMIG_FUZZ_ARGS");
	if (!e || !*e)
		return;
	copy = strdup(e);
	for (tok = strtok_r(copy, " \t", &save); tok && argc < 63;
	     tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	parse_args(argc, argv);
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_SEED = 256, O_SECONDS, O_THREADS, O_NO_CHURN, O_NO_REMAP,
		O_NO_LOAD, O_LOAD_MAX, O_NO_CHILD, O_NO_SIGNALS, O_NO_NETLINK,
		O_NO_RMMOD, O_NO_RING_CHAOS, O_NO_SESSION_CLOSE, O_NO_VM_CLOSE,
		O_BIG,
	};
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, O_SEED },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "no-memslot-churn", no_argument, NULL, O_NO_CHURN },
		{ "no-ram-remap", no_argument, NULL, O_NO_REMAP },
		{ "no-load", no_argument, NULL, O_NO_LOAD },
		{ "load-max-npages", required_argument, NULL, O_LOAD_MAX },
		{ "no-child", no_argument, NULL, O_NO_CHILD },
		{ "no-signals", no_argument, NULL, O_NO_SIGNALS },
		{ "no-netlink", no_argument, NULL, O_NO_NETLINK },
		{ "no-rmmod", no_argument, NULL, O_NO_RMMOD },
		{ "no-ring-chaos", no_argument, NULL, O_NO_RING_CHAOS },
		{ "no-session-close", no_argument, NULL, O_NO_SESSION_CLOSE },
		{ "no-vm-close", no_argument, NULL, O_NO_VM_CLOSE },
		{ "big-slot-mib", required_argument, NULL, O_BIG },
		{ 0 },
	};
	int c;

	optind = 0;	/* glibc: start over, also on a second argv */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_SEED: opt.seed = strtoull(optarg, NULL, 0); break;
		case O_SECONDS: opt.seconds = strtoul(optarg, NULL, 0); break;
		case O_THREADS: opt.threads = atoi(optarg); break;
		case O_NO_CHURN: opt.no_churn = true; break;
		case O_NO_REMAP: opt.no_remap = true; break;
		case O_NO_LOAD: opt.no_load = true; break;
		case O_LOAD_MAX: opt.load_max_npages = strtoull(optarg, NULL, 0); break;
		case O_NO_CHILD: opt.no_child = true; break;
		case O_NO_SIGNALS: opt.no_signals = true; break;
		case O_NO_NETLINK: opt.no_netlink = true; break;
		case O_NO_RMMOD: opt.no_rmmod = true; break;
		case O_NO_RING_CHAOS: opt.no_ring_chaos = true; break;
		case O_NO_SESSION_CLOSE: opt.no_session_close = true; break;
		case O_NO_VM_CLOSE: opt.no_vm_close = true; break;
		case O_BIG: opt.big_slot_mib = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: ioctl_fuzz [--seed N] [--seconds S] [--threads N] [--no-...] (see the file header)\n");
			exit(2);
		}
	}
	if (opt.threads < 1 || opt.threads > MAX_FUZZERS)
		opt.threads = 4;
	if (opt.big_slot_mib > 1024)
		opt.big_slot_mib = 1024;
}

static void print_switches(void)
{
	printf("ioctl_fuzz: replay: ioctl_fuzz --seed %" PRIu64 " --seconds %u --threads %d --big-slot-mib %u%s%s%s%s%s%s%s%s%s%s%s",
	       opt.seed, opt.seconds, opt.threads, opt.big_slot_mib,
	       opt.no_churn ? " --no-memslot-churn" : "",
	       opt.no_remap ? " --no-ram-remap" : "",
	       opt.no_load ? " --no-load" : "",
	       opt.no_child ? " --no-child" : "",
	       opt.no_signals ? " --no-signals" : "",
	       opt.no_netlink ? " --no-netlink" : "",
	       opt.no_rmmod ? " --no-rmmod" : "",
	       opt.no_ring_chaos ? " --no-ring-chaos" : "",
	       opt.no_session_close ? " --no-session-close" : "",
	       opt.no_vm_close ? " --no-vm-close" : "",
	       opt.load_max_npages ? " --load-max-npages" : "");
	if (opt.load_max_npages)
		printf(" %" PRIu64, opt.load_max_npages);
	printf("\n");
}

/* What the kernel's debug heap is doing: slub_debug=FZPU shows here. */
static void print_heap_debug(void)
{
	static const char *const knobs[] = {
		"sanity_checks", "red_zone", "poison", "store_user",
	};
	char path[96], buf[64] = "", cmdline[1024];
	size_t i;
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (fgets(cmdline, sizeof(cmdline), f))
			printf("ioctl_fuzz: kernel command line: %s", cmdline);
		fclose(f);
	}
	printf("ioctl_fuzz: kmalloc-64 debug:");
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/kmalloc-64/%s",
			 knobs[i]);
		f = fopen(path, "r");
		if (!f || !fgets(buf, sizeof(buf), f))
			snprintf(buf, sizeof(buf), "?\n");
		if (f)
			fclose(f);
		buf[strcspn(buf, "\n")] = 0;
		printf(" %s=%s", knobs[i], buf);
	}
	printf("\n");
}

static void summary(double secs)
{
	unsigned long total = 0, n;
	int c, e;

	for (c = 0; c <= C_RAW; c++)
		for (e = 0; e <= MAX_ERRNO; e++)
			total += atomic_load(&counts[c][e]);
	printf("ioctl_fuzz: seed %" PRIu64 ", %lu ioctls in %.0f s,", opt.seed,
	       total, secs);
	for (e = 0; e < NR_S; e++)
		printf(" %s %lu", s_name[e], atomic_load(&stats[e]));
	printf(", no crash, no hang\n");
	for (c = 0; c < NR_C; c++) {
		unsigned long sum = 0;

		for (e = 0; e <= MAX_ERRNO; e++)
			sum += atomic_load(&counts[c][e]);
		printf("ioctl_fuzz:   %-16s %8lu:", c_name[c], sum);
		for (e = 0; e <= MAX_ERRNO; e++) {
			n = atomic_load(&counts[c][e]);
			if (!n)
				continue;
			/* netlink's are libnl's codes, not errnos */
			printf(" %s %lu", !e ? "ok" :
			       c == C_NL_DUMP || c == C_NL_CANCEL ?
			       nl_geterror(e) : strerrorname_np(e) ?: "?", n);
		}
		printf("\n");
	}
}

static void skip(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(4);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	pthread_t fuzz[MAX_FUZZERS], other[8], wd;
	struct fuzzer fz[MAX_FUZZERS];
	bool joined[MAX_FUZZERS] = { false };
	const char *why;
	int i, nother = 0;
	uint64_t seed_rand;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getrandom(&seed_rand, sizeof(seed_rand), 0) != sizeof(seed_rand))
		seed_rand = now_ns();
	opt.seed = seed_rand % 1000000000ULL;
	parse_env(argv[0]);
	parse_args(argc, argv);
	printf("ioctl_fuzz: seed %" PRIu64 "\n", opt.seed);
	print_switches();

	if (!kmig_available(&why))
		skip(why);
	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why))
		skip(why);
	print_heap_debug();

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: calls see EINTR */
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	t_start = now_ns();

	/*
	 * "Unmapped" user pointers point into a PROT_NONE reservation that
	 * stays: an address really unmapped would be reused by the next
	 * mmap, and the kernel would write its outputs into live memory.
	 */
	g_unmapped = mmap(NULL, 16 * PG, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(g_unmapped != MAP_FAILED, "mmap");
	g_ro = mmap(NULL, RO_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	CHECK(g_ro != MAP_FAILED, "mmap");
	fd_devnull = CHECK_SYS(open("/dev/null", O_RDWR | O_CLOEXEC));
	fd_eventfd = CHECK_SYS(eventfd(0, EFD_CLOEXEC));
	fd_closed = CHECK_SYS(dup(fd_devnull));
	close(fd_closed);

	fvm_create(GUEST_DIRTY_BITMAP, 1, false, true);
	if (guest_dirty_mode_supported(GUEST_DIRTY_MANUAL, &why))
		fvm_create(GUEST_DIRTY_MANUAL, 1, true, false);
	if (guest_dirty_mode_supported(GUEST_DIRTY_RING, &why))
		fvm_create(GUEST_DIRTY_RING, 2, false, false);
	printf("ioctl_fuzz: %d VMs in this process, %d child VMMs, %d fuzz threads\n",
	       nr_fvms, opt.no_child ? 0 : MAX_CHILDREN, opt.threads);

	for (i = 0; i < MAX_SESS; i++) {
		struct sess *s = &sessions[i];

		pthread_rwlock_init(&s->maplock, NULL);
		pthread_mutex_init(&s->cache_lock, NULL);
		s->fd = open_session();
		CHECK(s->fd >= 0, "open /dev/kmig: %s", strerror(errno));
	}
	for (i = 0; i < MAX_CHILDREN; i++)
		children[i].vm_fd = -1;

	CHECK(!pthread_create(&wd, NULL, watchdog_thread, NULL), "thread");
	for (i = 0; i < nr_fvms; i++) {
		int c;

		for (c = 0; c < fvms[i].g->nr_vcpus; c++) {
			struct vcpu_arg *a = malloc(sizeof(*a));

			CHECK(a, "out of memory");
			a->v = &fvms[i];
			a->idx = c;
			CHECK(!pthread_create(&fvms[i].vcpu_thread[c], NULL,
					      vcpu_thread, a), "thread");
		}
	}
	CHECK(!pthread_create(&other[nother++], NULL, drain_thread, NULL), "thread");
	CHECK(!pthread_create(&other[nother++], NULL, chaos_thread, NULL), "thread");
	if (!opt.no_churn || !opt.no_remap)
		CHECK(!pthread_create(&other[nother++], NULL, churn_thread, NULL),
		      "thread");
	if (!opt.no_child)
		CHECK(!pthread_create(&other[nother++], NULL, child_thread, NULL),
		      "thread");
	if (!opt.no_netlink)
		CHECK(!pthread_create(&other[nother++], NULL, netlink_thread, NULL),
		      "thread");
	if (!opt.no_signals)
		CHECK(!pthread_create(&other[nother++], NULL, signal_thread, NULL),
		      "thread");
	for (i = 0; i < opt.threads; i++) {
		struct fuzzer *f = &fz[i];

		f->idx = i;
		rng_init(&f->r, i);
		f->arg = map_guarded(ARG_BYTES);
		f->ro_arg = map_guarded(PG);
		f->scratch = map_guarded(SCRATCH_BYTES);
		CHECK(!pthread_create(&fuzz[i], NULL, fuzz_thread, f), "thread");
	}

	while (elapsed_s() < opt.seconds)
		sleep_ms(200);
	atomic_store(&stop, true);
	printf("ioctl_fuzz: stopping after %.0f s\n", elapsed_s());

	/*
	 * Blocked rounds need a signal to end, even with --no-signals, and
	 * every thread gets one each time: a thread waiting for s->lock
	 * (uninterruptible) behind another's round cannot go first.
	 */
	for (;;) {
		bool all = true;

		for (i = 0; i < opt.threads; i++) {
			if (joined[i])
				continue;
			if (!pthread_tryjoin_np(fuzz[i], NULL)) {
				joined[i] = true;
				continue;
			}
			pthread_kill(fuzz[i], SIGUSR1);
			all = false;
		}
		if (all)
			break;
		sleep_ms(50);
	}
	for (i = 0; i < nother; i++)
		pthread_join(other[i], NULL);
	for (i = 0; i < nr_fvms; i++) {
		int c;

		for (c = 0; c < fvms[i].g->nr_vcpus; c++)
			pthread_join(fvms[i].vcpu_thread[c], NULL);
	}

	/* The last sessions close; rmmod in run_tests.sh checks the rest. */
	for (i = 0; i < MAX_SESS; i++) {
		pthread_rwlock_wrlock(&sessions[i].maplock);
		unmap_rings(&sessions[i]);
		pthread_rwlock_unlock(&sessions[i].maplock);
		close(sessions[i].fd);
	}
	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].vm_fd >= 0)
			close(children[i].vm_fd);
	summary(elapsed_s());
	for (i = 0; i < nr_fvms; i++) {
		int k;

		if (fvms[i].target_fd >= 0)
			close(fvms[i].target_fd);
		for (k = 0; k < NR_MYSLOTS; k++) {
			struct myslot *s = &fvms[i].slots[k];

			if (s->used)
				munmap(s->hva, s->npages * PG);
		}
		guest_vm_free(fvms[i].g);
	}
	atomic_store(&nr_tslots, 0);
	return 0;
}
