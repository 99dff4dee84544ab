// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy on the destination: the userfaultfd, VMM_DISCARD, and the
 * client that goes away (see postcopy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "postcopy.h"
#include "ram.h"
#include "requests.h"
#include "runctl.h"
#include "util.h"
#include "vmm.h"

/* What the client needs on the registered range (kmig_vmm.h). */
#define NEEDED_IOCTLS	((1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) | \
			 (1ULL << _UFFDIO_WAKE))

void postcopy_init(struct vmm *vmm)
{
	vmm->postcopy.uffd = -1;
	vmm->postcopy.orphaned = false;
	vmm->postcopy.client = NULL;
}

/*
 * A userfaultfd that takes kernel faults too (no UFFD_USER_MODE_ONLY):
 * KVM reaches guest RAM through GUP. O_NONBLOCK for the client, which
 * shares the file: poll() on a blocking userfaultfd reports EPOLLERR. The syscall wants CAP_SYS_PTRACE for
 * that (or vm.unprivileged_userfaultfd); /dev/userfaultfd (6.1) wants
 * only access to the device node.
 */
static int uffd_open(void)
{
	int fd, dev;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
#ifdef USERFAULTFD_IOC_NEW
	if (errno == EPERM) {
		dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev < 0) {
			errno = EPERM;
			return -EPERM;
		}
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
#else
	(void)dev;
#endif
	return -errno;
}

/* 0 or -errno with the reply's message set; *@out is the new fd. */
static int uffd_setup(struct vmm *vmm, struct request_reply *r, int *out)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = UFFD_FEATURE_MISSING_SHMEM,
	};
	struct uffdio_register reg = {
		.range = {
			.start = (uintptr_t)vmm->ram.base, .len = vmm->ram.size,
		},
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd, ret;

	fd = uffd_open();
	if (fd < 0)
		return request_error(r, fd, "userfaultfd: %s%s", strerror(-fd),
				     fd == -EPERM ? " (kernel faults need CAP_SYS_PTRACE or /dev/userfaultfd)" : "");
	/* A kernel without shmem support refuses the feature: -EINVAL. */
	if (ioctl(fd, UFFDIO_API, &api)) {
		ret = -errno;
		close(fd);
		if (ret == -EINVAL)
			return request_error(r, -EOPNOTSUPP,
					     "userfaultfd: this kernel lacks UFFD_FEATURE_MISSING_SHMEM, which postcopy needs");
		return request_error(r, ret, "UFFDIO_API: %s", strerror(-ret));
	}
	if (!(api.features & UFFD_FEATURE_MISSING_SHMEM)) {
		close(fd);
		return request_error(r, -EOPNOTSUPP,
				     "userfaultfd: this kernel lacks UFFD_FEATURE_MISSING_SHMEM, which postcopy needs");
	}
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		ret = -errno;
		close(fd);
		return request_error(r, ret,
				     "UFFDIO_REGISTER of %llu MiB of %s guest RAM: %s",
				     (unsigned long long)(vmm->ram.size / MIB),
				     vmm->ram.memfd >= 0 ? "memfd" : "anonymous",
				     strerror(-ret));
	}
	if ((reg.ioctls & NEEDED_IOCTLS) != NEEDED_IOCTLS) {
		ioctl(fd, UFFDIO_UNREGISTER, &reg.range);
		close(fd);
		return request_error(r, -EOPNOTSUPP,
				     "userfaultfd: guest RAM lacks UFFDIO_COPY, UFFDIO_ZEROPAGE or UFFDIO_WAKE (ioctls 0x%llx)",
				     (unsigned long long)reg.ioctls);
	}
	*out = fd;
	return 0;
}

