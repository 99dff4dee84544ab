// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket and the main thread's event loop.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include "hold.h"
#include "requests.h"
#include "ring.h"
#include "server.h"
#include "util.h"
#include "vmm.h"

#define MAX_CLIENTS	8
/* State blobs are tens of KiB; let one fit in a packet without tuning. */
#define SOCKET_BUF	(4 << 20)

enum { FD_LISTEN, FD_SIGNAL, FD_TIMER, FD_CLIENT0 };

struct server {
	struct vmm *vmm;
	struct pollfd pfd[FD_CLIENT0 + MAX_CLIENTS];
	struct request_client client[MAX_CLIENTS];
	bool timer_armed;
	bool quit;
	int status;
};

void server_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		vmm_die("pthread_sigmask");
	/* A client that goes away mid-reply is an error reply, not a death. */
	signal(SIGPIPE, SIG_IGN);
}

int server_listen(struct vmm *vmm)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = vmm->opt.control;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		vmm_die("--control: '%s' is too long for a unix socket", path);
	strcpy(addr.sun_path, path);
	/* A socket left behind by a VMM that died; never other files. */
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		vmm_die_errno("socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		vmm_die_errno("bind %s", path);
	if (listen(fd, MAX_CLIENTS))
		vmm_die_errno("listen %s", path);
	return fd;
}

static void set_buffers(int fd)
{
	int size = SOCKET_BUF;

	/* The FORCE variants pass net.core.*_max, for root only. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* The client's pid, which names a migration in messages; 0 if unknown. */
static pid_t peer_pid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return 0;
	return cred.pid;
}

static void accept_client(struct server *s)
{
	int fd = accept4(s->pfd[FD_LISTEN].fd, NULL, NULL, SOCK_CLOEXEC), i;

	if (fd < 0) {
		vmm_warn_errno("accept");
		return;
	}
	for (i = 0; i < MAX_CLIENTS; i++) {
		if (s->client[i].fd >= 0)
			continue;
		set_buffers(fd);
		s->client[i] = (struct request_client) {
			.fd = fd, .pid = peer_pid(fd),
		};
		s->pfd[FD_CLIENT0 + i] = (struct pollfd) {
			.fd = fd, .events = POLLIN,
		};
		return;
	}
	vmm_warn("more than %d control clients: refusing one", MAX_CLIENTS);
	close(fd);
}

static void drop_client(struct server *s, int i)
{
	struct request_client *cl = &s->client[i];

	/* Quitting, the guest stops here anyway: nothing to resume. */
	if (!s->quit)
		hold_client_gone(s->vmm, cl);
	if (cl->claimed)
		ring_release(s->vmm);
	close(cl->fd);
	cl->fd = -1;
	cl->claimed = false;
	s->pfd[FD_CLIENT0 + i].fd = -1;
}

