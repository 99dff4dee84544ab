// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes of sessions and the VMs they attach to: either fd may close
 * first, the VMM may die while attached, and no struct kvm may leak. KVM's
 * debugfs directory "<pid>-<vm fd>" exists exactly as long as the VM does,
 * so it shows whether a session still holds (or leaked) its reference.
 *
 * A VM whose fd was closed while a session keeps it alive still owns its
 * debugfs name: the tests never create a VM while such a VM exists, or the
 * new one could get the same fd number and no directory.
 */
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig_track.h"
#include "kvm_guest.h"
#include "page_sets.h"
#include "test_util.h"

#define DATA_PAGES	1024
#define GONE_MS		2000	/* KVM frees the VM on the last fput */
#define STAYS_MS	200	/* how long we watch a VM that must stay */

/* Ends the test as skipped (see SETUP_SKIP) when something is missing. */
static void require(struct __test_metadata *_metadata, bool debugfs)
{
	const char *why;

	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SETUP_SKIP("%s", why);
	if (debugfs && !guest_debugfs_ready())
		SETUP_SKIP("no KVM debugfs to watch VM lifetimes");
}

static void vm_dir(char *buf, size_t len, struct guest_vm *vm)
{
	guest_debugfs_vm_dir(buf, len, getpid(), vm->fd);
}

/* Takes the bulk round of a freshly started session. */
static void take_bulk(struct __test_metadata *_metadata, struct kmig_tracker *t)
{
	__u64 map[BITMAP_WORDS(DATA_PAGES)], sys[BITMAP_WORDS(GUEST_SYS_PAGES)];

	ASSERT_EQ(0, __kmig_sync(t->fd, NULL));
	ASSERT_EQ(0, kmig_track_bitmap(t, GUEST_DATA_SLOT, KMIG_BITMAP_CLEAR,
				       map, NULL));
	ASSERT_EQ(0, kmig_track_bitmap(t, GUEST_SYS_SLOT, KMIG_BITMAP_CLEAR,
				       sys, NULL));
}

/* SYNC, take the data slot, and expect exactly @want. */
static void check_round(struct __test_metadata *_metadata,
			struct kmig_tracker *t, const struct page_set *want)
{
	char why[256];
	__u64 taken;
	int err;

	ASSERT_EQ(0, __kmig_sync(t->fd, NULL));
	ASSERT_EQ(0ULL, kmig_track_take_check(t, GUEST_DATA_SLOT, want, &taken,
					      why, sizeof(why), &err))
		TH_LOG("%s", why);
	ASSERT_EQ(0, err);
}

FIXTURE(life) {
	struct guest_vm *vm;
	struct kmig_tracker t;
	char dir[128];		/* the VM's debugfs directory */
	struct page_set a;
};

FIXTURE_VARIANT(life) {
	enum guest_dirty_mode mode;
};

FIXTURE_VARIANT_ADD(life, bitmap) { .mode = GUEST_DIRTY_BITMAP };
FIXTURE_VARIANT_ADD(life, ring) { .mode = GUEST_DIRTY_RING };

FIXTURE_SETUP(life)
{
	struct guest_vm_opts opts = {
		.mode = variant->mode, .data_pages = DATA_PAGES, .nr_vcpus = 1,
	};
	const char *why;

	self->t.fd = -1;
	require(_metadata, true);
	if (!guest_dirty_mode_supported(variant->mode, &why))
		SETUP_SKIP("%s", why);
	self->vm = guest_vm_create(&opts);
	vm_dir(self->dir, sizeof(self->dir), self->vm);
	ASSERT_TRUE(guest_path_exists_after(self->dir, true, 0))
		TH_LOG("%s missing", self->dir);
	ASSERT_EQ(0, kmig_track_start(&self->t, self->vm));
	take_bulk(_metadata, &self->t);
	/* Fewer pages than a ring holds: no ring-full exit after a close. */
	page_set_spread(&self->a, DATA_PAGES, 33, 0);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT,
			       self->a.pages, self->a.n, 1);
}

FIXTURE_TEARDOWN(life)
{
	kmig_track_close(&self->t);
	guest_vm_free(self->vm);
	page_set_free(&self->a);
}

/* The VMM closes its fds first: the session keeps the VM and keeps working. */
TEST_F(life, vm_fd_closed_first)
{
	struct kmig_memslot slots[GUEST_MAX_SLOTS];
	__u32 nr = GUEST_MAX_SLOTS;

	guest_vm_close_fds(self->vm);
	ASSERT_TRUE(guest_path_exists_after(self->dir, false, STAYS_MS))
		TH_LOG("VM freed while a session holds it");
	/* The pages written before the close are still there to harvest. */
	check_round(_metadata, &self->t, &self->a);
	ASSERT_EQ(0, __kmig_get_memslots(self->t.fd, slots, &nr, NULL));
	ASSERT_EQ(2U, nr);
	kmig_track_close(&self->t);
	ASSERT_FALSE(guest_path_exists_after(self->dir, false, GONE_MS))
		TH_LOG("VM leaked: %s still there after both fds closed",
		       self->dir);
}

