// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * KMIG_GET_MEMSLOTS with a buffer that grows until the VM's memslots fit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libkmig.h"
#include "ioctl.h"

/* A first guess that fits a typical x86 VM (RAM below/above 4G, ROMs, SMM). */
#define KMIG_MEMSLOTS_FIRST_GUESS	16
/*
 * The VMM may add memslots between our calls, so -ENOSPC can repeat; give up
 * eventually rather than loop forever against a VMM that never stops.
 */
#define KMIG_MEMSLOTS_MAX_TRIES		16

int kmig_get_memslots(int fd, struct kmig_memslot **slots, unsigned int *nr,
		      __u64 *generation)
{
	unsigned int cap = KMIG_MEMSLOTS_FIRST_GUESS;
	struct kmig_memslot *buf = NULL;
	struct kmig_get_memslots arg;
	int tries, ret = -ENOSPC;

	if (!slots || !nr)
		return -EINVAL;
	memset(&arg, 0, sizeof(arg));

	for (tries = 0; tries < KMIG_MEMSLOTS_MAX_TRIES; tries++) {
		struct kmig_memslot *grown;

		grown = realloc(buf, (size_t)cap * sizeof(*buf));
		if (!grown) {
			ret = -ENOMEM;
			break;
		}
		buf = grown;

		memset(&arg, 0, sizeof(arg));
		arg.size = sizeof(arg);
		arg.nr_slots = cap;
		arg.slot_size = sizeof(struct kmig_memslot);
		arg.slots_uptr = (__u64)(uintptr_t)buf;
		ret = kmig_ioctl(fd, KMIG_GET_MEMSLOTS, &arg);
		if (ret != -ENOSPC)
			break;

		/* nr_slots now holds the number needed; always make progress. */
		cap = arg.nr_slots > cap ? arg.nr_slots : cap * 2;
	}

	/* Success promises nr_slots <= cap; never hand out a short buffer. */
	if (ret >= 0 && arg.nr_slots > cap)
		ret = -EIO;
	if (ret < 0) {
		free(buf);
		return ret;
	}
	if (arg.nr_slots == 0) {
		free(buf);
		buf = NULL;
	}
	*slots = buf;
	*nr = arg.nr_slots;
	if (generation)
		*generation = arg.generation;
	return ret;
}
