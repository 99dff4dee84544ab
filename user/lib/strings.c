// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * Human-readable names for kmig errnos and enums, shared by every tool so
 * that kmigctl, its JSON output and the tests agree on the spelling.
 */
#include <errno.h>
#include <string.h>

#include "libkmig.h"

const char *kmig_strerror(int err)
{
	if (err < 0)
		err = -err;

	/* Only where kmig gives an errno a meaning of its own (linux/kmig.h). */
	switch (err) {
	case ENOENT:
		/* kmig_open(): the module is not loaded; GET_BITMAP: no slot. */
		return "no " KMIG_DEVICE_PATH " (kmig.ko not loaded), or no such memslot";
	case ENOTTY:
		return "not a kmig session, or the module lacks this ioctl";
	case ENOTCONN:
		return "the session has no VM attached";
	case EBUSY:
		return "the session or the VM is already attached";
	case ESRCH:
		return "the VM's process has exited";
	case ENODATA:
		return "a writable memslot has no dirty logging (KVM_MEM_LOG_DIRTY_PAGES)";
	case ENOSPC:
		return "the buffer is too small for the VM's memslots";
	case E2BIG:
		return "the kernel does not know a non-zero field (module too old)";
	case EOPNOTSUPP:
		return "a flag or reserved field the module does not support";
	case ECANCELED:
		return "the session was cancelled (kmigctl cancel)";
	case EPROTO:
		return "the module's ring layout does not fit its mapping";
	default:
		return strerror(err);
	}
}

const char *kmig_session_state_name(__u32 state)
{
	switch (state) {
	case KMIG_SESSION_IDLE:
		return "idle";
	case KMIG_SESSION_ATTACHED:
		return "attached";
	case KMIG_SESSION_TRACKING:
		return "tracking";
	case KMIG_SESSION_VM_GONE:
		return "vm-gone";
	case KMIG_SESSION_CANCELLED:
		return "cancelled";
	default:
		return "unknown";
	}
}

const char *kmig_dirty_mode_name(__u32 mode)
{
	switch (mode) {
	case 0:
		return "none";	/* no VM attached yet */
	case KMIG_DIRTY_MODE_BITMAP:
		return "bitmap";
	case KMIG_DIRTY_MODE_MANUAL:
		return "manual";
	case KMIG_DIRTY_MODE_RING:
		return "ring";
	default:
		return "unknown";
	}
}
