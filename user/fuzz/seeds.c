// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzers' seed corpus, from the real encoders (kmigctl/wire/stream.c) and,
 * for the device-state blob, the layout of vmm/state.h as state_save()
 * writes it: `seeds DIR` writes DIR/<harness>/seed-<name>. Each seed is a
 * valid exchange that the harness's model destination accepts, so that
 * the fuzzer starts from deep inside the decoders. `make seeds` runs it;
 * the output is committed in corpus/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/kvm.h>
#include <zstd.h>

#include "state.h"
#include "stream.h"

/* As fuzz_model.c's fuzz_layout (the harnesses assert it: seeds pass). */
static const struct kms_layout layout = {
	.nr = 4,
	.r = {
		{ 0, 64 * KMS_PAGE_SIZE },
		{ 1 << 20, 32 * KMS_PAGE_SIZE },
		{ 1ULL << 32, 16 * KMS_PAGE_SIZE },
		{ 0ULL - 16 * KMS_PAGE_SIZE, 15 * KMS_PAGE_SIZE },
	},
};

struct buf {
	uint8_t b[64 << 10];
	size_t len;
};

static const char *out_dir;

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > sizeof(b->b))
		abort();
	if (n)
		memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void put_u8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void write_seed(const char *harness, const char *name,
		       const struct buf *b)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", out_dir, harness);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/seed-%s", out_dir, harness, name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(b->b, 1, b->len, fp) != b->len || fclose(fp)) {
		perror(path);
		exit(1);
	}
}

static void preamble(struct buf *b, uint32_t version)
{
	uint8_t p[KMS_PREAMBLE_LEN];

	kms_preamble_encode(p, version, 0);
	put(b, p, sizeof(p));
}

static void frame(struct buf *b, uint32_t type, const void *payload,
		  uint32_t len)
{
	uint8_t h[KMS_FRAME_HDR_LEN];

	kms_frame_hdr_encode(h, type, len);
	put(b, h, sizeof(h));
	put(b, payload, len);
}

static void hello_frame(struct buf *b, uint32_t channel, uint32_t features)
{
	uint8_t p[KMS_HELLO_LEN(KMS_MAX_REGIONS)];
	struct kms_hello h = {
		.session_id = 0x0123456789abcdefULL,	/* fuzz_hello.c's */
		.channel = channel,
		.nr_channels = 2,
		.page_size = KMS_PAGE_SIZE,
		.nr_vcpus = 2,
		.features = features,
		.layout = layout,
	};

	h.ram_bytes = kms_layout_bytes(&layout);
	frame(b, KMS_HELLO, p, kms_hello_encode(&h, p));
}

static void reason_frame(struct buf *b, uint32_t type, const char *why)
{
	uint8_t p[KMS_MAX_REASON];

	frame(b, type, p, kms_reason_encode(why, p, sizeof(p)));
}

static void seeds_hello(void)
{
	struct buf b;

	/* Mode 0: the destination's main channel; 2: a data channel. */
	b.len = 0;
	put_u8(&b, 0);
	preamble(&b, KMS_VERSION);
	hello_frame(&b, 0, 0);
	write_seed("fuzz_hello", "dst-main", &b);

	b.len = 0;
	put_u8(&b, 2);
	preamble(&b, KMS_VERSION);
	hello_frame(&b, 2, 0);
	write_seed("fuzz_hello", "dst-data", &b);

	b.len = 0;
	put_u8(&b, 0);
	preamble(&b, KMS_VERSION);
	hello_frame(&b, 0, KMS_F_ZSTD);
	write_seed("fuzz_hello", "dst-zstd", &b);

	b.len = 0;
	put_u8(&b, 0);
	preamble(&b, 1);
	hello_frame(&b, 0, 0);
	write_seed("fuzz_hello", "dst-version1", &b);

	/* Mode 1: the source reads the destination's answer. */
	b.len = 0;
	put_u8(&b, 1);
	preamble(&b, KMS_VERSION);
	frame(&b, KMS_ACCEPT, NULL, 0);
	write_seed("fuzz_hello", "src-accept", &b);

	b.len = 0;
	put_u8(&b, 1);
	preamble(&b, KMS_VERSION);
	reason_frame(&b, KMS_REJECT, "guest RAM layouts differ: source 0x0+128M, destination 0x0+64M");
	write_seed("fuzz_hello", "src-reject", &b);

	b.len = 0;
	put_u8(&b, 1);
	preamble(&b, 3);
	reason_frame(&b, KMS_REJECT, "stream version 2 is not supported");
	write_seed("fuzz_hello", "src-version3", &b);
}

/* A RAM payload: header, records, then the data of @data_len bytes. */
struct rec {
	uint64_t gpa;
	uint32_t npages;
	uint16_t kind, len;
};

