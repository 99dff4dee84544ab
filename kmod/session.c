// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kmig: one session per open file description, and the ioctl
 * dispatcher that enforces the extensible-struct rules of uapi/linux/kmig.h.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>

#include "kmig.h"

/* Protects kmig_sessions, the list netlink dumps walk, sorted by id. */
DEFINE_MUTEX(kmig_sessions_lock);
LIST_HEAD(kmig_sessions);
static DEFINE_IDA(kmig_session_ida);

/* Lockless: s->vm is set once and freed only after the session left the list. */
u32 kmig_session_state(struct kmig_session *s, const struct kmig_report *r)
{
	/* Acquire pairs with kmig_ioc_attach_vm(): the VM is complete. */
	struct kmig_vm *vm = smp_load_acquire(&s->vm);

	if (!vm)
		return KMIG_SESSION_IDLE;
	if (!kmig_vm_alive(vm))
		return KMIG_SESSION_VM_GONE;
	if (READ_ONCE(s->cancelled))
		return KMIG_SESSION_CANCELLED;
	return r->tracking ? KMIG_SESSION_TRACKING : KMIG_SESSION_ATTACHED;
}

/* Copies the last published report; any context that may not sleep long. */
void kmig_session_report(struct kmig_session *s, struct kmig_report *r)
{
	spin_lock(&s->report_lock);
	*r = s->report;
	r->has_pc = s->has_pc;
	r->pc = s->pc;
	spin_unlock(&s->report_lock);
}

/* Under s->lock, after each ioctl: what netlink will show. */
static void kmig_session_publish(struct kmig_session *s)
{
	struct kmig_report r = {};
	u32 i;

	lockdep_assert_held(&s->lock);
	if (s->slots) {
		r.tracking = true;
		r.dirty_mode = s->dirty_mode;
		r.nr_slots = s->slots->nr;
		r.generation = s->slots->generation;
		for (i = 0; i < s->slots->nr; i++)
			r.pages += s->slots->slot[i].npages;
	} else if (s->vm) {
		r.dirty_mode = kmig_vm_dirty_mode(s->vm);
		r.nr_slots = kmig_vm_count_slots(s->vm);
		r.generation = kmig_vm_generation(s->vm);
	}
	r.dirty_pages = s->dirty_pages;
	r.stats = s->stats;

	spin_lock(&s->report_lock);
	/* Loads count without s->lock: read under report_lock, never older. */
	r.stats.loaded_pages = atomic64_read(&s->loaded_pages);
	s->report = r;
	spin_unlock(&s->report_lock);
}

/* After a KMIG_LOAD, which runs without s->lock: its pages only. */
void kmig_session_publish_loaded(struct kmig_session *s)
{
	spin_lock(&s->report_lock);
	s->report.stats.loaded_pages = atomic64_read(&s->loaded_pages);
	spin_unlock(&s->report_lock);
}

/*
 * Called with kmig_sessions_lock held but not s->lock, which a blocked
 * KMIG_SEND_ROUND may hold: everything here is lockless.
 */
void kmig_session_cancel(struct kmig_session *s)
{
	/* Acquire pairs with kmig_send_setup(): a set-up send is complete. */
	struct kmig_send *send = smp_load_acquire(&s->send);

	WRITE_ONCE(s->cancelled, true);
	if (send)
		kmig_send_wake(send);
}

/*
 * Sessions open at once, over all users and namespaces. Each may hold up
 * to KMIG_MAX_WORKERS + 1 kthreads and their rings, charged to the
 * opener's memory cgroup; the kthreads are not, so they are bounded here.
 */
static unsigned int max_sessions = 256;
module_param(max_sessions, uint, 0644);
MODULE_PARM_DESC(max_sessions,
		 "Most /dev/kmig sessions open at once; open() fails with ENFILE beyond (default 256)");
static atomic_t kmig_nr_sessions = ATOMIC_INIT(0);

