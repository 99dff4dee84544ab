/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A kmig-vmm control client for the tests that drive build/vmm/kmig-vmm
 * (or $KMIG_VMM) over its control socket (user/include/kmig_vmm.h):
 * vmm_test, vmm_postcopy_test and vmm_recover_test.
 *
 *   vmm_spawn(p, args)            starts it, waits for its ready line,
 *                                 connects; vmm_stop(p) quits and reaps it
 *   vmm_client(p, c)              a second connection to the same VMM
 *   ctl_call(p, type, ...)        one request, one reply: the status, or
 *                                 -EPROTO; payload and passed fd returned
 *   ctl_simple/_msg, ctl_hello, ctl_check, ctl_status, ctl_hold(_phase)
 *                                 the requests every test makes
 *   guest_mem_open(g, p)          where guest RAM lies (KMIG_GET_MEMSLOTS)
 *                                 and /proc/PID/mem to read it;
 *                                 guest_hva(), guest_ram_size()
 *
 * Everything returns 0 (or a value) or -errno and asserts nothing, so it
 * works in TEST, FIXTURE_SETUP and helper threads alike.
 */
#ifndef KMIG_SELFTEST_VMM_CTL_H
#define KMIG_SELFTEST_VMM_CTL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/kmig.h>

#include "kmig_vmm.h"

#define VMM_DEFAULT_PATH	"build/vmm/kmig-vmm"
#define VMM_READY_TIMEOUT_MS	20000
#define VMM_MAX_SLOTS		8
#define VMM_MAX_ARGS		32
#define VMM_SOCKET_BUF		(4 << 20)

struct vmm_proc {
	pid_t pid;
	int ctl;		/* control socket */
	FILE *out;		/* the VMM's stdout */
	char sock[108];
	int vm_fd;		/* from VMM_HELLO, or -1 */
	struct vmm_hello hello;
	struct vmm_region region[4];
};

struct guest_mem {
	int kmig;		/* session attached to the VM, or -1 */
	int mem;		/* /proc/PID/mem */
	uint32_t nr;
	struct kmig_memslot slot[VMM_MAX_SLOTS];
};

static inline const char *vmm_path(void)
{
	const char *p = getenv("KMIG_VMM");

	return p && *p ? p : VMM_DEFAULT_PATH;
}

/* NULL when the tests can run, else why not. */
static inline const char *missing_prereq(void)
{
	if (access("/dev/kvm", R_OK | W_OK))
		return "no /dev/kvm";
	if (access(vmm_path(), X_OK))
		return "kmig-vmm not built (build/vmm/kmig-vmm, or set KMIG_VMM)";
	return NULL;
}

static inline bool have_kmig(void)
{
	return !access(KMIG_DEVICE_PATH, R_OK | W_OK);
}

static inline void msleep(unsigned int ms)
{
	usleep(ms * 1000);
}

/* Big enough for any state blob in one SEQPACKET message. */
static inline void set_buffers(int fd)
{
	int size = VMM_SOCKET_BUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* Reads the VMM's stdout up to a line starting with @prefix. */
static inline bool wait_line(struct vmm_proc *p, const char *prefix,
			     char *line, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fileno(p->out), .events = POLLIN };

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		if (!fgets(line, len, p->out))
			return false;
		if (!strncmp(line, prefix, strlen(prefix)))
			return true;
	}
}

