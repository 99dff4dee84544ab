// SPDX-License-Identifier: GPL-2.0
/*
 * The selftests' JSON reader (include/json.h): recursive descent over the
 * RFC 8259 grammar, refusing everything the grammar does not allow, so a
 * report that kmigctl printed wrong fails the test that reads it.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct parser {
	const char *start, *p, *end;
	unsigned int depth;
	const char *msg;	/* the first error, found at err_at */
	const char *err_at;
	int ret;
};

static int fail_at(struct parser *ps, const char *at, const char *msg)
{
	if (!ps->msg) {
		ps->msg = msg;
		ps->err_at = at;
		ps->ret = -EINVAL;
	}
	return -EINVAL;
}

static int fail(struct parser *ps, const char *msg)
{
	return fail_at(ps, ps->p, msg);
}

static int no_memory(struct parser *ps)
{
	fail(ps, "out of memory");
	ps->ret = -ENOMEM;
	return -ENOMEM;
}

/* The four whitespace characters of RFC 8259, no others. */
static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool at(struct parser *ps, char c)
{
	return ps->p < ps->end && *ps->p == c;
}

static bool at_digit(struct parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static struct json_value *new_value(struct parser *ps, enum json_type type)
{
	struct json_value *v = calloc(1, sizeof(*v));

	if (!v)
		no_memory(ps);
	else
		v->type = type;
	return v;
}

void json_free(struct json_value *v)
{
	struct json_value *c, *next;

	if (!v)
		return;
	for (c = v->first; c; c = next) {
		next = c->next;
		json_free(c);
	}
	free(v->string);
	free(v->key);
	free(v);
}

static int hex4(struct parser *ps, const char *s, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s + i < ps->end ? s[i] : 0;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail_at(ps, s + i, "\\u needs four hex digits");
	}
	*out = v;
	return 0;
}

static char *put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		*o++ = cp;
	} else if (cp < 0x800) {
		*o++ = 0xc0 | cp >> 6;
		*o++ = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		*o++ = 0xe0 | cp >> 12;
		*o++ = 0x80 | (cp >> 6 & 0x3f);
		*o++ = 0x80 | (cp & 0x3f);
	} else {
		*o++ = 0xf0 | cp >> 18;
		*o++ = 0x80 | (cp >> 12 & 0x3f);
		*o++ = 0x80 | (cp >> 6 & 0x3f);
		*o++ = 0x80 | (cp & 0x3f);
	}
	return o;
}

/*
 * The length of the well-formed UTF-8 sequence at @s (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* One \uXXXX escape at @s (after the backslash), or a surrogate pair. */
static int unicode_escape(struct parser *ps, const char **s, char **o)
{
	const char *e = *s;
	unsigned int cp, lo;

	if (hex4(ps, e + 1, &cp))
		return -EINVAL;
	e += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail_at(ps, *s - 1, "a low surrogate without a high one");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - e < 2 || e[0] != '\\' || e[1] != 'u')
			return fail_at(ps, *s - 1, "a high surrogate without a low one");
		if (hex4(ps, e + 2, &lo))
			return -EINVAL;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail_at(ps, e, "a high surrogate without a low one");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		e += 6;
	}
	/* The tree holds C strings: a NUL would silently cut one short. */
	if (!cp)
		return fail_at(ps, *s - 1, "\\u0000 in a string");
	*o = put_utf8(*o, cp);
	*s = e;
	return 0;
}

