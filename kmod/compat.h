/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference kmig depends on lives here; the other
 * files carry no version checks.
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

/* The oldest supported kernel, 6.1, is enforced by Kbuild. */

#if BITS_PER_LONG != 64
#error "kmig supports 64-bit kernels only (bitmap words are __u64 in the UAPI)"
#endif

#ifndef CONFIG_KVM_GENERIC_DIRTYLOG_READ_PROTECT
#error "kmig needs KVM_GENERIC_DIRTYLOG_READ_PROTECT (x86 KVM)"
#endif

#endif /* _KMIG_COMPAT_H */
