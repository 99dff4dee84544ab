// SPDX-License-Identifier: GPL-2.0
/*
 * The text/JSON printer behind every field kmigctl shows (see print.h).
 */
#include <math.h>

#include "print.h"

void print_init(struct printer *p, FILE *fp, bool json)
{
	p->fp = fp;
	p->json = json;
	p->depth = 0;
	p->has_member[0] = false;
}

void print_json_string(FILE *fp, const char *s)
{
	const unsigned char *c;

	fputc('"', fp);
	for (c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			/* RFC 8259: all other control characters as \u00XX. */
			if (*c < 0x20 || *c == 0x7f)
				fprintf(fp, "\\u%04x", *c);
			else
				fputc(*c, fp);
		}
	}
	fputc('"', fp);
}

/* Starts a JSON member or array element: the comma and the key. */
static void json_member(struct printer *p, const char *key)
{
	if (p->has_member[p->depth])
		fputc(',', p->fp);
	p->has_member[p->depth] = true;
	if (key) {
		print_json_string(p->fp, key);
		fputc(':', p->fp);
	}
}

static void json_open(struct printer *p, const char *key, char bracket)
{
	json_member(p, key);
	fputc(bracket, p->fp);
	/* Deeper nesting than kmigctl ever prints is a programming error. */
	if (p->depth + 1 < PRINT_MAX_DEPTH)
		p->depth++;
	p->has_member[p->depth] = false;
}

static void json_close(struct printer *p, char bracket)
{
	fputc(bracket, p->fp);
	if (p->depth > 0)
		p->depth--;
}

void print_open_array(struct printer *p, const char *key)
{
	if (p->json)
		json_open(p, key, '[');
}

void print_close_array(struct printer *p)
{
	if (p->json)
		json_close(p, ']');
}

void print_open_object(struct printer *p, const char *key)
{
	if (p->json)
		json_open(p, key, '{');
}

void print_close_object(struct printer *p)
{
	if (p->json)
		json_close(p, '}');
}

/* Does a field of type @t appear in this printer's output, and how? */
static bool in_json(const struct printer *p, enum print_type t)
{
	return p->json && t != PRINT_TEXT;
}

static bool in_text(const struct printer *p, enum print_type t,
		    const char *fmt)
{
	return !p->json && t != PRINT_JSON && fmt;
}

void print_string(struct printer *p, enum print_type t, const char *key,
		  const char *fmt, const char *value)
{
	if (in_json(p, t)) {
		json_member(p, key);
		print_json_string(p->fp, value);
	} else if (in_text(p, t, fmt)) {
		fprintf(p->fp, fmt, value);
	}
}

void print_uint(struct printer *p, enum print_type t, const char *key,
		const char *fmt, unsigned int value)
{
	if (in_json(p, t)) {
		json_member(p, key);
		fprintf(p->fp, "%u", value);
	} else if (in_text(p, t, fmt)) {
		fprintf(p->fp, fmt, value);
	}
}

void print_u64(struct printer *p, enum print_type t, const char *key,
	       const char *fmt, unsigned long long value)
{
	if (in_json(p, t)) {
		json_member(p, key);
		fprintf(p->fp, "%llu", value);
	} else if (in_text(p, t, fmt)) {
		fprintf(p->fp, fmt, value);
	}
}

void print_float(struct printer *p, enum print_type t, const char *key,
		 const char *fmt, double value)
{
	if (in_json(p, t)) {
		json_member(p, key);
		/* JSON has no NaN or Infinity literals. */
		if (isfinite(value))
			fprintf(p->fp, "%.3f", value);
		else
			fputs("null", p->fp);
	} else if (in_text(p, t, fmt)) {
		fprintf(p->fp, fmt, value);
	}
}

void print_bool(struct printer *p, enum print_type t, const char *key,
		const char *fmt, bool value)
{
	if (in_json(p, t)) {
		json_member(p, key);
		fputs(value ? "true" : "false", p->fp);
	} else if (in_text(p, t, fmt)) {
		fprintf(p->fp, fmt, value ? "yes" : "no");
	}
}

void print_text(struct printer *p, const char *text)
{
	if (!p->json)
		fputs(text, p->fp);
}

void print_finish(struct printer *p)
{
	if (p->json)
		fputc('\n', p->fp);
	fflush(p->fp);
}