/* A string at ps->p (its opening quote), decoded into a new *@out. */
static int parse_string(struct parser *ps, char **out)
{
	const char *open = ps->p, *s, *close;
	char *buf, *o;

	/* Find the closing quote first: decoding never makes a string longer. */
	for (close = open + 1; close < ps->end && *close != '"'; close++)
		if (*close == '\\' && close + 1 < ps->end)
			close++;
	if (close >= ps->end)
		return fail_at(ps, open, "unterminated string");

	buf = malloc(close - open);
	if (!buf)
		return no_memory(ps);
	o = buf;
	for (s = open + 1; s < close;) {
		unsigned char c = *s;
		size_t n;

		if (c < 0x20) {
			fail_at(ps, s, "a control character in a string");
			goto err;
		}
		if (c >= 0x80) {
			n = utf8_len((const unsigned char *)s,
				     (const unsigned char *)close);
			if (!n) {
				fail_at(ps, s, "invalid UTF-8 in a string");
				goto err;
			}
			memcpy(o, s, n);
			o += n;
			s += n;
			continue;
		}
		if (c != '\\') {
			*o++ = c;
			s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"':
		case '\\':
		case '/':
			*o++ = *s++;
			break;
		case 'b':
			*o++ = '\b';
			s++;
			break;
		case 'f':
			*o++ = '\f';
			s++;
			break;
		case 'n':
			*o++ = '\n';
			s++;
			break;
		case 'r':
			*o++ = '\r';
			s++;
			break;
		case 't':
			*o++ = '\t';
			s++;
			break;
		case 'u':
			if (unicode_escape(ps, &s, &o))
				goto err;
			break;
		default:
			fail_at(ps, s - 1, "an unknown escape in a string");
			goto err;
		}
	}
	*o = 0;
	*out = buf;
	ps->p = close + 1;
	return 0;
err:
	free(buf);
	return ps->ret;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and only that. */
static int parse_number(struct parser *ps, double *out)
{
	const char *s = ps->p;
	char *text, *end;

	if (at(ps, '-'))
		ps->p++;
	if (at(ps, '0')) {
		ps->p++;
	} else if (at_digit(ps)) {
		while (at_digit(ps))
			ps->p++;
	} else {
		return fail(ps, "a number needs a digit");
	}
	if (at_digit(ps))
		return fail(ps, "a number with a leading zero");
	if (at(ps, '.')) {
		ps->p++;
		if (!at_digit(ps))
			return fail(ps, "a digit must follow the decimal point");
		while (at_digit(ps))
			ps->p++;
	}
	if (at(ps, 'e') || at(ps, 'E')) {
		ps->p++;
		if (at(ps, '+') || at(ps, '-'))
			ps->p++;
		if (!at_digit(ps))
			return fail(ps, "a digit must follow the exponent");
		while (at_digit(ps))
			ps->p++;
	}

	/* strtod() on a copy: it would read on past the grammar ("0x1"). */
	text = strndup(s, ps->p - s);
	if (!text)
		return no_memory(ps);
	*out = strtod(text, &end);
	free(text);
	if (isinf(*out))
		return fail_at(ps, s, "a number out of range");
	return 0;
}

static int parse_value(struct parser *ps, struct json_value **out);

/* Appends @c to @v's children, after *@tail. */
static void append(struct json_value *v, struct json_value ***tail,
		   struct json_value *c)
{
	**tail = c;
	*tail = &c->next;
	v->count++;
}

static int parse_array(struct parser *ps, struct json_value *v)
{
	struct json_value **tail = &v->first, *c;

	ps->p++;
	skip_ws(ps);
	if (at(ps, ']')) {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (parse_value(ps, &c))
			return ps->ret;
		append(v, &tail, c);
		skip_ws(ps);
		if (at(ps, ']')) {
			ps->p++;
			return 0;
		}
		if (!at(ps, ','))
			return fail(ps, "expected ',' or ']' in an array");
		ps->p++;
	}
}

static const struct json_value *member(const struct json_value *v,
				       const char *key, size_t n)
{
	const struct json_value *c;

	for (c = v->first; c; c = c->next)
		if (!strncmp(c->key, key, n) && !c->key[n])
			return c;
	return NULL;
}

static int parse_object(struct parser *ps, struct json_value *v)
{
	struct json_value **tail = &v->first, *c;
	const char *key_at;
	char *key;

	ps->p++;
	skip_ws(ps);
	if (at(ps, '}')) {
		ps->p++;
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		key_at = ps->p;
		if (!at(ps, '"'))
			return fail(ps, "expected a key in an object");
		if (parse_string(ps, &key))
			return ps->ret;
		/* A path names one member: two of a name would be a guess. */
		if (member(v, key, strlen(key))) {
			free(key);
			return fail_at(ps, key_at, "a duplicate key in an object");
		}
		skip_ws(ps);
		if (!at(ps, ':')) {
			free(key);
			return fail(ps, "expected ':' after a key");
		}
		ps->p++;
		if (parse_value(ps, &c)) {
			free(key);
			return ps->ret;
		}
		c->key = key;
		append(v, &tail, c);
		skip_ws(ps);
		if (at(ps, '}')) {
			ps->p++;
			return 0;
		}
		if (!at(ps, ','))
			return fail(ps, "expected ',' or '}' in an object");
		ps->p++;
	}
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail(ps, "an unexpected character");
	ps->p += n;
	return 0;
}

/* Any value at ps->p, after optional whitespace; *@out is its new node. */
static int parse_value(struct parser *ps, struct json_value **out)
{
	struct json_value *v;
	int ret;

	*out = NULL;
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "the document ends where a value should be");
	switch (*ps->p) {
	case '{':
	case '[':
		if (ps->depth >= JSON_MAX_DEPTH)
			return fail(ps, "nested deeper than JSON_MAX_DEPTH");
		v = new_value(ps, *ps->p == '{' ? JSON_OBJECT : JSON_ARRAY);
		if (!v)
			return ps->ret;
		ps->depth++;
		ret = v->type == JSON_OBJECT ? parse_object(ps, v) :
					       parse_array(ps, v);
		ps->depth--;
		break;
	case '"':
		v = new_value(ps, JSON_STRING);
		if (!v)
			return ps->ret;
		ret = parse_string(ps, &v->string);
		break;
	case 't':
	case 'f':
		v = new_value(ps, JSON_BOOL);
		if (!v)
			return ps->ret;
		v->boolean = *ps->p == 't';
		ret = literal(ps, v->boolean ? "true" : "false");
		break;
	case 'n':
		v = new_value(ps, JSON_NULL);
		if (!v)
			return ps->ret;
		ret = literal(ps, "null");
		break;
	default:
		if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9'))
			return fail(ps, "an unexpected character");
		v = new_value(ps, JSON_NUMBER);
		if (!v)
			return ps->ret;
		ret = parse_number(ps, &v->number);
		break;
	}
	if (ret) {
		json_free(v);
		return ps->ret;
	}
	*out = v;
	return 0;
}