static int kmig_open(struct inode *inode, struct file *file)
{
	struct kmig_session *s, *pos;
	int id, ret, i;

	/* System-wide, as the file table's ENFILE: not this process's. */
	if (atomic_inc_return(&kmig_nr_sessions) > READ_ONCE(max_sessions)) {
		ret = -ENFILE;
		goto err_count;
	}

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s) {
		ret = -ENOMEM;
		goto err_count;
	}

	id = ida_alloc_min(&kmig_session_ida, 1, GFP_KERNEL);
	if (id < 0) {
		ret = id;
		goto err_free;
	}
	s->id = id;
	mutex_init(&s->lock);
	spin_lock_init(&s->report_lock);
	init_rwsem(&s->load_sem);
	kmig_zdec_pool_init(&s->zdecs);
	/* One class: a load holds one of them at a time. */
	for (i = 0; i < KMIG_LOAD_PAGE_LOCKS; i++)
		mutex_init(&s->load_page_lock[i]);
	/* Netlink shows the session only there, and to its owner or admin. */
	s->net = get_net(current->nsproxy->net_ns);
	s->cred = get_cred(file->f_cred);

	/* Kept sorted by id: netlink dumps resume after the last id sent. */
	mutex_lock(&kmig_sessions_lock);
	list_for_each_entry(pos, &kmig_sessions, node)
		if (pos->id > s->id)
			break;
	list_add_tail(&s->node, &pos->node);
	mutex_unlock(&kmig_sessions_lock);

	file->private_data = s;
	kmig_obj_inc(KMIG_OBJ_SESSIONS);
	return 0;

err_free:
	kfree(s);
err_count:
	atomic_dec(&kmig_nr_sessions);
	return ret;
}

static int kmig_release(struct inode *inode, struct file *file)
{
	struct kmig_session *s = file->private_data;
	int i;

	/* After this, netlink dumps can no longer find the session. */
	mutex_lock(&kmig_sessions_lock);
	list_del(&s->node);
	mutex_unlock(&kmig_sessions_lock);

	/* Workers adopt the VM's mm: stop them before letting the VM go. */
	kmig_send_destroy(s->send);
	kmig_dirty_stop(s);
	kmig_slots_free(s->loaded);
	kmig_zdec_pool_destroy(&s->zdecs);
	if (s->vm)
		kmig_vm_detach(s->vm);
	put_cred(s->cred);
	put_net(s->net);
	ida_free(&kmig_session_ida, s->id);
	for (i = 0; i < KMIG_LOAD_PAGE_LOCKS; i++)
		mutex_destroy(&s->load_page_lock[i]);
	mutex_destroy(&s->lock);
	kfree(s);
	atomic_dec(&kmig_nr_sessions);
	kmig_obj_dec(KMIG_OBJ_SESSIONS);
	return 0;
}

static int kmig_ioc_get_info(struct kmig_session *s, void *data, u32 usize)
{
	struct kmig_info *arg = data;

	arg->api_version = KMIG_API_VERSION;
	arg->session_id = s->id;
	arg->features = KMIG_FEATURE_DIRTY_BITMAP | KMIG_FEATURE_DIRTY_MANUAL |
			KMIG_FEATURE_DIRTY_RING | KMIG_FEATURE_ZSTD |
			KMIG_FEATURE_AS_ID | KMIG_FEATURE_DIRTY_MARK |
			KMIG_FEATURE_FETCH |
			KMIG_FEATURE_POSTCOPY_PROGRESS | KMIG_FEATURE_ZSTD_RUN;
	return 0;
}

static int kmig_ioc_attach_vm(struct kmig_session *s, void *data, u32 usize)
{
	struct kmig_attach_vm *arg = data;
	struct kmig_vm *vm;

	if (s->vm)
		return -EBUSY;

	vm = kmig_vm_attach(arg->vm_fd, s->id);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	/* Release: netlink reads s->vm without s->lock. */
	smp_store_release(&s->vm, vm);
	arg->dirty_mode = kmig_vm_dirty_mode(vm);
	arg->nr_memslots = kmig_vm_count_slots(vm);
	return 0;
}

static int kmig_ioc_get_memslots(struct kmig_session *s, void *data, u32 usize)
{
	struct kmig_get_memslots *arg = data;
	void __user *uslots = u64_to_user_ptr(arg->slots_uptr);
	u32 i, room = arg->nr_slots;
	u32 stride = arg->slot_size ?: sizeof(struct kmig_memslot);
	struct kmig_slots *slots;
	struct kmig_memslot m;
	int ret = 0;

	if (!kmig_entry_size_ok(stride, sizeof(m), PAGE_SIZE))
		return -EINVAL;
	slots = kmig_vm_snapshot_slots(s->vm);
	if (IS_ERR(slots))
		return PTR_ERR(slots);

	arg->nr_slots = slots->nr;
	arg->generation = slots->generation;
	if (slots->nr > room) {
		ret = -ENOSPC;
		goto out;
	}
	for (i = 0; i < slots->nr; i++) {
		struct kmig_slot *k = &slots->slot[i];

		memset(&m, 0, sizeof(m));
		m.as_id = k->as_id;
		m.id = k->id;
		m.flags = k->flags;
		m.gpa = k->base_gfn << PAGE_SHIFT;
		m.size = k->npages << PAGE_SHIFT;
		m.hva = k->hva;
		/* A newer caller's longer entry: its tail is zeroed. */
		if (copy_to_user((void __user *)uslots + (size_t)i * stride,
				 &m, sizeof(m)) ||
		    clear_user((void __user *)uslots + (size_t)i * stride +
			       sizeof(m), stride - sizeof(m))) {
			ret = -EFAULT;
			goto out;
		}
	}
out:
	kmig_slots_free(slots);
	return ret;
}

