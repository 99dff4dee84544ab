/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86 port I/O for the bench guests: the same instructions serve PID 1
 * under Linux (after ioperm()) and the bare guest (ring 0).
 */
#ifndef KMIG_PEER_PIO_H
#define KMIG_PEER_PIO_H

#include <stdint.h>

static inline uint8_t pio_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void pio_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void pio_outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

#endif
