// SPDX-License-Identifier: GPL-2.0
/*
 * Pins the ABI of every ioctl in uapi/linux/kmig.h, errnos included, the
 * way iommufd's selftests pin theirs: struct sizes (copy_struct_from_user
 * rules), flags, __reserved fields, pointers, unknown ioctl numbers, and
 * each documented error of each call (KMIG_FETCH's own in fetch_test.c);
 * for zstd compression the setup's flag and level, and KMIG_LOAD of
 * hostile KMIG_REC_ZSTD records.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kmig_util.h"
#include "kvm_guest.h"
#include "test_util.h"

#define DATA_PAGES	256
#define ODD_SLOT	GUEST_FIRST_EXTRA_SLOT
#define ODD_PAGES	100	/* not a multiple of 64 */

/* The session state in which a call succeeds. */
enum abi_state { ST_IDLE, ST_ATTACHED, ST_TRACKING };

struct abi_case {
	unsigned long cmd;
	size_t size;		/* sizeof the struct: its first version */
	enum abi_state state;
	__u32 known_flags;
	size_t reserved;	/* offset of __reserved, 0 if none */
};

static const struct abi_case case_info = {
	KMIG_GET_INFO, sizeof(struct kmig_info), ST_IDLE, 0, 0,
};
static const struct abi_case case_attach = {
	KMIG_ATTACH_VM, sizeof(struct kmig_attach_vm), ST_IDLE, 0,
	offsetof(struct kmig_attach_vm, __reserved),
};
static const struct abi_case case_memslots = {
	KMIG_GET_MEMSLOTS, sizeof(struct kmig_get_memslots), ST_ATTACHED, 0,
	0,	/* API 2 made its __reserved slot_size */
};
static const struct abi_case case_start = {
	KMIG_DIRTY_START, sizeof(struct kmig_dirty_start), ST_ATTACHED, 0,
	offsetof(struct kmig_dirty_start, __reserved),
};
static const struct abi_case case_sync = {
	KMIG_DIRTY_SYNC, sizeof(struct kmig_dirty_sync), ST_TRACKING, 0,
	offsetof(struct kmig_dirty_sync, __reserved),
};
static const struct abi_case case_bitmap = {
	KMIG_DIRTY_GET_BITMAP, sizeof(struct kmig_dirty_bitmap), ST_TRACKING,
	KMIG_BITMAP_CLEAR, offsetof(struct kmig_dirty_bitmap, __reserved),
};
static const struct abi_case case_stop = {
	KMIG_DIRTY_STOP, sizeof(struct kmig_dirty_stop), ST_TRACKING, 0, 0,
};
static const struct abi_case case_fetch = {
	KMIG_FETCH, sizeof(struct kmig_fetch), ST_TRACKING, 0,
	offsetof(struct kmig_fetch, __reserved),
};
static const struct abi_case case_progress = {
	KMIG_POSTCOPY_PROGRESS, sizeof(struct kmig_postcopy_progress), ST_IDLE,
	0, offsetof(struct kmig_postcopy_progress, __reserved),
};

/* What every ABI fixture holds: a session in the case's state, a VM. */
struct abi_env {
	int fd;
	struct guest_vm *vm;
	__u64 bitmap[BITMAP_WORDS(DATA_PAGES)];
	struct kmig_memslot slots[GUEST_MAX_SLOTS];
	struct kmig_dirty_range range;	/* KMIG_FETCH's, and its outputs */
	struct kmig_rec rec;
	__u8 page[GUEST_PAGE_SIZE];
	union {			/* the ioctl's argument */
		struct kmig_attach_vm attach;
		struct kmig_get_memslots memslots;
		struct kmig_dirty_bitmap bitmap;
		struct kmig_fetch fetch;
		struct kmig_postcopy_progress progress;
		__u32 words[32];	/* size, flags, ... */
		char bytes[128];
	} arg;
};

static void env_setup(struct __test_metadata *_metadata, struct abi_env *env,
		      enum abi_state state)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES };
	const char *why;

	env->fd = -1;
	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SETUP_SKIP("%s", why);
	env->fd = kmig_open();
	ASSERT_LE(0, env->fd);
	env->vm = guest_vm_create(&opts);
	if (state >= ST_ATTACHED)
		ASSERT_EQ(0, __kmig_attach(env->fd, env->vm->fd, NULL));
	if (state >= ST_TRACKING)
		ASSERT_EQ(0, __kmig_start(env->fd, NULL));
}

static void env_teardown(struct abi_env *env)
{
	if (env->fd >= 0)
		close(env->fd);
	guest_vm_free(env->vm);
}

/* Fills env->arg with a valid argument for @c's command. */
static void *fill_arg(struct abi_env *env, const struct abi_case *c)
{
	memset(&env->arg, 0, sizeof(env->arg));
	switch (c->cmd) {
	case KMIG_ATTACH_VM:
		env->arg.attach = KMIG_ARG(kmig_attach_vm,
					   .vm_fd = env->vm->fd);
		break;
	case KMIG_GET_MEMSLOTS:
		env->arg.memslots = KMIG_ARG(kmig_get_memslots,
				.nr_slots = GUEST_MAX_SLOTS,
				.slots_uptr = (unsigned long)env->slots);
		break;
	case KMIG_DIRTY_GET_BITMAP:
		env->arg.bitmap = KMIG_ARG(kmig_dirty_bitmap,
				.slot_id = GUEST_DATA_SLOT, .nr_pages = 64,
				.bitmap_uptr = (unsigned long)env->bitmap);
		break;
	case KMIG_FETCH:
		env->range = (struct kmig_dirty_range){ .gpa = GUEST_DATA_GPA,
							.npages = 1 };
		env->arg.fetch = KMIG_ARG(kmig_fetch, .nr_ranges = 1,
				.ranges_uptr = (unsigned long)&env->range,
				.recs_uptr = (unsigned long)&env->rec,
				.data_uptr = (unsigned long)env->page,
				.data_len = sizeof(env->page));
		break;
	}
	env->arg.words[0] = c->size;
	return &env->arg;
}

