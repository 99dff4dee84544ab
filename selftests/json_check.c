// SPDX-License-Identifier: GPL-2.0
/*
 * The selftests' JSON reader (lib/json.c), on the host: `make unit` runs
 * it through `make -C selftests json-check`, under ASan and UBSan. Not a
 * *_test.c: it needs no sandbox, and run_tests.sh must not run it there.
 * What it pins: every value type and escape decodes; everything outside
 * RFC 8259 is refused, at the right place; and a path names exactly one
 * value from the top, never a key of the same name elsewhere.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "kselftest_harness.h"
#include "json.h"

static struct json_value *parse(const char *doc)
{
	struct json_value *root;

	return json_parse(doc, strlen(doc), &root, NULL) ? NULL : root;
}

/* -EINVAL, and where: @offset bytes in, or anywhere if it is -1. */
static bool refused_at(const char *doc, long offset)
{
	struct json_error err = { 0 };
	struct json_value *root = (void *)1;
	int ret = json_parse(doc, strlen(doc), &root, &err);

	if (ret != -EINVAL || root || !err.msg) {
		fprintf(stderr, "# accepted: %s\n", doc);
		json_free(root);
		return false;
	}
	if (offset >= 0 && err.offset != (size_t)offset) {
		fprintf(stderr, "# %s: refused at %zu (%s), not %ld\n", doc,
			err.offset, err.msg, offset);
		return false;
	}
	return true;
}

static bool refused(const char *doc)
{
	return refused_at(doc, -1);
}

TEST(types)
{
	struct json_value *r = parse(" {\"n\":null,\"t\":true,\"f\":false,"
				     "\"i\":-12,\"d\":0.5e1,\"e\":1E-2,"
				     "\"big\":18446744073709551615,"
				     "\"s\":\"x\",\"a\":[],\"o\":{}}\n");
	const struct json_value *v;

	ASSERT_NE(NULL, r);
	EXPECT_TRUE(r->type == JSON_OBJECT);
	EXPECT_EQ(10U, r->count);
	EXPECT_TRUE(json_get(r, "n")->type == JSON_NULL);
	v = json_get(r, "t");
	EXPECT_TRUE(v->type == JSON_BOOL && v->boolean);
	v = json_get(r, "f");
	EXPECT_TRUE(v->type == JSON_BOOL && !v->boolean);
	EXPECT_EQ(-12, json_get(r, "i")->number);
	EXPECT_EQ(5, json_get(r, "d")->number);
	EXPECT_EQ(0.01, json_get(r, "e")->number);
	EXPECT_EQ(18446744073709551615.0, json_get(r, "big")->number);
	EXPECT_STREQ("x", json_get(r, "s")->string);
	v = json_get(r, "a");
	EXPECT_TRUE(v->type == JSON_ARRAY && !v->count && !v->first);
	v = json_get(r, "o");
	EXPECT_TRUE(v->type == JSON_OBJECT && !v->count && !v->first);
	json_free(r);

	/* Any value may be the document. */
	r = parse("[1,\"a\",[null]]");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(3U, r->count);
	json_free(r);
	r = parse("  42 ");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(42, r->number);
	json_free(r);
	r = parse("\"\"");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("", r->string);
	json_free(r);
}

