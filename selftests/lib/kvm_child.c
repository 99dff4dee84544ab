// SPDX-License-Identifier: GPL-2.0
/*
 * A VMM in another process, and KVM's debugfs view of VM lifetimes: what
 * the lifetime tests need to check that kmig holds, and releases, its
 * reference on a VM it did not create.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kvm_guest.h"
#include "test_util.h"

#define KVM_DEBUGFS	"/sys/kernel/debug/kvm"

static void send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &fd, .iov_len = sizeof(fd) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	CHECK_SYS(sendmsg(sock, &msg, 0));
}

/* Returns the received fd; *number gets the fd's number in the sender. */
static int recv_fd(int sock, int *number)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = number, .iov_len = sizeof(*number) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	int fd;

	CHECK(n == sizeof(*number), "child VMM died before sending its VM fd");
	cm = CMSG_FIRSTHDR(&msg);
	CHECK(cm && cm->cmsg_type == SCM_RIGHTS, "no SCM_RIGHTS from child");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static void __attribute__((noreturn)) child_main(int sock, __u64 data_pages)
{
	struct guest_vm_opts opts = {
		.mode = GUEST_DIRTY_BITMAP, .data_pages = data_pages,
		.nr_vcpus = 1,
	};
	struct guest_vm *vm;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	__u64 chunk = data_pages < 64 ? data_pages : 64, first = 0;
	__u8 val = 1;

	/* Never outlive the test, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	vm = guest_vm_create(&opts);
	send_fd(sock, vm->fd);
	/*
	 * A live VMM: the guest keeps dirtying pages, at a rate the sandbox
	 * can take, until the parent kills us or closes the socket.
	 */
	while (poll(&pfd, 1, 5) == 0) {
		guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, first,
				       chunk, val++);
		first = (first + chunk) % (data_pages - chunk + 1);
	}
	_exit(0);
}

void guest_child_spawn(struct guest_child *child, __u64 data_pages)
{
	int sv[2];

	CHECK(data_pages, "the child VM needs RAM");
	CHECK_SYS(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
	fflush(NULL);
	child->pid = CHECK_SYS(fork());
	if (!child->pid) {
		close(sv[0]);
		child_main(sv[1], data_pages);
	}
	close(sv[1]);
	child->sock = sv[0];
	child->vm_fd = recv_fd(child->sock, &child->child_vm_fd);
}

void guest_child_kill(struct guest_child *child)
{
	if (child->pid <= 0)
		return;
	kill(child->pid, SIGKILL);
	while (waitpid(child->pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(child->sock);
	child->pid = 0;
}

bool guest_debugfs_ready(void)
{
	struct stat st;

	if (!stat(KVM_DEBUGFS, &st))
		return true;
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	return !stat(KVM_DEBUGFS, &st);
}

void guest_debugfs_vm_dir(char *buf, size_t len, pid_t pid, int vm_fd)
{
	snprintf(buf, len, KVM_DEBUGFS "/%d-%d", pid, vm_fd);
}

bool guest_path_exists_after(const char *path, bool want, int ms)
{
	struct stat st;
	bool exists;

	for (;;) {
		exists = !stat(path, &st);
		if (exists == want || ms <= 0)
			return exists;
		usleep(10 * 1000);
		ms -= 10;
	}
}
