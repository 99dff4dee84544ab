/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One output path for text and JSON, after iproute2's print_*(PRINT_ANY, ...):
 * every field is printed by one call that names both its JSON key and its
 * text format, so the two outputs cannot drift apart.
 *
 *	print_uint(p, PRINT_ANY, "memslots", "memslots %u", n);
 *
 * prints "memslots 3" in text mode and "memslots":3 in JSON mode.
 * PRINT_TEXT and PRINT_JSON print in one mode only (decoration, or a value
 * that only one of the outputs wants).
 */
#ifndef KMIGCTL_PRINT_H
#define KMIGCTL_PRINT_H

#include <stdbool.h>
#include <stdio.h>

enum print_type {
	PRINT_ANY,	/* both outputs */
	PRINT_TEXT,	/* text output only */
	PRINT_JSON,	/* JSON output only */
};

#define PRINT_MAX_DEPTH	8

struct printer {
	FILE *fp;
	bool json;
	int depth;			/* open JSON arrays/objects */
	bool has_member[PRINT_MAX_DEPTH]; /* a "," is due before the next one */
};

void print_init(struct printer *p, FILE *fp, bool json);

/* JSON containers; @key is NULL inside an array. No-ops in text mode. */
void print_open_array(struct printer *p, const char *key);
void print_close_array(struct printer *p);
void print_open_object(struct printer *p, const char *key);
void print_close_object(struct printer *p);

/* Fields. In text mode @fmt gets the value; in JSON mode @key names it. */
void print_string(struct printer *p, enum print_type t, const char *key,
		  const char *fmt, const char *value);
void print_uint(struct printer *p, enum print_type t, const char *key,
		const char *fmt, unsigned int value);
void print_u64(struct printer *p, enum print_type t, const char *key,
	       const char *fmt, unsigned long long value);
/* JSON prints 3 decimals; a NaN or infinity becomes null. */
void print_float(struct printer *p, enum print_type t, const char *key,
		 const char *fmt, double value);

/* JSON true/false; in text mode @fmt gets "yes" or "no". */
void print_bool(struct printer *p, enum print_type t, const char *key,
		const char *fmt, bool value);

/* Literal text in text mode only: separators, newlines. */
void print_text(struct printer *p, const char *text);

/* Ends the output: a newline after the JSON document. */
void print_finish(struct printer *p);

/* Exposed for the unit tests: @s as a JSON string literal, quotes included. */
void print_json_string(FILE *fp, const char *s);

#endif /* KMIGCTL_PRINT_H */
