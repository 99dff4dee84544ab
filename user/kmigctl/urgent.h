/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The threads a postcopy fault waits for, ahead of every other thread.
 */
#ifndef KMIGCTL_URGENT_H
#define KMIGCTL_URGENT_H

#include <stdbool.h>

/*
 * Gives the calling thread SCHED_FIFO priority 1 when it may (root, or
 * CAP_SYS_NICE) and KMIG_URGENT_SCHED is not "normal"; true if it did.
 */
bool urgent_thread(void);

#endif
