// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy's urgent threads (kmigctl/urgent.c): the scheduling policy a
 * thread really has afterwards, as `chrt -p` would show it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "urgent.h"

struct outcome {
	bool ret;
	int policy, prio;
};

static void *urgent_main(void *arg)
{
	struct outcome *o = arg;
	struct sched_param sp;

	o->ret = urgent_thread();
	pthread_getschedparam(pthread_self(), &o->policy, &sp);
	o->prio = sp.sched_priority;
	return NULL;
}

/* urgent_thread() in a thread of its own, so that this one stays as is. */
static struct outcome run(void)
{
	struct outcome o = { .policy = -1 };
	pthread_t t;

	if (!pthread_create(&t, NULL, urgent_main, &o))
		pthread_join(t, NULL);
	return o;
}

TEST(fifo_1_when_allowed)
{
	struct outcome o;

	unsetenv("KMIG_URGENT_SCHED");
	o = run();
	if (geteuid()) {
		/* Without CAP_SYS_NICE it may fail; then nothing changed. */
		if (!o.ret)
			EXPECT_EQ(SCHED_OTHER, o.policy);
		return;
	}
	ASSERT_TRUE(o.ret);
	EXPECT_EQ(SCHED_FIFO, o.policy);
	EXPECT_EQ(1, o.prio);
}

TEST(normal_keeps_normal)
{
	struct outcome o;

	setenv("KMIG_URGENT_SCHED", "normal", 1);
	o = run();
	unsetenv("KMIG_URGENT_SCHED");
	EXPECT_FALSE(o.ret);
	EXPECT_EQ(SCHED_OTHER, o.policy);
	EXPECT_EQ(0, o.prio);
}

TEST_HARNESS_MAIN
