// SPDX-License-Identifier: GPL-2.0
/*
 * guest_init: the workload of the QEMU guest in `make bench-peer`, run as
 * /init (PID 1) of a one-file initramfs under Debian's own kernel.
 *
 * It does to its RAM what kmig-vmm's built-in workloads do to theirs
 * (Documentation/kmig-vmm.md), with the same generators (xorshift64 for
 * random, the same 16-word table for text, linked in from user/vmm/guest.S)
 * so that both peers migrate the same amount of untouched, zero, text-like,
 * random and rewritten memory. Then, forever, it re-verifies all of it and
 * prints one line per pass on the serial port; the benchmark reads those
 * lines on the destination to prove the guest still runs there with its
 * memory intact.
 *
 * Kernel command-line parameters reach PID 1 as environment variables:
 *   kmig_wl   idle | zero | text | random | dirty, or wait
 *   kmig_mib  MiB to fill, or dirty's working set
 *   kmig_rate MiB/s: the fill's pace, or dirty's rewrite rate (0: unpaced)
 * With kmig_wl=wait the guest prints "peer-guest: waiting" and polls QEMU's
 * fw_cfg for the three as one line ("random 384 64") instead: the
 * benchmark saves the guest there once and starts every scenario from that
 * state, because booting a nested guest under TCG often hangs.
 *
 * Lines: "peer-guest: ready ...", "peer-guest: filled ...",
 * "peer-guest: alive SEQ verify ok|FAILED ..." (about one a second).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "guest_layout.h"

#define PAGE		4096UL
#define WORDS		(PAGE / 8)
#define BATCH_PAGES	32	/* pages between two pacing checks */
#define SEED		0x9e3779b97f4a7c15ULL	/* as kmig-vmm's workload.c */

extern const char guest_text_words[];	/* user/vmm/guest.S */

static const char *wl;
static uint64_t *ram;
static size_t pages;
static double rate;		/* bytes per second, 0 = unpaced */
static uint64_t pass;		/* dirty: the pass being written */
static uint64_t dirty_index;	/* dirty: pages of this pass written */

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("peer-guest: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static void halt(const char *why)
{
	say("error: %s (%s)", why, strerror(errno));
	for (;;)
		pause();
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
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
	double due, late;

	if (!rate)
		return;
	pace_bytes += bytes;
	due = pace_start + pace_bytes / rate;
	late = due - now();
	if (late < -0.1) {
		pace_start = now();
		pace_bytes = 0;
	} else if (late > 0) {
		struct timespec t = {
			.tv_sec = (time_t)late,
			.tv_nsec = (long)((late - (time_t)late) * 1e9),
		};
		nanosleep(&t, NULL);
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
	uint64_t x = ((i * PAGE) | 1) ^ SEED;
	size_t w;

	for (w = 0; w < WORDS; w++)
		p[w] = fill_word(&x);
}

static int page_ok(const uint64_t *p, size_t i)
{
	uint64_t x = ((i * PAGE) | 1) ^ SEED;
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
			pace(BATCH_PAGES * PAGE);
	}
	say("filled %zu MiB in %.0f ms", pages * PAGE >> 20,
	    (now() - start) * 1000);
}

/* kmig-vmm's dirty stamp: pass n, page offset ^ magic, ~n. */
static void stamp(size_t i, uint64_t n)
{
	uint64_t *p = ram + i * WORDS;

	p[0] = n;
	p[1] = (i * PAGE) ^ GUEST_DIRTY_MAGIC;
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
		if (p[0] != want || p[1] != ((i * PAGE) ^ GUEST_DIRTY_MAGIC) ||
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
		say("alive %llu verify ok", (unsigned long long)seq);
	else
		say("alive %llu verify FAILED at page %zu",
		    (unsigned long long)seq, bad);
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
			pace(BATCH_PAGES * PAGE);
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
		sleep(1);
	}
}

/* MemAvailable in MiB: how much of its RAM the guest kernel left free. */
static unsigned long mem_available_mib(void)
{
	unsigned long kib = 0;
	char line[128];
	FILE *f;

	mkdir("/proc", 0555);
	mount("proc", "/proc", "proc", 0, NULL);
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib >> 10;
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
		*p++ = inb(FW_CFG_PORT_DATA);
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

static uint32_t fw_cfg_count(void)
{
	unsigned char n[4];

	outw(FW_CFG_FILE_DIR, FW_CFG_PORT_SEL);
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
		outw(e[4] << 8 | e[5], FW_CFG_PORT_SEL);
		fw_cfg_read(buf, size);
		buf[size] = 0;
		return 0;
	}
	return -1;
}

/*
 * Wait for the workload in fw_cfg file opt/kmig/workload ("WL MIB RATE"):
 * the QEMU that boots the guest has none; the benchmark saves the guest
 * here and restores it into QEMUs that carry one (-fw_cfg name=...), so
 * every scenario starts from one boot.
 */
static void read_workload(void)
{
	static char name[16];
	unsigned long mib, mib_s;
	char line[128];
	uint32_t count;

	if (ioperm(FW_CFG_PORT_SEL, 2, 1))
		halt("ioperm");
	say("waiting for a workload (available=%lu MiB)", mem_available_mib());
	/*
	 * Every port access is an exit through two levels of KVM: poll
	 * the file count (4 bytes) and scan the directory only when it
	 * changed, i.e. in another QEMU.
	 */
	count = fw_cfg_count();
	for (;;) {
		if (fw_cfg_count() != count &&
		    !fw_cfg_file("opt/kmig/workload", line, sizeof(line)) &&
		    sscanf(line, "%15s %lu %lu", name, &mib, &mib_s) == 3)
			break;
		usleep(500 * 1000);
	}
	wl = name;
	pages = (mib << 20) / PAGE;
	rate = mib_s * 1048576.0;
}

static unsigned long env_num(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : dflt;
}

int main(void)
{
	int fd;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	wl = getenv("kmig_wl") ? getenv("kmig_wl") : "idle";
	pages = (env_num("kmig_mib", 0) << 20) / PAGE;
	rate = env_num("kmig_rate", 0) * 1048576.0;
	if (!strcmp(wl, "wait"))
		read_workload();
	if (strcmp(wl, "idle") && strcmp(wl, "zero") && strcmp(wl, "text") &&
	    strcmp(wl, "random") && strcmp(wl, "dirty")) {
		errno = EINVAL;
		halt("unknown kmig_wl");
	}
	if (pages) {
		ram = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ram == MAP_FAILED)
			halt("mmap");
	}
	say("ready wl=%s mib=%zu rate=%.0f available=%lu MiB", wl,
	    pages * PAGE >> 20, rate / 1048576, mem_available_mib());
	if (!strcmp(wl, "dirty")) {
		say("filled 0 MiB in 0 ms (dirtying %zu MiB)", pages * PAGE >> 20);
		dirty_forever();
	}
	if (strcmp(wl, "idle"))
		fill();
	else
		say("filled 0 MiB in 0 ms");
	verify_forever();
	return 0;
}
