// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy's latency-critical threads (urgent.h): the destination's fault
 * and preempt threads and the source's page server. A faulting vCPU waits
 * for each of them to wake up in turn, and on a busy host a thread that
 * was woken waits for a CPU behind the background stream's threads and
 * the guest's own vCPUs. SCHED_FIFO at the lowest real-time priority puts
 * them first; they block between requests, so they take nothing from the
 * others while the guest does not fault, and the kernel's real-time
 * throttling bounds them if a bug kept one running.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "urgent.h"

bool urgent_thread(void)
{
	struct sched_param sp = { .sched_priority = 1 };
	const char *how = getenv("KMIG_URGENT_SCHED");

	if (how && !strcmp(how, "normal"))
		return false;
	return !pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}