/* A new connection to the control socket at @sock: the fd, or -errno. */
static inline int ctl_connect(const char *sock)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	strcpy(addr.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_buffers(fd);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * Starts kmig-vmm with @args (NULL-terminated) and connects to its control
 * socket once it printed its ready line. 0 or -errno.
 */
static inline int vmm_spawn(struct vmm_proc *p, const char *const *args)
{
	static int seq;
	const char *argv[VMM_MAX_ARGS];
	char line[256];
	int pipefd[2], n = 0, i;

	memset(p, 0, sizeof(*p));
	p->ctl = p->vm_fd = -1;
	snprintf(p->sock, sizeof(p->sock), "/tmp/kmig-vmm-test-%d-%d.sock",
		 getpid(), seq++);
	argv[n++] = vmm_path();
	argv[n++] = "--control";
	argv[n++] = p->sock;
	for (i = 0; args[i] && n < VMM_MAX_ARGS - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (!p->pid) {
		/* Dies with the test, even when the harness kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], STDOUT_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	p->out = fdopen(pipefd[0], "r");
	if (!p->out || !wait_line(p, "kmig-vmm: ready", line, sizeof(line),
				  VMM_READY_TIMEOUT_MS))
		return -EIO;
	p->ctl = ctl_connect(p->sock);
	return p->ctl < 0 ? p->ctl : 0;
}

/*
 * A second control client of @p's VMM, in @c: requests go through @c's
 * own connection; nothing else of @c is used. 0 or -errno.
 */
static inline int vmm_client(const struct vmm_proc *p, struct vmm_proc *c)
{
	memset(c, 0, sizeof(*c));
	c->vm_fd = -1;
	snprintf(c->sock, sizeof(c->sock), "%s", p->sock);
	c->ctl = ctl_connect(p->sock);
	return c->ctl < 0 ? c->ctl : 0;
}

static inline void vmm_client_close(struct vmm_proc *c)
{
	if (c->ctl >= 0)
		close(c->ctl);
	c->ctl = -1;
}

/*
 * One request, one reply, on connection @ctl. Returns the reply's status,
 * or -EPROTO when the exchange itself failed. The reply's payload goes to
 * @reply (malloc'ed, NUL-terminated for error messages) and a passed fd to
 * @fd; a passed fd nobody asked for is closed.
 */
static inline int ctl_call_fd(int ctl, uint32_t type, const void *payload,
			      size_t len, void **reply, size_t *reply_len,
			      int *fd)
{
	struct vmm_msg req = { .type = type, .len = len }, *rep;
	struct iovec iov[2] = {
		{ .iov_base = &req, .iov_len = sizeof(req) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct cmsghdr *cmsg;
	struct iovec riov;
	uint8_t *buf;
	ssize_t n;
	int status;

	if (reply)
		*reply = NULL;
	if (fd)
		*fd = -1;
	if (sendmsg(ctl, &mh, MSG_NOSIGNAL) < 0)
		return -EPROTO;
	n = recv(ctl, &req, sizeof(req), MSG_PEEK | MSG_TRUNC);
	if (n < (ssize_t)sizeof(req))
		return -EPROTO;
	buf = calloc(1, n + 1);
	if (!buf)
		return -EPROTO;
	riov = (struct iovec) { .iov_base = buf, .iov_len = n };
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &riov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	rep = (struct vmm_msg *)buf;
	if (n < (ssize_t)sizeof(*rep) || rep->type != type ||
	    rep->len != n - sizeof(*rep)) {
		free(buf);
		return -EPROTO;
	}
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS) {
			int got;

			memcpy(&got, CMSG_DATA(cmsg), sizeof(int));
			if (fd)
				*fd = got;
			else
				close(got);
		}
	status = rep->status;
	if (reply) {
		memmove(buf, buf + sizeof(*rep), rep->len + 1);
		*reply = buf;
		if (reply_len)
			*reply_len = n - sizeof(*rep);
	} else {
		free(buf);
	}
	return status;
}

/* ctl_call_fd() on @p's own connection. */
static inline int ctl_call(struct vmm_proc *p, uint32_t type,
			   const void *payload, size_t len, void **reply,
			   size_t *reply_len, int *fd)
{
	return ctl_call_fd(p->ctl, type, payload, len, reply, reply_len, fd);
}

/* A request whose reply carries no data worth keeping. */
static inline int ctl_simple(struct vmm_proc *p, uint32_t type)
{
	return ctl_call(p, type, NULL, 0, NULL, NULL, NULL);
}

/* A request whose error reply's message goes to @msg ("" on success). */
static inline int ctl_call_msg(struct vmm_proc *p, uint32_t type,
			       const void *payload, size_t len, char *msg,
			       size_t msg_len)
{
	void *reply;
	int ret;

	ret = ctl_call(p, type, payload, len, &reply, NULL, NULL);
	snprintf(msg, msg_len, "%s", ret && reply ? (char *)reply : "");
	free(reply);
	return ret;
}

static inline int ctl_hello(struct vmm_proc *p)
{
	size_t len;
	void *reply;
	int ret;

	ret = ctl_call(p, VMM_HELLO, NULL, 0, &reply, &len, &p->vm_fd);
	if (!ret && (len < sizeof(p->hello) ||
		     len != sizeof(p->hello) + ((struct vmm_hello *)reply)->
			    nr_regions * sizeof(struct vmm_region) ||
		     ((struct vmm_hello *)reply)->nr_regions > 4))
		ret = -EPROTO;
	if (!ret) {
		memcpy(&p->hello, reply, sizeof(p->hello));
		memcpy(p->region, (char *)reply + sizeof(p->hello),
		       len - sizeof(p->hello));
	}
	free(reply);
	return ret;
}

static inline int ctl_check(struct vmm_proc *p, struct vmm_check *check)
{
	size_t len;
	void *reply;
	int ret;

	memset(check, 0, sizeof(*check));
	ret = ctl_call(p, VMM_CHECK, NULL, 0, &reply, &len, NULL);
	if (!ret && len == sizeof(*check))
		memcpy(check, reply, sizeof(*check));
	else if (!ret)
		ret = -EPROTO;
	else if (reply)
		snprintf(check->verdict, sizeof(check->verdict), "%s",
			 (char *)reply);
	free(reply);
	return ret;
}

/*
 * VMM_QUIT, then reaps it (SIGKILL after 10 s: a postcopy destination may
 * take a while); the exit status, or -1.
 */
static inline int vmm_stop(struct vmm_proc *p)
{
	int status = -1, i;

	if (p->pid <= 0)
		return -1;
	if (p->ctl >= 0)
		ctl_simple(p, VMM_QUIT);
	for (i = 0; i < 200; i++) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid)
			break;
		msleep(50);
	}
	if (i == 200) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &status, 0);
	}
	if (p->ctl >= 0)
		close(p->ctl);
	if (p->vm_fd >= 0)
		close(p->vm_fd);
	if (p->out)
		fclose(p->out);
	unlink(p->sock);
	p->pid = 0;
	p->ctl = p->vm_fd = -1;
	p->out = NULL;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Attaches a kmig session to the VM to learn where its RAM is mapped. */
static inline int guest_mem_attach(struct guest_mem *g, pid_t pid,
				   int vm_fd)
{
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	struct kmig_get_memslots get = {
		.size = sizeof(get), .nr_slots = VMM_MAX_SLOTS,
		.slots_uptr = (uintptr_t)g->slot,
	};
	char path[64];

	g->kmig = open(KMIG_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (g->kmig < 0)
		return -errno;
	attach.vm_fd = vm_fd;
	if (ioctl(g->kmig, KMIG_ATTACH_VM, &attach) ||
	    ioctl(g->kmig, KMIG_GET_MEMSLOTS, &get))
		return -errno;
	g->nr = get.nr_slots;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	g->mem = open(path, O_RDWR | O_CLOEXEC);
	return g->mem < 0 ? -errno : 0;
}

/* Through the VM fd that VMM_HELLO gave. */
static inline int guest_mem_open(struct guest_mem *g, struct vmm_proc *p)
{
	return guest_mem_attach(g, p->pid, p->vm_fd);
}

static inline void guest_mem_close(struct guest_mem *g)
{
	if (g->kmig >= 0)
		close(g->kmig);
	if (g->mem >= 0)
		close(g->mem);
	g->kmig = g->mem = -1;
}

/* The VMM's address of guest-physical @gpa, or 0. */
static inline uint64_t guest_hva(struct guest_mem *g, uint64_t gpa)
{
	uint32_t i;

	for (i = 0; i < g->nr; i++)
		if (!g->slot[i].as_id && gpa >= g->slot[i].gpa &&
		    gpa - g->slot[i].gpa < g->slot[i].size)
			return g->slot[i].hva + gpa - g->slot[i].gpa;
	return 0;
}

static inline uint64_t guest_ram_size(struct guest_mem *g)
{
	uint64_t size = 0;
	uint32_t i;

	for (i = 0; i < g->nr; i++)
		if (!g->slot[i].as_id)
			size += g->slot[i].size;
	return size;
}

/* Version 2: VMM_STATUS and the migration hold. */

static inline int ctl_status(struct vmm_proc *p, struct vmm_status *st)
{
	size_t len;
	void *reply;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = ctl_call(p, VMM_STATUS, NULL, 0, &reply, &len, NULL);
	if (!ret && len == sizeof(*st))
		memcpy(st, reply, sizeof(*st));
	else if (!ret)
		ret = -EPROTO;
	free(reply);
	return ret;
}

/*
 * VMM_HOLD(@phase): the status after it in @st, or an error reply's
 * message in @msg (both may be NULL).
 */
static inline int ctl_hold(struct vmm_proc *p, uint32_t phase,
			   uint32_t reserved, struct vmm_status *st, char *msg,
			   size_t msg_len)
{
	struct vmm_hold hold = { .phase = phase, .reserved = reserved };
	size_t len;
	void *reply;
	int ret;

	ret = ctl_call(p, VMM_HOLD, &hold, sizeof(hold), &reply, &len, NULL);
	if (!ret && len != sizeof(*st))
		ret = -EPROTO;
	if (!ret && st)
		memcpy(st, reply, sizeof(*st));
	if (ret && msg)
		snprintf(msg, msg_len, "%s", reply ? (char *)reply : "");
	free(reply);
	return ret;
}

/* VMM_HOLD(@phase), when only the status matters. */
static inline int ctl_hold_phase(struct vmm_proc *p, uint32_t phase)
{
	return ctl_hold(p, phase, 0, NULL, NULL, 0);
}

/* An error reply's message, for checking what it says. */
static inline int ctl_simple_msg(struct vmm_proc *p, uint32_t type, char *msg,
				 size_t msg_len)
{
	return ctl_call_msg(p, type, NULL, 0, msg, msg_len);
}

/*
 * How far the guest got in @ms, by two VMM_STATUS looks: > 0 when it runs,
 * 0 when it stands still; -1 when a look failed.
 */
static inline int64_t progress_in(struct vmm_proc *p, unsigned int ms)
{
	struct vmm_status a, b;

	if (ctl_status(p, &a))
		return -1;
	msleep(ms);
	if (ctl_status(p, &b))
		return -1;
	return (int64_t)(b.guest_progress - a.guest_progress);
}

/* Waits until the VMM has seen its holder go; the status then, in @st. */
static inline int wait_unheld(struct vmm_proc *p, struct vmm_status *st)
{
	int i, ret;

	for (i = 0; i < 200; i++) {
		ret = ctl_status(p, st);
		if (ret || !st->holder_pid)
			return ret;
		msleep(50);
	}
	return -ETIMEDOUT;
}


#endif /* KMIG_SELFTEST_VMM_CTL_H */
