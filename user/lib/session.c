// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * Session life cycle: open /dev/kmig, ask what it is, attach it to a VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "libkmig.h"
#include "ioctl.h"

int kmig_open(void)
{
	/*
	 * O_CLOEXEC: a session must not leak into programs the caller runs,
	 * or it would outlive close() in the caller and keep the VM attached.
	 */
	int fd = open(KMIG_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int kmig_get_info(int fd, struct kmig_info *info)
{
	struct kmig_info arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	ret = kmig_ioctl(fd, KMIG_GET_INFO, &arg);
	if (ret >= 0 && info)
		*info = arg;
	return ret;
}

int kmig_attach_vm(int fd, int vm_fd, struct kmig_attach_vm *out)
{
	struct kmig_attach_vm arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.vm_fd = vm_fd;
	ret = kmig_ioctl(fd, KMIG_ATTACH_VM, &arg);
	if (ret >= 0 && out)
		*out = arg;
	return ret;
}
