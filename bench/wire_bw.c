// SPDX-License-Identifier: GPL-2.0
/*
 * wire_bw [CONNECTIONS [SECONDS]]: the loopback TCP limit a migration over
 * 127.0.0.1 runs against (make bench-peer). CONNECTIONS (2) TCP connections
 * over 127.0.0.1, each with a sender thread writing 1 MiB buffers for
 * SECONDS (2) and a receiver thread reading them; prints one JSON line,
 *   {"connections":2,"seconds":2.01,"mib":440.0,"mib_s":219.0}
 * where mib_s is the bytes received over all connections divided by the
 * time from the first write to the last byte read. Both ends live in this
 * one process, as source and destination do in the benchmark.
 *
 * wire_bw CONNECTIONS SECONDS zerocopy sends with MSG_ZEROCOPY instead
 * (SO_ZEROCOPY, completions read from the error queue) and adds how many
 * of its sends the kernel reported as copied after all
 * (SO_EE_CODE_ZEROCOPY_COPIED): the measurement behind not sending kmig's
 * ring slots that way, since over loopback the kernel copies a zerocopy
 * send into the receiver's socket anyway (msg_zerocopy.rst, "deferred
 * copies"), after pinning the pages and before a completion round trip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_LEN		(1 << 20)
#define MAX_CONNS	16

struct conn {
	int send_fd;
	int recv_fd;
	unsigned long long received;
	unsigned long long zc_calls;	/* zerocopy: sends that queued data */
	unsigned long long zc_sends;	/* completions read */
	unsigned long long zc_copied;	/* of them, reported as copied */
	int err;
};

static double seconds = 2;
static int zerocopy;
static double t_start;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Reads the zerocopy completions queued on @c's socket; with @wait, waits
 * for at least one (the send that returned ENOBUFS needs one back).
 */
static int reap_completions(struct conn *c, int wait)
{
	char control[128];
	struct msghdr m = { .msg_control = control };
	struct sock_extended_err *ee;
	struct pollfd pfd = { .fd = c->send_fd, .events = 0 };
	struct cmsghdr *cm;

	for (;;) {
		m.msg_controllen = sizeof(control);
		if (recvmsg(c->send_fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (!wait)
				return 0;
			/* POLLERR is reported whatever .events asks. */
			if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			ee = (struct sock_extended_err *)CMSG_DATA(cm);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			/* ee_info..ee_data: the range of sends completed. */
			c->zc_sends += ee->ee_data - ee->ee_info + 1;
			if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				c->zc_copied += ee->ee_data - ee->ee_info + 1;
		}
		wait = 0;
	}
}

static ssize_t send_buf(struct conn *c, const char *buf, size_t len)
{
	ssize_t n;

	if (!zerocopy)
		return write(c->send_fd, buf, len);
	/*
	 * The buffer is rewritten with the same bytes, so it may be sent again
	 * before its completion: only the completions' count matters here.
	 */
	n = send(c->send_fd, buf, len, MSG_ZEROCOPY);
	if (n < 0 && errno == ENOBUFS) {
		if (reap_completions(c, 1))
			return -1;
		errno = EINTR;
		return -1;
	}
	if (n > 0)
		c->zc_calls++;
	if (n >= 0 && reap_completions(c, 0))
		return -1;
	return n;
}

static void *sender(void *arg)
{
	struct conn *c = arg;
	char *buf = malloc(BUF_LEN);
	size_t off;
	ssize_t n;

	if (!buf) {
		c->err = ENOMEM;
		return NULL;
	}
	memset(buf, 0x5a, BUF_LEN);
	while (now() - t_start < seconds) {
		for (off = 0; off < BUF_LEN; off += n) {
			n = send_buf(c, buf + off, BUF_LEN - off);
			if (n < 0) {
				if (errno == EINTR) {
					n = 0;
					continue;
				}
				c->err = errno;
				goto out;
			}
		}
	}
out:
	shutdown(c->send_fd, SHUT_WR);
	/* The last completions, for the count. */
	while (zerocopy && !c->err && c->zc_sends < c->zc_calls &&
	       !reap_completions(c, 1))
		;
	free(buf);
	return NULL;
}

static void *receiver(void *arg)
{
	struct conn *c = arg;
	char *buf = malloc(BUF_LEN);
	ssize_t n;

	if (!buf) {
		c->err = ENOMEM;
		return NULL;
	}
	for (;;) {
		n = read(c->recv_fd, buf, BUF_LEN);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			c->err = errno;
		if (n <= 0)
			break;
		c->received += n;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	pthread_t st[MAX_CONNS], rt[MAX_CONNS];
	struct conn conns[MAX_CONNS] = { 0 };
	unsigned long long total = 0;
	int nconn = 2, lfd, i;
	double t;

	if (argc > 1)
		nconn = atoi(argv[1]);
	if (argc > 2)
		seconds = atof(argv[2]);
	if (argc > 3)
		zerocopy = !strcmp(argv[3], "zerocopy");
	if (nconn < 1 || nconn > MAX_CONNS || seconds <= 0 || argc > 4 ||
	    (argc > 3 && !zerocopy && strcmp(argv[3], "copy"))) {
		fprintf(stderr, "usage: wire_bw [CONNECTIONS (1-%d) [SECONDS [copy|zerocopy]]]\n",
			MAX_CONNS);
		return 2;
	}

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, MAX_CONNS) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		perror("wire_bw: listen on 127.0.0.1");
		return 1;
	}
	for (i = 0; i < nconn; i++) {
		conns[i].send_fd = socket(AF_INET, SOCK_STREAM, 0);
		if (conns[i].send_fd < 0 ||
		    connect(conns[i].send_fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("wire_bw: connect");
			return 1;
		}
		if (zerocopy &&
		    setsockopt(conns[i].send_fd, SOL_SOCKET, SO_ZEROCOPY,
			       &(int){ 1 }, sizeof(int))) {
			perror("wire_bw: SO_ZEROCOPY");
			return 1;
		}
		conns[i].recv_fd = accept(lfd, NULL, NULL);
		if (conns[i].recv_fd < 0) {
			perror("wire_bw: accept");
			return 1;
		}
	}

	t_start = now();
	for (i = 0; i < nconn; i++) {
		if (pthread_create(&rt[i], NULL, receiver, &conns[i]) ||
		    pthread_create(&st[i], NULL, sender, &conns[i])) {
			fprintf(stderr, "wire_bw: pthread_create failed\n");
			return 1;
		}
	}
	for (i = 0; i < nconn; i++) {
		pthread_join(st[i], NULL);
		pthread_join(rt[i], NULL);
	}
	t = now() - t_start;

	unsigned long long zc_sends = 0, zc_copied = 0;

	for (i = 0; i < nconn; i++) {
		zc_sends += conns[i].zc_sends;
		zc_copied += conns[i].zc_copied;
		if (conns[i].err) {
			fprintf(stderr, "wire_bw: connection %d: %s\n", i,
				strerror(conns[i].err));
			return 1;
		}
		total += conns[i].received;
		close(conns[i].send_fd);
		close(conns[i].recv_fd);
	}
	close(lfd);
	printf("{\"connections\":%d,\"seconds\":%.2f,\"mib\":%.1f,\"mib_s\":%.1f",
	       nconn, t, total / 1048576.0, total / 1048576.0 / t);
	if (zerocopy)
		printf(",\"send\":\"zerocopy\",\"zc_sends\":%llu,\"zc_copied\":%llu",
		       zc_sends, zc_copied);
	printf("}\n");
	return 0;
}
