/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fuzz harnesses share: the destination they pretend to be (a
 * fixed guest RAM layout), a model of that guest's RAM that the decoded
 * records are written into, a channel whose peer sent the fuzzer's bytes
 * (a socketpair, so the real chan.c reads them), and an assertion that
 * crashes the run, which libFuzzer reports as a finding.
 */
#ifndef KMIG_FUZZ_MODEL_H
#define KMIG_FUZZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "stream.h"

/* A violated invariant: a finding. abort() so that libFuzzer saves it. */
#define FUZZ_ASSERT(cond)						\
	do {								\
		if (!(cond))						\
			fuzz_fail(__FILE__, __LINE__, #cond);		\
	} while (0)

void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/*
 * The destination's guest RAM: 256 KiB at 0, 128 KiB at 1 MiB, 64 KiB at
 * 4 GiB and 60 KiB ending one page below 2^64, where a careless end
 * address wraps to zero.
 */
extern const struct kms_layout fuzz_layout;

/* Every message a decoder wrote is one NUL-terminated printable line. */
void fuzz_check_error(const struct kms_error *e);

/*
 * A malloc'ed buffer per region of fuzz_layout, each exactly the region's
 * size, so that ASan also catches a write the guards below would miss.
 */
struct model_ram {
	uint8_t *mem[KMS_MAX_REGIONS];
	uint64_t pages_written, pages_zeroed;
};

void model_ram_init(struct model_ram *m);
void model_ram_free(struct model_ram *m);

/*
 * Writes a RAM frame that kms_ram_decode() accepted (@frame, @len: the
 * payload it decoded) into @m, as KMIG_LOAD writes guest RAM: PAGE data as
 * it is, ZSTD data decompressed (it must make exactly one page, as the
 * kernel requires), ZERO and HOLE runs zeroed. Asserts that every record
 * lies inside one region and every data byte inside the frame, and that
 * the data adds up. Returns 0, or -1 where KMIG_LOAD would refuse the
 * frame (a zstd frame that is not one page).
 */
int model_ram_apply(struct model_ram *m, const struct kms_ram *ram,
		    const uint8_t *frame, size_t len);

/*
 * @c reads what a peer sent (@data, then EOF) through a socketpair; *@peer
 * is the peer's end, where what @c writes arrives. A stream larger than
 * the socket buffer is cut where it filled up.
 */
void fuzz_chan_open(struct chan *c, int *peer, const char *name,
		    const uint8_t *data, size_t len);
void fuzz_chan_close(struct chan *c, int peer);

#endif /* KMIG_FUZZ_MODEL_H */
