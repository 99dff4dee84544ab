// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm: the reference VMM that kmig migrates. See
 * Documentation/kmig-vmm.md; vmm.h says which file does what.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "runctl.h"
#include "server.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"
#include "vmm.h"

static void setup_workload(struct vmm *vmm)
{
	char err[160];

	if (workload_parse(vmm->opt.workload, &vmm->wl, err, sizeof(err)) ||
	    workload_fits(&vmm->wl, vmm->opt.ram_size, err, sizeof(err)))
		vmm_die("--workload: %s", err);
	/* A destination runs what the source ran (VMM_SET_STATE says). */
	vmm->have_workload = !vmm->opt.incoming;
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	int listen_fd, status, i;

	options_parse(argc, argv, &vmm.opt);
	setup_workload(&vmm);
	/* Before any thread: they inherit the signal mask. */
	server_block_signals();
	runctl_install_kick_signal();
	runctl_init(&vmm);
	mark_init(&vmm);
	postcopy_init(&vmm);

	vm_create(&vmm);
	if (!vmm.opt.incoming) {
		/* Only a source boots the guest: a destination gets it all. */
		boot_write_memory(&vmm);
		for (i = 0; i < vmm.nr_vcpus; i++)
			boot_vcpu(&vmm, i);
		vcpu_set_pacing(&vmm);
	}
	for (i = 0; i < vmm.nr_vcpus; i++)
		vcpu_start_thread(&vmm, i);
	listen_fd = server_listen(&vmm);
	if (!vmm.opt.incoming)
		runctl_start(&vmm);

	printf("kmig-vmm: ready pid=%d control=%s\n", getpid(),
	       vmm.opt.control);
	fflush(stdout);
	vmm_warn("%s%llu MiB %s RAM, %d vCPU(s), workload %s, %s dirty log",
		 vmm.opt.incoming ? "incoming: " : "",
		 (unsigned long long)(vmm.ram.size / MIB),
		 vmm.opt.memfd ? "memfd" : "anonymous", vmm.nr_vcpus,
		 vmm.opt.incoming ? "from the source" : vmm.wl.spec,
		 vmm.opt.dirty_ring ? "ring" :
		 vmm.opt.manual_protect ? "manual-protect bitmap" : "bitmap");

	status = server_run(&vmm, listen_fd);
	/* vCPUs waiting for a page would never return to be joined. */
	postcopy_fini(&vmm);
	runctl_quit(&vmm);
	vcpu_report(&vmm);
	mark_fini(&vmm);
	vm_destroy(&vmm);
	return status;
}
