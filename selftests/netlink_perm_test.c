// SPDX-License-Identifier: GPL-2.0
/*
 * Who sees, cancels and asks postcopy of a session over the "kmig" generic
 * netlink family.
 * A session shows its VMM's pid and migration state, so KMIG_NL_CMD_SESSION_GET
 * lists it only to a requester in the network namespace it was opened in
 * that owns it (same euid) or has CAP_NET_ADMIN over that namespace; and
 * KMIG_NL_CMD_SESSION_CANCEL and KMIG_NL_CMD_SESSION_POSTCOPY find it only
 * from that namespace, and only with CAP_NET_ADMIN there.
 *
 * Root opens a session and attaches a KVM VM; children then look at it as
 * uid 65534 (setresuid after fork), from a new netns (unshare), and as its
 * owner through a 0666 copy of the /dev/kmig node (mknod in a private
 * directory), so the real node's mode is never touched.
 *
 * Netlink is spoken raw here (no libnl) so that the kernel's errno comes
 * back exactly as it sent it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* unshare(), setresuid() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/kvm.h>
#include <linux/netlink.h>

#include "kselftest_harness.h"
#include "bare_vm.h"
#include "kmig_util.h"
#include "test_util.h"

#define MEMSLOT_SIZE	(2UL << 20)
#define NOBODY		65534

/* What a SESSION_GET dump showed of one session id. */
struct seen {
	int err;		/* 0, or the dump's -errno */
	int sessions;		/* messages in the dump, all sessions */
	bool found;		/* the session asked about was listed */
	__u32 vm_pid;		/* its KMIG_A_SESSION_VM_PID, 0 if none */
	__u32 state;		/* its KMIG_A_SESSION_STATE */
	__u32 postcopy;		/* its KMIG_A_SESSION_POSTCOPY_REQUESTED, 0 if none */
};

struct nl {
	int fd;
	__u16 family;
	__u32 seq;
};

#define NL_BUF	16384

/* Appends a u32 or string attribute at the end of @nlh. */
static void nl_put(struct nlmsghdr *nlh, __u16 type, const void *data,
		   size_t len)
{
	struct nlattr *a = (void *)nlh + NLMSG_ALIGN(nlh->nlmsg_len);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static int nl_send(struct nl *nl, struct nlmsghdr *nlh, __u16 type,
		   __u16 flags, __u8 cmd)
{
	struct genlmsghdr *g = NLMSG_DATA(nlh);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g->cmd = cmd;
	g->version = 1;
	return send(nl->fd, nlh, nlh->nlmsg_len, 0) < 0 ? -errno : 0;
}

static struct nlmsghdr *nl_new(void *buf)
{
	struct nlmsghdr *nlh = buf;

	memset(buf, 0, NLMSG_SPACE(GENL_HDRLEN));
	nlh->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	return nlh;
}

/*
 * Reads replies to our last request, calling @fn on each data message,
 * until the ack or NLMSG_DONE; returns the kernel's 0 or -errno.
 */
static int nl_recv(struct nl *nl, void (*fn)(struct nlmsghdr *, void *),
		   void *arg)
{
	static char buf[NL_BUF];
	struct nlmsghdr *nlh;
	ssize_t n;

	for (;;) {
		n = recv(nl->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (nlh = (void *)buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != nl->seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nlh))->error;
			if (nlh->nlmsg_type == NLMSG_DONE)
				return *(int *)NLMSG_DATA(nlh);
			if (fn)
				fn(nlh, arg);
		}
	}
}

/* Calls @fn(type, payload, len) for each attribute of a genl message. */
#define for_each_attr(a, nlh, rem)					\
	for (a = (struct nlattr *)((char *)NLMSG_DATA(nlh) + GENL_HDRLEN), \
	     rem = (int)(nlh)->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);	\
	     rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&		\
	     a->nla_len <= rem;						\
	     rem -= NLA_ALIGN(a->nla_len),				\
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))

static __u32 attr_u32(const struct nlattr *a)
{
	__u32 v;

	memcpy(&v, (const char *)a + NLA_HDRLEN, sizeof(v));
	return v;
}

static void family_cb(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *a;
	int rem;

	for_each_attr(a, nlh, rem)
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID)
			*(__u16 *)arg = (__u16)attr_u32(a);
}

