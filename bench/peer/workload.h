/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The QEMU guest's workload in `make bench-peer`: what kmig-vmm's built-in
 * workloads do to their RAM (Documentation/kmig-vmm.md), with the same
 * generators, then forever a re-verification of all of it, one line per
 * pass on the serial port. It runs on two platforms that supply the hooks
 * below: guest_init.c (PID 1 under Debian's kernel) and guest_bare.c (a
 * multiboot kernel of its own, no OS).
 */
#ifndef KMIG_PEER_WORKLOAD_H
#define KMIG_PEER_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#define WL_PAGE		4096UL

/* A workload, from the kernel command line or QEMU's fw_cfg. */
struct workload {
	char name[16];		/* idle | zero | text | random | dirty | wait */
	unsigned long mib;	/* MiB to fill, or dirty's working set */
	unsigned long rate;	/* MiB/s: the fill's pace, dirty's rate; 0: unpaced */
};

/* --- supplied by the platform --------------------------------------------- */
double now(void);			/* seconds, monotonic */
void sleep_for(double seconds);
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void halt(const char *why) __attribute__((noreturn));

/* --- workload.c ------------------------------------------------------------ */
/* Whether @name is a workload this guest knows (wait included). */
int workload_known(const char *name);
/* Parses "WL MIB RATE"; 0 or -1. */
int workload_parse(const char *line, struct workload *w);
/*
 * Waits for QEMU's fw_cfg file opt/kmig/workload ("WL MIB RATE"): the
 * QEMU that boots the guest has none; the benchmark saves the guest while
 * it waits here and restores it into QEMUs that carry one, so every
 * scenario starts from one boot.
 */
void workload_wait_fw_cfg(struct workload *w);
/* Runs @w over @ram (w->mib MiB of it) forever. */
void workload_run(const struct workload *w, void *ram) __attribute__((noreturn));

#endif
