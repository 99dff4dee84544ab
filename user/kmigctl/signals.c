// SPDX-License-Identifier: GPL-2.0
/*
 * Signals as cancellation (signals.h).
 */
#include <pthread.h>
#include <string.h>

#include "signals.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2,
	       "the signal handler needs a lock-free atomic_int");

volatile sig_atomic_t kmigctl_stop_signal;
atomic_int kmigctl_stopping;

/* A lock-free atomic may be written from a signal handler (C11 7.14.1.1). */
static void signals_note(int sig)
{
	kmigctl_stop_signal = sig;
	atomic_store(&kmigctl_stopping, 1);
}

void signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = signals_note;
	/* No SA_RESTART: a blocking call must return and let us back out. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

void signals_block(sigset_t *saved)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, saved);
}

void signals_restore(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}
