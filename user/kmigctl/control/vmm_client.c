// SPDX-License-Identifier: GPL-2.0
/*
 * Requests to a VMM over its control socket (vmm_client.h). The VMM is
 * trusted more than a migration peer, but its replies are still checked
 * for shape before use: a confused VMM gets an error, not a crash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm_client.h"

/*
 * A VMM that does not answer within this long is taken for dead. Generous:
 * under emulation pausing the vCPUs or saving their state can take seconds.
 */
#define VMM_REPLY_TIMEOUT_S	60
/* kmigctl needs VMM_HOLD (v2); postcopy needs v3 (kmig_vmm.h). */
#define VMM_MIN_VERSION		2
#define VMM_POSTCOPY_VERSION	3
/*
 * VMM_DISCARD entries per request (64 KiB): far below VMM_MSG_MAX, and a
 * packet that fits a default socket send buffer (a unix socket refuses
 * larger ones with EMSGSIZE).
 */
#define DISCARD_BATCH		4096u

static int vmm_fail(char *err, size_t n, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int vmm_fail(char *err, size_t n, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return ret;
}

const char *vmm_msg_name(uint32_t type)
{
	static const char *const names[] = {
		[VMM_HELLO] = "VMM_HELLO", [VMM_PAUSE] = "VMM_PAUSE",
		[VMM_RESUME] = "VMM_RESUME", [VMM_GET_STATE] = "VMM_GET_STATE",
		[VMM_SET_STATE] = "VMM_SET_STATE", [VMM_START] = "VMM_START",
		[VMM_CHECK] = "VMM_CHECK", [VMM_QUIT] = "VMM_QUIT",
		[VMM_STATUS] = "VMM_STATUS", [VMM_HOLD] = "VMM_HOLD",
		[VMM_POSTCOPY_BEGIN] = "VMM_POSTCOPY_BEGIN",
		[VMM_DISCARD] = "VMM_DISCARD",
		[VMM_POSTCOPY_END] = "VMM_POSTCOPY_END",
		[VMM_POSTCOPY_MISSING] = "VMM_POSTCOPY_MISSING",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "VMM_?";
}

int vmm_open(struct vmm_client *v, const char *path, char *err, size_t n)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = VMM_REPLY_TIMEOUT_S };
	int ret;

	v->fd = -1;
	v->version = 0;
	if (strlen(path) >= sizeof(un.sun_path))
		return vmm_fail(err, n, -EINVAL, "VMM socket path too long: %s",
				path);
	strcpy(un.sun_path, path);
	snprintf(v->path, sizeof(v->path), "%s", path);

	v->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (v->fd < 0)
		return vmm_fail(err, n, -errno, "socket: %s", strerror(errno));
	if (connect(v->fd, (struct sockaddr *)&un, sizeof(un))) {
		ret = -errno;
		vmm_close(v);
		return vmm_fail(err, n, ret, "cannot connect to the VMM at %s: %s",
				path, strerror(-ret));
	}
	setsockopt(v->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(v->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

void vmm_close(struct vmm_client *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static int vmm_send(struct vmm_client *v, uint32_t type, const void *in,
		    uint32_t in_len)
{
	struct vmm_msg m = { .type = type, .len = in_len };
	struct iovec iov[2] = {
		{ .iov_base = &m, .iov_len = sizeof(m) },
		{ .iov_base = (void *)in, .iov_len = in_len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = in_len ? 2 : 1 };
	ssize_t sent;

	do {
		sent = sendmsg(v->fd, &mh, MSG_NOSIGNAL);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	return (size_t)sent == sizeof(m) + in_len ? 0 : -EMSGSIZE;
}

/* Receives one reply packet; takes one SCM_RIGHTS fd if @fd_out. */
static int vmm_recv(struct vmm_client *v, uint8_t **pkt, size_t *len,
		    int *fd_out)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	uint8_t *buf;
	ssize_t size, got;

	/* The packet's real size first: peeked without control data. */
	do {
		size = recv(v->fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	} while (size < 0 && errno == EINTR);
	if (size < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (size == 0)
		return -EPIPE;
	if ((size_t)size < sizeof(struct vmm_msg) ||
	    (size_t)size > sizeof(struct vmm_msg) + VMM_MSG_MAX)
		return -EBADMSG;

	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	iov.iov_base = buf;
	iov.iov_len = size;
	mh.msg_control = fd_out ? ctl.buf : NULL;
	mh.msg_controllen = fd_out ? sizeof(ctl.buf) : 0;
	do {
		got = recvmsg(v->fd, &mh, MSG_CMSG_CLOEXEC);
	} while (got < 0 && errno == EINTR);
	if (got != size) {
		int ret = got < 0 ? -errno : -EBADMSG;

		free(buf);
		return ret;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && fd_out)
			memcpy(fd_out, CMSG_DATA(cm), sizeof(int));
	}
	*pkt = buf;
	*len = size;
	return 0;
}

static int vmm_call_fd(struct vmm_client *v, uint32_t type, const void *in,
		       uint32_t in_len, void **out, uint32_t *out_len,
		       int *fd_out, char *err, size_t n)
{
	uint8_t *pkt = NULL;
	struct vmm_msg m;
	size_t len = 0;
	int ret;

	if (fd_out)
		*fd_out = -1;
	ret = vmm_send(v, type, in, in_len);
	if (ret)
		return vmm_fail(err, n, ret, "%s to the VMM at %s: %s",
				vmm_msg_name(type), v->path, strerror(-ret));
	ret = vmm_recv(v, &pkt, &len, fd_out);
	if (ret)
		return vmm_fail(err, n, ret, "%s: no reply from the VMM at %s: %s",
				vmm_msg_name(type), v->path,
				ret == -EPIPE ? "it closed the connection" :
				ret == -ETIMEDOUT ? "timed out" : strerror(-ret));

	memcpy(&m, pkt, sizeof(m));
	if (m.type != type || m.len != len - sizeof(m) || m.status > 0) {
		ret = vmm_fail(err, n, -EBADMSG,
			       "%s: malformed reply from the VMM (type %u, %u bytes)",
			       vmm_msg_name(type), m.type, m.len);
		goto out;
	}
	if (m.status < 0) {
		char msg[200];
		size_t i, mlen = m.len < sizeof(msg) - 1 ? m.len : sizeof(msg) - 1;

		/* The VMM's message, printable characters only. */
		for (i = 0; i < mlen && pkt[sizeof(m) + i]; i++) {
			char c = pkt[sizeof(m) + i];

			msg[i] = c >= 0x20 && c < 0x7f ? c : '?';
		}
		msg[i] = 0;
		ret = vmm_fail(err, n, m.status, "%s: the VMM says: %s",
			       vmm_msg_name(type), i ? msg : strerror(-m.status));
		goto out;
	}
	if (out) {
		*out = NULL;
		if (m.len) {
			*out = malloc(m.len);
			if (!*out) {
				ret = vmm_fail(err, n, -ENOMEM, "out of memory");
				goto out;
			}
			memcpy(*out, pkt + sizeof(m), m.len);
		}
	}
	if (out_len)
		*out_len = m.len;
	ret = 0;
out:
	free(pkt);
	if (ret && fd_out && *fd_out >= 0) {
		close(*fd_out);
		*fd_out = -1;
	}
	return ret;
}

int vmm_call(struct vmm_client *v, uint32_t type, const void *in,
	     uint32_t in_len, void **out, uint32_t *out_len, char *err,
	     size_t n)
{
	return vmm_call_fd(v, type, in, in_len, out, out_len, NULL, err, n);
}

int vmm_get_hello(struct vmm_client *v, struct vmm_info *info, char *err,
		  size_t n)
{
	uint32_t len;
	void *p;
	int ret;

	memset(info, 0, sizeof(*info));
	info->vm_fd = -1;
	ret = vmm_call_fd(v, VMM_HELLO, NULL, 0, &p, &len, &info->vm_fd, err, n);
	if (ret)
		return ret;
	if (len < sizeof(info->hello))
		goto bad;
	memcpy(&info->hello, p, sizeof(info->hello));
	info->hello.workload[sizeof(info->hello.workload) - 1] = 0;
	/* Newer VMMs answer every request of ours the same way. */
	if (info->hello.version < VMM_MIN_VERSION) {
		ret = vmm_fail(err, n, -EPROTONOSUPPORT,
			       "the VMM speaks control protocol %u, kmigctl needs %d or later (VMM_HOLD keeps the VM on exactly one side)",
			       info->hello.version, VMM_MIN_VERSION);
		goto fail;
	}
	if (!info->hello.nr_regions || info->hello.nr_regions > 1024 ||
	    len != sizeof(info->hello) +
		   info->hello.nr_regions * sizeof(struct vmm_region))
		goto bad;
	if (info->vm_fd < 0) {
		ret = vmm_fail(err, n, -EBADMSG,
			       "VMM_HELLO: the VMM sent no VM fd");
		goto fail;
	}
	info->regions = malloc(info->hello.nr_regions * sizeof(struct vmm_region));
	if (!info->regions) {
		ret = vmm_fail(err, n, -ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(info->regions, (uint8_t *)p + sizeof(info->hello),
	       info->hello.nr_regions * sizeof(struct vmm_region));
	free(p);
	v->version = info->hello.version;
	return 0;

bad:
	ret = vmm_fail(err, n, -EBADMSG, "VMM_HELLO: malformed reply (%u bytes)",
		       len);
fail:
	free(p);
	vmm_info_free(info);
	return ret;
}

/* A fixed-size reply of @size bytes into @out. */
static int vmm_call_fixed(struct vmm_client *v, uint32_t type, const void *in,
			  uint32_t in_len, void *out, uint32_t size, char *err,
			  size_t n)
{
	uint32_t len = 0;
	void *p = NULL;
	int ret;

	ret = vmm_call(v, type, in, in_len, &p, &len, err, n);
	if (ret)
		return ret;
	if (len != size) {
		free(p);
		return vmm_fail(err, n, -EBADMSG,
				"%s: malformed reply (%u bytes, %u expected)",
				vmm_msg_name(type), len, size);
	}
	memcpy(out, p, size);
	free(p);
	return 0;
}

int vmm_status(struct vmm_client *v, struct vmm_status *st, char *err,
	       size_t n)
{
	return vmm_call_fixed(v, VMM_STATUS, NULL, 0, st, sizeof(*st), err, n);
}

int vmm_hold(struct vmm_client *v, uint32_t phase, struct vmm_status *st,
	     char *err, size_t n)
{
	struct vmm_hold h = { .phase = phase };
	struct vmm_status tmp;

	return vmm_call_fixed(v, VMM_HOLD, &h, sizeof(h), st ? st : &tmp,
			      sizeof(*st), err, n);
}

/* 0 if the VMM may know postcopy: v3, or not known yet (no HELLO). */
static int postcopy_version(struct vmm_client *v, uint32_t type, char *err,
			    size_t n)
{
	if (!v->version || v->version >= VMM_POSTCOPY_VERSION)
		return 0;
	return vmm_fail(err, n, -EPROTONOSUPPORT,
			"%s: the VMM at %s speaks control protocol %u; postcopy needs %d or later",
			vmm_msg_name(type), v->path, v->version,
			VMM_POSTCOPY_VERSION);
}

/*
 * A postcopy request. A VMM older than v3 that was never asked VMM_HELLO
 * answers -EOPNOTSUPP, "unknown request type", itself.
 */
static int postcopy_call(struct vmm_client *v, uint32_t type, const void *in,
			 uint32_t in_len, void **out, uint32_t *out_len,
			 int *fd_out, char *err, size_t n)
{
	int ret = postcopy_version(v, type, err, n);

	if (ret)
		return ret;
	return vmm_call_fd(v, type, in, in_len, out, out_len, fd_out, err, n);
}

int vmm_postcopy_begin(struct vmm_client *v, int *uffd, char *err, size_t n)
{
	struct vmm_postcopy pc;
	uint32_t len = 0;
	void *p = NULL;
	int ret;

	*uffd = -1;
	ret = postcopy_call(v, VMM_POSTCOPY_BEGIN, NULL, 0, &p, &len, uffd,
			    err, n);
	if (ret)
		return ret;
	if (len != sizeof(pc)) {
		ret = vmm_fail(err, n, -EBADMSG,
			       "VMM_POSTCOPY_BEGIN: malformed reply (%u bytes, %zu expected)",
			       len, sizeof(pc));
		goto fail;
	}
	if (*uffd < 0) {
		ret = vmm_fail(err, n, -EBADMSG,
			       "VMM_POSTCOPY_BEGIN: the VMM sent no userfaultfd");
		goto fail;
	}
	free(p);
	return 0;

fail:
	free(p);
	if (*uffd >= 0)
		close(*uffd);
	*uffd = -1;
	return ret;
}

int vmm_discard(struct vmm_client *v, const struct vmm_discard *d,
		uint32_t nr, char *err, size_t n)
{
	uint32_t done, batch;
	int ret;

	if (!nr)
		return 0;
	for (done = 0; done < nr; done += batch) {
		batch = nr - done < DISCARD_BATCH ? nr - done : DISCARD_BATCH;
		ret = postcopy_call(v, VMM_DISCARD, d + done,
				    batch * sizeof(*d), NULL, NULL, NULL, err,
				    n);
		if (ret)
			return ret;
	}
	return 0;
}

int vmm_postcopy_end(struct vmm_client *v, char *err, size_t n)
{
	return postcopy_call(v, VMM_POSTCOPY_END, NULL, 0, NULL, NULL, NULL,
			     err, n);
}

int vmm_postcopy_missing(struct vmm_client *v, uint8_t **bitmap,
			 uint64_t *nr_pages, char *err, size_t n)
{
	uint64_t pages;
	uint32_t len = 0;
	uint8_t *p = NULL;
	int ret;

	*bitmap = NULL;
	*nr_pages = 0;
	ret = postcopy_call(v, VMM_POSTCOPY_MISSING, NULL, 0, (void **)&p,
			    &len, NULL, err, n);
	if (ret == -EOPNOTSUPP) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		return vmm_fail(err, n, ret,
				"VMM_POSTCOPY_MISSING: the VMM at %s cannot list its missing pages, so its postcopy cannot be recovered (%s)",
				v->path, why);
	}
	if (ret)
		return ret;
	if (len < sizeof(pages)) {
		free(p);
		return vmm_fail(err, n, -EBADMSG,
				"VMM_POSTCOPY_MISSING: malformed reply (%u bytes)",
				len);
	}
	memcpy(&pages, p, sizeof(pages));
	if ((len - sizeof(pages)) * 8ULL < pages ||
	    len - sizeof(pages) != (pages + 7) / 8) {
		free(p);
		return vmm_fail(err, n, -EBADMSG,
				"VMM_POSTCOPY_MISSING: a bitmap of %zu bytes for %llu pages",
				len - sizeof(pages),
				(unsigned long long)pages);
	}
	/* The bitmap alone, at the start of its own buffer. */
	memmove(p, p + sizeof(pages), len - sizeof(pages));
	*bitmap = p;
	*nr_pages = pages;
	return 0;
}

void vmm_info_free(struct vmm_info *info)
{
	free(info->regions);
	info->regions = NULL;
	if (info->vm_fd >= 0)
		close(info->vm_fd);
	info->vm_fd = -1;
}