/* The session closes first: the VM is the VMM's again, unharmed. */
TEST_F(life, session_closed_first)
{
	struct page_set b;
	__u64 map[BITMAP_WORDS(DATA_PAGES)] = { 0 };
	char why[256];

	kmig_track_close(&self->t);
	self->vm->ring_full = NULL;
	page_set_stride(&b, DATA_PAGES, 50, 7);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, b.pages,
			       b.n, 2);
	/*
	 * In bitmap mode KVM's own log still has everything since the last
	 * sync. (kmig consumed ring entries, so a ring reader here would not
	 * know where KVM's ring resumes.)
	 */
	if (variant->mode == GUEST_DIRTY_BITMAP) {
		struct page_set ab;
		__u64 *want;

		page_set_union(&ab, &self->a, &b);
		want = page_set_bitmap(&ab, DATA_PAGES);
		guest_kvm_harvest(self->vm, GUEST_DATA_SLOT, map, NULL);
		ASSERT_EQ(0ULL, bitmap_diff64(want, map, DATA_PAGES, why,
					      sizeof(why))) TH_LOG("%s", why);
		free(want);
		page_set_free(&ab);
	}
	ASSERT_TRUE(guest_path_exists_after(self->dir, true, 0));
	guest_vm_close_fds(self->vm);
	ASSERT_FALSE(guest_path_exists_after(self->dir, false, GONE_MS))
		TH_LOG("VM leaked after the session closed first");
	page_set_free(&b);
}

/* The VMM is killed while attached; the session reports it and lets go. */
TEST(vmm_killed_while_attached)
{
	struct kmig_info info = KMIG_ARG(kmig_info);
	struct guest_child child;
	char dir[128];
	int fd;

	require(_metadata, true);
	guest_child_spawn(&child, DATA_PAGES);
	guest_debugfs_vm_dir(dir, sizeof(dir), child.pid, child.child_vm_fd);
	ASSERT_TRUE(guest_path_exists_after(dir, true, 0)) TH_LOG("%s", dir);
	fd = kmig_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __kmig_attach(fd, child.vm_fd, NULL));
	ASSERT_EQ(0, __kmig_start(fd, NULL));
	close(child.vm_fd);	/* only the child and the session hold it */
	ASSERT_EQ(0, __kmig_sync(fd, NULL));
	usleep(50 * 1000);	/* let the guest dirty pages while tracked */
	ASSERT_EQ(0, __kmig_sync(fd, NULL));

	guest_child_kill(&child);
	ASSERT_EQ(-ESRCH, __kmig_sync(fd, NULL));
	ASSERT_EQ(-ESRCH, __kmig_start(fd, NULL));
	kmig_ioctl(fd, KMIG_GET_INFO, &info);
	ASSERT_TRUE(guest_path_exists_after(dir, false, STAYS_MS))
		TH_LOG("VM freed while a session holds it");
	close(fd);
	ASSERT_FALSE(guest_path_exists_after(dir, false, GONE_MS))
		TH_LOG("VM of the killed VMM leaked: %s", dir);
}

TEST(attach_after_vmm_died)
{
	struct guest_child child;
	char dir[128];
	int fd;

	require(_metadata, true);
	guest_child_spawn(&child, DATA_PAGES);
	guest_debugfs_vm_dir(dir, sizeof(dir), child.pid, child.child_vm_fd);
	guest_child_kill(&child);
	fd = kmig_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(-ESRCH, __kmig_attach(fd, child.vm_fd, NULL));
	close(child.vm_fd);
	ASSERT_FALSE(guest_path_exists_after(dir, false, GONE_MS))
		TH_LOG("failed attach leaked the VM: %s", dir);
	/* The session is still unattached and usable. */
	ASSERT_EQ(-ENOTCONN, __kmig_sync(fd, NULL));
	close(fd);
}

