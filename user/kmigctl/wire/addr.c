// SPDX-License-Identifier: GPL-2.0
/*
 * tcp:/unix: migration addresses (addr.h).
 */
#define _GNU_SOURCE	/* accept4() */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"

static int addr_parse_unix(const char *path, struct mig_addr *a, char *err,
			   size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;

	if (!path[0]) {
		snprintf(err, errlen, "unix: address needs a path");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(un->sun_path)) {
		snprintf(err, errlen, "unix socket path longer than %zu bytes",
			 sizeof(un->sun_path) - 1);
		return -EINVAL;
	}
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	a->family = AF_UNIX;
	a->len = sizeof(*un);
	return 0;
}

static int addr_parse_tcp(const char *hostport, struct mig_addr *a, char *err,
			  size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char *host = a->host;
	const char *port, *h = hostport;
	size_t hlen;
	char *end;
	long pn;
	int ret;

	/* [v6addr]:port, or host:port with the last ':' as the separator. */
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errlen, "tcp:[ADDRESS]:PORT expected");
			return -EINVAL;
		}
		h++;
		hlen = close - h;
		port = close + 2;
	} else {
		port = strrchr(h, ':');
		if (!port) {
			snprintf(err, errlen, "tcp:HOST:PORT expected");
			return -EINVAL;
		}
		hlen = port - h;
		port++;
	}
	if (!hlen || hlen >= sizeof(a->host)) {
		snprintf(err, errlen, "tcp address needs a host");
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = 0;
	errno = 0;
	pn = strtol(port, &end, 10);
	if (!*port || *end || errno || pn < 0 || pn > 65535) {
		snprintf(err, errlen, "bad TCP port '%s'", port);
		return -EINVAL;
	}

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host,
			 gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

int addr_parse(const char *spec, struct mig_addr *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->text, sizeof(a->text), "%s", spec);
	if (!strncmp(spec, "unix:", 5))
		return addr_parse_unix(spec + 5, a, err, errlen);
	if (!strncmp(spec, "tcp:", 4))
		return addr_parse_tcp(spec + 4, a, err, errlen);
	snprintf(err, errlen, "'%s': expected tcp:HOST:PORT or unix:PATH", spec);
	return -EINVAL;
}

/* Writes the port the kernel picked for port 0 back into @a. */
static void addr_update_port(int fd, struct mig_addr *a)
{
	char host[INET6_ADDRSTRLEN], port[8];
	socklen_t len = sizeof(a->sa);

	if (getsockname(fd, (struct sockaddr *)&a->sa, &len) ||
	    getnameinfo((struct sockaddr *)&a->sa, len, host, sizeof(host),
			port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV))
		return;
	a->len = len;
	snprintf(a->text, sizeof(a->text),
		 a->family == AF_INET6 ? "tcp:[%s]:%s" : "tcp:%s:%s", host,
		 port);
}

int addr_listen(struct mig_addr *a)
{
	int fd, one = 1, ret;

	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (a->family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&a->sa)->sun_path;
		struct stat st;

		/* Only a socket is ever removed: never a file by mistake. */
		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&a->sa, a->len) ||
	    listen(fd, 2 * 16 + 4)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (a->family != AF_UNIX)
		addr_update_port(fd, a);
	return fd;
}

static int addr_try_connect(const struct mig_addr *a)
{
	int fd, one = 1, ret;

	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->len)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (a->family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int addr_connect(const struct mig_addr *a, int timeout_ms,
		 const atomic_int *stop)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	for (;;) {
		int fd = addr_try_connect(a);

		/* Nobody listening yet: the destination may be starting. */
		if (fd >= 0 || (fd != -ECONNREFUSED && fd != -ENOENT &&
				fd != -EINTR))
			return fd;
		if (now_ns() >= deadline)
			return fd;
		if (stop && atomic_load(stop))
			return -ESHUTDOWN;
		sleep_ns(50 * NSEC_PER_MSEC);
	}
}

int addr_accept(int lfd, int timeout_ms, const atomic_int *stop)
{
	uint64_t start = now_ns();
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd, one = 1;

	for (;;) {
		int n;

		if (stop && atomic_load(stop))
			return -ESHUTDOWN;
		if (timeout_ms > 0 &&
		    now_ns() - start > (uint64_t)timeout_ms * NSEC_PER_MSEC)
			return -ETIMEDOUT;
		n = poll(&p, 1, 100);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ECONNABORTED)
				continue;
			return -errno;
		}
		/* Harmless on unix sockets (fails with EOPNOTSUPP). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return fd;
	}
}

void addr_keepalive(int fd, int timeout_ms)
{
	int one = 1, idle = timeout_ms / 2000, intvl = 1, cnt, uto = timeout_ms;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	if (idle < 1)
		idle = 1;
	cnt = timeout_ms / 1000 - idle;
	if (cnt < 1)
		cnt = 1;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* Unacknowledged data this long: the connection is dead. */
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
}

void addr_peer_name(int fd, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len)) {
		snprintf(buf, n, "an unknown peer");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, n, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, n, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, n, "a unix socket peer");
	}
}
