/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kmig migration stream, version 2 (Documentation/stream-format.md):
 * encoders and, above all, the decoders that check everything a peer sends
 * before anything acts on it. Pure functions over byte buffers; no I/O.
 *
 * Every decoder returns 0 or a negative errno and, on error, fills a
 * struct kms_error with one line that names what was wrong:
 *   -EPROTO           not a kmig stream, or a malformed frame
 *   -EPROTONOSUPPORT  a stream version this side does not speak
 *   -EMSGSIZE         a length beyond the format's bounds
 *   -ERANGE           an address outside guest RAM
 */
#ifndef KMIGCTL_STREAM_H
#define KMIGCTL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kmig.h>

#define KMS_MAGIC		"KMIGSTRM"	/* 8 bytes, no NUL on the wire */
/*
 * 2: KEEPALIVE, and the commit protocol's rules (a destination that got GO
 * never stops the VM for a network problem); a version-1 peer would take
 * a KEEPALIVE for a broken stream, so the preamble keeps them apart.
 * 3: the AUTH_* frames and frame MACs of --auth-key (preamble flag
 * KMS_PRE_F_AUTH), and a CRC-32C in every RAM frame's header.
 */
#define KMS_VERSION		3
#define KMS_PAGE_SIZE		4096
#define KMS_PREAMBLE_LEN	16
#define KMS_FRAME_HDR_LEN	8

#define KMS_MAX_REGIONS		64
#define KMS_MAX_CHANNELS	KMIG_MAX_WORKERS
/* Records per RAM frame; one frame is one KMIG_LOAD (which takes 4096). */
#define KMS_MAX_RECS		1024
#define KMS_REC_LEN		16
#define KMS_RAM_HDR_LEN		8
#define KMS_RAM_MAX_LEN		(KMS_RAM_HDR_LEN + KMS_MAX_RECS * \
				 (KMS_REC_LEN + KMS_PAGE_SIZE))
#define KMS_HELLO_LEN(nr)	(40 + 16 * (nr))
#define KMS_MAX_REASON		512
/*
 * The VMM's device-state blob: what fits one control packet, VMM_MSG_MAX
 * less the 16-byte struct vmm_msg (switchover.c checks both).
 */
#define KMS_MAX_STATE		((16 << 20) - 16)
/* The largest frame payload of any type. */
#define KMS_MAX_FRAME		KMS_MAX_STATE

enum kms_frame_type {
	KMS_HELLO = 1,		/* source -> destination, first on a channel */
	KMS_ACCEPT = 2,		/* destination -> source, reply to HELLO */
	KMS_REJECT = 3,		/* destination -> source, reply to HELLO */
	KMS_RAM = 4,		/* source -> destination, data channels */
	KMS_SYNC = 5,		/* source -> destination, data: round ended */
	KMS_END = 6,		/* source -> destination, last on a channel */
	KMS_DEVICE_STATE = 7,	/* source -> destination, main channel */
	KMS_READY = 8,		/* destination -> source, main: loaded */
	KMS_GO = 9,		/* source -> destination, main: start it */
	KMS_ACK = 10,		/* destination -> source, main: it runs */
	KMS_ABORT = 11,		/* either way, main channel: giving up */
	KMS_LOADED = 12,	/* destination -> source, main: round loaded */
	KMS_KEEPALIVE = 13,	/* either way, main: "still here", no payload */
	/* --auth-key (auth.h): between the preamble and HELLO, every channel */
	KMS_AUTH_INIT = 14,	/* source -> destination: Ns, session, channel */
	KMS_AUTH_CHALLENGE = 15,/* destination -> source: Nd, its proof */
	KMS_AUTH_PROOF = 16,	/* source -> destination: its proof */
	KMS_AUTH_OK = 17,	/* destination -> source: frame MACs start */
	/* Postcopy (KMS_F_POSTCOPY; stream_postcopy.c) */
	KMS_DISCARD = 18,	/* source -> destination, main: stale pages */
	KMS_POSTCOPY = 19,	/* source -> destination, main: instead of END */
	KMS_REQUEST = 20,	/* destination -> source, preempt: pages wanted */
	KMS_DONE = 21,		/* destination -> source, main: every page here */
	KMS_FRAME_TYPE_MAX = KMS_DONE,
};

