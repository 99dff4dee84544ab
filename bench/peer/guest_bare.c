// SPDX-License-Identifier: GPL-2.0
/*
 * guest_bare: the QEMU guest of `make bench-peer` without an OS, for
 * where a Linux guest cannot run reliably: under nested KVM in the TCG
 * sandbox, QEMU 7.2's SVM emulation now and then delivers an L2 guest's
 * timer interrupt a second time while its handler runs with interrupts
 * off, and Linux deadlocks on its own lock (Documentation/benchmarks.md).
 * This guest keeps interrupts off except to sleep (PIT one-shot + HLT)
 * and holds no lock, so a repeated interrupt costs it nothing.
 *
 * It is the workload.h platform: serial port for lines, the TSC
 * (calibrated against the PIT) for time, RAM from 4 MiB up for the work.
 * Its command line (QEMU -append) takes kmig_wl=, kmig_mib=, kmig_rate=
 * like guest_init's; kmig_wl=wait reads fw_cfg.
 */
#include <stdarg.h>

#include "pio.h"
#include "workload.h"

#define RAM_START	(4UL << 20)	/* above the kernel and its tables */
#define COM1		0x3f8
#define PIT_HZ		1193182UL
#define PIT_CH0		0x40
#define PIT_CH2		0x42
#define PIT_MODE	0x43
#define PIT_GATE	0x61		/* bit 0 gate 2, bit 5 output 2 */
#define PIC1		0x20
#define PIC2		0xa0

/* The multiboot information the loader passes (its first fields). */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower;
	uint32_t mem_upper;		/* KiB above 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
};

#define MB_INFO_MEM	(1 << 0)
#define MB_INFO_CMDLINE	(1 << 2)

/* guest_bare_boot.S */
extern const char bare_traps[];
void bare_irq0(void);
void bare_ignore(void);

/* --- what the compiler may call ------------------------------------------ */
void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *dp = d;

	while (n--)
		*dp++ = (unsigned char)c;
	return d;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

/* --- serial lines ---------------------------------------------------------- */
static void put_char(char c)
{
	while (!(pio_inb(COM1 + 5) & 0x20))
		;
	pio_outb(COM1, (uint8_t)c);
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

static void put_num(unsigned long v)
{
	char buf[24];
	int n = 0;

	do
		buf[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		put_char(buf[--n]);
}

/* printf for the formats workload.c and this file use: %s %lu %u %d %%. */
void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_str("peer-guest: ");
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put_char(*fmt);
			continue;
		}
		switch (*++fmt) {
		case 's':
			put_str(va_arg(ap, const char *));
			break;
		case 'l':
			fmt++;	/* %lu */
			put_num(va_arg(ap, unsigned long));
			break;
		case 'u':
			put_num(va_arg(ap, unsigned int));
			break;
		case 'd': {
			int v = va_arg(ap, int);

			if (v < 0) {
				put_char('-');
				v = -v;
			}
			put_num((unsigned long)v);
			break;
		}
		default:
			put_char(*fmt);
		}
	}
	put_str("\n");
	va_end(ap);
}

