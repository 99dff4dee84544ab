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
 *
 * During postcopy a vCPU that touched a missing page sleeps in KVM's GUP
 * (TASK_KILLABLE on Linux 6.1) until the page arrives: the kick signal
 * stays pending without waking it. A pause then waits for it only so
 * long. That vCPU cannot run guest code meanwhile, and once its page
 * arrives KVM sees the pending signal before the next guest entry and
 * KVM_RUN returns -EINTR, so it parks without having run; one blocked in
 * the VMM's own access (the host-write device) parks after it, before
 * KVM_RUN.
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
/*
 * Returns when every vCPU is parked; during postcopy after at most
 * VMM_POSTCOPY_PARK_MS (kmig_vmm.h), counting a vCPU that waits in KVM for
 * a missing page as paused.
 */
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