/* Opens a genetlink socket in the caller's netns; 0 or -errno. */
static int nl_open(struct nl *nl)
{
	char buf[256];
	struct nlmsghdr *nlh = nl_new(buf);
	int r;

	nl->seq = 0;
	nl->family = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		return -errno;
	nl_put(nlh, CTRL_ATTR_FAMILY_NAME, KMIG_GENL_NAME,
	       sizeof(KMIG_GENL_NAME));
	r = nl_send(nl, nlh, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY);
	if (!r)
		r = nl_recv(nl, family_cb, &nl->family);
	if (!r && !nl->family)
		r = -ENOENT;
	if (r)
		close(nl->fd);
	return r;
}

struct dump_arg {
	__u32 id;
	struct seen *seen;
};

static void session_cb(struct nlmsghdr *nlh, void *arg)
{
	struct dump_arg *d = arg;
	__u32 id = 0, pid = 0, state = 0, postcopy = 0;
	struct nlattr *a;
	int rem;

	d->seen->sessions++;
	for_each_attr(a, nlh, rem) {
		switch (a->nla_type & NLA_TYPE_MASK) {
		case KMIG_A_SESSION_ID:
			id = attr_u32(a);
			break;
		case KMIG_A_SESSION_VM_PID:
			pid = attr_u32(a);
			break;
		case KMIG_A_SESSION_STATE:
			state = attr_u32(a);
			break;
		case KMIG_A_SESSION_POSTCOPY_REQUESTED:
			postcopy = attr_u32(a);
			break;
		}
	}
	if (id && id == d->id) {
		d->seen->found = true;
		d->seen->vm_pid = pid;
		d->seen->state = state;
		d->seen->postcopy = postcopy;
	}
}

/* A whole SESSION_GET dump in the caller's netns, looking for @id. */
static struct seen dump(__u32 id)
{
	struct seen seen = { 0 };
	struct dump_arg d = { .id = id, .seen = &seen };
	char buf[256];
	struct nlmsghdr *nlh = nl_new(buf);
	struct nl nl;

	seen.err = nl_open(&nl);
	if (seen.err)
		return seen;
	seen.err = nl_send(&nl, nlh, nl.family, NLM_F_DUMP,
			   KMIG_NL_CMD_SESSION_GET);
	if (!seen.err)
		seen.err = nl_recv(&nl, session_cb, &d);
	close(nl.fd);
	return seen;
}

/* Request @cmd on session @id from the caller's netns: 0 or -errno. */
static int session_do(__u8 cmd, __u32 id)
{
	char buf[256];
	struct nlmsghdr *nlh = nl_new(buf);
	struct nl nl;
	int r;

	r = nl_open(&nl);
	if (r)
		return r;
	nl_put(nlh, KMIG_A_SESSION_ID, &id, sizeof(id));
	r = nl_send(&nl, nlh, nl.family, NLM_F_ACK, cmd);
	if (!r)
		r = nl_recv(&nl, NULL, NULL);
	close(nl.fd);
	return r;
}

static int cancel(__u32 id)
{
	return session_do(KMIG_NL_CMD_SESSION_CANCEL, id);
}

static int request_postcopy(__u32 id)
{
	return session_do(KMIG_NL_CMD_SESSION_POSTCOPY, id);
}

/* The child's part: what it saw and what its cancel returned. */
struct child_out {
	int step_err;		/* setup of the child itself failed: -errno */
	char step[48];
	struct seen seen;	/* the root session, as the child sees it */
	int cancel_err;		/* cancel of the root session, if tried */
	int postcopy_err;	/* postcopy request of it, tried with cancel */
	struct seen own;	/* the child's own session, if it opened one */
};

enum child_how {
	AS_NOBODY,		/* setresuid(65534) */
	IN_NEW_NETNS,		/* root, unshare(CLONE_NEWNET) */
	NOBODY_OWN_SESSION,	/* uid 65534 opening its own session */
};

struct child_in {
	enum child_how how;
	__u32 id;		/* the root session */
	bool try_cancel;
	const char *node;	/* NOBODY_OWN_SESSION: a 0666 /dev/kmig copy */
};

static void drop_to_nobody(struct child_out *o)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY)) {
		o->step_err = -errno;
		snprintf(o->step, sizeof(o->step), "drop to uid %d", NOBODY);
	}
}