TEST(two_sessions_two_vms)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	struct kmig_tracker t1 = { .fd = -1 }, t2 = { .fd = -1 };
	struct guest_vm *vm1, *vm2;
	struct page_set a, b, none = { 0 };

	require(_metadata, false);
	vm1 = guest_vm_create(&opts);
	vm2 = guest_vm_create(&opts);
	ASSERT_EQ(0, kmig_track_start(&t1, vm1));
	ASSERT_EQ(0, kmig_track_start(&t2, vm2));
	take_bulk(_metadata, &t1);
	take_bulk(_metadata, &t2);
	page_set_spread(&a, DATA_PAGES, 40, 3);
	page_set_stride(&b, DATA_PAGES, 29, 11);
	guest_vcpu_write_pages(&vm1->vcpus[0], GUEST_DATA_SLOT, a.pages, a.n, 1);
	guest_vcpu_write_pages(&vm2->vcpus[0], GUEST_DATA_SLOT, b.pages, b.n, 1);
	check_round(_metadata, &t1, &a);
	check_round(_metadata, &t2, &b);
	guest_vcpu_write_pages(&vm2->vcpus[0], GUEST_DATA_SLOT, a.pages, a.n, 2);
	check_round(_metadata, &t1, &none);
	check_round(_metadata, &t2, &a);
	kmig_track_close(&t1);
	kmig_track_close(&t2);
	guest_vm_free(vm1);
	guest_vm_free(vm2);
	page_set_free(&a);
	page_set_free(&b);
}

TEST(second_session_after_first_closes)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	struct kmig_tracker t = { .fd = -1 };
	struct page_set a;
	struct guest_vm *vm;
	int fd1, fd2;

	require(_metadata, false);
	vm = guest_vm_create(&opts);
	fd1 = kmig_open();
	fd2 = kmig_open();
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, __kmig_attach(fd1, vm->fd, NULL));
	ASSERT_EQ(0, __kmig_start(fd1, NULL));
	ASSERT_EQ(-EBUSY, __kmig_attach(fd2, vm->fd, NULL));
	close(fd1);
	close(fd2);
	/* Attach again from a new session; it tracks from a fresh bulk round. */
	ASSERT_EQ(0, kmig_track_start(&t, vm));
	take_bulk(_metadata, &t);
	page_set_spread(&a, DATA_PAGES, 17, 0);
	guest_vcpu_write_pages(&vm->vcpus[0], GUEST_DATA_SLOT, a.pages, a.n, 1);
	check_round(_metadata, &t, &a);
	kmig_track_close(&t);
	guest_vm_free(vm);
	page_set_free(&a);
}

/* Long loops: fixture only for TEST_F_TIMEOUT (6.1 has no TEST_TIMEOUT). */
FIXTURE(cycles) {
	int unused;
};

FIXTURE_SETUP(cycles)
{
}

FIXTURE_TEARDOWN(cycles)
{
}

/* Sessions come and go on one VM; each one attaches, tracks and lets go. */
TEST_F_TIMEOUT(cycles, many_sessions, 300)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	struct kmig_tracker t = { .fd = -1 };
	struct page_set a;
	struct guest_vm *vm;
	char dir[128];
	int i;

	require(_metadata, true);
	vm = guest_vm_create(&opts);
	vm_dir(dir, sizeof(dir), vm);
	page_set_stride(&a, DATA_PAGES, 101, 0);
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, kmig_track_start(&t, vm)) TH_LOG("cycle %d", i);
		take_bulk(_metadata, &t);
		if (i % 20 == 0) {
			guest_vcpu_write_pages(&vm->vcpus[0], GUEST_DATA_SLOT,
					       a.pages, a.n, i);
			check_round(_metadata, &t, &a);
		}
		kmig_track_close(&t);
	}
	guest_vm_close_fds(vm);
	ASSERT_FALSE(guest_path_exists_after(dir, false, GONE_MS))
		TH_LOG("VM leaked after 200 sessions");
	guest_vm_free(vm);
	page_set_free(&a);
}

/* Fresh VMs, each tracked and closed: none may outlive its fds. */
TEST_F_TIMEOUT(cycles, many_vms, 300)
{
	struct guest_vm_opts opts = { .data_pages = 64 };
	int i;

	require(_metadata, true);
	for (i = 0; i < 20; i++) {
		struct kmig_tracker t = { .fd = -1 };
		struct guest_vm *vm = guest_vm_create(&opts);
		char dir[128];

		vm_dir(dir, sizeof(dir), vm);
		ASSERT_EQ(0, kmig_track_start(&t, vm));
		ASSERT_EQ(0, __kmig_sync(t.fd, NULL));
		/* Alternate which side lets go first. */
		if (i % 2) {
			guest_vm_close_fds(vm);
			kmig_track_close(&t);
		} else {
			kmig_track_close(&t);
			guest_vm_close_fds(vm);
		}
		ASSERT_FALSE(guest_path_exists_after(dir, false, GONE_MS))
			TH_LOG("cycle %d: %s leaked", i, dir);
		guest_vm_free(vm);
	}
}

TEST_HARNESS_MAIN
