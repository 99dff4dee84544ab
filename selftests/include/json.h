/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A strict JSON (RFC 8259) reader for the selftests, so that a test reads
 * the exact field of kmigctl's --json reports it means, never a key of the
 * same name somewhere else in the document or a word inside a message.
 *
 * json_parse() turns a whole document into a tree or refuses it: trailing
 * characters, bad or unpaired escapes, control characters and invalid
 * UTF-8 in strings, unterminated strings, leading zeros, NaN, duplicate
 * keys and nesting deeper than JSON_MAX_DEPTH are all errors. Strings are
 * decoded (\uXXXX to UTF-8); numbers are doubles, exact up to 2^53.
 *
 * json_get() follows a dotted path from a value: each component is a key
 * of an object or a decimal index into an array ("round_stats.0.pages",
 * "channel_bytes.2", "compression.algorithm"); "" is the value itself.
 * Keys that contain a '.' cannot be named by a path.
 */
#ifndef KMIG_SELFTEST_JSON_H
#define KMIG_SELFTEST_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Deeper than any report kmigctl prints, shallow enough for the stack. */
#define JSON_MAX_DEPTH	64

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value {
	enum json_type type;
	bool boolean;			/* JSON_BOOL */
	double number;			/* JSON_NUMBER */
	char *string;			/* JSON_STRING: decoded, NUL-terminated */
	size_t count;			/* JSON_ARRAY, JSON_OBJECT: children */
	struct json_value *first;	/* the first element or member */
	struct json_value *next;	/* the next one in the same container */
	char *key;			/* a member's key; NULL elsewhere */
};

/* Where and why json_parse() refused a document. */
struct json_error {
	size_t offset;			/* bytes from the document's start */
	const char *msg;		/* a static string */
};

/*
 * Parses the @len bytes at @doc into *@root (json_free() it). Returns 0,
 * -EINVAL for a malformed document (@err, if not NULL, says where and
 * why) or -ENOMEM; *@root is NULL on failure.
 */
int json_parse(const char *doc, size_t len, struct json_value **root,
	       struct json_error *err);
void json_free(struct json_value *v);

/* The value at @path under @v, or NULL if there is none (see above). */
const struct json_value *json_get(const struct json_value *v,
				  const char *path);

#endif /* KMIG_SELFTEST_JSON_H */