static int call_sized(struct abi_env *env, const struct abi_case *c,
		      __u32 usize, __u8 tail, bool *tail_changed)
{
	return __kmig_ioctl_sized(env->fd, c->cmd, fill_arg(env, c), c->size,
				  usize, tail, tail_changed);
}

FIXTURE(abi) {
	struct abi_env env;
};

FIXTURE_VARIANT(abi) {
	const struct abi_case *c;
};

FIXTURE_VARIANT_ADD(abi, get_info) { .c = &case_info };
FIXTURE_VARIANT_ADD(abi, attach_vm) { .c = &case_attach };
FIXTURE_VARIANT_ADD(abi, get_memslots) { .c = &case_memslots };
FIXTURE_VARIANT_ADD(abi, dirty_start) { .c = &case_start };
FIXTURE_VARIANT_ADD(abi, dirty_sync) { .c = &case_sync };
FIXTURE_VARIANT_ADD(abi, dirty_get_bitmap) { .c = &case_bitmap };
FIXTURE_VARIANT_ADD(abi, dirty_stop) { .c = &case_stop };
FIXTURE_VARIANT_ADD(abi, fetch) { .c = &case_fetch };
FIXTURE_VARIANT_ADD(abi, postcopy_progress) { .c = &case_progress };

FIXTURE_SETUP(abi)
{
	env_setup(_metadata, &self->env, variant->c->state);
}

FIXTURE_TEARDOWN(abi)
{
	env_teardown(&self->env);
}

TEST_F(abi, valid)
{
	kmig_ioctl(self->env.fd, variant->c->cmd,
		   fill_arg(&self->env, variant->c));
}

TEST_F(abi, size_min_minus_1)
{
	bool changed;

	ASSERT_EQ(-EINVAL, call_sized(&self->env, variant->c,
				      variant->c->size - 1, 0, &changed));
}

TEST_F(abi, size_zero)
{
	bool changed;

	ASSERT_EQ(-EINVAL, call_sized(&self->env, variant->c, 0, 0, &changed));
}

TEST_F(abi, size_plus_8_nonzero_tail)
{
	bool changed;

	ASSERT_EQ(-E2BIG, call_sized(&self->env, variant->c,
				     variant->c->size + 8, 0xa5, &changed));
	ASSERT_FALSE(changed);
}

/* A newer binary's zeroed extension is accepted and never written. */
TEST_F(abi, size_plus_8_zero_tail)
{
	bool changed;

	ASSERT_EQ(0, call_sized(&self->env, variant->c, variant->c->size + 8,
				0, &changed));
	ASSERT_FALSE(changed) TH_LOG("kernel wrote past its struct");
}

TEST_F(abi, unknown_flags)
{
	int bit;

	for (bit = 0; bit < 32; bit++) {
		fill_arg(&self->env, variant->c);
		if (variant->c->known_flags & (1U << bit))
			continue;
		/* flags follows size in every struct */
		self->env.arg.words[1] = 1U << bit;
		ASSERT_EQ(-EOPNOTSUPP, __kmig_ioctl(self->env.fd,
				variant->c->cmd, &self->env.arg))
			TH_LOG("flag bit %d", bit);
	}
}

TEST_F(abi, arg_bad_pointer)
{
	kmig_ioctl_err(EFAULT, self->env.fd, variant->c->cmd, (void *)1);
	kmig_ioctl_err(EFAULT, self->env.fd, variant->c->cmd, NULL);
}

/* An unmapped byte right after the struct's size field. */
TEST_F(abi, arg_truncated_mapping)
{
	long page = getpagesize();
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u32 *arg = (__u32 *)(map + page - 4);

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	*arg = variant->c->size;
	kmig_ioctl_err(EFAULT, self->env.fd, variant->c->cmd, arg);
	munmap(map, page);
}

/* The calls that have a __reserved field. */
FIXTURE(abi_reserved) {
	struct abi_env env;
};

FIXTURE_VARIANT(abi_reserved) {
	const struct abi_case *c;
};

FIXTURE_VARIANT_ADD(abi_reserved, attach_vm) { .c = &case_attach };
FIXTURE_VARIANT_ADD(abi_reserved, dirty_start) { .c = &case_start };
FIXTURE_VARIANT_ADD(abi_reserved, dirty_sync) { .c = &case_sync };
FIXTURE_VARIANT_ADD(abi_reserved, dirty_get_bitmap) { .c = &case_bitmap };
FIXTURE_VARIANT_ADD(abi_reserved, fetch) { .c = &case_fetch };
FIXTURE_VARIANT_ADD(abi_reserved, postcopy_progress) { .c = &case_progress };