/*
 * Preamble flags. KMS_PRE_F_AUTH: the AUTH_* exchange follows, then every
 * frame of the channel ends with a KMS_TAG_LEN-byte MAC, counted in the
 * frame header's length.
 */
#define KMS_PRE_F_AUTH		0x1U
#define KMS_PRE_F_KNOWN		KMS_PRE_F_AUTH
#define KMS_TAG_LEN		16

/* Page record kinds on the wire (the same values as enum kmig_rec_kind). */
enum kms_rec_kind {
	KMS_REC_PAGE = 1,
	KMS_REC_ZERO = 2,
	KMS_REC_HOLE = 3,
	KMS_REC_ZSTD = 5,	/* only after HELLO announced KMS_F_ZSTD */
};

/* A ZSTD record's frame: 1..4095 bytes, less than the page it replaces. */
#define KMS_ZSTD_MAX_LEN	(KMS_PAGE_SIZE - 1)
/* Pages one ZSTD record may carry with KMS_F_ZSTD_RUN (1 without it). */
#define KMS_ZSTD_RUN_MAX	KMIG_ZSTD_RUN_MAX

/*
 * HELLO features: what the source will send. A destination that cannot
 * take one refuses the migration in its REJECT, naming it.
 */
#define KMS_F_ZSTD		0x1U	/* ZSTD records (KMIG_LOAD decompresses) */
/*
 * The source may switch to postcopy: a preempt channel (number
 * nr_channels + 1) follows the data channels, and the main channel may
 * carry DISCARD and POSTCOPY instead of END.
 */
#define KMS_F_POSTCOPY		0x2U
/*
 * With POSTCOPY: this source resumes a postcopy that broke off (`kmigctl
 * migrate --resume` to `kmigctl postcopy-recover`). No precopy: the
 * destination asks for every page it still lacks, with REQUESTs on the
 * data channels (background) and on the preempt channel (faults).
 */
#define KMS_F_RESUME		0x4U
/*
 * With ZSTD: a ZSTD record may carry a run of 1..KMS_ZSTD_RUN_MAX
 * neighbouring pages in one frame (KMIG_LOAD needs KMIG_FEATURE_ZSTD_RUN).
 */
#define KMS_F_ZSTD_RUN		0x8U
#define KMS_F_KNOWN		(KMS_F_ZSTD | KMS_F_POSTCOPY | KMS_F_RESUME | \
				 KMS_F_ZSTD_RUN)

struct kms_error {
	char msg[256];
};

struct kms_region {
	uint64_t gpa;
	uint64_t size;
};

/* Guest RAM: sorted, page-aligned, non-overlapping, non-empty regions. */
struct kms_layout {
	uint32_t nr;
	struct kms_region r[KMS_MAX_REGIONS];
};

struct kms_hello {
	uint64_t session_id;
	uint32_t channel;	/* 0: main; 1..nr_channels: data */
	uint32_t nr_channels;	/* data channels */
	uint32_t page_size;
	uint32_t nr_vcpus;
	uint32_t features;	/* KMS_F_* */
	uint64_t ram_bytes;	/* sum of the regions' sizes */
	struct kms_layout layout;
};

struct kms_frame_hdr {
	uint32_t type;		/* enum kms_frame_type */
	uint32_t len;		/* payload bytes that follow */
};

/* A decoded RAM frame; @data points into the frame buffer. */
struct kms_ram {
	uint32_t nr;
	struct kmig_rec recs[KMS_MAX_RECS];
	const uint8_t *data;
	size_t data_len;
	/* Pages by kind, for the report; @compressed counts in @normal too. */
	uint64_t normal, zero, hole, compressed;
};

