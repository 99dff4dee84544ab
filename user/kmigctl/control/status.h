/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `kmigctl status`: the session list, as text or JSON.
 */
#ifndef KMIGCTL_STATUS_H
#define KMIGCTL_STATUS_H

#include <stddef.h>

#include "print.h"
#include "session.h"

/* Prints @nr sessions: text blocks, or one JSON array of objects. */
void status_print(struct printer *p, const struct kmig_session_stats *s,
		  size_t nr);

#endif /* KMIGCTL_STATUS_H */