FIXTURE_SETUP(abi_reserved)
{
	env_setup(_metadata, &self->env, variant->c->state);
}

FIXTURE_TEARDOWN(abi_reserved)
{
	env_teardown(&self->env);
}

TEST_F(abi_reserved, nonzero)
{
	static const __u32 values[] = { 1, 0x80000000 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		fill_arg(&self->env, variant->c);
		memcpy(self->env.arg.bytes + variant->c->reserved, &values[i],
		       sizeof(__u32));
		kmig_ioctl_err(EOPNOTSUPP, self->env.fd, variant->c->cmd,
			       &self->env.arg);
	}
	/* ...and the call still works with the field cleared. */
	kmig_ioctl(self->env.fd, variant->c->cmd,
		   fill_arg(&self->env, variant->c));
}

/* A session and a bitmap-mode VM with a data slot and an odd-sized slot. */
FIXTURE(uapi) {
	int fd;
	struct guest_vm *vm;
};

FIXTURE_SETUP(uapi)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES };
	const char *why;

	self->fd = -1;
	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SETUP_SKIP("%s", why);
	self->fd = kmig_open();
	ASSERT_LE(0, self->fd);
	self->vm = guest_vm_create(&opts);
	guest_vm_add_slot(self->vm, ODD_SLOT, GUEST_EXTRA_GPA(0), ODD_PAGES,
			  KVM_MEM_LOG_DIRTY_PAGES);
}

FIXTURE_TEARDOWN(uapi)
{
	if (self->fd >= 0)
		close(self->fd);
	guest_vm_free(self->vm);
}

TEST_F(uapi, unknown_ioctl)
{
	static const unsigned long cmds[] = {
		_IO(KMIG_TYPE, 0x7f),
		_IO(KMIG_TYPE, 0xff),
		/* Same number, other direction/size bits: another ioctl. */
		_IOWR(KMIG_TYPE, KMIG_CMD_GET_INFO, struct kmig_info),
		_IO('x', KMIG_CMD_GET_INFO),
		KVM_GET_API_VERSION,
	};
	struct kmig_info info = KMIG_ARG(kmig_info);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		ASSERT_EQ(-ENOTTY, __kmig_ioctl(self->fd, cmds[i], &info))
			TH_LOG("ioctl 0x%lx", cmds[i]);
}

TEST_F(uapi, get_info)
{
	struct kmig_info info = KMIG_ARG(kmig_info);
	struct kmig_info other = KMIG_ARG(kmig_info);
	int fd2 = kmig_open();

	kmig_ioctl(self->fd, KMIG_GET_INFO, &info);
	ASSERT_EQ(2U, info.api_version) TH_LOG("KMIG_API_VERSION is 2");
	ASSERT_EQ(0ULL, info.features & ~(__u64)(KMIG_FEATURE_DIRTY_BITMAP |
						 KMIG_FEATURE_DIRTY_MANUAL |
						 KMIG_FEATURE_DIRTY_RING |
						 KMIG_FEATURE_ZSTD |
						 KMIG_FEATURE_AS_ID |
						 KMIG_FEATURE_DIRTY_MARK |
						 KMIG_FEATURE_FETCH |
						 KMIG_FEATURE_POSTCOPY_PROGRESS |
						 KMIG_FEATURE_ZSTD_RUN));
	ASSERT_NE(0ULL, info.features & KMIG_FEATURE_DIRTY_BITMAP);
	ASSERT_NE(0ULL, info.features & KMIG_FEATURE_ZSTD);
	ASSERT_NE(0ULL, info.features & KMIG_FEATURE_AS_ID);
	ASSERT_NE(0ULL, info.features & KMIG_FEATURE_DIRTY_MARK);
	ASSERT_NE(0ULL, info.features & KMIG_FEATURE_FETCH);
	ASSERT_NE(0ULL, info.features & KMIG_FEATURE_POSTCOPY_PROGRESS);
	ASSERT_LE(0, fd2);
	kmig_ioctl(fd2, KMIG_GET_INFO, &other);
	ASSERT_NE(info.session_id, other.session_id);
	/* Works attached too, and the id does not change. */
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	kmig_ioctl(self->fd, KMIG_GET_INFO, &other);
	ASSERT_EQ(info.session_id, other.session_id);
	close(fd2);
}

TEST_F(uapi, not_attached)
{
	struct kmig_get_memslots ms = KMIG_ARG(kmig_get_memslots);
	struct kmig_dirty_start start = KMIG_ARG(kmig_dirty_start);
	struct kmig_dirty_sync sync = KMIG_ARG(kmig_dirty_sync);
	struct kmig_dirty_stop stop = KMIG_ARG(kmig_dirty_stop);
	__u64 map;
	struct kmig_dirty_bitmap bm = KMIG_ARG(kmig_dirty_bitmap,
		.nr_pages = 64, .bitmap_uptr = (unsigned long)&map);
	struct kmig_dirty_range range = { .gpa = GUEST_DATA_GPA, .npages = 1 };
	struct kmig_fetch fetch = KMIG_ARG(kmig_fetch, .nr_ranges = 1,
		.ranges_uptr = (unsigned long)&range);

	kmig_ioctl_err(ENOTCONN, self->fd, KMIG_GET_MEMSLOTS, &ms);
	kmig_ioctl_err(ENOTCONN, self->fd, KMIG_DIRTY_START, &start);
	kmig_ioctl_err(ENOTCONN, self->fd, KMIG_DIRTY_SYNC, &sync);
	kmig_ioctl_err(ENOTCONN, self->fd, KMIG_DIRTY_GET_BITMAP, &bm);
	kmig_ioctl_err(ENOTCONN, self->fd, KMIG_DIRTY_STOP, &stop);
	kmig_ioctl_err(ENOTCONN, self->fd, KMIG_FETCH, &fetch);
}

