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

/*
 * Each address space counts its own edits: KVM adds KVM_ADDRESS_SPACE_NUM
 * to that space's generation at every swap of its active memslot set.
 * While a swap is in flight the new set is already visible with the old
 * number and KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS; count it as done.
 */
static u64 kmig_set_generation(struct kvm_memslots *set)
{
	u64 gen = set->generation;

	if (gen & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		gen = (gen & ~KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS) +
		      KVM_ADDRESS_SPACE_NUM;
	return gen;
}

/* The VM's generation: the sum over spaces, so any edit anywhere moves it. */
u64 kmig_vm_generation(struct kmig_vm *vm)
{
	struct kvm *kvm = vm->kvm;
	u64 gen = 0;
	int as, idx;

	idx = srcu_read_lock(&kvm->srcu);
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
		gen += kmig_set_generation(__kvm_memslots(kvm, as));
	srcu_read_unlock(&kvm->srcu, idx);
	return gen;
}

/* One set, read once: SRCU keeps a set KVM swapped out intact until we leave. */
static u32 kmig_count_user_slots(struct kvm_memslots *set, u32 *internal)
{
	struct kvm_memory_slot *ms;
	u32 nr = 0;
	int bkt;

	kvm_for_each_memslot(ms, bkt, set) {
		if (kmig_user_slot(ms))
			nr++;
		else if (internal)
			(*internal)++;
	}
	return nr;
}

u32 kmig_vm_count_slots(struct kmig_vm *vm)
{
	struct kvm *kvm = vm->kvm;
	u32 nr = 0;
	int as, idx;

	idx = srcu_read_lock(&kvm->srcu);
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
		nr += kmig_count_user_slots(__kvm_memslots(kvm, as), NULL);
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

static void kmig_slot_fill(struct kmig_slot *k, struct kvm_memory_slot *ms)
{
	k->as_id = ms->as_id;
	k->id = ms->id;
	k->flags = ms->flags;
	k->base_gfn = ms->base_gfn;
	k->npages = ms->npages;
	k->hva = ms->userspace_addr;
	k->kslot = ms;
}

/*
 * Returns the VM's memslots now, without bitmaps: the user memslots sorted
 * in slot[0..nr), then KVM's internal ones in slot[nr..nr_all), kept only
 * so that their edits are accounted for (kmig_slots_adopt()).
 *
 * Under kvm->slots_lock, which KVM_SET_USER_MEMORY_REGION holds for a
 * whole edit: the view is complete (no delete or move half done, no set
 * swapped between counting and copying) and each space's generation is
 * exact. The copy is bounded by the count all the same.
 */
struct kmig_slots *kmig_vm_snapshot_slots(struct kmig_vm *vm)
{
	struct kvm_memslots *set[KVM_ADDRESS_SPACE_NUM];
	struct kvm *kvm = vm->kvm;
	struct kvm_memory_slot *ms;
	struct kmig_slots *slots;
	u32 nr = 0, internal = 0, n = 0;
	int as, bkt, pass;

	if (mutex_lock_killable(&kvm->slots_lock))
		return ERR_PTR(-EINTR);
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		set[as] = __kvm_memslots(kvm, as);
		nr += kmig_count_user_slots(set[as], &internal);
	}
	slots = kvzalloc(struct_size(slots, slot, nr + internal),
			 GFP_KERNEL_ACCOUNT);
	if (!slots) {
		mutex_unlock(&kvm->slots_lock);
		return ERR_PTR(-ENOMEM);
	}
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		slots->as_gen[as] = kmig_set_generation(set[as]);
		slots->generation += slots->as_gen[as];
	}
	/* Pass 0 the user memslots, pass 1 the internal ones after them. */
	for (pass = 0; pass < 2; pass++) {
		for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
			kvm_for_each_memslot(ms, bkt, set[as])
				if (kmig_user_slot(ms) == !pass &&
				    n < nr + internal)
					kmig_slot_fill(&slots->slot[n++], ms);
		if (!pass)
			slots->nr = n;
	}
	slots->nr_all = n;
	mutex_unlock(&kvm->slots_lock);

	sort(slots->slot, slots->nr, sizeof(slots->slot[0]), kmig_slot_cmp,
	     NULL);
	kmig_obj_inc(KMIG_OBJ_SLOT_SETS);
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

static int kmig_vm_put_scratch(struct kmig_vm *vm, void *unused)
{
	kmig_scratch_put(vm);
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
	kvfree(vm->marks);
	kvfree(vm->marks_spare);
	kfree(vm);
}

/* Marks kept between two syncs; beyond that, everything counts as dirty. */
#define KMIG_MAX_MARKS		4096
/* Guest frame numbers x86 can address (52-bit physical addresses). */
#define KMIG_MAX_GFN		(1ULL << (52 - PAGE_SHIFT))

static int kmig_mark_check(const struct kmig_dirty_range *r)
{
	u64 gfn = r->gpa >> PAGE_SHIFT;

	if (r->gpa & (KMIG_PAGE_SIZE - 1) || !r->npages || r->__reserved ||
	    r->as_id >= KVM_ADDRESS_SPACE_NUM || gfn >= KMIG_MAX_GFN ||
	    r->npages > KMIG_MAX_GFN - gfn)
		return -EINVAL;
	return 0;
}

/* Called with kmig_vms_lock: @vm cannot be detached meanwhile. */
static u64 kmig_vm_add_marks(struct kmig_vm *vm,
			     const struct kmig_dirty_range *r, u32 nr)
{
	u64 pages = 0;
	u32 i;

	spin_lock(&vm->mark_lock);
	if (vm->tracking) {
		for (i = 0; i < nr; i++) {
			if (vm->nr_marks < KMIG_MAX_MARKS)
				vm->marks[vm->nr_marks++] = r[i];
			else
				vm->marks_overflow = true;
			pages += r[i].npages;
		}
	}
	spin_unlock(&vm->mark_lock);
	return pages;
}

int kmig_vm_mark(struct kmig_dirty_mark *arg)
{
	u32 stride = arg->range_size ?: sizeof(struct kmig_dirty_range);
	const void __user *src = u64_to_user_ptr(arg->ranges_uptr);
	struct kmig_dirty_range *r;
	struct kmig_vm *vm;
	struct file *file;
	u32 i;
	int ret;

	if (arg->nr_ranges > KMIG_MAX_MARKS ||
	    !kmig_entry_size_ok(stride, sizeof(*r), PAGE_SIZE))
		return -EINVAL;
	r = kvmalloc_array(max_t(u32, arg->nr_ranges, 1), sizeof(*r),
			   GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	for (i = 0; i < arg->nr_ranges; i++) {
		ret = copy_struct_from_user(&r[i], sizeof(*r),
					    src + (size_t)i * stride, stride);
		if (!ret)
			ret = kmig_mark_check(&r[i]);
		if (ret)
			goto out;
	}

	file = fget(arg->vm_fd);
	if (!file) {
		ret = -EBADF;
		goto out;
	}
	ret = -EINVAL;
	arg->marked = 0;
	if (file_is_kvm(file)) {
		mutex_lock(&kmig_vms_lock);
		vm = kmig_vm_find_locked(file->private_data);
		if (vm)
			arg->marked = kmig_vm_add_marks(vm, r, arg->nr_ranges);
		mutex_unlock(&kmig_vms_lock);
		ret = 0;
	}
	fput(file);
out:
	kvfree(r);
	return ret;
}

/* Tracking starts or stops: marks only count while a session tracks. */
void kmig_vm_track(struct kmig_vm *vm, bool on)
{
	spin_lock(&vm->mark_lock);
	vm->tracking = on;
	vm->nr_marks = 0;
	vm->marks_overflow = false;
	spin_unlock(&vm->mark_lock);
}

/*
 * The marks since the last call, in *@ranges (valid until the next call,
 * which only the session's sync makes, under its lock).
 */
u32 kmig_vm_take_marks(struct kmig_vm *vm, struct kmig_dirty_range **ranges,
		       bool *overflow)
{
	u32 nr;

	spin_lock(&vm->mark_lock);
	swap(vm->marks, vm->marks_spare);
	nr = vm->nr_marks;
	*overflow = vm->marks_overflow;
	vm->nr_marks = 0;
	vm->marks_overflow = false;
	spin_unlock(&vm->mark_lock);
	*ranges = vm->marks_spare;
	return nr;
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
	spin_lock_init(&vm->mark_lock);
	vm->marks = kvmalloc_array(KMIG_MAX_MARKS, sizeof(*vm->marks),
				   GFP_KERNEL_ACCOUNT);
	vm->marks_spare = kvmalloc_array(KMIG_MAX_MARKS, sizeof(*vm->marks),
					 GFP_KERNEL_ACCOUNT);
	if (!vm->marks || !vm->marks_spare) {
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
	kmig_obj_inc(KMIG_OBJ_VMS);
	kmig_obj_inc(KMIG_OBJ_WORKERS);
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

	/*
	 * If the VMM already exited, the mapping went with its mm and the
	 * call fails; the file reference is dropped here then.
	 */
	if (vm->scratch_file && kmig_vm_call(vm, kmig_vm_put_scratch, NULL))
		kmig_scratch_forget(vm);
	kthread_destroy_worker(vm->worker);
	kmig_obj_dec(KMIG_OBJ_WORKERS);
	/* May be the last reference: KVM then destroys the VM here. */
	fput(vm->file);
	kmig_vm_free(vm);
	kmig_obj_dec(KMIG_OBJ_VMS);
}