static int kmig_ioc_dirty_start(struct kmig_session *s, void *data, u32 usize)
{
	return kmig_dirty_start(s, data);
}

static int kmig_ioc_dirty_sync(struct kmig_session *s, void *data, u32 usize)
{
	return kmig_dirty_sync(s, data);
}

static int kmig_ioc_dirty_get_bitmap(struct kmig_session *s, void *data, u32 usize)
{
	return kmig_dirty_get_bitmap(s, data);
}

static int kmig_ioc_dirty_stop(struct kmig_session *s, void *data, u32 usize)
{
	if (!s->slots)
		return -EINVAL;
	kmig_dirty_stop(s);
	return 0;
}

static int kmig_ioc_send_setup(struct kmig_session *s, void *data, u32 usize)
{
	struct kmig_send_setup *arg = data;

	if (arg->__reserved2)
		return -EOPNOTSUPP;
	/* A version-1 caller reads records without an address space. */
	return kmig_send_setup(s, arg,
			       usize < offsetofend(struct kmig_send_setup,
						   rec_size));
}

static int kmig_ioc_send_round(struct kmig_session *s, void *data, u32 usize)
{
	return kmig_send_round(s, data);
}

/* Runs without s->lock, beside a blocking KMIG_SEND_ROUND. */
static int kmig_ioc_ring_wait(struct kmig_session *s, void *data, u32 usize)
{
	return kmig_send_ring_wait(s, data);
}

/*
 * Without s->lock (KMIG_IOC_NOLOCK): loads from the data channels' threads
 * run side by side (load.c says what they share and how). The VM was
 * checked, set once and is freed only at release.
 */
static int kmig_ioc_load(struct kmig_session *s, void *data, u32 usize)
{
	/* Acquire pairs with kmig_ioc_attach_vm(): the VM is complete. */
	struct kmig_vm *vm = smp_load_acquire(&s->vm);
	int ret;

	if (!vm)
		return -ENOTCONN;
	ret = kmig_load(s, vm, data);
	kmig_session_publish_loaded(s);
	return ret;
}

/* Any session, attached or not: the VM is named by the VMM's own fd. */
static int kmig_ioc_dirty_mark(struct kmig_session *s, void *data, u32 usize)
{
	return kmig_vm_mark(data);
}

/* Beside a running round: postcopy's urgent pages (fetch.c). */
static int kmig_ioc_fetch(struct kmig_session *s, void *data, u32 usize)
{
	return kmig_fetch(s, data);
}

/*
 * The destination's postcopy counts, for netlink: without s->lock, so
 * that it never waits behind a KMIG_LOAD of the same session.
 */
static int kmig_ioc_postcopy_progress(struct kmig_session *s, void *data,
				      u32 usize)
{
	spin_lock(&s->report_lock);
	s->pc = *(struct kmig_postcopy_progress *)data;
	s->has_pc = true;
	spin_unlock(&s->report_lock);
	return 0;
}

union kmig_ioc_buf {
	struct kmig_info info;
	struct kmig_attach_vm attach_vm;
	struct kmig_get_memslots get_memslots;
	struct kmig_dirty_start dirty_start;
	struct kmig_dirty_sync dirty_sync;
	struct kmig_dirty_bitmap dirty_bitmap;
	struct kmig_dirty_stop dirty_stop;
	struct kmig_send_setup send_setup;
	struct kmig_send_round send_round;
	struct kmig_ring_wait ring_wait;
	struct kmig_load load;
	struct kmig_dirty_mark dirty_mark;
	struct kmig_fetch fetch;
	struct kmig_postcopy_progress postcopy_progress;
};

/* Every struct starts "__u32 size; __u32 flags;". */
struct kmig_ioc_hdr {
	u32 size;
	u32 flags;
};

struct kmig_ioc_op {
	unsigned int size;	/* the kernel's sizeof(struct) */
	unsigned int min_size;	/* first ABI version: up to the last field */
	unsigned int reserved;	/* offset of the __u32 __reserved, or 0 */
	u32 known_flags;	/* flag bits the struct may carry */
	unsigned int flags;	/* KMIG_IOC_* */
	/* @usize: the caller's struct size, to tell ABI versions apart */
	int (*fn)(struct kmig_session *s, void *data, u32 usize);
};