TEST_F(uapi, attach_closed_fd)
{
	int fd = open("/dev/null", O_RDONLY);

	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(-EBADF, __kmig_attach(self->fd, fd, NULL));
	ASSERT_EQ(-EBADF, __kmig_attach(self->fd, -1, NULL));
	/* The session is still unattached and usable. */
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
}

TEST_F(uapi, attach_not_a_vm)
{
	struct guest_vm_opts opts = { .data_pages = 16, .nr_vcpus = 1 };
	struct guest_vm *with_vcpu = guest_vm_create(&opts);
	int null = open("/dev/null", O_RDWR);
	int memfd = memfd_create("not-a-vm", 0);

	ASSERT_LE(0, null);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(-EINVAL, __kmig_attach(self->fd, null, NULL));
	ASSERT_EQ(-EINVAL, __kmig_attach(self->fd, memfd, NULL));
	ASSERT_EQ(-EINVAL, __kmig_attach(self->fd, self->vm->kvm_fd, NULL))
		TH_LOG("/dev/kvm itself is not a VM");
	ASSERT_EQ(-EINVAL, __kmig_attach(self->fd, with_vcpu->vcpus[0].fd,
					 NULL)) TH_LOG("a vCPU fd");
	ASSERT_EQ(-EINVAL, __kmig_attach(self->fd, self->fd, NULL))
		TH_LOG("the session itself");
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	close(null);
	close(memfd);
	guest_vm_free(with_vcpu);
}

TEST_F(uapi, attach_twice)
{
	struct guest_vm_opts opts = { .data_pages = 16 };
	struct guest_vm *other = guest_vm_create(&opts);

	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(-EBUSY, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(-EBUSY, __kmig_attach(self->fd, other->fd, NULL));
	guest_vm_free(other);
}

TEST_F(uapi, attach_same_vm_two_sessions)
{
	int fd2 = kmig_open();

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(-EBUSY, __kmig_attach(fd2, self->vm->fd, NULL));
	close(fd2);
}

TEST_F(uapi, attach_outputs)
{
	struct kmig_attach_vm a;

	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, &a));
	ASSERT_EQ((__u32)KMIG_DIRTY_MODE_BITMAP, a.dirty_mode);
	ASSERT_EQ(3U, a.nr_memslots);	/* system, data, odd */
	ASSERT_EQ(self->vm->fd, a.vm_fd);
}

/* dirty_mode reflects how the VMM set the VM up. */
TEST(attach_dirty_mode)
{
	static const struct {
		enum guest_dirty_mode mode;
		__u32 want;
	} modes[] = {
		{ GUEST_DIRTY_BITMAP, KMIG_DIRTY_MODE_BITMAP },
		{ GUEST_DIRTY_MANUAL, KMIG_DIRTY_MODE_MANUAL },
		{ GUEST_DIRTY_MANUAL_INITSET, KMIG_DIRTY_MODE_MANUAL },
		{ GUEST_DIRTY_RING, KMIG_DIRTY_MODE_RING },
	};
	unsigned int i;
	const char *why;

	if (!kmig_available(&why))
		SKIP(return, "%s", why);
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		struct guest_vm_opts opts = {
			.mode = modes[i].mode, .data_pages = 64, .nr_vcpus = 1,
		};
		struct kmig_attach_vm a;
		struct guest_vm *vm;
		int fd;

		if (!guest_dirty_mode_supported(modes[i].mode, &why)) {
			TH_LOG("%s: %s", guest_dirty_mode_name(modes[i].mode), why);
			continue;
		}
		vm = guest_vm_create(&opts);
		fd = kmig_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, __kmig_attach(fd, vm->fd, &a));
		ASSERT_EQ(modes[i].want, a.dirty_mode)
			TH_LOG("%s VM", guest_dirty_mode_name(modes[i].mode));
		ASSERT_EQ(2U, a.nr_memslots);
		close(fd);
		guest_vm_free(vm);
	}
}

TEST_F(uapi, before_start)
{
	struct kmig_dirty_sync sync = KMIG_ARG(kmig_dirty_sync);
	struct kmig_dirty_stop stop = KMIG_ARG(kmig_dirty_stop);
	__u64 map;
	struct kmig_dirty_bitmap bm = KMIG_ARG(kmig_dirty_bitmap,
		.nr_pages = 64, .bitmap_uptr = (unsigned long)&map);
	struct kmig_dirty_range range = { .gpa = GUEST_DATA_GPA, .npages = 1 };
	__u8 page[GUEST_PAGE_SIZE];
	struct kmig_rec rec;
	struct kmig_fetch fetch = KMIG_ARG(kmig_fetch, .nr_ranges = 1,
		.ranges_uptr = (unsigned long)&range,
		.recs_uptr = (unsigned long)&rec,
		.data_uptr = (unsigned long)page, .data_len = sizeof(page));

	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	kmig_ioctl_err(EINVAL, self->fd, KMIG_DIRTY_SYNC, &sync);
	kmig_ioctl_err(EINVAL, self->fd, KMIG_DIRTY_GET_BITMAP, &bm);
	kmig_ioctl_err(EINVAL, self->fd, KMIG_DIRTY_STOP, &stop);
	kmig_ioctl_err(EINVAL, self->fd, KMIG_FETCH, &fetch);
}

