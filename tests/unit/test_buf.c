/* base/buf: the capped buffer and its JSON string writer. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "px_test.h"

static void test_append_and_terminate(void **state) {
  (void)state;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_INT_EQ(b.len, 0);
  PX_ASSERT_OK(px_buf_puts(&b, "hello"));
  PX_ASSERT_OK(px_buf_putc(&b, ' '));
  PX_ASSERT_OK(px_buf_append(&b, "world!!", 5));
  PX_ASSERT_INT_EQ(b.len, 11);
  PX_ASSERT_STR_EQ(b.data, "hello world");
  PX_ASSERT_OK(px_buf_append(&b, "", 0));
  PX_ASSERT_STR_EQ(b.data, "hello world");
  px_buf_reset(&b);
  PX_ASSERT_INT_EQ(b.len, 0);
  PX_ASSERT_STR_EQ(b.data, "");
  px_buf_free(&b);
  PX_ASSERT_NULL(b.data);
  px_buf_free(&b); /* twice is fine */
  px_buf_free(NULL);
}

static void test_grows(void **state) {
  (void)state;
  px_buf b;
  px_buf_init(&b, 0);
  for (int i = 0; i < 10000; i++) PX_ASSERT_OK(px_buf_putc(&b, (char)('a' + i % 26)));
  PX_ASSERT_INT_EQ(b.len, 10000);
  PX_ASSERT_INT_EQ(strlen(b.data), 10000);
  PX_ASSERT_INT_CMP(b.cap, >, b.len);
  PX_ASSERT_INT_EQ(b.data[9999], 'a' + 9999 % 26);
  px_buf_free(&b);
}

static void test_cap_is_an_error(void **state) {
  (void)state;
  px_buf b;
  px_buf_init(&b, 8);
  PX_ASSERT_OK(px_buf_puts(&b, "12345"));
  PX_ASSERT_STATUS(px_buf_puts(&b, "6789"), PX_TOO_LARGE);
  PX_ASSERT_INT_EQ(b.len, 5);
  PX_ASSERT_STR_EQ(b.data, "12345");
  PX_ASSERT_OK(px_buf_puts(&b, "678")); /* exactly at the cap */
  PX_ASSERT_INT_EQ(b.len, 8);
  PX_ASSERT_STATUS(px_buf_putc(&b, 'x'), PX_TOO_LARGE);
  PX_ASSERT_STATUS(px_buf_append(&b, "\0\0\0\1", 4), PX_TOO_LARGE);
  PX_ASSERT_STATUS(px_buf_printf(&b, "%d", 1), PX_TOO_LARGE);
  PX_ASSERT_STATUS(px_buf_json_str(&b, "", 0), PX_TOO_LARGE);
  PX_ASSERT_STR_EQ(b.data, "12345678");
  PX_ASSERT_OK(px_buf_append(&b, "", 0));
  px_buf_free(&b);
}

static void test_cap_huge_request(void **state) {
  (void)state;
  px_buf b;
  px_buf_init(&b, 1024);
  /* A length that would overflow a naive len + n check must still be refused. */
  volatile size_t huge = SIZE_MAX; /* hidden from the compiler's bounds checks */
  PX_ASSERT_STATUS(px_buf_append(&b, "x", huge), PX_TOO_LARGE);
  PX_ASSERT_STATUS(px_buf_append(&b, "x", huge - 1), PX_TOO_LARGE);
  PX_ASSERT_INT_EQ(b.len, 0);
  px_buf_free(&b);
}

static void test_printf(void **state) {
  (void)state;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_buf_printf(&b, "%s=%d;", "n", 42));
  PX_ASSERT_STR_EQ(b.data, "n=42;");
  /* Longer than the internal 256-byte fast path. */
  char big[1001];
  memset(big, 'z', 1000);
  big[1000] = 0;
  PX_ASSERT_OK(px_buf_printf(&b, "[%s]", big));
  PX_ASSERT_INT_EQ(b.len, 5 + 1002);
  PX_ASSERT_INT_EQ(b.data[b.len - 1], ']');
  PX_ASSERT_INT_EQ(b.data[b.len], 0);
  PX_ASSERT_INT_EQ(strlen(b.data), b.len);
  px_buf_free(&b);

  px_buf_init(&b, 600);
  PX_ASSERT_STATUS(px_buf_printf(&b, "[%s]", big), PX_TOO_LARGE);
  PX_ASSERT_INT_EQ(b.len, 0);
  px_buf_free(&b);
}

/* Writes s with px_buf_json_str, checks the literal, and that a JSON parser
 * reads back the same bytes. */
