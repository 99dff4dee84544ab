// SPDX-License-Identifier: GPL-2.0
/*
 * The scratch mapping in the VMM's address space through which KVM's
 * dirty-log ioctls take their arguments and return their bitmaps (they
 * only work on user pointers of kvm->mm, see harvest.c).
 *
 * It is a mapping of a file of our own whose pages are a kernel buffer,
 * so that:
 *  - we read the bitmaps KVM wrote straight from the buffer;
 *  - we can tell our mapping from anything the VMM put at that address
 *    since (it may munmap ours and map its own): ours is the VMA whose
 *    file is ours, and only that is ever unmapped;
 *  - the mapping covers the bitmap of the largest memslot KVM allows, but
 *    only the buffer is backed: if a memslot grew between our check and
 *    KVM_GET_DIRTY_LOG, KVM's copy of the bigger bitmap faults past the
 *    buffer (-EFAULT) instead of running into the VMM's other memory.
 * The file owns the buffer: a VMA the VMM keeps (split, moved) keeps the
 * file and so the buffer alive.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "kmig.h"

/* Room for any memslot's bitmap (and the ioctl argument before it). */
#define KMIG_SCRATCH_MAP	PAGE_ALIGN(PAGE_SIZE + \
					   KVM_MEM_MAX_NR_PAGES / 8 + 8)

struct kmig_scratch_buf {
	void *mem;		/* __vmalloc, charged to the VMM's cgroup */
	size_t len;
};

static vm_fault_t kmig_scratch_fault(struct vm_fault *vmf)
{
	struct kmig_scratch_buf *b = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff >= b->len >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	page = vmalloc_to_page(b->mem + (vmf->pgoff << PAGE_SHIFT));
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct kmig_scratch_vm_ops = {
	.fault = kmig_scratch_fault,
};

static int kmig_scratch_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTCOPY | VM_DONTDUMP;
	vma->vm_ops = &kmig_scratch_vm_ops;
	return 0;
}

static int kmig_scratch_release(struct inode *inode, struct file *file)
{
	struct kmig_scratch_buf *b = file->private_data;

	vfree(b->mem);
	kfree(b);
	kmig_obj_dec(KMIG_OBJ_SCRATCH);
	return 0;
}

static const struct file_operations kmig_scratch_fops = {
	.owner = THIS_MODULE,
	.mmap = kmig_scratch_mmap,
	.release = kmig_scratch_release,
};

/* Is the mapping at vm->scratch still the one we made? */
bool kmig_scratch_ours(struct kmig_vm *vm)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	bool ours;

	if (!vm->scratch_file)
		return false;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, vm->scratch);
	ours = vma && vma->vm_file == vm->scratch_file &&
	       vma->vm_start == vm->scratch &&
	       vma->vm_end - vma->vm_start == KMIG_SCRATCH_MAP;
	mmap_read_unlock(mm);
	return ours;
}

/* Any context: drops our reference; the mapping, if any, keeps the file. */
void kmig_scratch_forget(struct kmig_vm *vm)
{
	if (!vm->scratch_file)
		return;
	fput(vm->scratch_file);
	vm->scratch_file = NULL;
	vm->scratch = 0;
	vm->scratch_len = 0;
}

/* Unmaps our mapping, if it still is ours, and forgets it. */
void kmig_scratch_put(struct kmig_vm *vm)
{
	if (kmig_scratch_ours(vm))
		vm_munmap(vm->scratch, KMIG_SCRATCH_MAP);
	kmig_scratch_forget(vm);
}

/*
 * Returns the kernel address of a scratch buffer of at least @len bytes,
 * mapped at vm->scratch in the VMM's mm, making a new one if ours is too
 * small or the VMM took it away.
 */
void *kmig_scratch_get(struct kmig_vm *vm, size_t len)
{
	struct kmig_scratch_buf *b;
	struct file *file;
	unsigned long addr;

	len = PAGE_ALIGN(len);
	if (len > KMIG_SCRATCH_MAP)
		return ERR_PTR(-E2BIG);
	if (vm->scratch_len >= len && kmig_scratch_ours(vm))
		return ((struct kmig_scratch_buf *)vm->scratch_file->private_data)->mem;
	kmig_scratch_put(vm);

	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->len = len;
	b->mem = __vmalloc(len, GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!b->mem) {
		kfree(b);
		return ERR_PTR(-ENOMEM);
	}
	file = anon_inode_getfile("[kmig-scratch]", &kmig_scratch_fops, b,
				  O_RDWR);
	if (IS_ERR(file)) {
		vfree(b->mem);
		kfree(b);
		return ERR_CAST(file);
	}
	/* From here the file's release frees the buffer. */
	kmig_obj_inc(KMIG_OBJ_SCRATCH);

	addr = vm_mmap(file, 0, KMIG_SCRATCH_MAP, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_NORESERVE, 0);
	if (IS_ERR_VALUE(addr)) {
		fput(file);
		return ERR_PTR((long)addr);
	}
	vm->scratch_file = file;
	vm->scratch = addr;
	vm->scratch_len = len;
	return b->mem;
}
