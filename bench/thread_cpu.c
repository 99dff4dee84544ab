// SPDX-License-Identifier: GPL-2.0
/*
 * thread_cpu MS GROUP=PID...: every MS milliseconds, until killed, one line
 *   GROUP TID TICKS
 * per thread of each PID (utime + stime from /proc/PID/task/TID/stat, in
 * clock ticks; a KVM vCPU thread, "CPU N/KVM", is GROUP-vcpu), and per kmig
 * kthread ("kmig/S:W" workers as kmig-worker, "kmig/S" VM workers as
 * kmig-vm). bench/parallel.sh sums the largest value seen per thread.
 *
 * Its shell predecessor forked and word-split for every thread four times
 * a second and cost the TCG sandbox about a fifth of a vCPU, inside the
 * very runs it measured; this reads the same files from one process.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_GROUPS	8

struct group {
	const char *name;
	long pid;
};

/*
 * Reads /proc/.../stat at @path: the command name into @comm and
 * utime + stime; 0, or -1 when the thread is gone or the line is odd.
 */
static int read_stat(const char *path, char *comm, size_t n,
		     unsigned long long *ticks)
{
	char buf[1024], *lp, *rp;
	unsigned long long ut, st;
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	/* The name may hold spaces and parentheses: up to the last ')'. */
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp)
		return -1;
	snprintf(comm, n, "%.*s", (int)(rp - lp - 1), lp + 1);
	/* After ") ": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime, fields 3..15 of stat(5).
	 */
	if (sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -1;
	*ticks = ut + st;
	return 0;
}

static void sample_group(const struct group *g)
{
	char path[300], comm[64];
	unsigned long long ticks;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/task", g->pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/stat", g->pid,
			 de->d_name);
		if (read_stat(path, comm, sizeof(comm), &ticks))
			continue;
		printf("%s%s %s %llu\n", g->name,
		       !strncmp(comm, "CPU ", 4) && strstr(comm, "/KVM") ?
		       "-vcpu" : "", de->d_name, ticks);
	}
	closedir(d);
}

static void sample_kthreads(void)
{
	char path[300], comm[64];
	unsigned long long ticks;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (read_stat(path, comm, sizeof(comm), &ticks) ||
		    strncmp(comm, "kmig/", 5))
			continue;
		printf("%s %s %llu\n",
		       strchr(comm, ':') ? "kmig-worker" : "kmig-vm",
		       de->d_name, ticks);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	struct group groups[MAX_GROUPS];
	struct timespec period;
	int ngroups = 0, i;
	long ms;

	ms = argc > 1 ? atol(argv[1]) : 0;
	for (i = 2; i < argc && ngroups < MAX_GROUPS; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i] || atol(eq + 1) <= 0)
			break;
		*eq = 0;
		groups[ngroups].name = argv[i];
		groups[ngroups].pid = atol(eq + 1);
		ngroups++;
	}
	if (ms <= 0 || i < argc) {
		fprintf(stderr, "usage: thread_cpu MS GROUP=PID... (at most %d)\n",
			MAX_GROUPS);
		return 2;
	}
	period.tv_sec = ms / 1000;
	period.tv_nsec = (ms % 1000) * 1000000L;
	for (;;) {
		for (i = 0; i < ngroups; i++)
			sample_group(&groups[i]);
		sample_kthreads();
		fflush(stdout);
		nanosleep(&period, NULL);
	}
}