#define KMIG_IOC_NOLOCK		BIT(0)	/* runs without s->lock */
#define KMIG_IOC_OUT_ON_ERR	BIT(1)	/* outputs matter on failure too */
#define KMIG_IOC_VM		BIT(2)	/* -ENOTCONN without a VM */
#define KMIG_IOC_CANCELLABLE	BIT(3)	/* -ECANCELED once cancelled */
#define KMIG_IOC_IN_ROUND	BIT(4)	/* may run while a round runs */

#define KMIG_IOC_OP(_ioctl, _fn, _struct, _last, _resv, _known, _flags) \
	[_IOC_NR(_ioctl) - KMIG_CMD_BASE] = {				\
		.size = sizeof(_struct),				\
		.min_size = offsetofend(_struct, _last),		\
		.reserved = _resv,					\
		.known_flags = _known,					\
		.flags = _flags,					\
		.fn = _fn,						\
	}

#define KMIG_RESV(_struct)	offsetof(_struct, __reserved)

static const struct kmig_ioc_op kmig_ioc_ops[] = {
	KMIG_IOC_OP(KMIG_GET_INFO, kmig_ioc_get_info, struct kmig_info,
		    features, 0, 0, KMIG_IOC_IN_ROUND),
	KMIG_IOC_OP(KMIG_ATTACH_VM, kmig_ioc_attach_vm,
		    struct kmig_attach_vm, nr_memslots,
		    KMIG_RESV(struct kmig_attach_vm), 0, 0),
	KMIG_IOC_OP(KMIG_GET_MEMSLOTS, kmig_ioc_get_memslots,
		    struct kmig_get_memslots, slots_uptr, 0, 0,
		    KMIG_IOC_VM | KMIG_IOC_OUT_ON_ERR | KMIG_IOC_IN_ROUND),
	KMIG_IOC_OP(KMIG_DIRTY_START, kmig_ioc_dirty_start,
		    struct kmig_dirty_start, __reserved,
		    KMIG_RESV(struct kmig_dirty_start), 0, KMIG_IOC_VM),
	KMIG_IOC_OP(KMIG_DIRTY_SYNC, kmig_ioc_dirty_sync,
		    struct kmig_dirty_sync, __reserved,
		    KMIG_RESV(struct kmig_dirty_sync), 0,
		    KMIG_IOC_VM | KMIG_IOC_CANCELLABLE | KMIG_IOC_IN_ROUND),
	KMIG_IOC_OP(KMIG_DIRTY_GET_BITMAP, kmig_ioc_dirty_get_bitmap,
		    struct kmig_dirty_bitmap, dirty,
		    KMIG_RESV(struct kmig_dirty_bitmap), KMIG_BITMAP_CLEAR,
		    KMIG_IOC_VM),
	KMIG_IOC_OP(KMIG_DIRTY_STOP, kmig_ioc_dirty_stop,
		    struct kmig_dirty_stop, flags, 0, 0, KMIG_IOC_VM),
	KMIG_IOC_OP(KMIG_SEND_SETUP, kmig_ioc_send_setup,
		    struct kmig_send_setup, off,
		    KMIG_RESV(struct kmig_send_setup),
		    KMIG_SEND_F_ZSTD | KMIG_SEND_F_ZSTD_RUN, KMIG_IOC_VM),
	KMIG_IOC_OP(KMIG_SEND_ROUND, kmig_ioc_send_round,
		    struct kmig_send_round, scan_ns,
		    KMIG_RESV(struct kmig_send_round), 0,
		    KMIG_IOC_VM | KMIG_IOC_CANCELLABLE | KMIG_IOC_OUT_ON_ERR),
	KMIG_IOC_OP(KMIG_RING_WAIT, kmig_ioc_ring_wait,
		    struct kmig_ring_wait, __reserved,
		    KMIG_RESV(struct kmig_ring_wait), 0,
		    KMIG_IOC_NOLOCK | KMIG_IOC_IN_ROUND),
	KMIG_IOC_OP(KMIG_LOAD, kmig_ioc_load, struct kmig_load, zeroed,
		    KMIG_RESV(struct kmig_load), 0,
		    KMIG_IOC_NOLOCK | KMIG_IOC_VM | KMIG_IOC_CANCELLABLE |
		    KMIG_IOC_OUT_ON_ERR),
	KMIG_IOC_OP(KMIG_DIRTY_MARK, kmig_ioc_dirty_mark,
		    struct kmig_dirty_mark, marked,
		    KMIG_RESV(struct kmig_dirty_mark), 0,
		    KMIG_IOC_NOLOCK | KMIG_IOC_IN_ROUND),
	KMIG_IOC_OP(KMIG_FETCH, kmig_ioc_fetch, struct kmig_fetch,
		    __reserved2, KMIG_RESV(struct kmig_fetch), 0,
		    KMIG_IOC_VM | KMIG_IOC_CANCELLABLE | KMIG_IOC_IN_ROUND),
	KMIG_IOC_OP(KMIG_POSTCOPY_PROGRESS, kmig_ioc_postcopy_progress,
		    struct kmig_postcopy_progress, __reserved,
		    KMIG_RESV(struct kmig_postcopy_progress), 0,
		    KMIG_IOC_NOLOCK | KMIG_IOC_IN_ROUND),
};