TEST(escapes)
{
	struct json_value *r =
		parse("[\"a\\\"b\\\\c\\/d\", \"\\b\\f\\n\\r\\t\","
		      "\"\\u0041\\u00e9\\u20AC\", \"\\ud83d\\ude00\","
		      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
		      "\"\\u001f\"]");

	ASSERT_NE(NULL, r);
	EXPECT_STREQ("a\"b\\c/d", json_get(r, "0")->string);
	EXPECT_STREQ("\b\f\n\r\t", json_get(r, "1")->string);
	EXPECT_STREQ("A\xc3\xa9\xe2\x82\xac", json_get(r, "2")->string);
	/* A surrogate pair is one code point: U+1F600. */
	EXPECT_STREQ("\xf0\x9f\x98\x80", json_get(r, "3")->string);
	EXPECT_STREQ("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		     json_get(r, "4")->string);
	/* How kmigctl's print_json_string() writes a control character. */
	EXPECT_STREQ("\x1f", json_get(r, "5")->string);
	json_free(r);
}

TEST(malformed)
{
	/* Not a document at all. */
	EXPECT_TRUE(refused_at("", 0));
	EXPECT_TRUE(refused_at(" \t\n\r", 4));
	EXPECT_TRUE(refused_at("kmig: error", 0));
	/* Trailing garbage, a second document. */
	EXPECT_TRUE(refused_at("{} x", 3));
	EXPECT_TRUE(refused_at("{}{}", 2));
	EXPECT_TRUE(refused_at("[1] [2]", 4));
	EXPECT_TRUE(refused_at("truex", 4));
	/* Structure. */
	EXPECT_TRUE(refused_at("{", 1));
	EXPECT_TRUE(refused_at("[1,2", 4));
	EXPECT_TRUE(refused_at("[1,]", 3));
	EXPECT_TRUE(refused_at("[,1]", 1));
	EXPECT_TRUE(refused_at("[1 2]", 3));
	EXPECT_TRUE(refused_at("{\"a\":1,}", 7));
	EXPECT_TRUE(refused_at("{\"a\" 1}", 5));
	EXPECT_TRUE(refused_at("{\"a\":}", 5));
	EXPECT_TRUE(refused_at("{a:1}", 1));
	EXPECT_TRUE(refused_at("{'a':1}", 1));
	EXPECT_TRUE(refused_at("{1:1}", 1));
	EXPECT_TRUE(refused_at("{\"a\":1]", 6));
	EXPECT_TRUE(refused_at("[1}", 2));
	/* A path could name only one of them. */
	EXPECT_TRUE(refused_at("{\"a\":1,\"b\":2,\"a\":3}", 13));
	/* Literals. */
	EXPECT_TRUE(refused("tru"));
	EXPECT_TRUE(refused("True"));
	EXPECT_TRUE(refused("nul"));
	EXPECT_TRUE(refused("NaN"));
	EXPECT_TRUE(refused("[Infinity]"));
	/* Numbers. */
	EXPECT_TRUE(refused_at("01", 1));
	EXPECT_TRUE(refused_at("-01", 2));
	EXPECT_TRUE(refused_at("-", 1));
	EXPECT_TRUE(refused_at("+1", 0));
	EXPECT_TRUE(refused_at(".5", 0));
	EXPECT_TRUE(refused_at("1.", 2));
	EXPECT_TRUE(refused_at("1.e5", 2));
	EXPECT_TRUE(refused_at("1e", 2));
	EXPECT_TRUE(refused_at("1e+", 3));
	EXPECT_TRUE(refused_at("0x10", 1));
	EXPECT_TRUE(refused_at("1e999", 0));
	EXPECT_TRUE(refused_at("[1,-]", 4));
	/* Strings. */
	EXPECT_TRUE(refused_at("\"abc", 0));
	EXPECT_TRUE(refused_at("{\"a\":\"b}", 5));
	EXPECT_TRUE(refused_at("\"abc\\\"", 0));
	EXPECT_TRUE(refused_at("\"a\\", 0));
	EXPECT_TRUE(refused_at("\"a\\x\"", 2));
	EXPECT_TRUE(refused_at("\"a\\'\"", 2));
	EXPECT_TRUE(refused_at("\"a\nb\"", 2));
	EXPECT_TRUE(refused_at("\"a\tb\"", 2));
	EXPECT_TRUE(refused_at("\"\\u12\"", 5));
	EXPECT_TRUE(refused_at("\"\\u12g4\"", 5));
	EXPECT_TRUE(refused_at("\"\\u0000\"", 1));
	/* Unpaired surrogates. */
	EXPECT_TRUE(refused_at("\"\\ud800\"", 1));
	EXPECT_TRUE(refused_at("\"\\ud800x\"", 1));
	EXPECT_TRUE(refused_at("\"\\ud800\\u0041\"", 7));
	EXPECT_TRUE(refused_at("\"\\udc00\"", 1));
	/* Invalid UTF-8: a lone continuation, overlong, a surrogate, cut. */
	EXPECT_TRUE(refused_at("\"a\x80\"", 2));
	EXPECT_TRUE(refused_at("\"\xc0\xaf\"", 1));
	EXPECT_TRUE(refused_at("\"\xe0\x80\xaf\"", 1));
	EXPECT_TRUE(refused_at("\"\xed\xa0\x80\"", 1));
	EXPECT_TRUE(refused_at("\"\xf4\x90\x80\x80\"", 1));
	EXPECT_TRUE(refused_at("\"\xe2\x82\"", 1));
	EXPECT_TRUE(refused_at("\"\xff\"", 1));
}

/* Another byte where the document is fine: refused, not read past. */
TEST(embedded_nul)
{
	struct json_value *root;
	static const char doc[] = "{\"a\":\"x\0y\"}";

	EXPECT_EQ(-EINVAL, json_parse(doc, sizeof(doc) - 1, &root, NULL));
	EXPECT_EQ(-EINVAL, json_parse("{}\0", 3, &root, NULL));
	/* Only @len bytes count: the rest of the buffer is not read. */
	EXPECT_EQ(0, json_parse("[1]]]", 3, &root, NULL));
	json_free(root);
}

static char *nested(int depth)
{
	char *s = malloc(2 * depth + 1);
	int i;

	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[2 * depth - 1 - i] = ']';
	}
	s[2 * depth] = 0;
	return s;
}

TEST(depth_limit)
{
	char *ok = nested(JSON_MAX_DEPTH), *deep = nested(JSON_MAX_DEPTH + 1);
	struct json_value *r = parse(ok);

	EXPECT_NE(NULL, r);
	json_free(r);
	EXPECT_TRUE(refused_at(deep, JSON_MAX_DEPTH));
	free(ok);
	free(deep);
	/* Far deeper than the stack would take without the limit. */
	deep = nested(1000000);
	EXPECT_TRUE(refused_at(deep, JSON_MAX_DEPTH));
	free(deep);
}

