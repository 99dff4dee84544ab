/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Starting, pausing, resuming and stopping the vCPU threads.
 *
 * A vCPU runs while the VMM is started and not paused. To stop them, the
 * controller sets the flag and kicks each vCPU thread out of KVM_RUN the
 * way QEMU and KVM's selftests do: run->immediate_exit = 1 (for a thread
 * about to enter) plus a signal (for one inside, halted guests included).
 * A thread parks only after re-entering KVM_RUN once with immediate_exit
 * set when its last exit was an I/O exit: KVM completes the OUT (advances
 * RIP) only on that re-entry, and a state saved before it would replay
 * the instruction on the destination.
 */
#ifndef KMIG_VMM_RUNCTL_H
#define KMIG_VMM_RUNCTL_H

#include <stdbool.h>
#include <stdint.h>

struct vmm;
struct vmm_vcpu;

void runctl_init(struct vmm *vmm);
/* Installs the kick signal's handler; before any vCPU thread starts. */
void runctl_install_kick_signal(void);

void runctl_start(struct vmm *vmm);
/* Returns when every vCPU is parked. */
void runctl_pause(struct vmm *vmm);
void runctl_resume(struct vmm *vmm);
/* Stops and joins every vCPU thread. */
void runctl_quit(struct vmm *vmm);
/* Started and not paused. */
bool runctl_running(struct vmm *vmm);

/*
 * vCPU side. runctl_wait_runnable() parks until the vCPU may run and
 * returns false when the VMM quits. runctl_sleep_until() sleeps until
 * @deadline_ns (CLOCK_MONOTONIC) or until the vCPU is asked to park.
 */
bool runctl_wait_runnable(struct vmm_vcpu *v);
void runctl_sleep_until(struct vmm_vcpu *v, uint64_t deadline_ns);
/* Parks the vCPU for good after an exit it cannot handle. */
void runctl_fail(struct vmm_vcpu *v, const char *why);

#endif /* KMIG_VMM_RUNCTL_H */
