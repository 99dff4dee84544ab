// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching to a KVM VM: the file reference, the one-session-per-VM rule,
 * memslot snapshots, and the worker that runs KVM's own dirty-log ioctls in
 * the VMM's mm.
 */
#include <linux/file.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/mman.h>

#include "kmig.h"

/* VMs attached to some session: harvesting is destructive, so one each. */
static DEFINE_MUTEX(kmig_vms_lock);
static LIST_HEAD(kmig_vms);

bool kmig_vm_alive(struct kmig_vm *vm)
{
	return atomic_read(&vm->kvm->mm->mm_users) > 0;
}

u32 kmig_vm_dirty_mode(struct kmig_vm *vm)
{
	struct kvm *kvm = vm->kvm;

	if (READ_ONCE(kvm->dirty_ring_size))
		return KMIG_DIRTY_MODE_RING;
	if (READ_ONCE(kvm->manual_dirty_log_protect))
		return KMIG_DIRTY_MODE_MANUAL;
	return KMIG_DIRTY_MODE_BITMAP;
}

/* Internal memslots (x86 APIC access page, TSS, ...) are KVM's own. */
static bool kmig_user_slot(struct kvm_memory_slot *ms)
{
	return ms->id < KVM_USER_MEM_SLOTS;
}

static u64 kmig_generation_locked(struct kvm *kvm)
{
	u64 gen = 0;
	int as;

	/* KVM bumps one VM-wide counter into whichever space changed. */
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
		gen = max(gen, __kvm_memslots(kvm, as)->generation &
			       ~KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	return gen;
}

u64 kmig_vm_generation(struct kmig_vm *vm)
{
	struct kvm *kvm = vm->kvm;
	u64 gen;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	gen = kmig_generation_locked(kvm);
	srcu_read_unlock(&kvm->srcu, idx);
	return gen;
}

static u32 kmig_count_slots_locked(struct kvm *kvm)
{
	struct kvm_memory_slot *ms;
	u32 nr = 0;
	int as, bkt;

	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
		kvm_for_each_memslot(ms, bkt, __kvm_memslots(kvm, as))
			nr += kmig_user_slot(ms);
	return nr;
}

u32 kmig_vm_count_slots(struct kmig_vm *vm)
{
	struct kvm *kvm = vm->kvm;
	u32 nr;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	nr = kmig_count_slots_locked(kvm);
	srcu_read_unlock(&kvm->srcu, idx);
	return nr;
}

static int kmig_slot_cmp(const void *a, const void *b)
{
	const struct kmig_slot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	if (x->base_gfn != y->base_gfn)
		return x->base_gfn < y->base_gfn ? -1 : 1;
	return 0;
}

/* Returns the VM's user memslots now, without bitmaps. */
struct kmig_slots *kmig_vm_snapshot_slots(struct kmig_vm *vm)
{
	struct kvm *kvm = vm->kvm;
	struct kvm_memory_slot *ms;
	struct kmig_slots *slots;
	int as, bkt, idx;
	u32 nr, i = 0;

	/* SRCU readers may sleep, so the allocation can sit inside. */
	idx = srcu_read_lock(&kvm->srcu);
	nr = kmig_count_slots_locked(kvm);
	slots = kvzalloc(struct_size(slots, slot, nr), GFP_KERNEL_ACCOUNT);
	if (!slots) {
		srcu_read_unlock(&kvm->srcu, idx);
		return ERR_PTR(-ENOMEM);
	}
	slots->generation = kmig_generation_locked(kvm);
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		kvm_for_each_memslot(ms, bkt, __kvm_memslots(kvm, as)) {
			struct kmig_slot *k = &slots->slot[i];

			if (!kmig_user_slot(ms))
				continue;
			k->as_id = ms->as_id;
			k->id = ms->id;
			k->flags = ms->flags;
			k->base_gfn = ms->base_gfn;
			k->npages = ms->npages;
			k->hva = ms->userspace_addr;
			i++;
		}
	}
	srcu_read_unlock(&kvm->srcu, idx);

	slots->nr = i;
	sort(slots->slot, slots->nr, sizeof(slots->slot[0]), kmig_slot_cmp,
	     NULL);
	return slots;
}

struct kmig_vm_work {
	struct kthread_work work;
	struct kmig_vm *vm;
	int (*fn)(struct kmig_vm *vm, void *arg);
	void *arg;
	int ret;
};

static void kmig_vm_work_fn(struct kthread_work *work)
{
	struct kmig_vm_work *w = container_of(work, struct kmig_vm_work, work);
	struct mm_struct *mm = w->vm->kvm->mm;

	/* The VMM exited: its address space, and KVM's log with it, is gone. */
	if (!mmget_not_zero(mm)) {
		w->ret = -ESRCH;
		return;
	}
	kthread_use_mm(mm);
	w->ret = w->fn(w->vm, w->arg);
	kthread_unuse_mm(mm);
	mmput(mm);
}