static void ram_payload(struct buf *b, const struct rec *r, uint32_t nr,
			const void *data, size_t data_len)
{
	uint8_t h[KMS_RAM_HDR_LEN], q[KMS_REC_LEN];
	uint32_t i;

	kms_ram_hdr_encode(h, nr, 0);	/* the fuzzers skip the CRC */
	put(b, h, sizeof(h));
	for (i = 0; i < nr; i++) {
		struct kmig_rec k = {
			.gpa = r[i].gpa, .npages = r[i].npages,
			.kind = r[i].kind, .len = r[i].len,
		};

		kms_rec_encode(q, &k);
		put(b, q, sizeof(q));
	}
	put(b, data, data_len);
}

/* A page that zstd shrinks: what a source with --compress zstd sends. */
static size_t zstd_page(uint8_t *out, size_t cap, uint8_t fill)
{
	uint8_t page[KMS_PAGE_SIZE];
	size_t n;

	memset(page, fill, sizeof(page));
	memcpy(page, "kmig", 4);
	n = ZSTD_compress(out, cap, page, sizeof(page), 1);
	if (ZSTD_isError(n) || n >= KMS_PAGE_SIZE)
		abort();
	return n;
}

static void seeds_ram(void)
{
	uint8_t page[KMS_PAGE_SIZE], z[2][256];
	size_t z0, z1;
	struct buf b;
	uint64_t top = layout.r[3].gpa;

	memset(page, 0x5a, sizeof(page));
	/* Features byte 0, then the payload. */
	b.len = 0;
	put_u8(&b, 0);
	ram_payload(&b, (struct rec[]){
		{ top + 14 * KMS_PAGE_SIZE, 1, KMS_REC_PAGE, KMS_PAGE_SIZE },
	}, 1, page, sizeof(page));
	write_seed("fuzz_ram", "page-last", &b);

	b.len = 0;
	put_u8(&b, 0);
	ram_payload(&b, (struct rec[]){
		{ 0, 64, KMS_REC_ZERO, 0 },
		{ 1 << 20, 31, KMS_REC_HOLE, 0 },
		{ 1ULL << 32, 16, KMS_REC_ZERO, 0 },
		{ top, 15, KMS_REC_HOLE, 0 },
	}, 4, NULL, 0);
	write_seed("fuzz_ram", "runs", &b);

	z0 = zstd_page(z[0], sizeof(z[0]), 0x11);
	z1 = zstd_page(z[1], sizeof(z[1]), 0x22);
	memcpy(z[0] + z0, z[1], z1);
	b.len = 0;
	put_u8(&b, 1);
	ram_payload(&b, (struct rec[]){
		{ 0x3000, 1, KMS_REC_ZSTD, z0 },
		{ (1 << 20) + 0x1000, 1, KMS_REC_ZSTD, z1 },
		{ 0x4000, 2, KMS_REC_ZERO, 0 },
	}, 3, z[0], z0 + z1);
	write_seed("fuzz_ram", "zstd", &b);
}

static void sync_frame(struct buf *b, uint32_t type, uint32_t round)
{
	uint8_t p[KMS_SYNC_LEN];

	kms_sync_encode(p, round);
	frame(b, type, p, sizeof(p));
}

static void seeds_frames(void)
{
	uint8_t ack[KMS_ACK_LEN], z[256], state[64];
	struct buf b, ram;
	size_t zn;

	/* Mode 0: a data channel: two rounds, then END. */
	b.len = 0;
	put_u8(&b, 0);
	put_u8(&b, 0);
	ram.len = 0;
	ram_payload(&ram, (struct rec[]){ { 0, 16, KMS_REC_ZERO, 0 } }, 1,
		    NULL, 0);
	frame(&b, KMS_RAM, ram.b, ram.len);
	sync_frame(&b, KMS_SYNC, 1);
	ram.len = 0;
	ram_payload(&ram, (struct rec[]){
		{ 1ULL << 32, 4, KMS_REC_HOLE, 0 },
		{ 0x2000, 1, KMS_REC_ZERO, 0 },
	}, 2, NULL, 0);
	frame(&b, KMS_RAM, ram.b, ram.len);
	sync_frame(&b, KMS_SYNC, 2);
	frame(&b, KMS_END, NULL, 0);
	write_seed("fuzz_frames", "data-rounds", &b);

	b.len = 0;
	put_u8(&b, 0);
	put_u8(&b, 1);
	zn = zstd_page(z, sizeof(z), 0x33);
	ram.len = 0;
	ram_payload(&ram, (struct rec[]){
		{ 0x5000, 1, KMS_REC_ZSTD, zn },
	}, 1, z, zn);
	frame(&b, KMS_RAM, ram.b, ram.len);
	sync_frame(&b, KMS_SYNC, 1);
	frame(&b, KMS_END, NULL, 0);
	write_seed("fuzz_frames", "data-zstd", &b);

	/* Mode 1: the destination's main channel. */
	memset(state, 0, sizeof(state));
	memcpy(state, STATE_MAGIC, 8);
	b.len = 0;
	put_u8(&b, 1);
	put_u8(&b, 0);
	frame(&b, KMS_KEEPALIVE, NULL, 0);
	frame(&b, KMS_DEVICE_STATE, state, sizeof(state));
	frame(&b, KMS_KEEPALIVE, NULL, 0);
	frame(&b, KMS_END, NULL, 0);
	frame(&b, KMS_GO, NULL, 0);
	write_seed("fuzz_frames", "dst-main", &b);

	b.len = 0;
	put_u8(&b, 1);
	put_u8(&b, 0);
	frame(&b, KMS_KEEPALIVE, NULL, 0);
	reason_frame(&b, KMS_ABORT, "cancelled by signal 2 (Interrupt)");
	write_seed("fuzz_frames", "dst-abort", &b);

	/* Mode 2: the source's main channel. */
	b.len = 0;
	put_u8(&b, 2);
	put_u8(&b, 0);
	sync_frame(&b, KMS_LOADED, 1);
	frame(&b, KMS_KEEPALIVE, NULL, 0);
	sync_frame(&b, KMS_LOADED, 2);
	frame(&b, KMS_READY, NULL, 0);
	kms_ack_encode(ack, 1234567);
	frame(&b, KMS_ACK, ack, sizeof(ack));
	write_seed("fuzz_frames", "src-main", &b);
}

