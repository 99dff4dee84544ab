// SPDX-License-Identifier: GPL-2.0
/*
 * The bench guest's workloads (see workload.h), shared by guest_init.c and
 * guest_bare.c: fill, rewrite at a rate, verify. The text and random
 * generators are kmig-vmm's (user/vmm/guest.S, whose word table is linked
 * in), so both peers of `make bench-peer` migrate the same kind of memory.
 */
#include <string.h>

#include "guest_layout.h"
#include "pio.h"
#include "workload.h"

#define WORDS		(WL_PAGE / 8)
#define BATCH_PAGES	32	/* pages between two pacing checks */
#define SEED		0x9e3779b97f4a7c15ULL	/* as kmig-vmm's workload.c */

extern const char guest_text_words[];	/* user/vmm/guest.S */

static const char *wl;
static uint64_t *ram;
static size_t pages;
static double rate;		/* bytes per second, 0 = unpaced */
static uint64_t pass;		/* dirty: the pass being written */
static size_t dirty_index;	/* dirty: pages of this pass written */

static const char *const known[] = {
	"idle", "zero", "text", "random", "dirty", "wait",
};

int workload_known(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(name, known[i]))
			return 1;
	return 0;
}

/* A decimal number at *@s, which moves past it; -1 if there is none. */
static long parse_num(const char **s)
{
	long v = 0;

	while (**s == ' ')
		(*s)++;
	if (**s < '0' || **s > '9')
		return -1;
	while (**s >= '0' && **s <= '9' && v < 1L << 40)
		v = v * 10 + *(*s)++ - '0';
	return v;
}

int workload_parse(const char *line, struct workload *w)
{
	size_t n = 0;
	long mib, mib_s;

	while (*line == ' ')
		line++;
	while (*line && *line != ' ' && n < sizeof(w->name) - 1)
		w->name[n++] = *line++;
	w->name[n] = 0;
	mib = parse_num(&line);
	mib_s = parse_num(&line);
	if (!workload_known(w->name) || mib < 0 || mib_s < 0)
		return -1;
	w->mib = mib;
	w->rate = mib_s;
	return 0;
}

/*
 * Hold the rate: sleep until the bytes written so far are due. Falling
 * more than 100 ms behind (a migration's downtime, a verify pass) restarts
 * the accounting instead of bursting to catch up, as kmig-vmm does.
 */
static double pace_start;
static uint64_t pace_bytes;

static void pace(uint64_t bytes)
{
	double late;

	if (!rate)
		return;
	pace_bytes += bytes;
	late = pace_start + pace_bytes / rate - now();
	if (late < -0.1) {
		pace_start = now();
		pace_bytes = 0;
	} else if (late > 0) {
		sleep_for(late);
	}
}