void halt(const char *why)
{
	say("error: %s", why);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void bare_trap(unsigned long vector)
{
	say("error: exception %lu", vector);
	halt("stopped");
}

/* --- time ------------------------------------------------------------------ */
static uint64_t tsc_hz, tsc_start;

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* The TSC's rate, counted over 50 ms of PIT channel 2 (polled, no IRQ). */
static void calibrate_tsc(void)
{
	const uint16_t latch = PIT_HZ / 20;
	uint64_t t0;

	pio_outb(PIT_GATE, (pio_inb(PIT_GATE) & ~0x02) | 0x01);
	pio_outb(PIT_MODE, 0xb0);	/* channel 2, lo/hi, mode 0 */
	pio_outb(PIT_CH2, latch & 0xff);
	pio_outb(PIT_CH2, latch >> 8);
	t0 = rdtsc();
	while (!(pio_inb(PIT_GATE) & 0x20))
		;
	tsc_hz = (rdtsc() - t0) * 20;
	tsc_start = rdtsc();
}

double now(void)
{
	return (double)(rdtsc() - tsc_start) / (double)tsc_hz;
}

/*
 * Sleeps in HLT, woken by PIT channel 0 in one-shot mode (at most 55 ms a
 * shot): the vCPU thread then really sleeps, as kmig-vmm's does in its
 * VMM, instead of spinning on the sandbox's one TCG thread.
 */
void sleep_for(double s)
{
	uint64_t end = rdtsc() + (uint64_t)(s * (double)tsc_hz);

	for (;;) {
		uint64_t t = rdtsc(), ticks;

		if (t >= end)
			return;
		ticks = (end - t) * PIT_HZ / tsc_hz;
		if (ticks > 0xffff)
			ticks = 0xffff;
		if (ticks < 2)
			ticks = 2;
		pio_outb(PIT_MODE, 0x30);	/* channel 0, lo/hi, mode 0 */
		pio_outb(PIT_CH0, ticks & 0xff);
		pio_outb(PIT_CH0, ticks >> 8);
		__asm__ volatile("sti; hlt; cli");
	}
}

/* --- interrupts ------------------------------------------------------------- */
static uint64_t idt[256 * 2] __attribute__((aligned(16)));

static void set_gate(int vector, const void *handler)
{
	uint64_t a = (uint64_t)handler;

	idt[vector * 2] = (a & 0xffff) | 0x08UL << 16 | 0x8eUL << 40 |
			  (a >> 16 & 0xffff) << 48;
	idt[vector * 2 + 1] = a >> 32;
}

/* PIC vectors 0x20-0x2f, only IRQ 0 (the PIT) unmasked; IF stays 0. */
static void setup_interrupts(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };
	int v;

	for (v = 0; v < 256; v++)
		set_gate(v, v < 32 ? bare_traps + 16 * v : (const void *)bare_ignore);
	set_gate(0x20, bare_irq0);
	__asm__ volatile("lidt %0" : : "m"(idtr));

	pio_outb(PIC1, 0x11);		/* ICW1: init, ICW4 follows */
	pio_outb(PIC2, 0x11);
	pio_outb(PIC1 + 1, 0x20);	/* ICW2: vector bases */
	pio_outb(PIC2 + 1, 0x28);
	pio_outb(PIC1 + 1, 0x04);	/* ICW3: slave on IRQ 2 */
	pio_outb(PIC2 + 1, 0x02);
	pio_outb(PIC1 + 1, 0x01);	/* ICW4: 8086 mode */
	pio_outb(PIC2 + 1, 0x01);
	pio_outb(PIC1 + 1, 0xfe);	/* masks */
	pio_outb(PIC2 + 1, 0xff);
}

/* --- command line ------------------------------------------------------------ */
/* The value of "KEY=" in @cmdline, up to a space, copied into @buf. */
static int cmdline_get(const char *cmdline, const char *key, char *buf,
		       size_t len)
{
	const char *p = cmdline;
	size_t k, n = 0;

	while (*p) {
		for (k = 0; key[k] && p[k] == key[k]; k++)
			;
		if (!key[k] && p[k] == '=' && (p == cmdline || p[-1] == ' ')) {
			p += k + 1;
			while (*p && *p != ' ' && n < len - 1)
				buf[n++] = *p++;
			buf[n] = 0;
			return 0;
		}
		p++;
	}
	return -1;
}

static void parse_cmdline(const char *cmdline, struct workload *w)
{
	char line[64], v[16];
	size_t n = 0;
	const char *keys[] = { "kmig_wl", "kmig_mib", "kmig_rate" };
	int i;

	/* As "WL MIB RATE", the form workload_parse() reads. */
	for (i = 0; i < 3; i++) {
		const char *s = v;

		if (cmdline_get(cmdline, keys[i], v, sizeof(v)))
			s = i ? "0" : "idle";
		while (*s && n < sizeof(line) - 2)
			line[n++] = *s++;
		line[n++] = ' ';
	}
	line[n] = 0;
	if (workload_parse(line, w))
		halt("bad kmig_wl, kmig_mib or kmig_rate");
}

void bare_main(const struct mb_info *mb)
{
	struct workload w = { .name = "idle" };
	unsigned long avail;

	if (!(mb->flags & MB_INFO_MEM))
		halt("no memory size from the loader");
	avail = (mb->mem_upper >> 10) + 1;	/* MiB of RAM below its end */
	if (avail <= RAM_START >> 20)
		halt("less RAM than the guest's own 4 MiB");
	avail -= RAM_START >> 20;
	calibrate_tsc();
	setup_interrupts();
	if (mb->flags & MB_INFO_CMDLINE)
		parse_cmdline((const char *)(uintptr_t)mb->cmdline, &w);
	if (!strcmp(w.name, "wait")) {
		say("waiting for a workload (available=%lu MiB)", avail);
		workload_wait_fw_cfg(&w);
	}
	if (w.mib > avail)
		halt("the workload needs more RAM than the guest has");
	say("ready wl=%s mib=%lu rate=%lu available=%lu MiB tsc=%lu kHz",
	    w.name, w.mib, w.rate, avail, (unsigned long)(tsc_hz / 1000));
	workload_run(&w, (void *)RAM_START);
}
