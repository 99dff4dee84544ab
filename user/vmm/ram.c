// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM: one mapping in the VMM, anonymous or from a memfd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "guest_layout.h"
#include "ram.h"
#include "util.h"

static void ram_layout(struct ram *ram)
{
	uint64_t low = ram->size < GUEST_LOW_END ? ram->size : GUEST_LOW_END;

	ram->region[0] = (struct ram_region) {
		.gpa = 0, .offset = 0, .size = low,
	};
	ram->nr_regions = 1;
	if (ram->size > low) {
		ram->region[1] = (struct ram_region) {
			.gpa = GUEST_HIGH_START, .offset = low,
			.size = ram->size - low,
		};
		ram->nr_regions = 2;
	}
}

void ram_create(struct ram *ram, uint64_t size, bool memfd)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

	memset(ram, 0, sizeof(*ram));
	ram->size = size;
	ram->memfd = -1;
	if (memfd) {
		/*
		 * A memfd is what a VMM uses to share RAM with other processes
		 * (vhost-user, a restarted VMM); the named file shows up in
		 * /proc/PID/maps as "memfd:kmig-vmm-ram".
		 */
		ram->memfd = memfd_create("kmig-vmm-ram", MFD_CLOEXEC);
		if (ram->memfd < 0)
			vmm_die_errno("memfd_create");
		if (ftruncate(ram->memfd, size))
			vmm_die_errno("ftruncate memfd to %llu bytes",
				      (unsigned long long)size);
		flags = MAP_SHARED;
	}
	ram->base = mmap(NULL, size, PROT_READ | PROT_WRITE, flags,
			 ram->memfd, 0);
	if (ram->base == MAP_FAILED)
		vmm_die_errno("mmap %llu MiB of guest RAM",
			      (unsigned long long)(size / MIB));
	ram_layout(ram);
}

void ram_destroy(struct ram *ram)
{
	munmap(ram->base, ram->size);
	if (ram->memfd >= 0)
		close(ram->memfd);
	ram->base = NULL;
}

uint64_t ram_offset_gpa(const struct ram *ram, uint64_t offset)
{
	int i;

	for (i = ram->nr_regions - 1; i > 0; i--)
		if (offset >= ram->region[i].offset)
			break;
	return ram->region[i].gpa + offset - ram->region[i].offset;
}

int ram_resident(const struct ram *ram, uint64_t offset, uint64_t len,
		 unsigned char *resident)
{
	if (mincore(ram->base + offset, len, resident))
		return -errno;
	return 0;
}
