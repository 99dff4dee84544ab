// SPDX-License-Identifier: GPL-2.0
/*
 * The harnesses' destination model (fuzz_model.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include "fuzz_model.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz: %s:%d: assertion failed: %s\n", file, line, what);
	abort();
}

const struct kms_layout fuzz_layout = {
	.nr = 4,
	.r = {
		{ 0, 64 * KMS_PAGE_SIZE },
		{ 1 << 20, 32 * KMS_PAGE_SIZE },
		{ 1ULL << 32, 16 * KMS_PAGE_SIZE },
		{ 0ULL - 16 * KMS_PAGE_SIZE, 15 * KMS_PAGE_SIZE },
	},
};

void fuzz_check_error(const struct kms_error *e)
{
	size_t i, n;

	FUZZ_ASSERT(memchr(e->msg, 0, sizeof(e->msg)) != NULL);
	/* Printable: a hostile peer must not reach our terminal raw. */
	n = strlen(e->msg);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(e->msg[i] >= 0x20 && e->msg[i] < 0x7f);
}

void model_ram_init(struct model_ram *m)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < fuzz_layout.nr; i++) {
		m->mem[i] = calloc(1, fuzz_layout.r[i].size);
		if (!m->mem[i])
			abort();
	}
}

void model_ram_free(struct model_ram *m)
{
	uint32_t i;

	for (i = 0; i < fuzz_layout.nr; i++)
		free(m->mem[i]);
	memset(m, 0, sizeof(*m));
}

/*
 * Where [gpa, gpa + npages pages) is in the model: the guard, in 128-bit
 * arithmetic, independent of the decoder's own overflow-safe check. A
 * record that is not wholly inside one region is a finding.
 */
static uint8_t *model_ram_at(struct model_ram *m, uint64_t gpa, uint64_t npages)
{
	unsigned __int128 end = (unsigned __int128)gpa +
				(unsigned __int128)npages * KMS_PAGE_SIZE;
	uint32_t i;

	FUZZ_ASSERT(npages > 0);
	FUZZ_ASSERT(gpa % KMS_PAGE_SIZE == 0);
	for (i = 0; i < fuzz_layout.nr; i++) {
		const struct kms_region *r = &fuzz_layout.r[i];

		if (gpa >= r->gpa &&
		    end <= (unsigned __int128)r->gpa + r->size)
			return m->mem[i] + (gpa - r->gpa);
	}
	fuzz_fail(__FILE__, __LINE__, "a record outside the guest's RAM passed the decoder");
}

int model_ram_apply(struct model_ram *m, const struct kms_ram *ram,
		    const uint8_t *frame, size_t len)
{
	uint8_t page[KMS_ZSTD_RUN_MAX * KMS_PAGE_SIZE];
	size_t used = 0, n;
	uint32_t i;

	FUZZ_ASSERT(ram->nr >= 1 && ram->nr <= KMS_MAX_RECS);
	FUZZ_ASSERT(ram->data >= frame && ram->data <= frame + len);
	FUZZ_ASSERT(ram->data_len == (size_t)(frame + len - ram->data));
	for (i = 0; i < ram->nr; i++) {
		const struct kmig_rec *r = &ram->recs[i];
		uint8_t *dst = model_ram_at(m, r->gpa, r->npages);

		switch (r->kind) {
		case KMS_REC_PAGE:
			FUZZ_ASSERT(r->npages == 1 && r->len == KMS_PAGE_SIZE);
			FUZZ_ASSERT(ram->data_len - used >= KMS_PAGE_SIZE);
			memcpy(dst, ram->data + used, KMS_PAGE_SIZE);
			used += KMS_PAGE_SIZE;
			m->pages_written++;
			break;
		case KMS_REC_ZSTD:
			FUZZ_ASSERT(r->npages >= 1 &&
				    r->npages <= KMS_ZSTD_RUN_MAX &&
				    r->len >= 1 && r->len < KMS_PAGE_SIZE);
			FUZZ_ASSERT(ram->data_len - used >= r->len);
			n = ZSTD_decompress(page, sizeof(page), ram->data + used,
					    r->len);
			used += r->len;
			/* The kernel refuses what is not exactly its pages. */
			if (ZSTD_isError(n) ||
			    n != (size_t)r->npages * KMS_PAGE_SIZE)
				return -1;
			memcpy(dst, page, n);
			m->pages_written += r->npages;
			break;
		case KMS_REC_ZERO:
		case KMS_REC_HOLE:
			FUZZ_ASSERT(r->len == 0);
			memset(dst, 0, (size_t)r->npages * KMS_PAGE_SIZE);
			m->pages_zeroed += r->npages;
			break;
		default:
			fuzz_fail(__FILE__, __LINE__, "a record of unknown kind passed the decoder");
		}
	}
	/* The records use every data byte, no more, no less. */
	FUZZ_ASSERT(used == ram->data_len);
	return 0;
}

void fuzz_chan_open(struct chan *c, int *peer, const char *name,
		    const uint8_t *data, size_t len)
{
	int sv[2];
	size_t done = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		abort();
	while (done < len) {
		ssize_t n = send(sv[0], data + done, len - done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;	/* the buffer is full: the stream ends here */
		done += n;
	}
	shutdown(sv[0], SHUT_WR);
	chan_init(c, sv[1], name, 1000, NULL);
	*peer = sv[0];
}

void fuzz_chan_close(struct chan *c, int peer)
{
	chan_close(c);
	close(peer);
}
