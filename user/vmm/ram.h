/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest RAM: one mapping in the VMM, anonymous or from a memfd, that KVM
 * sees as one or two memslots (below the PCI hole, and from 4 GiB up).
 */
#ifndef KMIG_VMM_RAM_H
#define KMIG_VMM_RAM_H

#include <stdbool.h>
#include <stdint.h>

#define RAM_MAX_REGIONS	2

struct ram_region {
	uint64_t gpa;
	uint64_t offset;	/* into the RAM mapping */
	uint64_t size;
};

struct ram {
	uint8_t *base;
	uint64_t size;
	int memfd;		/* -1: anonymous */
	int nr_regions;
	struct ram_region region[RAM_MAX_REGIONS];
};

/* Maps fresh, zero RAM; exits on failure. */
void ram_create(struct ram *ram, uint64_t size, bool memfd);
void ram_destroy(struct ram *ram);

/* The guest physical address of RAM offset @offset. */
uint64_t ram_offset_gpa(const struct ram *ram, uint64_t offset);

/*
 * Whether each page of [offset, offset + len) is resident, into @resident
 * (one byte per page, bit 0). A page that is not resident reads as zero
 * unless it was swapped out; the checker skips them so that it does not
 * allocate the guest's untouched memory (reading a memfd hole would).
 */
int ram_resident(const struct ram *ram, uint64_t offset, uint64_t len,
		 unsigned char *resident);

#endif /* KMIG_VMM_RAM_H */
