/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test hooks, for the selftests only: KMIG_TEST_HOLD=POINT:PATH makes the
 * command, on reaching POINT, create PATH and wait until it is removed (at
 * most two minutes), so a test can act in exactly that phase: kill one of
 * the four processes, cut a link. The points:
 *   switchover  source: the VM paused, before the final sync
 *   go-sent     source: GO sent, before the ACK is read
 *   started     destination: the VM started, before the ACK is sent
 *   postcopy    source: postcopy's ACK came, before any page is served
 * KMIG_TEST_HOLD_SWITCHOVER=PATH is the older spelling of switchover.
 *
 * KMIG_TEST_MISBEHAVE=WHAT makes this kmigctl a hostile peer in one way,
 * so that a test shows the other side refusing it (testhook_misbehave()):
 *   request-outside  destination: asks for a page past guest RAM
 *   request-repeat   destination: asks for the same page twice
 *   discard-outside  source: a DISCARD range past guest RAM
 */
#ifndef KMIGCTL_TESTHOOK_H
#define KMIGCTL_TESTHOOK_H

#include <stdbool.h>

/*
 * Holds if the environment asks for @point. @stop (may be NULL) is asked
 * every tick; when it says true the hold ends with -ECANCELED. Else 0.
 */
int testhook_hold(const char *point, bool (*stop)(void *), void *arg);

/* Does the environment ask this kmigctl to misbehave as @what? */
bool testhook_misbehave(const char *what);

#endif /* KMIGCTL_TESTHOOK_H */