/* The shape of kmigctl's migrate report, cut down (user/kmigctl/report.c). */
static const char report[] =
	"{\"role\":\"source\",\"result\":\"failed\","
	"\"error\":\"the algorithm \\\"zstd\\\" failed: rounds\","
	"\"channels\":3,\"rounds\":2,\"downtime_ms\":null,"
	"\"pages\":{\"normal\":10,\"zero\":5,\"hole\":1},"
	"\"compression\":{\"algorithm\":\"none\",\"pages_compressed\":0},"
	"\"channel_bytes\":[100,0,300],"
	"\"round_stats\":[{\"round\":1,\"kind\":\"bulk\",\"pages\":16},"
	"{\"round\":2,\"kind\":\"final\",\"pages\":4,\"x.y\":1}],"
	"\"0\":\"key zero\"}";

TEST(paths)
{
	struct json_value *r = parse(report);
	const struct json_value *v;

	ASSERT_NE(NULL, r);
	EXPECT_EQ(r, json_get(r, ""));
	EXPECT_STREQ("failed", json_get(r, "result")->string);
	EXPECT_TRUE(json_get(r, "downtime_ms")->type == JSON_NULL);
	EXPECT_EQ(10, json_get(r, "pages.normal")->number);
	EXPECT_STREQ("none", json_get(r, "compression.algorithm")->string);
	EXPECT_EQ(100, json_get(r, "channel_bytes.0")->number);
	EXPECT_EQ(300, json_get(r, "channel_bytes.2")->number);
	EXPECT_EQ(16, json_get(r, "round_stats.0.pages")->number);
	EXPECT_STREQ("final", json_get(r, "round_stats.1.kind")->string);
	EXPECT_EQ(2U, json_get(r, "round_stats")->count);
	/* A digit on an object is a key, not a position. */
	EXPECT_STREQ("key zero", json_get(r, "0")->string);

	/* Only from the top: nested keys are not found at the top. */
	EXPECT_EQ(NULL, json_get(r, "algorithm"));
	EXPECT_EQ(NULL, json_get(r, "normal"));
	EXPECT_EQ(NULL, json_get(r, "kind"));
	/* An array needs an index: the old reader's "round_stats.pages". */
	EXPECT_EQ(NULL, json_get(r, "round_stats.pages"));
	/* Nor is a key searched for after another, or in a message. */
	EXPECT_EQ(NULL, json_get(r, "pages.algorithm"));
	EXPECT_EQ(NULL, json_get(r, "zstd"));
	/* Out of range, not canonical, not an index. */
	EXPECT_EQ(NULL, json_get(r, "channel_bytes.3"));
	EXPECT_EQ(NULL, json_get(r, "channel_bytes.01"));
	EXPECT_EQ(NULL, json_get(r, "channel_bytes.-1"));
	EXPECT_EQ(NULL, json_get(r, "channel_bytes.+1"));
	EXPECT_EQ(NULL, json_get(r, "channel_bytes. 1"));
	EXPECT_EQ(NULL, json_get(r, "channel_bytes.1x"));
	EXPECT_EQ(NULL, json_get(r, "channel_bytes.99999999999999999999999"));
	/* Past a leaf, or an empty component. */
	EXPECT_EQ(NULL, json_get(r, "rounds.0"));
	EXPECT_EQ(NULL, json_get(r, "result.x"));
	EXPECT_EQ(NULL, json_get(r, "pages..normal"));
	EXPECT_EQ(NULL, json_get(r, ".pages"));
	EXPECT_EQ(NULL, json_get(r, "pages."));
	EXPECT_EQ(NULL, json_get(r, "."));
	/* Keys match whole and case by case. */
	EXPECT_EQ(NULL, json_get(r, "page"));
	EXPECT_EQ(NULL, json_get(r, "pages.normalx"));
	EXPECT_EQ(NULL, json_get(r, "Result"));
	/* A key with a dot in it is out of reach of a path. */
	EXPECT_EQ(NULL, json_get(r, "round_stats.1.x.y"));
	EXPECT_EQ(NULL, json_get(NULL, "result"));
	EXPECT_EQ(NULL, json_get(r, NULL));

	/* A path also starts from any value in the tree. */
	v = json_get(r, "round_stats.1");
	EXPECT_EQ(4, json_get(v, "pages")->number);
	json_free(r);

	/* The top of `kmigctl status --json` is an array. */
	r = parse("[{\"id\":3,\"state\":\"attached\"},"
		  "{\"id\":4,\"state\":\"tracking\",\"syncs\":2}]");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(4, json_get(r, "1.id")->number);
	EXPECT_STREQ("attached", json_get(r, "0.state")->string);
	EXPECT_EQ(NULL, json_get(r, "0.syncs"));
	EXPECT_EQ(NULL, json_get(r, "id"));
	EXPECT_EQ(NULL, json_get(r, "2"));
	json_free(r);
}

TEST_HARNESS_MAIN
