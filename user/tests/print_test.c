// SPDX-License-Identifier: GPL-2.0
/*
 * kmigctl's text/JSON printer: exact output in both modes for a fixed set
 * of fields, JSON string escaping, and that python3's json module accepts
 * every JSON document the printer writes.
 */
#include <math.h>
#include <string.h>

#include "kselftest_harness.h"
#include "print.h"
#include "test_util.h"

/* The same calls serve both modes; that is what is under test. */
static void print_fixed_fields(struct printer *p)
{
	print_open_array(p, NULL);
	print_open_object(p, NULL);
	print_uint(p, PRINT_ANY, "id", "session %u:\n", 7);
	print_string(p, PRINT_ANY, "state", "\tstate: %s\n", "tracking");
	print_u64(p, PRINT_ANY, "pages", "\tpages: %llu\n",
		  18446744073709551615ULL);
	print_u64(p, PRINT_JSON, "harvest_ns", NULL, 1500000);
	print_float(p, PRINT_ANY, "harvest_ms", "\tharvest: %.3f ms\n", 1.5);
	print_string(p, PRINT_TEXT, NULL, "\t(%s)\n", "text only");
	print_close_object(p);
	print_text(p, "\n");
	print_open_object(p, NULL);
	print_uint(p, PRINT_ANY, "id", "session %u:\n", 8);
	print_close_object(p);
	print_close_array(p);
	print_finish(p);
}

static char *render(bool json, void (*fn)(struct printer *p))
{
	struct capture c;
	struct printer p;

	if (!capture_begin(&c))
		return NULL;
	print_init(&p, c.fp, json);
	fn(&p);
	return capture_end(&c);
}

TEST(text_output)
{
	char *out = render(false, print_fixed_fields);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("session 7:\n"
		     "\tstate: tracking\n"
		     "\tpages: 18446744073709551615\n"
		     "\tharvest: 1.500 ms\n"
		     "\t(text only)\n"
		     "\n"
		     "session 8:\n", out);
	free(out);
}

TEST(json_output)
{
	char *out = render(true, print_fixed_fields);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("[{\"id\":7,\"state\":\"tracking\","
		     "\"pages\":18446744073709551615,\"harvest_ns\":1500000,"
		     "\"harvest_ms\":1.500},{\"id\":8}]\n", out);
	if (have_python3())
		EXPECT_EQ(1, json_is_valid(out));
	free(out);
}

static void print_nasty_string(struct printer *p)
{
	print_open_object(p, NULL);
	/* quote, backslash, newline, tab, CR, other C0 controls, DEL, UTF-8 */
	print_string(p, PRINT_ANY, "s", "%s",
		     "a\"b\\c\nd\te\rf\x01g\x1fh\x7fi/\xc3\xa9");
	print_string(p, PRINT_ANY, "key \"quoted\"", "%s", "");
	print_close_object(p);
	print_finish(p);
}

TEST(json_string_escaping)
{
	char *out = render(true, print_nasty_string);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("{\"s\":\"a\\\"b\\\\c\\nd\\te\\rf\\u0001g\\u001fh\\u007fi/\xc3\xa9\","
		     "\"key \\\"quoted\\\"\":\"\"}\n", out);
	if (have_python3())
		EXPECT_EQ(1, json_is_valid(out));
	free(out);
}

TEST(text_strings_are_verbatim)
{
	char *out = render(false, print_nasty_string);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("a\"b\\c\nd\te\rf\x01g\x1fh\x7fi/\xc3\xa9", out);
	free(out);
}

static void print_non_finite(struct printer *p)
{
	print_open_object(p, NULL);
	print_float(p, PRINT_ANY, "nan", "%f", NAN);
	print_float(p, PRINT_ANY, "inf", "%f", INFINITY);
	print_close_object(p);
	print_finish(p);
}

TEST(json_non_finite_is_null)
{
	char *out = render(true, print_non_finite);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("{\"nan\":null,\"inf\":null}\n", out);
	free(out);
}

static void print_empty_list(struct printer *p)
{
	print_open_array(p, NULL);
	print_close_array(p);
	print_finish(p);
}

TEST(empty_list)
{
	char *json = render(true, print_empty_list);
	char *text = render(false, print_empty_list);

	ASSERT_NE(NULL, json);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("[]\n", json);
	EXPECT_STREQ("", text);
	free(json);
	free(text);
}

static void print_nested(struct printer *p)
{
	print_open_object(p, NULL);
	print_open_array(p, "a");
	print_uint(p, PRINT_ANY, NULL, "%u", 1);
	print_uint(p, PRINT_ANY, NULL, "%u", 2);
	print_open_object(p, NULL);
	print_close_object(p);
	print_close_array(p);
	print_open_object(p, "o");
	print_string(p, PRINT_JSON, "k", NULL, "v");
	print_close_object(p);
	print_close_object(p);
	print_finish(p);
}

/* Commas belong to each nesting level separately. */
TEST(json_nesting)
{
	char *out = render(true, print_nested);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("{\"a\":[1,2,{}],\"o\":{\"k\":\"v\"}}\n", out);
	if (have_python3())
		EXPECT_EQ(1, json_is_valid(out));
	free(out);
}

/* The validator itself must be able to fail, or the checks above prove nothing. */
TEST(validator_rejects_bad_json)
{
	if (!have_python3())
		SKIP(return, "python3 not found");
	EXPECT_EQ(0, json_is_valid("{\"a\":1,}"));
	EXPECT_EQ(0, json_is_valid("{\"a\":NaN}"));
	EXPECT_EQ(1, json_is_valid("[]"));
}

TEST_HARNESS_MAIN
