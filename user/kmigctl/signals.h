/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SIGINT and SIGTERM cancel a running migrate or incoming. Only the main
 * thread takes them, through a handler without SA_RESTART, so a blocking
 * ioctl there (KMIG_SEND_ROUND) returns -EINTR; every other thread is
 * created with them blocked.
 */
#ifndef KMIGCTL_SIGNALS_H
#define KMIGCTL_SIGNALS_H

#include <signal.h>

#include <stdatomic.h>

/* The signal that asked us to stop, or 0. */
extern volatile sig_atomic_t kmigctl_stop_signal;
/* The same as a flag for the helpers that poll one (addr.h, chan.h). */
extern atomic_int kmigctl_stopping;

/* Installs the handlers and ignores SIGPIPE (I/O errors say it instead). */
void signals_setup(void);

/* Around pthread_create(): the new thread inherits a blocked mask. */
void signals_block(sigset_t *saved);
void signals_restore(const sigset_t *saved);

#endif /* KMIGCTL_SIGNALS_H */