/*
 * The checks every ioctl shares, in the order the ABI tests pin: unknown
 * flags or a non-zero __reserved (-EOPNOTSUPP), then no VM (-ENOTCONN),
 * then a cancelled session (-ECANCELED), then a round running on another
 * thread (-EBUSY) for the ioctls that must not run beside it.
 */
static int kmig_ioc_check(struct kmig_session *s, const struct kmig_ioc_op *op,
			  const void *buf)
{
	const struct kmig_ioc_hdr *hdr = buf;

	if (hdr->flags & ~op->known_flags)
		return -EOPNOTSUPP;
	if (op->reserved && *(const u32 *)(buf + op->reserved))
		return -EOPNOTSUPP;
	/* READ_ONCE: a KMIG_IOC_NOLOCK ioctl may run beside the attach. */
	if ((op->flags & KMIG_IOC_VM) && !READ_ONCE(s->vm))
		return -ENOTCONN;
	if ((op->flags & KMIG_IOC_CANCELLABLE) && READ_ONCE(s->cancelled))
		return -ECANCELED;
	if (READ_ONCE(s->round_active) && !(op->flags & KMIG_IOC_IN_ROUND))
		return -EBUSY;
	return 0;
}

static int kmig_ioc_run(struct kmig_session *s, const struct kmig_ioc_op *op,
			void *buf, u32 usize)
{
	int ret = kmig_ioc_check(s, op, buf);

	return ret ?: op->fn(s, buf, usize);
}

static long kmig_ioctl(struct file *file, unsigned int cmd, unsigned long uarg)
{
	struct kmig_session *s = file->private_data;
	void __user *up = (void __user *)uarg;
	const struct kmig_ioc_op *op;
	union kmig_ioc_buf buf;
	unsigned int nr = _IOC_NR(cmd);
	u32 usize;
	int ret;

	if (_IOC_TYPE(cmd) != KMIG_TYPE || nr < KMIG_CMD_BASE ||
	    nr - KMIG_CMD_BASE >= ARRAY_SIZE(kmig_ioc_ops) ||
	    cmd != _IO(KMIG_TYPE, nr))
		return -ENOTTY;
	op = &kmig_ioc_ops[nr - KMIG_CMD_BASE];

	if (get_user(usize, (u32 __user *)up))
		return -EFAULT;
	if (usize < op->min_size)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	/* -E2BIG for a non-zero tail we don't know, -EFAULT for bad memory */
	ret = copy_struct_from_user(&buf, op->size, up, usize);
	if (ret)
		return ret;

	if (op->flags & KMIG_IOC_NOLOCK) {
		ret = kmig_ioc_run(s, op, &buf, usize);
	} else {
		/* A killed caller does not wait for another thread's ioctl. */
		if (mutex_lock_killable(&s->lock))
			return -EINTR;
		ret = kmig_ioc_run(s, op, &buf, usize);
		kmig_session_publish(s);
		mutex_unlock(&s->lock);
	}

	/* Some outputs matter on failure: -ENOSPC counts, records done. */
	if (ret == 0 || (op->flags & KMIG_IOC_OUT_ON_ERR)) {
		if (copy_to_user(up, &buf, min_t(u32, usize, op->size)))
			return -EFAULT;
	}
	return ret;
}

static int kmig_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kmig_send_mmap(file->private_data, vma);
}

static const struct file_operations kmig_fops = {
	.owner = THIS_MODULE,
	.open = kmig_open,
	.release = kmig_release,
	.unlocked_ioctl = kmig_ioctl,
	.mmap = kmig_mmap,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kmig_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kmig",
	.fops = &kmig_fops,
	.mode = 0600,
};

int kmig_session_init(void)
{
	return misc_register(&kmig_misc);
}

void kmig_session_exit(void)
{
	misc_deregister(&kmig_misc);
	ida_destroy(&kmig_session_ida);
}