/* Runs @fn on the VM's worker with the VMM's mm adopted; waits for it. */
int kmig_vm_call(struct kmig_vm *vm, int (*fn)(struct kmig_vm *, void *),
		 void *arg)
{
	struct kmig_vm_work w = { .vm = vm, .fn = fn, .arg = arg };

	kthread_init_work(&w.work, kmig_vm_work_fn);
	kthread_queue_work(vm->worker, &w.work);
	kthread_flush_work(&w.work);
	return w.ret;
}

/* Worker context only: a KVM VM ioctl, as if the VMM had issued it. */
long kmig_vm_ioctl(struct kmig_vm *vm, unsigned int cmd, unsigned long arg)
{
	return vm->file->f_op->unlocked_ioctl(vm->file, cmd, arg);
}

/*
 * Worker context only: makes the scratch mapping in the VMM's mm at least
 * @len bytes. KVM copies ioctl arguments and bitmaps from and to there.
 */
int kmig_vm_scratch(struct kmig_vm *vm, size_t len)
{
	unsigned long addr;

	len = PAGE_ALIGN(len);
	if (vm->scratch_len >= len)
		return 0;
	if (vm->scratch)
		vm_munmap(vm->scratch, vm->scratch_len);
	vm->scratch = 0;
	vm->scratch_len = 0;

	addr = vm_mmap(NULL, 0, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, 0);
	if (IS_ERR_VALUE(addr))
		return (int)addr;
	vm->scratch = addr;
	vm->scratch_len = len;
	return 0;
}

static int kmig_vm_unmap_scratch(struct kmig_vm *vm, void *unused)
{
	vm_munmap(vm->scratch, vm->scratch_len);
	return 0;
}

static struct kmig_vm *kmig_vm_find_locked(struct kvm *kvm)
{
	struct kmig_vm *vm;

	lockdep_assert_held(&kmig_vms_lock);
	list_for_each_entry(vm, &kmig_vms, node)
		if (vm->kvm == kvm)
			return vm;
	return NULL;
}

static void kmig_vm_free(struct kmig_vm *vm)
{
	bitmap_free(vm->ring_seen);
	kvfree(vm->ring_fetch);
	kfree(vm);
}

struct kmig_vm *kmig_vm_attach(int fd, u32 session_id)
{
	struct kmig_vm *vm;
	struct file *file;
	struct kvm *kvm;
	int ret;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	if (!file_is_kvm(file)) {
		ret = -EINVAL;
		goto err_fput;
	}
	kvm = file->private_data;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm) {
		ret = -ENOMEM;
		goto err_fput;
	}
	vm->file = file;
	vm->kvm = kvm;
	vm->ring_fetch = kvcalloc(KVM_MAX_VCPUS, sizeof(u32),
				  GFP_KERNEL_ACCOUNT);
	vm->ring_seen = bitmap_zalloc(KVM_MAX_VCPUS, GFP_KERNEL_ACCOUNT);
	if (!vm->ring_fetch || !vm->ring_seen) {
		ret = -ENOMEM;
		goto err_free;
	}
	if (!kmig_vm_alive(vm)) {
		ret = -ESRCH;
		goto err_free;
	}

	vm->worker = kthread_create_worker(0, "kmig/%u", session_id);
	if (IS_ERR(vm->worker)) {
		ret = PTR_ERR(vm->worker);
		goto err_free;
	}

	mutex_lock(&kmig_vms_lock);
	if (kmig_vm_find_locked(kvm)) {
		mutex_unlock(&kmig_vms_lock);
		ret = -EBUSY;
		goto err_worker;
	}
	list_add_tail(&vm->node, &kmig_vms);
	mutex_unlock(&kmig_vms_lock);
	return vm;

err_worker:
	kthread_destroy_worker(vm->worker);
err_free:
	kmig_vm_free(vm);
err_fput:
	fput(file);
	return ERR_PTR(ret);
}

void kmig_vm_detach(struct kmig_vm *vm)
{
	mutex_lock(&kmig_vms_lock);
	list_del(&vm->node);
	mutex_unlock(&kmig_vms_lock);

	/* If the VMM already exited, the mapping went with its mm. */
	if (vm->scratch)
		kmig_vm_call(vm, kmig_vm_unmap_scratch, NULL);
	kthread_destroy_worker(vm->worker);
	/* May be the last reference: KVM then destroys the VM here. */
	fput(vm->file);
	kmig_vm_free(vm);
}
