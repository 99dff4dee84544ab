/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference kmig depends on lives here; the other
 * files carry no version checks.
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

/* The oldest supported kernel, 6.1, is enforced by Kbuild. */

/*
 * x86-64 only: kmig relies on x86 KVM's memslots (two address spaces, SMM
 * in 1), its dirty-log ioctls and 52-bit guest physical addresses.
 */
#ifndef CONFIG_X86_64
#error "kmig supports x86-64 KVM only"
#endif

/* Records and ring slots are KMIG_PAGE_SIZE (4096) bytes per page. */
#if PAGE_SHIFT != 12
#error "kmig needs 4 KiB pages (PAGE_SIZE == KMIG_PAGE_SIZE)"
#endif

#if BITS_PER_LONG != 64
#error "kmig supports 64-bit kernels only (bitmap words are __u64 in the UAPI)"
#endif

#ifndef CONFIG_KVM_GENERIC_DIRTYLOG_READ_PROTECT
#error "kmig needs KVM_GENERIC_DIRTYLOG_READ_PROTECT (x86 KVM)"
#endif

#endif /* _KMIG_COMPAT_H */