TEST_F(uapi, start_outputs_and_restart)
{
	struct kmig_dirty_start start;
	__u64 total = GUEST_SYS_PAGES + DATA_PAGES + ODD_PAGES;

	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(0, __kmig_start(self->fd, &start));
	ASSERT_EQ(total, start.nr_pages);
	ASSERT_EQ(3U, start.nr_memslots);
	/* START again restarts; STOP ends it, and SYNC is refused after. */
	ASSERT_EQ(0, __kmig_start(self->fd, &start));
	ASSERT_EQ(total, start.nr_pages);
	ASSERT_EQ(0, __kmig_stop(self->fd));
	ASSERT_EQ(-EINVAL, __kmig_sync(self->fd, NULL));
	ASSERT_EQ(-EINVAL, __kmig_stop(self->fd));
	ASSERT_EQ(0, __kmig_start(self->fd, NULL));
	ASSERT_EQ(0, __kmig_sync(self->fd, NULL));
}

TEST(start_without_dirty_log)
{
	struct guest_vm_opts opts = { .data_pages = 64, .data_no_log = true };
	struct guest_vm *vm;
	const char *why;
	int fd;

	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SKIP(return, "%s", why);
	vm = guest_vm_create(&opts);
	fd = kmig_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __kmig_attach(fd, vm->fd, NULL));
	ASSERT_EQ(-ENODATA, __kmig_start(fd, NULL));
	ASSERT_EQ(-EINVAL, __kmig_sync(fd, NULL)) TH_LOG("not started");
	close(fd);
	guest_vm_free(vm);
}

/* Read-only memslots need no dirty logging: the guest cannot write them. */
TEST_F(uapi, start_with_readonly_slot)
{
	struct kmig_dirty_start start;

	guest_vm_add_slot(self->vm, ODD_SLOT + 1, GUEST_EXTRA_GPA(1), 64,
			  KVM_MEM_READONLY);
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(0, __kmig_start(self->fd, &start));
	ASSERT_EQ(4U, start.nr_memslots);
	ASSERT_EQ(GUEST_SYS_PAGES + DATA_PAGES + ODD_PAGES + 64,
		  start.nr_pages);
}

static int get_bitmap(int fd, __u16 as_id, __u16 slot, __u64 first, __u64 n)
{
	static __u64 map[BITMAP_WORDS(DATA_PAGES) + 2];

	return __kmig_get_bitmap(fd, as_id, slot, first, n, 0, map, NULL);
}

TEST_F(uapi, get_bitmap_range)
{
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(0, __kmig_start(self->fd, NULL));

	ASSERT_EQ(0, get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 0, DATA_PAGES));
	ASSERT_EQ(0, get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 64, 128));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 1, 64));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 63, 64));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 0, 0));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 0, 63))
		TH_LOG("not a multiple of 64 and not at the slot end");
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT,
				      DATA_PAGES, 64)) TH_LOG("past the end");
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT,
				      DATA_PAGES - 64, 128));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT,
				      1ULL << 63, 64));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, GUEST_DATA_SLOT,
				      -64ULL, 128)) TH_LOG("wraps around");

	/* A slot of 100 pages: the range may end with a partial word. */
	ASSERT_EQ(0, get_bitmap(self->fd, 0, ODD_SLOT, 0, ODD_PAGES));
	ASSERT_EQ(0, get_bitmap(self->fd, 0, ODD_SLOT, 64, ODD_PAGES - 64));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, ODD_SLOT, 64, 64));
	ASSERT_EQ(-EINVAL, get_bitmap(self->fd, 0, ODD_SLOT, 0, 64 + 35));

	ASSERT_EQ(-ENOENT, get_bitmap(self->fd, 0, 7, 0, 64));
	ASSERT_EQ(-ENOENT, get_bitmap(self->fd, 1, GUEST_DATA_SLOT, 0, 64))
		TH_LOG("address space 1 has no memslots");
}

TEST_F(uapi, get_bitmap_bad_buffer)
{
	long page = getpagesize();
	void *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
	ASSERT_EQ(0, __kmig_start(self->fd, NULL));
	ASSERT_EQ(-EFAULT, __kmig_get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 0,
					     64, 0, (__u64 *)1, NULL));
	ASSERT_EQ(-EFAULT, __kmig_get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 0,
					     64, 0, NULL, NULL));
	ASSERT_EQ(-EFAULT, __kmig_get_bitmap(self->fd, 0, GUEST_DATA_SLOT, 0,
					     64, KMIG_BITMAP_CLEAR, ro, NULL))
		TH_LOG("read-only buffer");
	/* A failed copy must not have consumed the pages (bulk: all set). */
	{
		__u64 map[BITMAP_WORDS(DATA_PAGES)], dirty;

		ASSERT_EQ(0, __kmig_get_bitmap(self->fd, 0, GUEST_DATA_SLOT,
					       0, DATA_PAGES, 0, map, &dirty));
		ASSERT_EQ((__u64)DATA_PAGES, dirty);
	}
	munmap(ro, page);
}

