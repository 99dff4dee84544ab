// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ram: one RAM frame's payload, as a data channel hands it to
 * kms_ram_decode() (kmigctl/wire/stream.c), then written into a model of the
 * destination guest's RAM (fuzz_model.c) the way KMIG_LOAD writes it.
 *
 * Input: one byte of HELLO features (bit 0: KMS_F_ZSTD announced, bit 1:
 * with it KMS_F_ZSTD_RUN), then
 * the payload: the RAM header, the records, the page data.
 *
 * Findings: a sanitizer report; a record accepted outside fuzz_layout
 * (every page write is checked against the region it lands in, and each
 * region is its own allocation); data that does not add up; counters that
 * disagree with the records; an error message that is not one line.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_model.h"
#include "stream.h"

static struct model_ram ram_model;
static struct kms_ram ram;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	model_ram_init(&ram_model);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t normal = 0, zero = 0, hole = 0, zstd = 0;
	struct kms_error e = { .msg = "" };
	uint32_t features, i;
	int ret;

	if (size < 1)
		return 0;
	features = data[0] & 1 ? KMS_F_ZSTD : 0;
	if (features && data[0] & 2)
		features |= KMS_F_ZSTD_RUN;
	data++;
	size--;

	ret = kms_ram_decode(data, size, &fuzz_layout, features, &ram, &e);
	if (ret) {
		FUZZ_ASSERT(ret < 0);
		FUZZ_ASSERT(e.msg[0]);
		fuzz_check_error(&e);
		return 0;
	}
	/* The frame header's bounds, which chan_recv() checked first. */
	FUZZ_ASSERT(size >= KMS_RAM_HDR_LEN + KMS_REC_LEN &&
		    size <= KMS_RAM_MAX_LEN);
	for (i = 0; i < ram.nr; i++) {
		const struct kmig_rec *r = &ram.recs[i];

		FUZZ_ASSERT(kms_layout_contains(&fuzz_layout, r->gpa, r->npages));
		if (r->kind == KMS_REC_PAGE || r->kind == KMS_REC_ZSTD)
			normal += r->npages;
		if (r->kind == KMS_REC_ZSTD)
			zstd += r->npages;
		/* Runs only where the HELLO announced them. */
		FUZZ_ASSERT(r->kind != KMS_REC_ZSTD || r->npages == 1 ||
			    (features & KMS_F_ZSTD_RUN &&
			     r->npages <= KMS_ZSTD_RUN_MAX));
		if (r->kind == KMS_REC_ZERO)
			zero += r->npages;
		if (r->kind == KMS_REC_HOLE)
			hole += r->npages;
	}
	FUZZ_ASSERT(ram.normal == normal && ram.compressed == zstd &&
		    ram.zero == zero && ram.hole == hole);
	FUZZ_ASSERT(features & KMS_F_ZSTD || !zstd);
	/* What the source computes for the frame it sends. */
	if (!zstd)
		FUZZ_ASSERT(kms_ram_len(ram.nr, normal) == size);
	model_ram_apply(&ram_model, &ram, data, size);
	return 0;
}