/* 0 if @cl holds the VM (in phase MIGRATING if @migrating), else -EPERM. */
static int check_holder(struct vmm *vmm, const struct request_client *cl,
			bool migrating, const char *what,
			struct request_reply *r)
{
	if (!vmm->opt.incoming)
		return request_error(r, -EINVAL,
				     "%s: not a destination: postcopy needs kmig-vmm --incoming",
				     what);
	if (vmm->hold.holder != cl ||
	    (migrating && vmm->hold.phase != VMM_PHASE_MIGRATING))
		return request_error(r, -EPERM,
				     "%s: only the client holding this VM (VMM_HOLD MIGRATING) may send it",
				     what);
	return 0;
}

void postcopy_begin(struct vmm *vmm, const struct request_client *cl,
		    struct request_reply *r)
{
	struct postcopy *pc = &vmm->postcopy;
	int fd = -1;

	if (check_holder(vmm, cl, true, "VMM_POSTCOPY_BEGIN", r))
		return;
	if (!postcopy_active(pc)) {
		if (vmm->started) {
			request_error(r, -EBUSY,
				      "VMM_POSTCOPY_BEGIN: the guest already runs; postcopy begins before VMM_START");
			return;
		}
		if (uffd_setup(vmm, r, &fd))
			return;
		pc->uffd = fd;
		vmm_warn("postcopy: %llu MiB of guest RAM registered with userfaultfd, for pid %d",
			 (unsigned long long)(vmm->ram.size / MIB), (int)cl->pid);
	} else if (pc->orphaned) {
		/* A recovering client: the faults waiting are its now. */
		vmm_warn("postcopy: pid %d reattached to the userfaultfd",
			 (int)cl->pid);
		pc->orphaned = false;
	}
	pc->client = cl;
	r->small.postcopy = (struct vmm_postcopy) { .ram_size = vmm->ram.size };
	r->payload = &r->small.postcopy;
	r->len = sizeof(r->small.postcopy);
	r->pass_fd = pc->uffd;
}

/* The RAM region holding all of @d, or -EINVAL with the message. */
static int discard_check(struct vmm *vmm, const struct vmm_discard *d,
			 uint32_t i, struct request_reply *r,
			 const struct ram_region **out)
{
	const char *why = NULL;
	int j;

	if (d->gpa % GUEST_PAGE_SIZE)
		why = "gpa is not page-aligned";
	else if (!d->npages)
		why = "npages is 0";
	else if (d->npages > (UINT64_MAX - d->gpa) / GUEST_PAGE_SIZE)
		why = "gpa + npages pages overflows";
	if (!why) {
		for (j = 0; j < vmm->ram.nr_regions; j++) {
			const struct ram_region *reg = &vmm->ram.region[j];

			if (d->gpa < reg->gpa || d->gpa - reg->gpa >= reg->size)
				continue;
			if (d->npages > (reg->size - (d->gpa - reg->gpa)) /
					GUEST_PAGE_SIZE)
				why = "the range runs past the end of its RAM region";
			*out = reg;
			break;
		}
		if (j == vmm->ram.nr_regions)
			why = "gpa is not in guest RAM";
	}
	if (why)
		return request_error(r, -EINVAL,
				     "VMM_DISCARD entry %u (gpa 0x%llx, %llu pages): %s; nothing discarded",
				     i, (unsigned long long)d->gpa,
				     (unsigned long long)d->npages, why);
	return 0;
}

/*
 * Anonymous RAM: MADV_DONTNEED empties the range. memfd RAM: its pages
 * live in the page cache, which MADV_DONTNEED leaves alone (they would
 * not fault): punch the hole in the file.
 */
static int discard_range(struct vmm *vmm, uint64_t offset, uint64_t len)
{
	if (vmm->ram.memfd >= 0) {
		if (fallocate(vmm->ram.memfd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      offset, len))
			return -errno;
		return 0;
	}
	if (madvise(vmm->ram.base + offset, len, MADV_DONTNEED))
		return -errno;
	return 0;
}