static void child_body(const struct child_in *in, struct child_out *o)
{
	struct kmig_info info = KMIG_ARG(kmig_info);
	int fd;

	if (in->how == IN_NEW_NETNS && unshare(CLONE_NEWNET)) {
		o->step_err = -errno;
		snprintf(o->step, sizeof(o->step), "unshare(CLONE_NEWNET)");
		return;
	}
	if (in->how != IN_NEW_NETNS)
		drop_to_nobody(o);
	if (o->step_err)
		return;

	o->seen = dump(in->id);
	if (in->try_cancel) {
		o->postcopy_err = request_postcopy(in->id);
		o->cancel_err = cancel(in->id);
	}
	if (in->how != NOBODY_OWN_SESSION)
		return;

	fd = open(in->node, O_RDWR | O_CLOEXEC);
	if (fd < 0 || __kmig_ioctl(fd, KMIG_GET_INFO, &info)) {
		o->step_err = -errno;
		snprintf(o->step, sizeof(o->step), "open %s as uid %d",
			 in->node, NOBODY);
		return;
	}
	o->own = dump(info.session_id);
	close(fd);
}

/* Runs child_body() in a forked child; its wait status. */
static int run_child(const struct child_in *in, struct child_out *out)
{
	int pipefd[2], status;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct child_out o = { 0 };

		close(pipefd[0]);
		child_body(in, &o);
		_exit(write(pipefd[1], &o, sizeof(o)) == sizeof(o) ? 0 : 2);
	}
	close(pipefd[1]);
	if (read(pipefd[0], out, sizeof(*out)) != sizeof(*out)) {
		out->step_err = -EPIPE;
		snprintf(out->step, sizeof(out->step), "read the child's result");
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

#define CHECK_CHILD(status, o) do {					\
	ASSERT_EQ(0, status) TH_LOG("child wait status 0x%x", status);	\
	ASSERT_EQ(0, (o).step_err) TH_LOG("child: %s: %s", (o).step,	\
					  kmig_errname((o).step_err));	\
} while (0)

FIXTURE(perm) {
	struct bare_vm vm;
	int kmig_fd;
	__u32 id;
	char dir[64];		/* private directory for the node copy */
};

FIXTURE_SETUP(perm)
{
	struct kmig_info info = KMIG_ARG(kmig_info);
	const char *why, *step;
	struct seen s;
	int ret;

	self->vm = BARE_VM_INIT;
	self->kmig_fd = -1;
	if (access("/dev/kvm", R_OK | W_OK))
		SETUP_SKIP("no /dev/kvm: load kvm and kvm-amd or kvm-intel");
	if (!kmig_available(&why))
		SETUP_SKIP("%s", why);
	if (geteuid() != 0)
		SETUP_SKIP("needs root, to drop privileges in children");

	ret = bare_vm_create(&self->vm, MEMSLOT_SIZE, &step);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", step, strerror(-ret));

	self->kmig_fd = kmig_open();
	ASSERT_LE(0, self->kmig_fd);
	kmig_ioctl(self->kmig_fd, KMIG_GET_INFO, &info);
	self->id = info.session_id;
	ASSERT_EQ(0, __kmig_attach(self->kmig_fd, self->vm.fd, NULL));

	/* Root, in its own netns, sees its session and its VM's pid. */
	s = dump(self->id);
	ASSERT_EQ(0, s.err) TH_LOG("SESSION_GET dump: %s", kmig_errname(s.err));
	ASSERT_TRUE(s.found) TH_LOG("root does not see its own session %u",
				    self->id);
	ASSERT_EQ((__u32)getpid(), s.vm_pid);
}

FIXTURE_TEARDOWN(perm)
{
	char node[96];

	if (self->dir[0]) {
		snprintf(node, sizeof(node), "%s/kmig", self->dir);
		unlink(node);
		rmdir(self->dir);
	}
	if (self->kmig_fd >= 0)
		close(self->kmig_fd);
	bare_vm_destroy(&self->vm);
}

/* uid 65534 is neither owner nor admin: no session, no pid; no cancel. */
TEST_F(perm, unprivileged_sees_nothing)
{
	struct child_in in = { .how = AS_NOBODY, .id = self->id,
			       .try_cancel = true };
	struct child_out o;
	int status;

	status = run_child(&in, &o);
	CHECK_CHILD(status, o);
	ASSERT_EQ(0, o.seen.err) TH_LOG("dump as uid %d: %s", NOBODY,
					kmig_errname(o.seen.err));
	EXPECT_FALSE(o.seen.found)
		TH_LOG("uid %d sees root's session %u (VM pid %u)", NOBODY,
		       self->id, o.seen.vm_pid);
	EXPECT_EQ(0, o.seen.sessions)
		TH_LOG("uid %d sees %d sessions", NOBODY, o.seen.sessions);
	EXPECT_EQ(-EPERM, o.cancel_err) TH_LOG("cancel as uid %d: %s", NOBODY,
					       kmig_errname(o.cancel_err));
	EXPECT_EQ(-EPERM, o.postcopy_err)
		TH_LOG("postcopy request as uid %d: %s", NOBODY,
		       kmig_errname(o.postcopy_err));
}

