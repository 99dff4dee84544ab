// SPDX-License-Identifier: GPL-2.0
/*
 * Starting, pausing, resuming and stopping the vCPU threads.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kmig_vmm.h"
#include "runctl.h"
#include "util.h"
#include "vmm.h"

#define KICK_SIGNAL		SIGUSR1
/* A pause re-kicks threads that have not parked after this long. */
#define KICK_RETRY_NS		(100 * 1000 * 1000ULL)

static void kick_handler(int sig)
{
	(void)sig;	/* only there to make KVM_RUN return -EINTR */
}

void runctl_install_kick_signal(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	/* No SA_RESTART: the point is to interrupt KVM_RUN. */
	if (sigaction(KICK_SIGNAL, &sa, NULL))
		vmm_die_errno("sigaction");
}

void runctl_init(struct vmm *vmm)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&vmm->lock, NULL);
	pthread_mutex_init(&vmm->ring_lock, NULL);
	/* Pacing deadlines are CLOCK_MONOTONIC. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&vmm->wake, &attr);
	pthread_cond_init(&vmm->parked_cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* Under vmm->lock. */
static bool must_park(struct vmm_vcpu *v)
{
	struct vmm *vmm = v->vmm;

	return vmm->quit || !vmm->started || vmm->paused || v->failed;
}

/* Under vmm->lock: gets every running vCPU thread out of KVM_RUN. */
static void kick_all(struct vmm *vmm)
{
	int i;

	for (i = 0; i < vmm->nr_vcpus; i++) {
		struct vmm_vcpu *v = &vmm->vcpu[i];

		if (v->parked)
			continue;
		/*
		 * Ordered after the flag the thread checks under this lock:
		 * a thread that cleared immediate_exit and found no reason to
		 * park enters KVM_RUN with it set again, or gets the signal.
		 */
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		pthread_kill(v->thread, KICK_SIGNAL);
	}
}

void runctl_start(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->started = true;
	vmm->paused = false;
	vmm->start_ns = vmm_now_ns();
	pthread_cond_broadcast(&vmm->wake);
	pthread_mutex_unlock(&vmm->lock);
}

/*
 * During postcopy a vCPU may wait in KVM for a missing page, deaf to the
 * kick (runctl.h): give up waiting after VMM_POSTCOPY_PARK_MS and count
 * it as paused. It cannot run guest code until the page arrives, and
 * then the kick still pending ends KVM_RUN before the next guest entry.
 */
void runctl_pause(struct vmm *vmm)
{
	uint64_t deadline = 0, now, until;
	struct timespec ts;
	int blocked;

	/* The main thread's own state: it is the one pausing. */
	if (postcopy_active(&vmm->postcopy))
		deadline = vmm_now_ns() + VMM_POSTCOPY_PARK_MS * 1000000ULL;
	pthread_mutex_lock(&vmm->lock);
	vmm->paused = true;
	kick_all(vmm);
	pthread_cond_broadcast(&vmm->wake);	/* pacing and ring sleeps */
	while (vmm->nr_parked < vmm->nr_vcpus) {
		now = vmm_now_ns();
		if (deadline && now >= deadline) {
			blocked = vmm->nr_vcpus - vmm->nr_parked;
			pthread_mutex_unlock(&vmm->lock);
			vmm_warn("pause: %d vCPU(s) did not park within %d ms: waiting for missing pages, counted as paused",
				 blocked, VMM_POSTCOPY_PARK_MS);
			return;
		}
		until = now + KICK_RETRY_NS;
		if (deadline && until > deadline)
			until = deadline;
		ts = vmm_ns_to_timespec(until);
		if (pthread_cond_timedwait(&vmm->parked_cond, &vmm->lock,
					   &ts) == ETIMEDOUT)
			kick_all(vmm);
	}
	pthread_mutex_unlock(&vmm->lock);
}

void runctl_resume(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->paused = false;
	pthread_cond_broadcast(&vmm->wake);
	pthread_mutex_unlock(&vmm->lock);
}

bool runctl_running(struct vmm *vmm)
{
	bool running;

	pthread_mutex_lock(&vmm->lock);
	running = vmm->started && !vmm->paused;
	pthread_mutex_unlock(&vmm->lock);
	return running;
}

void runctl_quit(struct vmm *vmm)
{
	int i;

	pthread_mutex_lock(&vmm->lock);
	vmm->quit = true;
	kick_all(vmm);
	pthread_cond_broadcast(&vmm->wake);
	pthread_mutex_unlock(&vmm->lock);
	for (i = 0; i < vmm->nr_vcpus; i++)
		pthread_join(vmm->vcpu[i].thread, NULL);
}

/* Completes a pending I/O exit without running guest code (see runctl.h). */
static void complete_exit(struct vmm_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || errno != EINTR)
		vmm_warn_errno("vCPU %d: completing the last exit", v->id);
	v->exit_pending = false;
}

bool runctl_wait_runnable(struct vmm_vcpu *v)
{
	struct vmm *vmm = v->vmm;
	bool quit;

	pthread_mutex_lock(&vmm->lock);
	while (must_park(v) && !vmm->quit) {
		if (v->exit_pending) {
			pthread_mutex_unlock(&vmm->lock);
			complete_exit(v);
			pthread_mutex_lock(&vmm->lock);
			continue;
		}
		if (!v->parked) {
			v->parked = true;
			vmm->nr_parked++;
			pthread_cond_broadcast(&vmm->parked_cond);
		}
		pthread_cond_wait(&vmm->wake, &vmm->lock);
	}
	if (v->parked) {
		v->parked = false;
		vmm->nr_parked--;
	}
	quit = vmm->quit;
	if (!quit)
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vmm->lock);
	return !quit;
}

void runctl_sleep_until(struct vmm_vcpu *v, uint64_t deadline_ns)
{
	struct vmm *vmm = v->vmm;
	struct timespec ts = vmm_ns_to_timespec(deadline_ns);

	pthread_mutex_lock(&vmm->lock);
	while (!must_park(v) && vmm_now_ns() < deadline_ns)
		if (pthread_cond_timedwait(&vmm->wake, &vmm->lock, &ts) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&vmm->lock);
}

void runctl_fail(struct vmm_vcpu *v, const char *why)
{
	struct vmm *vmm = v->vmm;

	vmm_warn("vCPU %d stopped: %s", v->id, why);
	pthread_mutex_lock(&vmm->lock);
	v->failed = true;
	snprintf(v->failure, sizeof(v->failure), "%s", why);
	pthread_mutex_unlock(&vmm->lock);
}
