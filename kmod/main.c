// SPDX-License-Identifier: GPL-2.0
/*
 * kmig: kernel data plane for live migration of KVM virtual machines.
 *
 * This file only registers the module's two faces: the /dev/kmig misc
 * device (session.c) and the "kmig" generic netlink family (netlink.c),
 * and its debugfs counters (debug.c).
 */
#include <linux/module.h>
#include <net/genetlink.h>

#include "kmig.h"

static int __init kmig_init(void)
{
	int ret;

	ret = kmig_netlink_init();
	if (ret)
		return ret;

	ret = kmig_session_init();
	if (ret)
		goto err_netlink;
	kmig_debugfs_init();

	pr_info("loaded, API version %d\n", KMIG_API_VERSION);
	return 0;

err_netlink:
	kmig_netlink_exit();
	return ret;
}

static void __exit kmig_exit(void)
{
	kmig_debugfs_exit();
	kmig_session_exit();
	kmig_netlink_exit();
}

module_init(kmig_init);
module_exit(kmig_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kernel data plane for KVM live migration");
MODULE_AUTHOR("The kmig developers");
MODULE_ALIAS_GENL_FAMILY(KMIG_GENL_NAME);
MODULE_SOFTDEP("pre: kvm");
