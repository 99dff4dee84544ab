/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Diagnostics and clocks for kmig-vmm. Diagnostics go to stderr, always
 * prefixed "kmig-vmm: ", so stdout stays free for the lines scripts parse
 * (the ready line and --check-after's verdict).
 */
#ifndef KMIG_VMM_UTIL_H
#define KMIG_VMM_UTIL_H

#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIB		(1ULL << 20)
#define GIB		(1ULL << 30)
#define NSEC_PER_SEC	1000000000ULL

void vmm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* As vmm_warn, followed by ": strerror(errno)". */
void vmm_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vmm_die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
void vmm_die_errno(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* CLOCK_MONOTONIC in nanoseconds: the clock pacing and timers use. */
uint64_t vmm_now_ns(void);
struct timespec vmm_ns_to_timespec(uint64_t ns);

#endif /* KMIG_VMM_UTIL_H */
