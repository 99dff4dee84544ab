/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The workload checkers: does guest RAM hold what the workload wrote?
 *
 * Each checker recomputes what the guest must have written from the
 * workload's parameters and the guest's own progress counters (in its
 * blocks, migrated with the rest of RAM), so a page that a migration lost,
 * left stale or put in the wrong place is caught:
 *
 *  counter  each slice obeys QEMU's migration-test rule: every page's first
 *           byte equals its neighbour's except at one edge, where it is one
 *           lower (mod 256); the edge is where the guest's index says it is;
 *           the rest of each page is zero
 *  dirty    every page of the working set holds (n, address ^ magic, ..., ~n)
 *           with n dropping by one at most once, where the guest is; pages
 *           outside the working set are zero
 *  text,    the pages the guest has filled hold the generator's output, the
 *  random   one it is filling a prefix of it, the others zero
 *  zero     all zero
 *  idle     the touched pages hold their tags, everything else zero
 *  hostwrite  the used ring's index is where the guest's count of
 *           completed requests is (or one ahead: the request in flight),
 *           its last entries name the last requests, every data page
 *           holds the fill of the last request that named it (zero if
 *           none did yet), and the guest saw no completion missing
 *
 * Plus, for all: the guest code and every vCPU's parameters are intact.
 */
#ifndef KMIG_VMM_CHECK_H
#define KMIG_VMM_CHECK_H

struct vmm;
struct vmm_check;

/* The vCPUs must be parked (or never started). */
void check_memory(struct vmm *vmm, struct vmm_check *out);

#endif /* KMIG_VMM_CHECK_H */