/* From another netns, even root finds nothing, and cancels nothing. */
TEST_F(perm, other_netns_sees_nothing)
{
	struct child_in in = { .how = IN_NEW_NETNS, .id = self->id,
			       .try_cancel = true };
	struct child_out o;
	struct seen s;
	int status;

	status = run_child(&in, &o);
	CHECK_CHILD(status, o);
	ASSERT_EQ(0, o.seen.err) TH_LOG("dump from a new netns: %s",
					kmig_errname(o.seen.err));
	EXPECT_FALSE(o.seen.found)
		TH_LOG("a new netns sees session %u (VM pid %u)", self->id,
		       o.seen.vm_pid);
	EXPECT_EQ(-ENOENT, o.cancel_err)
		TH_LOG("cancel from a new netns: %s",
		       kmig_errname(o.cancel_err));
	EXPECT_EQ(-ENOENT, o.postcopy_err)
		TH_LOG("postcopy request from a new netns: %s",
		       kmig_errname(o.postcopy_err));

	/* Nothing was cancelled nor requested: root sees it attached. */
	s = dump(self->id);
	ASSERT_EQ(0, s.err);
	ASSERT_TRUE(s.found);
	EXPECT_EQ((__u32)KMIG_SESSION_ATTACHED, s.state)
		TH_LOG("state %s", kmig_session_state_name(s.state));
	EXPECT_EQ(0U, s.postcopy) TH_LOG("another netns's request was recorded");
}

/* Also uid 65534's refused request left no trace. */
TEST_F(perm, unprivileged_request_not_recorded)
{
	struct child_in in = { .how = AS_NOBODY, .id = self->id,
			       .try_cancel = true };
	struct child_out o;
	struct seen s;
	int status;

	status = run_child(&in, &o);
	CHECK_CHILD(status, o);
	ASSERT_EQ(-EPERM, o.postcopy_err);
	s = dump(self->id);
	ASSERT_EQ(0, s.err);
	ASSERT_TRUE(s.found);
	EXPECT_EQ(0U, s.postcopy);
	EXPECT_EQ((__u32)KMIG_SESSION_ATTACHED, s.state);
}

/*
 * Root in the session's netns asks for postcopy: the dump shows the
 * request (and nothing else changes) until the next KMIG_DIRTY_START.
 * An unknown session is ENOENT.
 */
TEST_F(perm, same_netns_admin_requests_postcopy)
{
	struct seen s;

	s = dump(self->id);
	ASSERT_EQ(0, s.err);
	ASSERT_TRUE(s.found);
	ASSERT_EQ(0U, s.postcopy) TH_LOG("requested before anyone asked");

	ASSERT_EQ(0, request_postcopy(self->id));
	s = dump(self->id);
	ASSERT_EQ(0, s.err);
	ASSERT_TRUE(s.found);
	EXPECT_EQ(1U, s.postcopy) TH_LOG("the request is not in the dump");
	EXPECT_EQ((__u32)KMIG_SESSION_ATTACHED, s.state)
		TH_LOG("state %s", kmig_session_state_name(s.state));

	EXPECT_EQ(-ENOENT, request_postcopy(0xfffffff0U));

	/* A restart of the migration forgets it. */
	ASSERT_EQ(0, __kmig_start(self->kmig_fd, NULL));
	s = dump(self->id);
	ASSERT_EQ(0, s.err);
	ASSERT_TRUE(s.found);
	EXPECT_EQ(0U, s.postcopy) TH_LOG("KMIG_DIRTY_START kept the request");
	EXPECT_EQ((__u32)KMIG_SESSION_TRACKING, s.state)
		TH_LOG("state %s", kmig_session_state_name(s.state));
}