void postcopy_discard(struct vmm *vmm, const struct request_client *cl,
		      const void *payload, size_t len,
		      struct request_reply *r)
{
	const struct ram_region *reg = NULL;
	struct vmm_discard d;
	uint32_t nr = len / sizeof(d), i;
	uint64_t pages = 0;
	int ret;

	if (check_holder(vmm, cl, true, "VMM_DISCARD", r))
		return;
	if (!postcopy_active(&vmm->postcopy) || vmm->started) {
		request_error(r, -EINVAL, "VMM_DISCARD: %s",
			      vmm->started ? "the guest already runs; discard before VMM_START" :
			      "send VMM_POSTCOPY_BEGIN first");
		return;
	}
	if (!len || len % sizeof(d)) {
		request_error(r, -EINVAL,
			      "VMM_DISCARD takes one or more struct vmm_discard (%zu bytes each), not %zu bytes",
			      sizeof(d), len);
		return;
	}
	/* The whole list first: a bad entry discards nothing. */
	for (i = 0; i < nr; i++) {
		memcpy(&d, (const uint8_t *)payload + i * sizeof(d), sizeof(d));
		if (discard_check(vmm, &d, i, r, &reg))
			return;
	}
	for (i = 0; i < nr; i++) {
		memcpy(&d, (const uint8_t *)payload + i * sizeof(d), sizeof(d));
		discard_check(vmm, &d, i, r, &reg);
		ret = discard_range(vmm, reg->offset + d.gpa - reg->gpa,
				    d.npages * GUEST_PAGE_SIZE);
		if (ret) {
			request_error(r, ret,
				      "VMM_DISCARD entry %u (gpa 0x%llx): %s; entries before it were discarded",
				      i, (unsigned long long)d.gpa,
				      strerror(-ret));
			return;
		}
		pages += d.npages;
	}
	vmm_warn("postcopy: %llu pages discarded in %u ranges",
		 (unsigned long long)pages, nr);
}

/* Guest RAM stops faulting to the userfaultfd, on every copy of it. */
static void release(struct vmm *vmm)
{
	struct uffdio_range range = {
		.start = (uintptr_t)vmm->ram.base, .len = vmm->ram.size,
	};
	struct postcopy *pc = &vmm->postcopy;

	/* Also wakes whoever waits for a page, to fault in ordinary memory. */
	if (ioctl(pc->uffd, UFFDIO_UNREGISTER, &range))
		vmm_warn_errno("postcopy: UFFDIO_UNREGISTER");
	close(pc->uffd);
	pc->uffd = -1;
	pc->orphaned = false;
	pc->client = NULL;
}

void postcopy_end(struct vmm *vmm, const struct request_client *cl,
		  struct request_reply *r)
{
	if (check_holder(vmm, cl, false, "VMM_POSTCOPY_END", r))
		return;
	if (!postcopy_active(&vmm->postcopy)) {
		request_error(r, -EINVAL,
			      "VMM_POSTCOPY_END: no postcopy in progress");
		return;
	}
	release(vmm);
	vmm_warn("postcopy: ended; guest RAM is ordinary memory again");
}

/* mincore() pages per call: 4 GiB of guest RAM per 1 MiB vector. */
#define MISSING_CHUNK	(1U << 20)

/*
 * Bit i of @bm (LSB first) for page i of RAM counted region after region,
 * set when mincore() says the page is not resident (kmig_vmm.h): never
 * populated, discarded and not placed since, or swapped out.
 */
static int missing_fill(struct vmm *vmm, uint8_t *bm)
{
	uint64_t bit = 0, done, n, i;
	unsigned char *vec;
	int j, ret = 0;

	vec = malloc(MISSING_CHUNK);
	if (!vec)
		return -ENOMEM;
	for (j = 0; j < vmm->ram.nr_regions && !ret; j++) {
		const struct ram_region *reg = &vmm->ram.region[j];
		uint64_t pages = reg->size / GUEST_PAGE_SIZE;

		for (done = 0; done < pages; done += n) {
			n = pages - done < MISSING_CHUNK ? pages - done :
							   MISSING_CHUNK;
			ret = ram_resident(&vmm->ram,
					   reg->offset + done * GUEST_PAGE_SIZE,
					   n * GUEST_PAGE_SIZE, vec);
			if (ret)
				break;
			for (i = 0; i < n; i++, bit++)
				if (!(vec[i] & 1))
					bm[bit / 8] |= 1U << (bit % 8);
		}
	}
	free(vec);
	return ret;
}

