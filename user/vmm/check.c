// SPDX-License-Identifier: GPL-2.0
/*
 * The workload checkers (see check.h for what each one verifies).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "check.h"
#include "hostwrite.h"
#include "kmig_vmm.h"
#include "util.h"
#include "vmm.h"

#define WORDS_PER_PAGE	(GUEST_PAGE_SIZE / 8)

struct checker {
	struct vmm *vmm;
	unsigned char *resident;	/* one byte per RAM page (mincore) */
	struct vmm_check *out;
	uint64_t pages;			/* data pages checked */
};

static const uint64_t zero_page[WORDS_PER_PAGE];

static void failf(struct checker *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Keeps the first failure: later ones are usually its consequences. */
static void failf(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->out->ok)
		return;
	c->out->ok = 0;
	va_start(ap, fmt);
	vsnprintf(c->out->verdict, sizeof(c->out->verdict), fmt, ap);
	va_end(ap);
}

static bool failed(struct checker *c)
{
	return !c->out->ok;
}

static uint64_t gpa_of(uint64_t off)
{
	return off < GUEST_LOW_END ? off :
	       off - GUEST_LOW_END + GUEST_HIGH_START;
}

/* The page at RAM offset @off, or NULL when it is not resident (zero). */
static const uint64_t *page_at(struct checker *c, uint64_t off)
{
	if (!(c->resident[off / GUEST_PAGE_SIZE] & 1))
		return NULL;
	return (const uint64_t *)(c->vmm->ram.base + off);
}

static bool words_zero(const uint64_t *w, size_t n)
{
	return !memcmp(w, zero_page, n * 8);
}

static bool page_zero(struct checker *c, uint64_t off)
{
	const uint64_t *p = page_at(c, off);

	return !p || words_zero(p, WORDS_PER_PAGE);
}

static uint64_t blk_read(struct vmm *vmm, int id, int field)
{
	uint64_t v;

	memcpy(&v, vmm->ram.base + GUEST_BLOCK(id) + field, sizeof(v));
	return v;
}