static void expect_json(const char *s, size_t n, const char *want) {
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_buf_json_str(&b, s, n));
  PX_ASSERT_STR_EQ(b.data, want);
  cJSON *j = cJSON_Parse(b.data);
  if (!cJSON_IsString(j)) fail_msg("%s does not parse as a JSON string", b.data);
  if (memchr(s, 0, n) == NULL) {
    if (strlen(j->valuestring) != n || memcmp(j->valuestring, s, n) != 0)
      fail_msg("%s reads back as \"%s\"", b.data, j->valuestring);
  }
  cJSON_Delete(j);
  px_buf_free(&b);
}

static void test_json_escaping(void **state) {
  (void)state;
  expect_json("", 0, "\"\"");
  expect_json("plain", 5, "\"plain\"");
  expect_json("a\"b", 3, "\"a\\\"b\"");
  expect_json("back\\slash", 10, "\"back\\\\slash\"");
  expect_json("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
  expect_json("\x01\x1f", 2, "\"\\u0001\\u001f\"");
  expect_json("a\0b", 3, "\"a\\u0000b\"");
  expect_json("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  expect_json("</script>", 9, "\"</script>\"");
  expect_json("\x7f", 1, "\"\x7f\"");
  /* Only n bytes are read. */
  expect_json("abcdef", 3, "\"abc\"");
}

static void test_json_every_byte(void **state) {
  (void)state;
  /* Each ASCII byte on its own: the output parses back to it. */
  for (int c = 1; c < 0x80; c++) {
    char in[2] = {(char)c, 0};
    px_buf b;
    px_buf_init(&b, 0);
    PX_ASSERT_OK(px_buf_json_str(&b, in, 1));
    cJSON *j = cJSON_Parse(b.data);
    if (!cJSON_IsString(j) || strcmp(j->valuestring, in) != 0)
      fail_msg("byte 0x%02x written as %s does not read back", c, b.data);
    cJSON_Delete(j);
    px_buf_free(&b);
  }
}

/* The scan goes eight bytes at a time: every byte that needs escaping, at
 * every position of a 20-byte run, in the first, a middle and the last word. */
static void test_json_escape_at_every_position(void **state) {
  (void)state;
  const unsigned char specials[] = {0x00, 0x01, 0x1f, '"', '\\', '\n'};
  const unsigned char fine[] = {0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff};
  for (size_t k = 0; k < sizeof specials; k++) {
    for (size_t pos = 0; pos < 20; pos++) {
      char in[20];
      memset(in, 'x', sizeof in);
      in[pos] = (char)specials[k];
      px_buf b;
      px_buf_init(&b, 0);
      PX_ASSERT_OK(px_buf_json_str(&b, in, sizeof in));
      size_t esc = specials[k] == '"' || specials[k] == '\\' || specials[k] == '\n' ? 2 : 6;
      if (b.len != sizeof in - 1 + esc + 2)
        fail_msg("byte 0x%02x at %zu: %zu bytes written (%s)", specials[k], pos, b.len, b.data);
      px_buf_free(&b);
    }
  }
  for (size_t k = 0; k < sizeof fine; k++) { /* bytes that must pass through as they are */
    char in[20];
    memset(in, (char)fine[k], sizeof in);
    px_buf b;
    px_buf_init(&b, 0);
    PX_ASSERT_OK(px_buf_json_str(&b, in, sizeof in));
    if (b.len != sizeof in + 2 || memcmp(b.data + 1, in, sizeof in) != 0)
      fail_msg("byte 0x%02x was changed", fine[k]);
    px_buf_free(&b);
  }
}

static void test_json_respects_cap(void **state) {
  (void)state;
  px_buf b;
  px_buf_init(&b, 10);
  /* 8 raw bytes fit (with quotes), but escaping makes them 16. */
  PX_ASSERT_STATUS(px_buf_json_str(&b, "\n\n\n\n\n\n\n\n", 8), PX_TOO_LARGE);
  PX_ASSERT_INT_CMP(b.len, <=, 10);
  px_buf_free(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_append_and_terminate),
    cmocka_unit_test(test_grows),
    cmocka_unit_test(test_cap_is_an_error),
    cmocka_unit_test(test_cap_huge_request),
    cmocka_unit_test(test_printf),
    cmocka_unit_test(test_json_escaping),
    cmocka_unit_test(test_json_every_byte),
    cmocka_unit_test(test_json_escape_at_every_position),
    cmocka_unit_test(test_json_respects_cap),
};

PX_TEST_MAIN(tests)
