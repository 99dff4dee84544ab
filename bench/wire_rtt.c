// SPDX-License-Identifier: GPL-2.0
/*
 * wire_rtt: the floor under a postcopy fault, for bench/postcopy.sh. A
 * fault that goes to the source costs at least one round trip (REQUEST
 * out, the page back) plus placing the page; this measures both parts on
 * this machine, in the same run as the migrations they are read against:
 *
 *   - the loopback TCP round trip of a 16-byte message (TCP_NODELAY, a
 *     ping-pong between two processes, median of 1000 after 100 warm-up
 *     exchanges);
 *   - one 4 KiB memcpy (median of 1000, each copy to and from a page not
 *     touched for 16 MiB, the clock's own cost taken off).
 *
 * Prints one JSON object: {"rtt_us":..., "copy4k_us":..., ...}.
 *
 * wire_rtt --during: the round trip under load, while a migration runs
 * beside it: one exchange every 2 ms until SIGTERM, then the median, p99
 * and the number of samples as {"loaded_rtt_us":..., ...}. A fault waits
 * in a sandbox whose CPUs also run the guest, the background stream and
 * both kmigctls; this is the wire's floor in those same conditions.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG		16
#define SAMPLES		1000
#define WARMUP		100
#define PAGE		4096
#define SPAN		(16 << 20)
/* --during: at most this many exchanges, one every GAP_US. */
#define LOADED_MAX	(1 << 17)
#define GAP_US		2000

static volatile sig_atomic_t stop;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "wire_rtt: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void xfer(int fd, char *buf, int out)
{
	ssize_t done = 0, r;

	while (done < MSG) {
		r = out ? write(fd, buf + done, MSG - done) :
			  read(fd, buf + done, MSG - done);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				errno = ECONNRESET;
			die(out ? "write" : "read");
		}
		done += r;
	}
}

static void nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
}

/* The echo side: sends every 16-byte message back until the peer closes. */
static void echo(int lfd)
{
	char buf[MSG];
	ssize_t r;
	int fd;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	nodelay(fd);
	for (;;) {
		r = recv(fd, buf, MSG, MSG_WAITALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != MSG)
			break;
		xfer(fd, buf, 1);
	}
	close(fd);
	_exit(0);
}

/* A connected pair over loopback: returns our end, the echo's in @pid. */
static int pair(pid_t *pid)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int lfd, fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&a, &alen))
		die("listen on 127.0.0.1");
	*pid = fork();
	if (*pid < 0)
		die("fork");
	if (!*pid)
		echo(lfd);
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	nodelay(fd);
	return fd;
}

static void reap(int fd, pid_t pid)
{
	int status;

	close(fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("echo process");
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* --during: exchanges every GAP_US until SIGTERM. */
static int loaded(void)
{
	static double t[LOADED_MAX];
	char buf[MSG] = "kmig-ping-pong!";
	struct sigaction sa = { .sa_handler = on_term };
	double t0, p99;
	int fd, n = 0;
	pid_t pid;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = pair(&pid);
	while (!stop && n < LOADED_MAX) {
		t0 = now_us();
		xfer(fd, buf, 1);
		xfer(fd, buf, 0);
		t[n++] = now_us() - t0;
		usleep(GAP_US);
	}
	reap(fd, pid);
	if (!n) {
		printf("{\"loaded_rtt_us\":null,\"loaded_samples\":0}\n");
		return 0;
	}
	qsort(t, n, sizeof(*t), cmp_double);
	p99 = t[(int)(0.99 * (n - 1) + 0.5)];
	printf("{\"loaded_rtt_us\":%.1f,\"loaded_rtt_p99_us\":%.1f,\"loaded_samples\":%d}\n",
	       median(t, n), p99, n);
	return 0;
}

static double rtt_us(double *min_us)
{
	static double t[SAMPLES];
	char buf[MSG] = "kmig-ping-pong!";
	double t0;
	pid_t pid;
	int fd, i;

	fd = pair(&pid);
	for (i = 0; i < WARMUP + SAMPLES; i++) {
		t0 = now_us();
		xfer(fd, buf, 1);
		xfer(fd, buf, 0);
		if (i >= WARMUP)
			t[i - WARMUP] = now_us() - t0;
	}
	reap(fd, pid);
	*min_us = t[0];
	for (i = 1; i < SAMPLES; i++)
		if (t[i] < *min_us)
			*min_us = t[i];
	return median(t, SAMPLES);
}

static double copy4k_us(double *clock_us)
{
	static double t[SAMPLES], c[SAMPLES];
	char *src = malloc(SPAN), *dst = malloc(SPAN);
	size_t off;
	double t0;
	int i;

	if (!src || !dst)
		die("malloc");
	memset(src, 0x5a, SPAN);
	memset(dst, 0xa5, SPAN);
	for (i = 0; i < SAMPLES; i++) {
		t0 = now_us();
		c[i] = now_us() - t0;
	}
	*clock_us = median(c, SAMPLES);
	for (i = 0; i < SAMPLES; i++) {
		/* A page not touched for SPAN bytes, on both sides. */
		off = (size_t)(i * 769 % (SPAN / PAGE)) * PAGE;
		t0 = now_us();
		memcpy(dst + off, src + off, PAGE);
		t[i] = now_us() - t0;
		/* Keep the copy from being dropped. */
		if (dst[off + i % PAGE] != 0x5a)
			die("memcpy");
	}
	free(src);
	free(dst);
	t0 = median(t, SAMPLES) - *clock_us;
	return t0 > 0 ? t0 : 0;
}

int main(int argc, char **argv)
{
	double rtt, rtt_min, copy, clk;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && !strcmp(argv[1], "--during"))
		return loaded();
	if (argc != 1) {
		fprintf(stderr, "usage: wire_rtt [--during]\n");
		return 2;
	}
	rtt = rtt_us(&rtt_min);
	copy = copy4k_us(&clk);
	printf("{\"rtt_us\":%.1f,\"rtt_min_us\":%.1f,\"copy4k_us\":%.2f,\"clock_us\":%.2f,\"msg_bytes\":%d,\"samples\":%d}\n",
	       rtt, rtt_min, copy, clk, MSG, SAMPLES);
	return 0;
}
