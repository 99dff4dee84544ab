/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRC-32C (Castagnoli, as iSCSI, ext4 and btrfs use): the checksum every
 * RAM frame carries over its records and page data, so that a page
 * damaged anywhere between the two kmigctls fails the migration before GO
 * instead of landing in guest RAM. Not a defence against an attacker
 * (--auth-key and TLS are): a check against the wire, a proxy, a NIC.
 */
#ifndef KMIGCTL_CRC32C_H
#define KMIGCTL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues @crc (0 to start) over @len bytes at @p. */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

/* Which implementation the first call picked: "sse4.2" or "table". */
const char *crc32c_impl(void);

#endif /* KMIGCTL_CRC32C_H */
