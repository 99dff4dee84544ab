/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Migration addresses: "tcp:HOST:PORT" (HOST a name, an IPv4 address or
 * [an IPv6 address]) and "unix:PATH". Listening and connecting.
 */
#ifndef KMIGCTL_ADDR_H
#define KMIGCTL_ADDR_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

struct mig_addr {
	int family;			/* AF_INET, AF_INET6 or AF_UNIX */
	struct sockaddr_storage sa;
	socklen_t len;
	char text[160];			/* as given, for messages */
	char host[128];			/* tcp: HOST as given, brackets off */
};

/*
 * Parses and resolves @spec. Returns 0, or -EINVAL with the reason in
 * @err (a bad form, an unknown host, a unix path too long).
 */
int addr_parse(const char *spec, struct mig_addr *a, char *err, size_t errlen);

/*
 * A listening socket. A stale unix socket file is replaced; port 0 gets a
 * free port, written back into @a (and a->text). Returns the fd or -errno.
 */
int addr_listen(struct mig_addr *a);

/*
 * Connects, retrying while nobody listens yet (the destination may still be
 * starting) until @timeout_ms have passed or *@stop is set. Returns the fd
 * or -errno. TCP connections get TCP_NODELAY: the switchover's small
 * frames must not wait for Nagle.
 */
int addr_connect(const struct mig_addr *a, int timeout_ms,
		 const atomic_int *stop);

/*
 * Accepts one connection, waiting up to @timeout_ms (0: for ever) while
 * *@stop stays clear. Returns the fd, -ETIMEDOUT, -ESHUTDOWN or -errno.
 */
int addr_accept(int lfd, int timeout_ms, const atomic_int *stop);

/*
 * TCP keepalive and TCP_USER_TIMEOUT on a connected TCP socket, so a peer
 * host that vanished (or a link that dropped) fails the socket within
 * about @timeout_ms even when nothing is being sent; a no-op on unix
 * sockets. The main channel's own keepalive (mainchan.h) covers a peer
 * whose host is alive but whose process is not.
 */
void addr_keepalive(int fd, int timeout_ms);

/* The connected peer of @fd, for messages: "127.0.0.1:4711", "unix". */
void addr_peer_name(int fd, char *buf, size_t n);

#endif /* KMIGCTL_ADDR_H */