/* Root in the session's netns sees it and cancels it. */
TEST_F(perm, same_netns_admin_cancels)
{
	struct seen s;

	ASSERT_EQ(0, cancel(self->id));
	s = dump(self->id);
	ASSERT_EQ(0, s.err);
	ASSERT_TRUE(s.found);
	EXPECT_EQ((__u32)KMIG_SESSION_CANCELLED, s.state)
		TH_LOG("state %s", kmig_session_state_name(s.state));
	EXPECT_EQ((__u32)getpid(), s.vm_pid);
}

/*
 * The owner without CAP_NET_ADMIN sees its own session and only it. The
 * node copy is a second name for the same device: opening it is opening
 * /dev/kmig.
 */
TEST_F(perm, owner_sees_own_session)
{
	struct child_in in = { .how = NOBODY_OWN_SESSION, .id = self->id };
	char node[96];
	struct stat st;
	struct child_out o;
	int status, fd;

	ASSERT_EQ(0, stat(KMIG_DEVICE_PATH, &st));
	snprintf(self->dir, sizeof(self->dir), "/tmp/kmig-perm-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, chmod(self->dir, 0755));
	snprintf(node, sizeof(node), "%s/kmig", self->dir);
	if (mknod(node, S_IFCHR | 0666, st.st_rdev) || chmod(node, 0666))
		SKIP(return, "mknod %s: %s", node, strerror(errno));
	/* A nodev mount would refuse the child for another reason. */
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "open %s: %s", node, strerror(errno));
	close(fd);
	in.node = node;

	status = run_child(&in, &o);
	CHECK_CHILD(status, o);
	ASSERT_EQ(0, o.own.err);
	EXPECT_TRUE(o.own.found) TH_LOG("uid %d does not see its own session",
					NOBODY);
	EXPECT_EQ(1, o.own.sessions)
		TH_LOG("uid %d sees %d sessions, root's among them", NOBODY,
		       o.own.sessions);
	EXPECT_FALSE(o.seen.found);
}

struct restarter {
	int fd;
	volatile bool stop;
	unsigned long starts;
};

static void *restart_loop(void *arg)
{
	struct restarter *r = arg;

	while (!r->stop)
		if (!__kmig_start(r->fd, NULL))
			r->starts++;
	return NULL;
}

/*
 * A cancel racing a restart (KMIG_DIRTY_START) must leave one answer: what
 * the netlink dump says the session is and what its ioctls do agree. The
 * module once kept two flags, and the race could leave the dump saying
 * "tracking" while every ring wait failed with ECANCELED until the next
 * restart. Each try races a burst of cancels against a restart loop, then
 * compares the dump's state with KMIG_RING_WAIT's answer.
 */
TEST_F(perm, cancel_racing_restart_agrees)
{
	struct kmig_send_setup setup = KMIG_ARG(kmig_send_setup,
						.nr_workers = 1,
						.ring_entries = 16);
	struct kmig_ring_wait wait = KMIG_ARG(kmig_ring_wait);
	struct restarter r = { .fd = self->kmig_fd };
	unsigned long cancels = 0, tries;
	pthread_t thread;
	struct seen s;
	int i, ret;

	ASSERT_EQ(0, __kmig_start(self->kmig_fd, NULL));
	kmig_ioctl(self->kmig_fd, KMIG_SEND_SETUP, &setup);
	for (tries = 0; tries < 40; tries++) {
		r.stop = false;
		ASSERT_EQ(0, pthread_create(&thread, NULL, restart_loop, &r));
		for (i = 0; i < 50; i++)
			cancels += !cancel(self->id);
		r.stop = true;
		pthread_join(thread, NULL);

		s = dump(self->id);
		ASSERT_EQ(0, s.err);
		ASSERT_TRUE(s.found);
		ret = __kmig_ioctl(self->kmig_fd, KMIG_RING_WAIT, &wait);
		if (s.state == KMIG_SESSION_CANCELLED) {
			ASSERT_EQ(-ECANCELED, ret)
				TH_LOG("try %lu: cancelled, yet the ring wait says %s",
				       tries, kmig_errname(ret));
		} else {
			ASSERT_EQ((__u32)KMIG_SESSION_TRACKING, s.state);
			ASSERT_EQ(0, ret)
				TH_LOG("try %lu: the dump says tracking, the ring wait %s",
				       tries, kmig_errname(ret));
		}
	}
	TH_LOG("%lu tries, %lu cancels, %lu restarts", tries, cancels, r.starts);
	ASSERT_NE(0UL, cancels);
	ASSERT_NE(0UL, r.starts);
}

TEST_HARNESS_MAIN
