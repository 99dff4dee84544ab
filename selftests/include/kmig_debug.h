/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kernel says about itself, for tests that check the module left
 * nothing behind: kmig's debugfs object counters (kmig/objects, one
 * "name count" line per kind of object) and lines of the kernel log.
 */
#ifndef KMIG_SELFTEST_KMIG_DEBUG_H
#define KMIG_SELFTEST_KMIG_DEBUG_H

#include <stddef.h>
#include <linux/types.h>

#define KMIG_DEBUGFS_OBJECTS	"/sys/kernel/debug/kmig/objects"

/*
 * Waits up to @ms for every counter in kmig/objects to read 0 (mounting
 * debugfs if needed). Returns 0 when they do, -ENOENT when the module has
 * no such file (a module before the counters), else the number of non-zero
 * counters, named in @why ("sessions 1, vms 1").
 */
int kmig_objects_wait_zero(int ms, char *why, size_t len);

/* Lines of the kernel log (as dmesg shows it now) that contain @needle. */
__u64 kernel_log_count(const char *needle);

#endif /* KMIG_SELFTEST_KMIG_DEBUG_H */