/* vmm/state.h's blob for fuzz_state.c's model VMM: 2 vCPUs, 64 MiB. */
static void section(struct buf *b, uint32_t *nr, uint32_t type,
		    uint32_t index, const void *payload, uint32_t len)
{
	struct state_section s = { .type = type, .index = index, .len = len };
	static const uint8_t pad[8];

	put(b, &s, sizeof(s));
	put(b, payload, len);
	put(b, pad, -len & 7);
	(*nr)++;
}

static void seeds_state(void)
{
	struct state_config cfg = {
		.ram_size = 64 << 20, .nr_vcpus = 2, .rate_mib = 8,
		.workload = "dirty:16:32",
	};
	struct {
		struct kvm_cpuid2 h;
		struct kvm_cpuid_entry2 e[1];
	} cpuid = { .h.nent = 1, .e = { { .function = 0, .eax = 0xd } } };
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[2];
	} msrs = { .h.nmsrs = 2,
		   .e = { { .index = 0xc0000080, .data = 0x500 },
			  { .index = 0x10, .data = 12345 } } };
	struct kvm_clock_data clock = { .clock = 1000000 };
	struct kvm_irqchip chip;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	struct kvm_sregs sregs = { .cr0 = 0x80000011 };
	struct kvm_fpu fpu = { .fcw = 0x37f };
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs = { { 0, 0, 3 } } };
	struct kvm_lapic_state lapic = { .regs = { 0 } };
	struct kvm_vcpu_events events = { .flags = 0 };
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_debugregs dr = { .dr6 = 0xffff0ff0, .dr7 = 0x400 };
	uint64_t khz = 2000000;
	struct state_header *head;
	uint32_t nr = 0, i;
	struct buf b;

	b.len = sizeof(*head);
	memset(b.b, 0, sizeof(*head));
	section(&b, &nr, STATE_CONFIG, 0, &cfg, sizeof(cfg));
	section(&b, &nr, STATE_CLOCK, 0, &clock, sizeof(clock));
	for (i = 0; i < 3; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = i;
		section(&b, &nr, STATE_IRQCHIP, i, &chip, sizeof(chip));
	}
	for (i = 0; i < 2; i++) {
		section(&b, &nr, STATE_TSC_KHZ, i, &khz, sizeof(khz));
		section(&b, &nr, STATE_CPUID, i, &cpuid, sizeof(cpuid));
		section(&b, &nr, STATE_REGS, i, &regs, sizeof(regs));
		section(&b, &nr, STATE_FPU, i, &fpu, sizeof(fpu));
		section(&b, &nr, STATE_XCRS, i, &xcrs, sizeof(xcrs));
		section(&b, &nr, STATE_SREGS, i, &sregs, sizeof(sregs));
		section(&b, &nr, STATE_MSRS, i, &msrs, sizeof(msrs));
		section(&b, &nr, STATE_MP_STATE, i, &mp, sizeof(mp));
		section(&b, &nr, STATE_LAPIC, i, &lapic, sizeof(lapic));
		section(&b, &nr, STATE_EVENTS, i, &events, sizeof(events));
		section(&b, &nr, STATE_DEBUGREGS, i, &dr, sizeof(dr));
	}
	head = (struct state_header *)b.b;
	memcpy(head->magic, STATE_MAGIC, 8);
	head->version = STATE_VERSION;
	head->nr_sections = nr;
	head->size = b.len;
	write_seed("fuzz_state", "two-vcpus", &b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	mkdir(out_dir, 0755);
	seeds_hello();
	seeds_ram();
	seeds_frames();
	seeds_state();
	return 0;
}