static uint64_t xorshift64(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static uint64_t fill_word(uint64_t *x)
{
	uint64_t w;

	*x = xorshift64(*x);
	if (!strcmp(wl, "random"))
		return *x * GUEST_RANDOM_MUL;
	memcpy(&w, guest_text_words + (*x >> 60) * 8, sizeof(w));
	return w;
}

/* Page @i's content for text and random, seeded by its offset like kmig-vmm. */
static void fill_page(uint64_t *p, size_t i)
{
	uint64_t x = ((i * WL_PAGE) | 1) ^ SEED;
	size_t w;

	for (w = 0; w < WORDS; w++)
		p[w] = fill_word(&x);
}

static int page_ok(const uint64_t *p, size_t i)
{
	uint64_t x = ((i * WL_PAGE) | 1) ^ SEED;
	size_t w;

	if (!strcmp(wl, "zero")) {
		for (w = 0; w < WORDS; w++)
			if (p[w])
				return 0;
		return 1;
	}
	for (w = 0; w < WORDS; w++)
		if (p[w] != fill_word(&x))
			return 0;
	return 1;
}

static void fill(void)
{
	double start = now();
	size_t i;

	pace_start = start;
	for (i = 0; i < pages; i++) {
		uint64_t *p = ram + i * WORDS;

		if (!strcmp(wl, "zero"))
			*(volatile uint64_t *)p = 0;	/* touch, stay zero */
		else
			fill_page(p, i);
		if (i % BATCH_PAGES == BATCH_PAGES - 1)
			pace(BATCH_PAGES * WL_PAGE);
	}
	say("filled %lu MiB in %lu ms", (unsigned long)(pages * WL_PAGE >> 20),
	    (unsigned long)((now() - start) * 1000));
}

/* kmig-vmm's dirty stamp: pass n, page offset ^ magic, ~n. */
static void stamp(size_t i, uint64_t n)
{
	uint64_t *p = ram + i * WORDS;

	p[0] = n;
	p[1] = (i * WL_PAGE) ^ GUEST_DIRTY_MAGIC;
	p[WORDS - 1] = ~n;
}

/*
 * Whether every working-set page holds a valid stamp of this pass or the
 * one before, in the order the guest writes them.
 */
static int dirty_ok(size_t *bad)
{
	size_t i;

	for (i = 0; i < pages; i++) {
		const uint64_t *p = ram + i * WORDS;
		uint64_t want = i < dirty_index ? pass : pass - 1;

		if (!want && !p[0] && !p[1] && !p[WORDS - 1])
			continue;	/* not yet written in pass 1 */
		if (p[0] != want || p[1] != ((i * WL_PAGE) ^ GUEST_DIRTY_MAGIC) ||
		    p[WORDS - 1] != ~want) {
			*bad = i;
			return 0;
		}
	}
	return 1;
}

static int fill_verified(size_t *bad)
{
	size_t i;

	for (i = 0; i < pages; i++)
		if (!page_ok(ram + i * WORDS, i)) {
			*bad = i;
			return 0;
		}
	return 1;
}

static void report(uint64_t seq, int ok, size_t bad)
{
	if (ok)
		say("alive %lu verify ok", (unsigned long)seq);
	else
		say("alive %lu verify FAILED at page %lu", (unsigned long)seq,
		    (unsigned long)bad);
}

/* Rewrite the working set forever at the rate; verify it once a second. */
static void dirty_forever(void)
{
	double next = now() + 1;
	uint64_t seq = 0;
	size_t bad = 0;

	pace_start = now();
	for (pass = 1;; pass++) {
		for (dirty_index = 0; dirty_index < pages;) {
			stamp(dirty_index, pass);
			if (++dirty_index % BATCH_PAGES)
				continue;
			pace(BATCH_PAGES * WL_PAGE);
			if (now() >= next) {
				report(++seq, dirty_ok(&bad), bad);
				next = now() + 1;
			}
		}
	}
}

static void verify_forever(void)
{
	uint64_t seq = 0;
	size_t bad = 0;
	int ok;

	for (;;) {
		ok = !strcmp(wl, "idle") || fill_verified(&bad);
		report(++seq, ok, bad);
		sleep_for(1);
	}
}

void workload_run(const struct workload *w, void *mem)
{
	wl = w->name;
	ram = mem;
	pages = (w->mib << 20) / WL_PAGE;
	rate = w->rate * 1048576.0;
	if (!strcmp(wl, "dirty")) {
		say("filled 0 MiB in 0 ms (dirtying %lu MiB)", w->mib);
		dirty_forever();
	}
	if (strcmp(wl, "idle"))
		fill();
	else
		say("filled 0 MiB in 0 ms");
	verify_forever();
	halt("verify_forever returned");
}

/*
 * fw_cfg (QEMU's firmware configuration device, ports 0x510/0x511): the
 * content of file @name, NUL-terminated in @buf, or -1 when QEMU has none.
 */
#define FW_CFG_PORT_SEL		0x510
#define FW_CFG_PORT_DATA	0x511
#define FW_CFG_FILE_DIR		0x19

static void fw_cfg_read(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len--)
		*p++ = pio_inb(FW_CFG_PORT_DATA);
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

static uint32_t fw_cfg_count(void)
{
	unsigned char n[4];

	pio_outw(FW_CFG_PORT_SEL, FW_CFG_FILE_DIR);
	fw_cfg_read(n, sizeof(n));
	return be32(n);
}

static int fw_cfg_file(const char *name, char *buf, size_t len)
{
	unsigned char e[64];	/* size, select, reserved, name[56] */
	uint32_t count, i, size;

	count = fw_cfg_count();
	for (i = 0; i < count && i < 4096; i++) {
		fw_cfg_read(e, sizeof(e));
		e[63] = 0;
		if (strcmp((char *)e + 8, name))
			continue;
		size = be32(e);
		if (size >= len)
			size = len - 1;
		pio_outw(FW_CFG_PORT_SEL, e[4] << 8 | e[5]);
		fw_cfg_read(buf, size);
		buf[size] = 0;
		return 0;
	}
	return -1;
}

void workload_wait_fw_cfg(struct workload *w)
{
	char line[128];
	uint32_t count;

	/*
	 * Every port access is an exit through two levels of KVM: poll
	 * the file count (4 bytes) and scan the directory only when it
	 * changed, i.e. in another QEMU.
	 */
	count = fw_cfg_count();
	for (;;) {
		if (fw_cfg_count() != count &&
		    !fw_cfg_file("opt/kmig/workload", line, sizeof(line)) &&
		    !workload_parse(line, w) && strcmp(w->name, "wait"))
			return;
		sleep_for(0.5);
	}
}