TEST_F(uapi, get_memslots)
{
	struct kmig_memslot slots[GUEST_MAX_SLOTS];
	struct guest_slot *sys = guest_vm_slot(self->vm, GUEST_SYS_SLOT);
	struct guest_slot *data = guest_vm_slot(self->vm, GUEST_DATA_SLOT);
	struct guest_slot *odd = guest_vm_slot(self->vm, ODD_SLOT);
	struct guest_slot *want[] = { sys, data, odd }; /* by (as_id, gpa) */
	__u64 gen, gen2;
	__u32 nr, i;

	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));

	nr = 0;
	ASSERT_EQ(-ENOSPC, __kmig_get_memslots(self->fd, NULL, &nr, NULL));
	ASSERT_EQ(3U, nr) TH_LOG("nr_slots must say how many are needed");
	nr = 2;
	ASSERT_EQ(-ENOSPC, __kmig_get_memslots(self->fd, slots, &nr, NULL));
	ASSERT_EQ(3U, nr);
	nr = 3;
	ASSERT_EQ(-EFAULT, __kmig_get_memslots(self->fd, (void *)1, &nr, NULL));

	nr = GUEST_MAX_SLOTS;
	memset(slots, 0xff, sizeof(slots));
	ASSERT_EQ(0, __kmig_get_memslots(self->fd, slots, &nr, &gen));
	ASSERT_EQ(3U, nr);
	for (i = 0; i < nr; i++) {
		ASSERT_EQ(0U, slots[i].as_id);
		ASSERT_EQ(want[i]->id, slots[i].id);
		ASSERT_EQ(want[i]->flags, slots[i].flags);
		ASSERT_EQ(want[i]->gpa, slots[i].gpa);
		ASSERT_EQ(want[i]->npages * GUEST_PAGE_SIZE, slots[i].size);
		ASSERT_EQ((unsigned long)want[i]->hva, slots[i].hva);
	}

	/* The generation moves when the VMM edits its memslots. */
	ASSERT_EQ(0, guest_vm_del_slot(self->vm, ODD_SLOT));
	nr = GUEST_MAX_SLOTS;
	ASSERT_EQ(0, __kmig_get_memslots(self->fd, slots, &nr, &gen2));
	ASSERT_EQ(2U, nr);
	ASSERT_NE(gen, gen2);
}

/* KMIG_SEND_SETUP on a fresh session attached to @vm; 0 or -errno. */
static int send_setup_once(struct guest_vm *vm, struct kmig_send_setup *s)
{
	int fd = kmig_open(), ret;

	if (fd < 0)
		return fd;
	ret = __kmig_attach(fd, vm->fd, NULL);
	if (!ret)
		ret = __kmig_ioctl(fd, KMIG_SEND_SETUP, s);
	close(fd);
	return ret;
}

#define SETUP_ZSTD(...)	KMIG_ARG(kmig_send_setup, .nr_workers = 1,	\
				 .ring_entries = 16, ##__VA_ARGS__)

TEST_F(uapi, send_setup_zstd)
{
	/* The struct as it was before the level: still accepted, raw pages. */
	const __u32 v1 = offsetof(struct kmig_send_setup, zstd_level);
	struct kmig_send_setup s;
	struct {
		struct kmig_send_setup s;
		__u64 tail;
	} big;

	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD);
	ASSERT_EQ(0, send_setup_once(self->vm, &s));
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD, .zstd_level = KMIG_ZSTD_LEVEL_MAX);
	ASSERT_EQ(0, send_setup_once(self->vm, &s));
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD, .zstd_level = 1);
	ASSERT_EQ(0, send_setup_once(self->vm, &s));
	/* Old size: the kernel neither reads nor writes the new fields. */
	s = SETUP_ZSTD(.zstd_level = 0xdead, .__reserved = 7);
	s.size = v1;
	ASSERT_EQ(0, send_setup_once(self->vm, &s));
	ASSERT_EQ(0xdeadU, s.zstd_level);
	ASSERT_EQ(7U, s.__reserved);
	ASSERT_NE(0ULL, s.ring_bytes);

	/* Bad levels, and a level without the flag. */
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD,
		       .zstd_level = KMIG_ZSTD_LEVEL_MAX + 1);
	ASSERT_EQ(-EINVAL, send_setup_once(self->vm, &s));
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD, .zstd_level = 0xffffffff);
	ASSERT_EQ(-EINVAL, send_setup_once(self->vm, &s));
	s = SETUP_ZSTD(.zstd_level = 3);
	ASSERT_EQ(-EINVAL, send_setup_once(self->vm, &s));
	/* Unknown flags and the reserved field. */
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD | 0x4);
	ASSERT_EQ(-EOPNOTSUPP, send_setup_once(self->vm, &s));
	/* Runs: with KMIG_SEND_F_ZSTD only. */
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD | KMIG_SEND_F_ZSTD_RUN);
	ASSERT_EQ(0, send_setup_once(self->vm, &s));
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD_RUN);
	ASSERT_EQ(-EINVAL, send_setup_once(self->vm, &s));
	s = SETUP_ZSTD(.flags = 0x80000000);
	ASSERT_EQ(-EOPNOTSUPP, send_setup_once(self->vm, &s));
	s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD, .__reserved = 1);
	ASSERT_EQ(-EOPNOTSUPP, send_setup_once(self->vm, &s));
	/* A newer binary's tail: zero accepted, non-zero refused. */
	memset(&big, 0, sizeof(big));
	big.s = SETUP_ZSTD(.flags = KMIG_SEND_F_ZSTD);
	big.s.size = sizeof(big);
	ASSERT_EQ(0, send_setup_once(self->vm, &big.s));
	big.tail = 1;
	ASSERT_EQ(-E2BIG, send_setup_once(self->vm, &big.s));
	/* Sizes below the first version. */
	s = SETUP_ZSTD();
	s.size = v1 - 1;
	ASSERT_EQ(-EINVAL, send_setup_once(self->vm, &s));
}