static int send_reply(int fd, uint32_t type, const struct request_reply *r)
{
	struct vmm_msg msg = {
		.type = type, .status = r->status, .len = r->len,
	};
	struct iovec iov[2] = {
		{ .iov_base = &msg, .iov_len = sizeof(msg) },
		{ .iov_base = (void *)r->payload, .iov_len = r->len },
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = r->len ? 2 : 1 };
	struct cmsghdr *cmsg;

	if (r->pass_fd >= 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &r->pass_fd, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/* Reads one request and answers it; false when the client is gone. */
static bool serve_client(struct server *s, int i)
{
	struct request_client *cl = &s->client[i];
	struct request_reply reply;
	struct vmm_msg msg;
	uint8_t *buf;
	ssize_t n;
	int ret;

	/* SEQPACKET: MSG_TRUNC makes a peek return the packet's full size. */
	n = recv(cl->fd, &msg, sizeof(msg), MSG_PEEK | MSG_TRUNC);
	if (n <= 0)
		return false;
	buf = n <= VMM_MSG_MAX ? malloc(n) : NULL;
	n = recv(cl->fd, buf ?: (void *)&msg, buf ? (size_t)n : sizeof(msg), 0);
	if (n <= 0) {
		free(buf);
		return false;
	}
	if (buf)
		memcpy(&msg, buf, n < (ssize_t)sizeof(msg) ? (size_t)n : sizeof(msg));
	memset(&reply, 0, sizeof(reply));
	reply.pass_fd = -1;
	if (!buf || n < (ssize_t)sizeof(msg) || msg.len != n - sizeof(msg) ||
	    msg.status || msg.reserved) {
		snprintf(reply.msg, sizeof(reply.msg),
			 "malformed request: %zd bytes, header says %u payload bytes",
			 n, msg.len);
		reply.status = buf ? -EINVAL : -EMSGSIZE;
		reply.payload = reply.msg;
		reply.len = strlen(reply.msg) + 1;
	} else {
		request_handle(s->vmm, cl, msg.type, buf + sizeof(msg), msg.len,
			       &reply);
	}
	ret = send_reply(cl->fd, msg.type, &reply);
	if (ret == -EMSGSIZE) {
		struct request_reply err = {
			.status = -EMSGSIZE, .pass_fd = -1,
			.payload = "reply too large for the socket buffer",
		};

		err.len = strlen(err.payload) + 1;
		ret = send_reply(cl->fd, msg.type, &err);
	}
	if (ret)
		vmm_warn("control reply: %s", strerror(-ret));
	free(reply.to_free);
	free(buf);
	if (reply.quit) {
		s->quit = true;
		s->status = 0;
	}
	return !ret;
}

static void arm_timer(struct server *s)
{
	int64_t ms = s->vmm->opt.check_after_ms;
	struct itimerspec its = {
		.it_value = vmm_ns_to_timespec(ms * 1000000ULL),
	};

	if (!ms)
		its.it_value.tv_nsec = 1;	/* 0 would disarm it */
	if (timerfd_settime(s->pfd[FD_TIMER].fd, 0, &its, NULL))
		vmm_die_errno("timerfd_settime");
	s->timer_armed = true;
}

static void check_and_quit(struct server *s)
{
	struct vmm_check check;

	/*
	 * Pages still on the source would read as zero: the check waits for
	 * the end of postcopy, and --check-after counts again from there.
	 */
	if (postcopy_active(&s->vmm->postcopy)) {
		s->timer_armed = false;
		return;
	}

	request_check(s->vmm, &check);
	printf("kmig-vmm: check %s: %s\n", check.ok ? "PASSED" : "FAILED",
	       check.verdict);
	fflush(stdout);
	s->quit = true;
	s->status = check.ok ? 0 : 1;
}

static void read_signal(struct server *s)
{
	struct signalfd_siginfo si;

	if (read(s->pfd[FD_SIGNAL].fd, &si, sizeof(si)) != sizeof(si))
		return;
	vmm_warn("signal %u: quitting", si.ssi_signo);
	s->quit = true;
	s->status = 0;
}

static int make_signalfd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		vmm_die_errno("signalfd");
	return fd;
}

int server_run(struct vmm *vmm, int listen_fd)
{
	struct server s;
	int i, n;

	memset(&s, 0, sizeof(s));
	s.vmm = vmm;
	s.pfd[FD_LISTEN] = (struct pollfd) { .fd = listen_fd, .events = POLLIN };
	s.pfd[FD_SIGNAL] = (struct pollfd) { .fd = make_signalfd(), .events = POLLIN };
	s.pfd[FD_TIMER].fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	s.pfd[FD_TIMER].events = POLLIN;
	if (s.pfd[FD_TIMER].fd < 0)
		vmm_die_errno("timerfd_create");
	for (i = 0; i < MAX_CLIENTS; i++) {
		s.client[i].fd = -1;
		s.pfd[FD_CLIENT0 + i].fd = -1;
	}
	while (!s.quit) {
		if (vmm->opt.check_after_ms >= 0 && vmm->started &&
		    !s.timer_armed && !postcopy_active(&vmm->postcopy))
			arm_timer(&s);
		n = poll(s.pfd, ARRAY_SIZE(s.pfd), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			vmm_die_errno("poll");
		}
		if (s.pfd[FD_SIGNAL].revents)
			read_signal(&s);
		if (s.pfd[FD_TIMER].revents && !s.quit)
			check_and_quit(&s);
		for (i = 0; i < MAX_CLIENTS && !s.quit; i++)
			if (s.pfd[FD_CLIENT0 + i].revents &&
			    !serve_client(&s, i))
				drop_client(&s, i);
		if (s.pfd[FD_LISTEN].revents && !s.quit)
			accept_client(&s);
	}
	for (i = 0; i < MAX_CLIENTS; i++)
		if (s.client[i].fd >= 0)
			drop_client(&s, i);
	close(s.pfd[FD_TIMER].fd);
	close(s.pfd[FD_SIGNAL].fd);
	close(listen_fd);
	unlink(vmm->opt.control);
	return s.status;
}