/* The guest's generators (guest.S), for text and random. */
static uint64_t xorshift64(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static uint64_t fill_word(uint64_t mode, uint64_t *x)
{
	uint64_t w;

	*x = xorshift64(*x);
	if (mode == GUEST_MODE_RANDOM)
		return *x * GUEST_RANDOM_MUL;
	memcpy(&w, guest_text_words + (*x >> 60) * 8, sizeof(w));
	return w;
}

/*
 * Whether the page at @off holds the fill; with @partial, a prefix of it
 * followed by zeros also passes (the guest was filling it).
 */
static bool fill_ok(struct checker *c, const struct workload_slice *s,
		    uint64_t off, bool partial)
{
	const uint64_t *p = page_at(c, off);
	uint64_t x = (off | 1) ^ s->seed;
	size_t i;

	if (s->mode == GUEST_MODE_ZERO || !p)
		return s->mode == GUEST_MODE_ZERO ? page_zero(c, off) : partial;
	for (i = 0; i < WORDS_PER_PAGE; i++)
		if (p[i] != fill_word(s->mode, &x))
			return partial && words_zero(p + i, WORDS_PER_PAGE - i);
	return true;
}

static void check_fill(struct checker *c, int id,
		       const struct workload_slice *s)
{
	uint64_t index = blk_read(c->vmm, id, BLK_INDEX), i, off;
	uint64_t done = blk_read(c->vmm, id, BLK_PASS);

	if (index > s->pages || (done && index != s->pages)) {
		failf(c, "vCPU %d's progress is corrupt: page %llu of %llu, done %llu",
		      id, (unsigned long long)index,
		      (unsigned long long)s->pages, (unsigned long long)done);
		return;
	}
	for (i = 0; i < s->pages && !failed(c); i++, c->pages++) {
		off = s->first + i * GUEST_PAGE_SIZE;
		if (i < index ? !fill_ok(c, s, off, false) :
		    i == index ? !fill_ok(c, s, off, true) :
		    !page_zero(c, off))
			failf(c, "%s: page at gpa 0x%llx is wrong (vCPU %d has filled %llu of %llu pages)",
			      workload_mode_name(s->mode),
			      (unsigned long long)gpa_of(off), id,
			      (unsigned long long)index,
			      (unsigned long long)s->pages);
	}
}

/*
 * The edge of a sweep: the guest writes page i, then stores index = i + 1;
 * paused in between, the edge is one page further. Edge 0 is "no edge".
 */
static bool edge_where_guest_is(uint64_t edge, uint64_t index,
				uint64_t pages)
{
	return edge == index % pages || edge == (index + 1) % pages;
}

static void check_counter(struct checker *c, int id,
			  const struct workload_slice *s)
{
	uint64_t index = blk_read(c->vmm, id, BLK_INDEX), edge = 0, i, off;
	const uint64_t *p;
	uint8_t b, prev = 0;

	for (i = 0; i < s->pages && !failed(c); i++, c->pages++) {
		off = s->first + i * GUEST_PAGE_SIZE;
		p = page_at(c, off);
		b = p ? *(const uint8_t *)p : 0;
		if (p && (p[0] >> 8 || !words_zero(p + 1, WORDS_PER_PAGE - 1)))
			failf(c, "counter: page at gpa 0x%llx holds more than its counter",
			      (unsigned long long)gpa_of(off));
		if (i && b != prev) {
			if ((uint8_t)(b + 1) == prev && !edge)
				edge = i;
			else
				failf(c, "counter: page at gpa 0x%llx reads %u after %u (vCPU %d)",
				      (unsigned long long)gpa_of(off), b, prev, id);
		}
		prev = b;
	}
	if (!failed(c) && !edge_where_guest_is(edge, index, s->pages))
		failf(c, "counter: vCPU %d's edge is at page %llu but the guest is at page %llu",
		      id, (unsigned long long)edge, (unsigned long long)index);
}

/* A dirty page's sequence number, or ~0 when it is not a valid stamp. */
static uint64_t dirty_seq(struct checker *c, uint64_t off)
{
	const uint64_t *p = page_at(c, off);

	if (!p || words_zero(p, WORDS_PER_PAGE))
		return 0;
	if (!p[0] || p[1] != (off ^ GUEST_DIRTY_MAGIC) ||
	    p[WORDS_PER_PAGE - 1] != ~p[0] ||
	    !words_zero(p + 2, WORDS_PER_PAGE - 3))
		return ~0ULL;
	return p[0];
}

static void check_dirty(struct checker *c, int id,
			const struct workload_slice *s)
{
	uint64_t index = blk_read(c->vmm, id, BLK_INDEX);
	uint64_t pass = blk_read(c->vmm, id, BLK_PASS);
	uint64_t edge = 0, i, off, seq, prev = 0, first = 0;

	for (i = 0; i < s->pages && !failed(c); i++, c->pages++) {
		off = s->first + i * GUEST_PAGE_SIZE;
		seq = dirty_seq(c, off);
		if (seq == ~0ULL) {
			failf(c, "dirty: page at gpa 0x%llx has a broken stamp",
			      (unsigned long long)gpa_of(off));
			break;
		}
		if (!i)
			first = seq;
		else if (seq != prev && (seq + 1 != prev || edge))
			failf(c, "dirty: page at gpa 0x%llx has pass %llu after %llu (vCPU %d)",
			      (unsigned long long)gpa_of(off),
			      (unsigned long long)seq, (unsigned long long)prev,
			      id);
		else if (seq != prev)
			edge = i;
		prev = seq;
	}
	if (failed(c))
		return;
	if (first != pass && first != pass + 1)
		failf(c, "dirty: vCPU %d's pages are at pass %llu, the guest at %llu",
		      id, (unsigned long long)first, (unsigned long long)pass);
	else if (!edge_where_guest_is(edge, index, s->pages))
		failf(c, "dirty: vCPU %d's edge is at page %llu but the guest is at page %llu",
		      id, (unsigned long long)edge, (unsigned long long)index);
}

static void check_idle(struct checker *c, int id,
		       const struct workload_slice *s)
{
	uint64_t index = blk_read(c->vmm, id, BLK_INDEX), i, k, off;
	const uint64_t *p;
	bool touched, tagged;

	(void)id;
	for (i = 0; i < s->pages && !failed(c); i++, c->pages++) {
		off = s->first + i * GUEST_PAGE_SIZE;
		k = i / s->stride;
		p = page_at(c, off);
		/* Touched by now; page @index may be being touched. */
		touched = !(i % s->stride) && k < s->touch && k <= index;
		tagged = p && p[0] == (off ^ GUEST_IDLE_MAGIC) &&
			 words_zero(p + 1, WORDS_PER_PAGE - 1);
		if (touched ? !tagged && !(k == index && page_zero(c, off)) :
			      !page_zero(c, off))
			failf(c, "idle: %s page at gpa 0x%llx is wrong",
			      touched ? "touched" : "untouched",
			      (unsigned long long)gpa_of(off));
	}
}

/* The page request @seq of a hostwrite slice filled: (seq - 1) % pages. */
static uint64_t hostwrite_page(const struct workload_slice *s, uint64_t seq)
{
	return s->first + (seq - 1) % s->pages * GUEST_PAGE_SIZE;
}

/*
 * The host-write device's work, from what the guest knows: it counted
 * @done requests completed and may have one more in flight (issued, and
 * maybe completed by the VMM, when the guest was paused after its OUT).
 * Everything the VMM wrote must be there: the used index, the ring's
 * entries, every data page's fill.
 */
static void check_hostwrite(struct checker *c, int id,
			    const struct workload_slice *s)
{
	uint64_t done = blk_read(c->vmm, id, BLK_INDEX);
	uint64_t issued = blk_read(c->vmm, id, BLK_HW_SEQ);
	uint64_t lost = blk_read(c->vmm, id, BLK_HW_LOST);
	const uint64_t *ring = page_at(c, s->ring), *p, *e;
	uint64_t used = ring ? ring[HW_USED_IDX / 8] : 0, n, i, off, seq;
	unsigned int j;

	if (issued != done && issued != done + 1) {
		failf(c, "hostwrite: vCPU %d's request %llu does not follow the %llu it completed",
		      id, (unsigned long long)issued,
		      (unsigned long long)done);
		return;
	}
	if (used != done && !(used == issued && issued == done + 1)) {
		failf(c, "hostwrite: vCPU %d's used ring at gpa 0x%llx says request %llu, the guest has completed %llu",
		      id, (unsigned long long)gpa_of(s->ring),
		      (unsigned long long)used, (unsigned long long)done);
		return;
	}
	/* The last HW_RING_ENTRIES requests, the rest of the ring zero. */
	for (i = 0; i < HW_RING_ENTRIES && !failed(c); i++) {
		n = used >= HW_RING_ENTRIES ?
		    used - (used - 1 - i) % HW_RING_ENTRIES : i + 1;
		e = ring ? ring + (HW_RING_FIRST + i * HW_RING_ENTRY_SIZE) / 8 :
		    NULL;
		if (n > used ? e && (e[0] || e[1]) :
		    !e || e[0] != n || e[1] != hostwrite_page(s, n))
			failf(c, "hostwrite: vCPU %d's used ring entry %llu at gpa 0x%llx is not request %llu",
			      id, (unsigned long long)i,
			      (unsigned long long)gpa_of(s->ring),
			      (unsigned long long)(n > used ? 0 : n));
	}
	if (ring && !words_zero(ring + 1, HW_RING_FIRST / 8 - 1))
		failf(c, "hostwrite: vCPU %d's used ring header is corrupt", id);
	/* Page i: the last request up to @used that named it, or none. */
	for (i = 0; i < s->pages && !failed(c); i++, c->pages++) {
		off = s->first + i * GUEST_PAGE_SIZE;
		seq = used > i ? used - (used - 1 - i) % s->pages : 0;
		p = page_at(c, off);
		if (!seq) {
			if (!page_zero(c, off))
				failf(c, "hostwrite: page at gpa 0x%llx was never filled but is not zero",
				      (unsigned long long)gpa_of(off));
			continue;
		}
		for (j = 0; j < WORDS_PER_PAGE; j++)
			if (!p || p[j] != hostwrite_word(off, seq, j))
				break;
		if (j < WORDS_PER_PAGE)
			failf(c, "hostwrite: page at gpa 0x%llx does not hold request %llu's fill (word %u reads 0x%llx; vCPU %d completed %llu)",
			      (unsigned long long)gpa_of(off),
			      (unsigned long long)seq, j,
			      (unsigned long long)(p ? p[j] : 0), id,
			      (unsigned long long)done);
	}
	if (!failed(c) && lost)
		failf(c, "hostwrite: vCPU %d found %llu completions missing",
		      id, (unsigned long long)lost);
}

/* The block's parameters are a struct workload_slice, field for field. */
_Static_assert(sizeof(struct workload_slice) == 8 * 8 &&
	       BLK_STRIDE == 6 * 8 && BLK_RING == 7 * 8,
	       "guest block layout");

/* What boot.c wrote that the guest never changes. */
static void check_system_area(struct checker *c)
{
	struct vmm *vmm = c->vmm;
	size_t code_len = guest_code_end - guest_code_start;
	struct workload_slice s;
	int id;

	if (memcmp(vmm->ram.base + GUEST_CODE, guest_code_start, code_len))
		failf(c, "the guest code at gpa 0x%x is corrupt", GUEST_CODE);
	for (id = 0; id < vmm->nr_vcpus; id++) {
		workload_slice(&vmm->wl, vmm->ram.size, vmm->nr_vcpus, id, &s);
		if (memcmp(vmm->ram.base + GUEST_BLOCK(id), &s, sizeof(s)))
			failf(c, "vCPU %d's parameters at gpa 0x%x are corrupt",
			      id, GUEST_BLOCK(id));
	}
}

static void summarize(struct checker *c, uint64_t slice_pages)
{
	struct vmm *vmm = c->vmm;
	const char *name = workload_mode_name(vmm->wl.mode);
	uint64_t pass = blk_read(vmm, 0, BLK_PASS);
	uint64_t index = blk_read(vmm, 0, BLK_INDEX);
	char *v = c->out->verdict;
	size_t n = sizeof(c->out->verdict);

	switch (vmm->wl.mode) {
	case GUEST_MODE_COUNTER:
	case GUEST_MODE_DIRTY:
		snprintf(v, n, "%s: %llu pages in %d slice(s) consistent, vCPU 0 in pass %llu at page %llu",
			 name, (unsigned long long)slice_pages, vmm->nr_vcpus,
			 (unsigned long long)pass + 1,
			 (unsigned long long)index);
		break;
	case GUEST_MODE_IDLE:
		snprintf(v, n, "idle: %llu pages verified, touched ones tagged, the rest zero",
			 (unsigned long long)slice_pages);
		break;
	case GUEST_MODE_HOSTWRITE:
		snprintf(v, n, "hostwrite: %llu pages in %d slice(s) hold their last fill, used rings consistent, vCPU 0 completed %llu requests",
			 (unsigned long long)slice_pages, vmm->nr_vcpus,
			 (unsigned long long)index);
		break;
	default:
		snprintf(v, n, "%s: %llu pages verified, vCPU 0 %s",
			 name, (unsigned long long)slice_pages,
			 pass ? "done" : "still filling");
	}
}

void check_memory(struct vmm *vmm, struct vmm_check *out)
{
	struct checker c = { .vmm = vmm, .out = out };
	uint64_t pages = vmm->ram.size / GUEST_PAGE_SIZE, off, end = GUEST_DATA;
	struct workload_slice s;
	int id, r;

	memset(out, 0, sizeof(*out));
	out->ok = 1;
	for (id = 0; id < vmm->nr_vcpus; id++)
		if (vmm->vcpu[id].failed)
			failf(&c, "vCPU %d stopped: %s", id, vmm->vcpu[id].failure);
	c.resident = malloc(pages);
	if (!c.resident) {
		failf(&c, "out of memory");
		return;
	}
	r = ram_resident(&vmm->ram, 0, vmm->ram.size, c.resident);
	if (r) {
		failf(&c, "mincore on guest RAM failed (%d)", r);
		goto out;
	}
	check_system_area(&c);
	for (id = 0; id < vmm->nr_vcpus && !failed(&c); id++) {
		workload_slice(&vmm->wl, vmm->ram.size, vmm->nr_vcpus, id, &s);
		switch (s.mode) {
		case GUEST_MODE_COUNTER:
			check_counter(&c, id, &s);
			break;
		case GUEST_MODE_DIRTY:
			check_dirty(&c, id, &s);
			break;
		case GUEST_MODE_IDLE:
			check_idle(&c, id, &s);
			break;
		case GUEST_MODE_HOSTWRITE:
			check_hostwrite(&c, id, &s);
			break;
		default:
			check_fill(&c, id, &s);
		}
		end = s.first + s.pages * GUEST_PAGE_SIZE;
	}
	/* Data RAM beyond the slices: only dirty leaves some, untouched. */
	for (off = end; off < vmm->ram.size && !failed(&c);
	     off += GUEST_PAGE_SIZE, c.pages++)
		if (!page_zero(&c, off))
			failf(&c, "page at gpa 0x%llx outside the workload is not zero",
			      (unsigned long long)gpa_of(off));
	if (!failed(&c))
		summarize(&c, c.pages);
out:
	out->pages = c.pages;
	free(c.resident);
}