/*
 * Hand-made zstd frames (RFC 8878), so the test needs no libzstd: magic,
 * a frame header, one RLE block (@n copies of @byte, the last block).
 * @fcs: the content size the header claims; -1: none (a window
 * descriptor instead).
 */
static size_t zstd_rle_frame(__u8 *out, __u32 n, __u8 byte, long long fcs)
{
	__u32 bh = 1 | 1 << 1 | n << 3;	/* last, RLE, size */
	size_t len = 0;

	out[len++] = 0x28;
	out[len++] = 0xb5;
	out[len++] = 0x2f;
	out[len++] = 0xfd;
	if (fcs < 0) {
		out[len++] = 0x00;		/* no FCS, not single segment */
		out[len++] = 0x10;		/* window: 1 << (10 + 2) bytes */
	} else if (fcs < 256) {
		out[len++] = 0x20;		/* single segment, 1-byte FCS */
		out[len++] = fcs;
	} else {
		out[len++] = 0x60;		/* single segment, 2-byte FCS */
		out[len++] = (fcs - 256) & 0xff;
		out[len++] = (fcs - 256) >> 8;
	}
	out[len++] = bh & 0xff;
	out[len++] = (bh >> 8) & 0xff;
	out[len++] = bh >> 16;
	out[len++] = byte;
	return len;
}

static int load_one(int fd, const struct kmig_rec *r, __u32 n,
		    const void *data, __u64 len, struct kmig_load *out)
{
	*out = KMIG_ARG(kmig_load, .nr_recs = n,
			.recs_uptr = (unsigned long)r,
			.data_uptr = (unsigned long)data, .data_len = len);
	return __kmig_ioctl(fd, KMIG_LOAD, out);
}

static bool page_is(const __u8 *p, __u8 byte)
{
	__u32 i;

	for (i = 0; i < GUEST_PAGE_SIZE; i++)
		if (p[i] != byte)
			return false;
	return true;
}

#define ZPAGE(p)	(GUEST_DATA_GPA + (__u64)(p) * GUEST_PAGE_SIZE)

