// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs kmig/objects: how many of each kind of object the module holds
 * now (enum kmig_obj), one "name count" line each. With no /dev/kmig file
 * open and nothing in flight every count is 0; the selftest runner checks
 * that after every test, which is how a leak shows without kmemleak.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "kmig.h"

atomic_long_t kmig_objs[KMIG_OBJ_NR];

static const char *const kmig_obj_names[KMIG_OBJ_NR] = {
	[KMIG_OBJ_SESSIONS] = "sessions",
	[KMIG_OBJ_VMS] = "vms",
	[KMIG_OBJ_SLOT_SETS] = "slot_sets",
	[KMIG_OBJ_RINGS] = "rings",
	[KMIG_OBJ_WORKERS] = "workers",
	[KMIG_OBJ_PINS] = "pins",
	[KMIG_OBJ_ZSTD] = "zstd",
	[KMIG_OBJ_SCRATCH] = "scratch",
};

static struct dentry *kmig_debugfs_dir;

static int kmig_objects_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < KMIG_OBJ_NR; i++)
		seq_printf(m, "%s %ld\n", kmig_obj_names[i],
			   atomic_long_read(&kmig_objs[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kmig_objects);

/* debugfs is best effort: a module without it still works. */
void kmig_debugfs_init(void)
{
	kmig_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("objects", 0400, kmig_debugfs_dir, NULL,
			    &kmig_objects_fops);
}

void kmig_debugfs_exit(void)
{
	debugfs_remove_recursive(kmig_debugfs_dir);
}
