/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket (kmig_vmm.h): a unix SOCK_SEQPACKET listener and the
 * main thread's event loop, which also handles SIGINT/SIGTERM and the
 * --check-after timer.
 */
#ifndef KMIG_VMM_SERVER_H
#define KMIG_VMM_SERVER_H

struct vmm;

/*
 * Blocks SIGINT and SIGTERM so that the loop reads them from a signalfd;
 * call before any thread starts, so that they all inherit the mask.
 */
void server_block_signals(void);

/* Listens at vmm->opt.control; exits on failure. Returns the socket. */
int server_listen(struct vmm *vmm);

/* Serves until VMM_QUIT, a signal or --check-after; the exit status. */
int server_run(struct vmm *vmm, int listen_fd);

#endif /* KMIG_VMM_SERVER_H */