TEST_F(uapi, load_zstd_records)
{
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	__u8 good[64], buf[GUEST_PAGE_SIZE * 2], raw[GUEST_PAGE_SIZE];
	struct kmig_rec r = { .gpa = ZPAGE(5), .npages = 1,
			      .kind = KMIG_REC_ZSTD };
	struct kmig_rec batch[3] = {
		{ .gpa = ZPAGE(2), .npages = 1, .kind = KMIG_REC_PAGE,
		  .len = GUEST_PAGE_SIZE },
		{ .gpa = ZPAGE(3), .npages = 1, .kind = KMIG_REC_ZSTD },
		{ .gpa = ZPAGE(4), .npages = 1, .kind = KMIG_REC_ZSTD },
	};
	struct kmig_load out;
	struct {
		const char *what;
		__u16 len;		/* the record's */
		size_t bytes;		/* of @buf passed */
		__u32 npages;
	} bad[8];
	size_t glen, n = 0, i;

	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));

	/* A good frame: page 5 becomes 0xab, written through the kernel. */
	glen = zstd_rle_frame(good, GUEST_PAGE_SIZE, 0xab, GUEST_PAGE_SIZE);
	r.len = glen;
	ASSERT_EQ(0, load_one(self->fd, &r, 1, good, glen, &out));
	ASSERT_EQ(1ULL, out.done);
	ASSERT_EQ(1ULL, out.pages);
	ASSERT_TRUE(page_is(ram + 5 * GUEST_PAGE_SIZE, 0xab));

	/*
	 * Hostile records aimed at page 5 (which must keep its 0xab, not be
	 * half overwritten) and at page 9 (which must stay zero).
	 */
	bad[n++] = (typeof(bad[0])){ "len 0", 0, 0, 1 };
	bad[n++] = (typeof(bad[0])){ "len 4096", GUEST_PAGE_SIZE,
				     GUEST_PAGE_SIZE, 1 };
	bad[n++] = (typeof(bad[0])){ "len 65535", 65535, sizeof(buf), 1 };
	bad[n++] = (typeof(bad[0])){ "garbage", 200, 200, 1 };
	bad[n++] = (typeof(bad[0])){ "decompresses to 100 bytes", 0, 0, 1 };
	bad[n++] = (typeof(bad[0])){ "decompresses to 8192 bytes", 0, 0, 1 };
	bad[n++] = (typeof(bad[0])){ "header says 4096, block 100", 0, 0, 1 };
	bad[n++] = (typeof(bad[0])){ "no size, block 100", 0, 0, 1 };

	for (i = 0; i < n; i++) {
		__u64 target;

		memset(buf, 0x5a, sizeof(buf));
		switch (i) {
		case 4:
			bad[i].len = bad[i].bytes = zstd_rle_frame(buf, 100, 0xcd, 100);
			break;
		case 5:
			bad[i].len = bad[i].bytes =
				zstd_rle_frame(buf, 2 * GUEST_PAGE_SIZE, 0xcd,
					       2 * GUEST_PAGE_SIZE);
			break;
		case 6:
			bad[i].len = bad[i].bytes =
				zstd_rle_frame(buf, 100, 0xcd, GUEST_PAGE_SIZE);
			break;
		case 7:
			bad[i].len = bad[i].bytes = zstd_rle_frame(buf, 100, 0xcd, -1);
			break;
		}
		for (target = 5; target <= 9; target += 4) {
			struct kmig_rec b = { .gpa = ZPAGE(target),
					      .npages = bad[i].npages,
					      .kind = KMIG_REC_ZSTD,
					      .len = bad[i].len };

			EXPECT_EQ(-EINVAL, load_one(self->fd, &b, 1, buf,
						    bad[i].bytes, &out))
				TH_LOG("%s", bad[i].what);
			EXPECT_EQ(0ULL, out.done) TH_LOG("%s", bad[i].what);
			EXPECT_EQ(0ULL, out.pages) TH_LOG("%s", bad[i].what);
		}
		ASSERT_TRUE(page_is(ram + 5 * GUEST_PAGE_SIZE, 0xab))
			TH_LOG("%s: page 5 changed", bad[i].what);
		ASSERT_TRUE(page_is(ram + 9 * GUEST_PAGE_SIZE, 0))
			TH_LOG("%s: page 9 changed", bad[i].what);
	}

	/* A good frame in a bad record: two pages, or data cut short. */
	r.npages = 2;
	EXPECT_EQ(-EINVAL, load_one(self->fd, &r, 1, good, glen, &out));
	r.npages = 1;
	EXPECT_EQ(-EINVAL, load_one(self->fd, &r, 1, good, glen - 1, &out));
	EXPECT_EQ(-EFAULT, load_one(self->fd, &r, 1, (void *)8, glen, &out));

	/* In a batch: the good records before the bad one are applied. */
	memset(raw, 0x11, sizeof(raw));
	memcpy(buf, raw, sizeof(raw));
	batch[1].len = zstd_rle_frame(buf + GUEST_PAGE_SIZE, GUEST_PAGE_SIZE,
				      0x22, GUEST_PAGE_SIZE);
	/* Page 4: a frame that decompresses to 100 bytes. */
	batch[2].len = zstd_rle_frame(buf + GUEST_PAGE_SIZE + batch[1].len,
				      100, 0x33, 100);
	EXPECT_EQ(-EINVAL, load_one(self->fd, batch, 3, buf,
				    GUEST_PAGE_SIZE + batch[1].len +
				    batch[2].len, &out));
	EXPECT_EQ(2ULL, out.done);
	EXPECT_EQ(2ULL, out.pages);
	EXPECT_TRUE(page_is(ram + 2 * GUEST_PAGE_SIZE, 0x11));
	EXPECT_TRUE(page_is(ram + 3 * GUEST_PAGE_SIZE, 0x22));
	EXPECT_TRUE(page_is(ram + 4 * GUEST_PAGE_SIZE, 0));

	/* A zero record after a zstd page clears it, as after a raw one. */
	r.kind = KMIG_REC_ZERO;
	r.len = 0;
	ASSERT_EQ(0, load_one(self->fd, &r, 1, NULL, 0, &out));
	EXPECT_EQ(1ULL, out.zeroed);
	EXPECT_TRUE(page_is(ram + 5 * GUEST_PAGE_SIZE, 0));

	/*
	 * KMIG_FEATURE_ZSTD_RUN: one frame of 2 pages lands on pages 10-11;
	 * one of KMIG_ZSTD_RUN_MAX + 1 pages (a frame that says so) does not.
	 */
	r = (struct kmig_rec){ .gpa = ZPAGE(10), .npages = 2,
			       .kind = KMIG_REC_ZSTD };
	r.len = zstd_rle_frame(buf, 2 * GUEST_PAGE_SIZE, 0xee,
			       2 * GUEST_PAGE_SIZE);
	ASSERT_EQ(0, load_one(self->fd, &r, 1, buf, r.len, &out));
	EXPECT_EQ(1ULL, out.done);
	EXPECT_EQ(2ULL, out.pages);
	EXPECT_TRUE(page_is(ram + 10 * GUEST_PAGE_SIZE, 0xee));
	EXPECT_TRUE(page_is(ram + 11 * GUEST_PAGE_SIZE, 0xee));
	r.gpa = ZPAGE(12);
	r.npages = KMIG_ZSTD_RUN_MAX + 1;
	r.len = zstd_rle_frame(buf, r.npages * GUEST_PAGE_SIZE, 0xee,
			       r.npages * GUEST_PAGE_SIZE);
	EXPECT_EQ(-EINVAL, load_one(self->fd, &r, 1, buf, r.len, &out));
	EXPECT_EQ(0ULL, out.pages);
	EXPECT_TRUE(page_is(ram + 12 * GUEST_PAGE_SIZE, 0));
}

TEST_HARNESS_MAIN