int json_parse(const char *doc, size_t len, struct json_value **root,
	       struct json_error *err)
{
	struct parser ps = { .start = doc, .p = doc, .end = doc + len };

	*root = NULL;
	if (!parse_value(&ps, root)) {
		skip_ws(&ps);
		if (ps.p < ps.end) {
			fail(&ps, "characters after the document");
			json_free(*root);
			*root = NULL;
		}
	}
	if (err) {
		err->offset = ps.msg ? (size_t)(ps.err_at - doc) : 0;
		err->msg = ps.msg;
	}
	return ps.msg ? ps.ret : 0;
}

/* Component @c (@n bytes) of a path, one step down from @v. */
static const struct json_value *step(const struct json_value *v,
				     const char *c, size_t n)
{
	const struct json_value *e;
	size_t i, idx = 0;

	if (v->type == JSON_OBJECT)
		return member(v, c, n);
	if (v->type != JSON_ARRAY)
		return NULL;
	/* Canonical indices only: "01" or "+1" is a typo, not element 1. */
	if (n > 1 && c[0] == '0')
		return NULL;
	for (i = 0; i < n; i++) {
		if (c[i] < '0' || c[i] > '9' || idx > (SIZE_MAX - 9) / 10)
			return NULL;
		idx = idx * 10 + (c[i] - '0');
	}
	if (idx >= v->count)
		return NULL;
	for (e = v->first; idx--; e = e->next)
		;
	return e;
}

const struct json_value *json_get(const struct json_value *v,
				  const char *path)
{
	const char *dot;
	size_t n;

	if (!v || !path)
		return NULL;
	if (!*path)
		return v;
	for (;;) {
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		/* "a..b", ".a" and "a." name nothing. */
		if (!n)
			return NULL;
		v = step(v, path, n);
		if (!v || !dot)
			return v;
		path = dot + 1;
	}
}
