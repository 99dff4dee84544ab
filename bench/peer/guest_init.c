// SPDX-License-Identifier: GPL-2.0
/*
 * guest_init: the workload of the QEMU guest in `make bench-peer`
 * (workload.c) as /init (PID 1) of a one-file initramfs under Debian's own
 * kernel: the Linux platform of workload.h.
 *
 * Kernel command-line parameters reach PID 1 as environment variables:
 *   kmig_wl   idle | zero | text | random | dirty, or wait (fw_cfg)
 *   kmig_mib  MiB to fill, or dirty's working set
 *   kmig_rate MiB/s: the fill's pace, or dirty's rewrite rate (0: unpaced)
 *
 * Lines: "peer-guest: waiting ...", "peer-guest: ready ...",
 * "peer-guest: filled ...", "peer-guest: alive SEQ verify ok|FAILED ..."
 * (about one a second).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "workload.h"

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("peer-guest: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

void halt(const char *why)
{
	say("error: %s (%s)", why, strerror(errno));
	for (;;)
		pause();
}

double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

void sleep_for(double s)
{
	struct timespec t = {
		.tv_sec = (time_t)s,
		.tv_nsec = (long)((s - (time_t)s) * 1e9),
	};

	nanosleep(&t, NULL);
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

static unsigned long env_num(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : 0;
}

int main(void)
{
	struct workload w = { .name = "idle" };
	void *ram = NULL;
	int fd;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (getenv("kmig_wl"))
		snprintf(w.name, sizeof(w.name), "%s", getenv("kmig_wl"));
	w.mib = env_num("kmig_mib");
	w.rate = env_num("kmig_rate");
	if (!workload_known(w.name)) {
		errno = EINVAL;
		halt("unknown kmig_wl");
	}
	if (!strcmp(w.name, "wait")) {
		if (ioperm(0x510, 2, 1))
			halt("ioperm");
		say("waiting for a workload (available=%lu MiB)",
		    mem_available_mib());
		workload_wait_fw_cfg(&w);
	}
	if (w.mib) {
		ram = mmap(NULL, w.mib << 20, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ram == MAP_FAILED)
			halt("mmap");
	}
	say("ready wl=%s mib=%lu rate=%lu available=%lu MiB", w.name, w.mib,
	    w.rate, mem_available_mib());
	workload_run(&w, ram);
}