void postcopy_missing(struct vmm *vmm, const struct request_client *cl,
		      struct request_reply *r)
{
	const struct postcopy *pc = &vmm->postcopy;
	uint64_t pages = 0;
	size_t len;
	uint8_t *out;
	int j, ret;

	if (check_holder(vmm, cl, false, "VMM_POSTCOPY_MISSING", r))
		return;
	if (!postcopy_active(pc) || pc->client != cl) {
		request_error(r, -EINVAL,
			      "VMM_POSTCOPY_MISSING: %s",
			      postcopy_active(pc) ? "send VMM_POSTCOPY_BEGIN on this connection first" :
			      "no postcopy in progress");
		return;
	}
	for (j = 0; j < vmm->ram.nr_regions; j++)
		pages += vmm->ram.region[j].size / GUEST_PAGE_SIZE;
	len = sizeof(uint64_t) + (pages + 7) / 8;
	if (len > VMM_MSG_MAX - sizeof(struct vmm_msg)) {
		request_error(r, -E2BIG,
			      "VMM_POSTCOPY_MISSING: the bitmap of %llu pages does not fit a %d-byte reply",
			      (unsigned long long)pages, VMM_MSG_MAX);
		return;
	}
	out = calloc(1, len);
	if (!out) {
		request_error(r, -ENOMEM, "out of memory");
		return;
	}
	memcpy(out, &pages, sizeof(pages));
	ret = missing_fill(vmm, out + sizeof(pages));
	if (ret) {
		free(out);
		request_error(r, ret, "VMM_POSTCOPY_MISSING: mincore: %s",
			      strerror(-ret));
		return;
	}
	r->payload = r->to_free = out;
	r->len = len;
}

bool postcopy_permits_run(struct vmm *vmm, const struct request_client *cl,
			  uint32_t type, struct request_reply *r)
{
	const struct postcopy *pc = &vmm->postcopy;

	if (pc->orphaned) {
		request_error(r, -EPERM,
			      "the guest's memory is incomplete here (some pages are only on the source) and its postcopy client went away: reattach with VMM_POSTCOPY_BEGIN, or quit");
		return false;
	}
	/* Only the client that places the missing pages knows it can. */
	if (type == VMM_RESUME && postcopy_active(pc) && pc->client != cl) {
		request_error(r, -EPERM,
			      "the guest's memory is incomplete here (some pages are only on the source): only the postcopy client serving its faults (pid %d) may resume it",
			      pc->client ? (int)vmm->hold.pid : 0);
		return false;
	}
	return true;
}

void postcopy_client_gone(struct vmm *vmm)
{
	vmm_warn("postcopy: the migration client went away with pages still missing: the guest stays paused until a client reattaches");
	if (vmm->started)
		runctl_pause(vmm);
	vmm->postcopy.orphaned = true;
	vmm->postcopy.client = NULL;
}

bool postcopy_page_present(struct vmm *vmm, uint64_t offset)
{
	unsigned char vec = 0;

	if (!postcopy_active(&vmm->postcopy))
		return true;
	offset -= offset % GUEST_PAGE_SIZE;
	if (offset >= vmm->ram.size ||
	    mincore(vmm->ram.base + offset, GUEST_PAGE_SIZE, &vec))
		return false;
	return vec & 1;
}

void postcopy_fini(struct vmm *vmm)
{
	if (postcopy_active(&vmm->postcopy))
		release(vmm);
}