/* Sets @e's message (truncated to fit), for callers that add context. */
void kms_errorf(struct kms_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

const char *kms_frame_name(uint32_t type);

/* Preamble: magic, version, flags (KMS_PRE_F_*). */
void kms_preamble_encode(uint8_t out[KMS_PREAMBLE_LEN], uint32_t version,
			 uint32_t flags);
/*
 * *@version gets the peer's version also when it is one we do not speak;
 * *@flags the flags (unknown ones are an error).
 */
int kms_preamble_decode(const uint8_t in[KMS_PREAMBLE_LEN],
			uint32_t *version, uint32_t *flags,
			struct kms_error *e);

void kms_frame_hdr_encode(uint8_t out[KMS_FRAME_HDR_LEN], uint32_t type,
			  uint32_t len);
/*
 * Checks the type is known and the length inside that type's bounds, so
 * the reader knows how much to read before reading it.
 */
int kms_frame_hdr_decode(const uint8_t in[KMS_FRAME_HDR_LEN],
			 struct kms_frame_hdr *h, struct kms_error *e);

/* A layout's own consistency (order, alignment, overlap, overflow). */
int kms_layout_check(const struct kms_layout *l, struct kms_error *e);
/* 0 if equal; else -EINVAL with both layouts described in @e. */
int kms_layout_compare(const struct kms_layout *src,
		       const struct kms_layout *dst, struct kms_error *e);
uint64_t kms_layout_bytes(const struct kms_layout *l);
/* Is [gpa, gpa + npages pages) inside one region? Overflow-safe. */
bool kms_layout_contains(const struct kms_layout *l, uint64_t gpa,
			 uint64_t npages);

/* Returns the payload length written (KMS_HELLO_LEN(nr)); @out must fit. */
size_t kms_hello_encode(const struct kms_hello *h, uint8_t *out);
int kms_hello_decode(const uint8_t *p, size_t len, struct kms_hello *h,
		     struct kms_error *e);

/*
 * RAM frames. The source writes the header and records, then the data.
 * The header is the record count and the CRC-32C of the frame's bytes but
 * the CRC's own four: the count, the records, the data (crc32c.h).
 */
void kms_ram_hdr_encode(uint8_t out[KMS_RAM_HDR_LEN], uint32_t nr,
			uint32_t crc);
/* The CRC's start: over the count (continued over records and data). */
uint32_t kms_ram_crc_start(uint32_t nr);
/* Writes the CRC of a whole RAM payload of @len bytes (tests, seeds). */
void kms_ram_seal(uint8_t *p, size_t len);
void kms_rec_encode(uint8_t out[KMS_REC_LEN], const struct kmig_rec *r);
/* Payload length of a RAM frame with @nr records, @pages of them PAGE. */
static inline uint32_t kms_ram_len(uint32_t nr, uint32_t pages)
{
	return KMS_RAM_HDR_LEN + nr * KMS_REC_LEN + pages * KMS_PAGE_SIZE;
}
/*
 * Checks a RAM payload against @l: record count, kinds, lengths, every
 * address inside guest RAM, and that the data adds up exactly. ZSTD
 * records are a protocol error unless @features (the HELLO's) has
 * KMS_F_ZSTD, and carry one page unless it also has KMS_F_ZSTD_RUN
 * (then 1..KMS_ZSTD_RUN_MAX); their frames are checked by KMIG_LOAD (or
 * the postcopy placer), which decompresses.
 * A CRC that does not match is -EBADMSG.
 */
int kms_ram_decode(const uint8_t *p, size_t len, const struct kms_layout *l,
		   uint32_t features, struct kms_ram *out,
		   struct kms_error *e);

/*
 * The --auth-key exchange (auth.h). AUTH_INIT: Ns, session id (u64),
 * channel (u32), 4 bytes of zero; AUTH_CHALLENGE: Nd, the destination's
 * proof; AUTH_PROOF: the source's proof; AUTH_OK: nothing.
 */
#define KMS_AUTH_NONCE_LEN	32
#define KMS_AUTH_PROOF_LEN	32
#define KMS_AUTH_INIT_LEN	(KMS_AUTH_NONCE_LEN + 16)
#define KMS_AUTH_CHALLENGE_LEN	(KMS_AUTH_NONCE_LEN + KMS_AUTH_PROOF_LEN)
struct kms_auth {
	uint8_t ns[KMS_AUTH_NONCE_LEN], nd[KMS_AUTH_NONCE_LEN];
	uint8_t proof[KMS_AUTH_PROOF_LEN];
	uint64_t session_id;
	uint32_t channel;
};
void kms_auth_init_encode(uint8_t out[KMS_AUTH_INIT_LEN],
			  const struct kms_auth *a);
int kms_auth_init_decode(const uint8_t *p, size_t len, struct kms_auth *a,
			 struct kms_error *e);
void kms_auth_challenge_encode(uint8_t out[KMS_AUTH_CHALLENGE_LEN],
			       const struct kms_auth *a);
/* Lengths are the frame header's business: these cannot fail. */
void kms_auth_challenge_decode(const uint8_t *p, struct kms_auth *a);

/*
 * Postcopy frames (Documentation/stream-format.md, "Postcopy").
 * DISCARD: u32 count, u32 zero, then count x (u64 gpa, u64 npages): pages
 * whose copy on the destination is stale, in increasing, non-overlapping
 * order within and across frames, each range inside one RAM region.
 * POSTCOPY: u32 round (the background round that follows on the data
 * channels), u32 zero, u64 pages discarded in all.
 * REQUEST: u32 count, u32 zero, then count x u64 gpa: single pages.
 * DONE: nothing.
 */
#define KMS_MAX_DISCARD		65536	/* ranges per DISCARD frame */
#define KMS_DISCARD_LEN(nr)	(8 + 16 * (uint32_t)(nr))
#define KMS_POSTCOPY_LEN	16
#define KMS_MAX_REQUEST		256	/* = KMIG_FETCH_MAX_PAGES */
#define KMS_REQUEST_LEN(nr)	(8 + 8 * (uint32_t)(nr))

struct kms_discard {
	uint64_t gpa;
	uint64_t npages;
};

/* @out must hold @nr ranges' bytes: KMS_DISCARD_LEN(@nr). */
size_t kms_discard_encode(const struct kms_discard *d, uint32_t nr,
			  uint8_t *out);
/*
 * Checks a DISCARD payload against @l and against *@next_gpa, the first
 * address the next range may start at (ranges only ever go up; the call
 * moves it past the last range). Fills @d (room for KMS_MAX_DISCARD) and
 * *@nr; adds the pages to *@pages.
 */
int kms_discard_decode(const uint8_t *p, size_t len,
		       const struct kms_layout *l, uint64_t *next_gpa,
		       struct kms_discard *d, uint32_t *nr, uint64_t *pages,
		       struct kms_error *e);
void kms_postcopy_encode(uint8_t out[KMS_POSTCOPY_LEN], uint32_t round,
			 uint64_t pages);
int kms_postcopy_decode(const uint8_t *p, size_t len, uint32_t *round,
			uint64_t *pages, struct kms_error *e);
size_t kms_request_encode(const uint64_t *gpa, uint32_t nr, uint8_t *out);
/* Every page inside @l and page-aligned; @gpa has room for KMS_MAX_REQUEST. */
int kms_request_decode(const uint8_t *p, size_t len,
		       const struct kms_layout *l, uint64_t *gpa, uint32_t *nr,
		       struct kms_error *e);

/*
 * Pages numbered over the whole layout, region after region: the index
 * of @gpa's page, or UINT64_MAX when it is in no region.
 */
uint64_t kms_layout_page_index(const struct kms_layout *l, uint64_t gpa);

/* SYNC and LOADED: the round number (u32) and 4 bytes of zero. */
#define KMS_SYNC_LEN		8
void kms_sync_encode(uint8_t out[KMS_SYNC_LEN], uint32_t round);
int kms_sync_decode(const uint8_t *p, size_t len, uint32_t *round,
		    struct kms_error *e);

/* ACK: nanoseconds from GO received to the VM running (u64). */
#define KMS_ACK_LEN		8
void kms_ack_encode(uint8_t out[KMS_ACK_LEN], uint64_t start_ns);
int kms_ack_decode(const uint8_t *p, size_t len, uint64_t *start_ns,
		   struct kms_error *e);

/*
 * REJECT and ABORT carry a reason: printable text, no NUL. Decoding copies
 * it into @out (NUL-terminated, non-printable bytes replaced by '?', so a
 * hostile peer cannot write escape sequences to our terminal).
 */
size_t kms_reason_encode(const char *reason, uint8_t *out, size_t cap);
void kms_reason_decode(const uint8_t *p, size_t len, char *out, size_t cap);

/* Little-endian helpers, shared with the code that builds frames. */
void kms_put_u16(uint8_t *p, uint16_t v);
void kms_put_u32(uint8_t *p, uint32_t v);
void kms_put_u64(uint8_t *p, uint64_t v);
uint16_t kms_get_u16(const uint8_t *p);
uint32_t kms_get_u32(const uint8_t *p);
uint64_t kms_get_u64(const uint8_t *p);

#endif /* KMIGCTL_STREAM_H */
