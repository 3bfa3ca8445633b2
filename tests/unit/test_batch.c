/* ingest/batch: a whole request body, from bytes to prepared events. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "ingest/batch.h"
#include "px_test.h"

typedef struct fx {
  px_config cfg;
  px_batch b;
  px_error e;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  px_config_default(&f->cfg);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  px_batch_free(&f->b);
  px_config_free(&f->cfg);
  free(f);
  return 0;
}

/* Parses n bytes copied to an exact-size heap block (no NUL after them), so a
 * read past the body shows under AddressSanitizer. */
static px_status parse_n(fx *f, const char *body, size_t n, px_event_type type) {
  px_batch_free(&f->b);
  char *copy = malloc(n ? n : 1);
  memcpy(copy, body, n);
  px_event_ctx ctx = {.type = type, .source_id = 3, .received_ms = 1714557600000LL};
  px_status s = px_batch_parse(copy, n, &f->cfg, &ctx, &f->b, &f->e);
  free(copy);
  return s;
}

static px_status parse(fx *f, const char *body, px_event_type type) {
  return parse_n(f, body, strlen(body), type);
}

static void expect_bad_json(fx *f, const char *body, long offset) {
  px_status s = parse(f, body, PX_EV_NONE);
  if (s != PX_BAD_JSON) fail_msg("%s: %s, want malformed JSON", body, px_status_str(s));
  if (f->e.offset != offset) fail_msg("%s: offset %ld, want %ld (%s)", body, f->e.offset, offset, f->e.reason);
  PX_ASSERT_INT_EQ(f->b.n, 0);
  PX_ASSERT_INT_EQ(f->b.nrejects, 0);
}

static void test_single_message(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f, "{\"userId\":\"u1\",\"traits\":{\"email\":\"u1@x.io\"},\"writeKey\":\"pkw_abc\"}",
                     PX_EV_IDENTIFY));
  PX_ASSERT_INT_EQ(f->b.total, 1);
  PX_ASSERT_INT_EQ(f->b.n, 1);
  PX_ASSERT_INT_EQ(f->b.nrejects, 0);
  PX_ASSERT_INT_EQ(f->b.index[0], 0);
  PX_ASSERT_INT_EQ(f->b.events[0].type, PX_EV_IDENTIFY);
  PX_ASSERT_UINT_EQ(f->b.events[0].source_id, 3);
  PX_ASSERT_STR_EQ(f->b.events[0].user_id, "u1");
  PX_ASSERT_STR_EQ(f->b.write_key, "pkw_abc");
  assert_non_null(f->b.events[0].rec);
}

static void test_single_message_invalid_is_a_reject(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f, "{\"userId\":\"u1\"}", PX_EV_TRACK));
  PX_ASSERT_INT_EQ(f->b.total, 1);
  PX_ASSERT_INT_EQ(f->b.n, 0);
  PX_ASSERT_INT_EQ(f->b.nrejects, 1);
  PX_ASSERT_INT_EQ(f->b.rejects[0].index, 0);
  PX_ASSERT_STR_EQ(f->b.rejects[0].field, "event");
  PX_ASSERT_TRUE(f->b.rejects[0].reason[0] != 0);
}

static void test_batch(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f,
                     "{\"writeKey\":\"pkw_k\",\"batch\":["
                     "{\"type\":\"identify\",\"userId\":\"u1\"},"
                     "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"Viewed\"},"
                     "{\"type\":\"page\",\"userId\":\"u1\",\"name\":\"Home\"}]}",
                     PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.total, 3);
  PX_ASSERT_INT_EQ(f->b.n, 3);
  PX_ASSERT_STR_EQ(f->b.write_key, "pkw_k");
  for (size_t i = 0; i < 3; i++) PX_ASSERT_INT_EQ(f->b.index[i], (int)i);
  PX_ASSERT_INT_EQ(f->b.events[0].type, PX_EV_IDENTIFY);
  PX_ASSERT_INT_EQ(f->b.events[1].type, PX_EV_TRACK);
  PX_ASSERT_INT_EQ(f->b.events[2].type, PX_EV_PAGE);
  PX_ASSERT_STR_EQ(f->b.events[1].name, "Viewed");
}

static void test_empty_batch(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f, "{\"batch\":[]}", PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.total, 0);
  PX_ASSERT_INT_EQ(f->b.n, 0);
  PX_ASSERT_INT_EQ(f->b.nrejects, 0);
}

static void test_partial_batch_rejects_by_index(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f,
                     "{\"batch\":["
                     "{\"type\":\"identify\",\"userId\":\"u1\"},"        /* 0 ok */
                     "{\"type\":\"identify\"},"                           /* 1 no ids */
                     "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"E\"}," /* 2 ok */
                     "{\"type\":\"track\",\"userId\":\"u1\"},"            /* 3 no event */
                     "42,"                                                /* 4 not an object */
                     "{\"type\":\"identify\",\"userId\":\"null\"},"       /* 5 only junk ids */
                     "{\"type\":\"fly\",\"userId\":\"u1\"},"              /* 6 bad type */
                     "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g\"}" /* 7 ok */
                     "]}",
                     PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.total, 8);
  PX_ASSERT_INT_EQ(f->b.n, 3);
  PX_ASSERT_INT_EQ(f->b.index[0], 0);
  PX_ASSERT_INT_EQ(f->b.index[1], 2);
  PX_ASSERT_INT_EQ(f->b.index[2], 7);
  PX_ASSERT_INT_EQ(f->b.nrejects, 5);
  static const struct {
    int index;
    const char *field;
  } want[] = {{1, "userId"}, {3, "event"}, {4, ""}, {5, "userId"}, {6, "type"}};
  for (size_t i = 0; i < 5; i++) {
    PX_ASSERT_INT_EQ(f->b.rejects[i].index, want[i].index);
    PX_ASSERT_STR_EQ(f->b.rejects[i].field, want[i].field);
    PX_ASSERT_TRUE(f->b.rejects[i].reason[0] != 0);
  }
  PX_ASSERT_STR_CONTAINS(f->b.rejects[3].reason, "usable");
  PX_ASSERT_INT_EQ(f->b.n + f->b.nrejects, f->b.total);
}

static void test_all_rejected_is_still_ok(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f, "{\"batch\":[{},{},{}]}", PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.n, 0);
  PX_ASSERT_INT_EQ(f->b.nrejects, 3);
}

static void test_malformed_json_offset(void **state) {
  fx *f = *state;
  expect_bad_json(f, "", 0);
  expect_bad_json(f, "{\"a\":tru}", 5);
  expect_bad_json(f, "{\"batch\":[1 2]}", 12);
  expect_bad_json(f, "[1,]", 3);
  expect_bad_json(f, "{\"a\":1,}", 7);
  expect_bad_json(f, "{\"a\"1}", 4);
  expect_bad_json(f, "nul", 0);
  /* Truncated: the error is at the end of the input. */
  px_status s = parse(f, "{\"batch\":[{\"type\":\"track\"", PX_EV_NONE);
  PX_ASSERT_STATUS(s, PX_BAD_JSON);
  PX_ASSERT_INT_CMP(f->e.offset, >=, 24);
  PX_ASSERT_INT_CMP(f->e.offset, <=, 25);
  PX_ASSERT_STR_CONTAINS(f->e.reason, "byte");
}

static void test_trailing_garbage(void **state) {
  fx *f = *state;
  expect_bad_json(f, "{\"batch\":[]} x", 13);
  expect_bad_json(f, "{\"batch\":[]}}", 12);
  expect_bad_json(f, "{\"batch\":[]}{\"batch\":[]}", 12);
  expect_bad_json(f, "{\"batch\":[]}\n\n  ,", 16);
  /* White space after the document is fine. */
  PX_ASSERT_OK(parse(f, "  {\"batch\":[]} \r\n\t ", PX_EV_NONE));
}

static void test_invalid_utf8_offset(void **state) {
  fx *f = *state;
  static const struct {
    const char *body;
    long offset;
  } cases[] = {
      {"{\"batch\":[{\"type\":\"identify\",\"userId\":\"\xff\"}]}", 39},
      {"{\"batch\":[{\"type\":\"identify\",\"userId\":\"caf\xc3\xa9\",\"x\":\"\xc0\xaf\"}]}", 51},
      {"\xed\xa0\x80", 0},
      {"{\"batch\":[]}\xf4\x90\x80\x80", 12},
      {"{\"batch\":[],\"t\":\"\xe2\x82\"}", 17},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    px_status s = parse(f, cases[i].body, PX_EV_NONE);
    if (s != PX_BAD_UTF8) fail_msg("case %zu: %s, want invalid UTF-8", i, px_status_str(s));
    if (f->e.offset != cases[i].offset)
      fail_msg("case %zu: offset %ld, want %ld", i, f->e.offset, cases[i].offset);
    PX_ASSERT_INT_EQ(f->b.n, 0);
  }
  /* Valid multi-byte text is accepted. */
  PX_ASSERT_OK(parse(f, "{\"batch\":[{\"type\":\"identify\",\"userId\":\"\xe6\x97\xa5\xf0\x9f\x98\x80\"}]}",
                     PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.n, 1);
  PX_ASSERT_STR_EQ(f->b.events[0].user_id, "\xe6\x97\xa5\xf0\x9f\x98\x80");
}

static void test_nul_byte(void **state) {
  fx *f = *state;
  static const char body[] = "{\"batch\":[{\"userId\":\"a\0b\"}]}";
  px_status s = parse_n(f, body, sizeof body - 1, PX_EV_NONE);
  PX_ASSERT_STATUS(s, PX_BAD_JSON);
  PX_ASSERT_INT_EQ(f->e.offset, 22);
}

static char *items(int n, size_t *len) {
  static const char item[] = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"}";
  size_t cap = 32 + (size_t)n * sizeof item;
  char *s = malloc(cap);
  strcpy(s, "{\"batch\":[");
  size_t at = strlen(s);
  for (int i = 0; i < n; i++) {
    if (i) s[at++] = ',';
    memcpy(s + at, item, sizeof item - 1);
    at += sizeof item - 1;
  }
  memcpy(s + at, "]}", 3);
  *len = at + 2;
  return s;
}

static void test_item_limit(void **state) {
  fx *f = *state;
  size_t n;
  char *ok = items(PX_MAX_BATCH_EVENTS, &n);
  PX_ASSERT_OK(parse_n(f, ok, n, PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.n, PX_MAX_BATCH_EVENTS);
  free(ok);
  char *over = items(PX_MAX_BATCH_EVENTS + 1, &n);
  PX_ASSERT_STATUS(parse_n(f, over, n, PX_EV_NONE), PX_INVALID);
  PX_ASSERT_STR_EQ(f->e.field, "batch");
  PX_ASSERT_INT_EQ(f->b.n, 0);
  PX_ASSERT_INT_EQ(f->b.nrejects, 0);
  free(over);
}

/* {"batch":[]} padded with spaces to exactly n bytes. */
static char *padded(size_t n, const char *doc) {
  char *s = malloc(n);
  size_t dl = strlen(doc);
  memcpy(s, doc, dl);
  memset(s + dl, ' ', n - dl);
  return s;
}

static void test_request_size_cap(void **state) {
  fx *f = *state;
  char *b = padded(PX_MAX_REQUEST_BYTES, "{\"batch\":[]}");
  PX_ASSERT_OK(parse_n(f, b, PX_MAX_REQUEST_BYTES, PX_EV_NONE));
  free(b);
  b = padded(PX_MAX_REQUEST_BYTES + 1, "{\"batch\":[]}");
  PX_ASSERT_STATUS(parse_n(f, b, PX_MAX_REQUEST_BYTES + 1, PX_EV_NONE), PX_TOO_LARGE);
  PX_ASSERT_INT_EQ(f->b.n, 0);
  free(b);
  /* A single message is capped at the message size. */
  const char *msg = "{\"userId\":\"u\",\"event\":\"e\"}";
  b = padded(PX_MAX_MESSAGE_BYTES, msg);
  PX_ASSERT_OK(parse_n(f, b, PX_MAX_MESSAGE_BYTES, PX_EV_TRACK));
  PX_ASSERT_INT_EQ(f->b.n, 1);
  free(b);
  b = padded(PX_MAX_MESSAGE_BYTES + 1, msg);
  PX_ASSERT_STATUS(parse_n(f, b, PX_MAX_MESSAGE_BYTES + 1, PX_EV_TRACK), PX_TOO_LARGE);
  free(b);
}

static void test_body_shape(void **state) {
  fx *f = *state;
  PX_ASSERT_STATUS(parse(f, "[]", PX_EV_NONE), PX_INVALID);
  PX_ASSERT_STATUS(parse(f, "\"batch\"", PX_EV_NONE), PX_INVALID);
  PX_ASSERT_STATUS(parse(f, "[{\"userId\":\"u\"}]", PX_EV_IDENTIFY), PX_INVALID);
  PX_ASSERT_STATUS(parse(f, "{}", PX_EV_NONE), PX_INVALID);
  PX_ASSERT_STR_EQ(f->e.field, "batch");
  PX_ASSERT_STATUS(parse(f, "{\"batch\":{}}", PX_EV_NONE), PX_INVALID);
  PX_ASSERT_STR_EQ(f->e.field, "batch");
  PX_ASSERT_STATUS(parse(f, "{\"batch\":[],\"context\":[]}", PX_EV_NONE), PX_INVALID);
  PX_ASSERT_STR_EQ(f->e.field, "context");
  PX_ASSERT_STATUS(parse(f, "{\"batch\":[],\"integrations\":1}", PX_EV_NONE), PX_INVALID);
  PX_ASSERT_STR_EQ(f->e.field, "integrations");
}

static void test_batch_context_merged(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f,
                     "{\"context\":{\"ip\":\"1.1.1.1\",\"locale\":\"en\"},\"integrations\":{\"All\":false},"
                     "\"batch\":[{\"type\":\"identify\",\"userId\":\"u1\",\"context\":{\"ip\":\"2.2.2.2\"}},"
                     "{\"type\":\"identify\",\"userId\":\"u2\"}]}",
                     PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.n, 2);
  const cJSON *c0 = cJSON_GetObjectItemCaseSensitive(f->b.events[0].root, "context");
  const cJSON *c1 = cJSON_GetObjectItemCaseSensitive(f->b.events[1].root, "context");
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c0, "ip")), "2.2.2.2");
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c0, "locale")), "en");
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c1, "ip")), "1.1.1.1");
  const cJSON *i1 = cJSON_GetObjectItemCaseSensitive(f->b.events[1].root, "integrations");
  PX_ASSERT_INT_EQ(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(i1, "All")), 1);
}

/* A batch-level sentAt corrects the clock skew of items that lack their own. */
static void test_batch_sent_at(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f,
                     "{\"sentAt\":\"2024-05-01T11:00:00Z\",\"batch\":["
                     "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"originalTimestamp\":\"2024-05-01T10:59:00Z\"},"
                     "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"originalTimestamp\":\"2024-05-01T10:59:00Z\","
                     "\"sentAt\":\"2024-05-01T10:59:30Z\"},"
                     "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"timestamp\":\"2024-01-01T00:00:00Z\"}]}",
                     PX_EV_NONE));
  PX_ASSERT_INT_EQ(f->b.n, 3);
  PX_ASSERT_INT_EQ(f->b.events[0].timestamp_ms, 1714557600000LL - 60000);
  PX_ASSERT_INT_EQ(f->b.events[1].timestamp_ms, 1714557600000LL - 30000);
  PX_ASSERT_INT_EQ(f->b.events[2].timestamp_ms, 1704067200000LL);
}

static void test_write_key_not_in_events(void **state) {
  fx *f = *state;
  PX_ASSERT_OK(parse(f, "{\"writeKey\":\"pkw_top\",\"batch\":[{\"type\":\"identify\",\"userId\":\"u\","
                        "\"writeKey\":\"pkw_item\"}]}",
                     PX_EV_NONE));
  PX_ASSERT_STR_EQ(f->b.write_key, "pkw_top");
  size_t jn;
  const char *json = px_event_rec_json(f->b.events[0].rec, f->b.events[0].rec_len, &jn);
  char *copy = strndup(json, jn);
  if (strstr(copy, "pkw_")) fail_msg("a write key was stored: %s", copy);
  free(copy);
}

static void test_err_may_be_null(void **state) {
  fx *f = *state;
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = 1};
  PX_ASSERT_STATUS(px_batch_parse("{x", 2, &f->cfg, &ctx, &f->b, NULL), PX_BAD_JSON);
  PX_ASSERT_STATUS(px_batch_parse("\xff", 1, &f->cfg, &ctx, &f->b, NULL), PX_BAD_UTF8);
  px_batch_free(NULL);
}

/* Every accepted event must satisfy the per-message limits, wherever its parts
 * came from. */
static void expect_events_within_limits(fx *f) {
  for (size_t i = 0; i < f->b.n; i++) {
    px_error e;
    px_error_clear(&e);
    px_status s = px_event_check_tree(f->b.events[i].root, &e);
    if (s != PX_OK)
      fail_msg("accepted event %zu breaks the message limits: %s at %s (%s)", i, px_status_str(s), e.field,
               e.reason);
  }
}

/* Regression (fixed; src/ingest/batch.c px_batch_parse + src/event/event.c px_event_from_json):
 * the batch-level "context"/"integrations" are merged into each item AFTER
 * px_event_check_tree ran on the item, and are never checked themselves, so a
 * batch context nested 40 deep or holding a 20,000-byte string is copied into
 * every accepted event, bypassing PX_MAX_DEPTH / PX_MAX_STRING_BYTES.
 * Fixed: the limits are checked on the merged message, and
 * the batch context is capped at PX_MAX_BATCH_CONTEXT_BYTES. */
static void test_batch_context_obeys_limits(void **state) {
  fx *f = *state;
  char deep[1024] = "{\"context\":{\"x\":";
  for (int i = 0; i < 40; i++) strcat(deep, "{\"a\":");
  strcat(deep, "1");
  for (int i = 0; i < 40; i++) strcat(deep, "}");
  strcat(deep, "},\"batch\":[{\"type\":\"identify\",\"userId\":\"u1\"}]}");
  px_status s = parse(f, deep, PX_EV_NONE);
  if (s == PX_OK) expect_events_within_limits(f);

  size_t cap = 21000;
  char *big = malloc(cap);
  snprintf(big, cap, "{\"integrations\":{\"x\":\"");
  size_t at = strlen(big);
  memset(big + at, 'x', 20000);
  big[at + 20000] = 0;
  strcat(big, "\"},\"batch\":[{\"type\":\"identify\",\"userId\":\"u1\"}]}");
  s = parse(f, big, PX_EV_NONE);
  free(big);
  if (s == PX_OK) expect_events_within_limits(f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_single_message, setup, teardown),
    cmocka_unit_test_setup_teardown(test_single_message_invalid_is_a_reject, setup, teardown),
    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_empty_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_partial_batch_rejects_by_index, setup, teardown),
    cmocka_unit_test_setup_teardown(test_all_rejected_is_still_ok, setup, teardown),
    cmocka_unit_test_setup_teardown(test_malformed_json_offset, setup, teardown),
    cmocka_unit_test_setup_teardown(test_trailing_garbage, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_utf8_offset, setup, teardown),
    cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
    cmocka_unit_test_setup_teardown(test_item_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_request_size_cap, setup, teardown),
    cmocka_unit_test_setup_teardown(test_body_shape, setup, teardown),
    cmocka_unit_test_setup_teardown(test_batch_context_merged, setup, teardown),
    cmocka_unit_test_setup_teardown(test_batch_sent_at, setup, teardown),
    cmocka_unit_test_setup_teardown(test_write_key_not_in_events, setup, teardown),
    cmocka_unit_test_setup_teardown(test_err_may_be_null, setup, teardown),
    cmocka_unit_test_setup_teardown(test_batch_context_obeys_limits, setup, teardown),
};

PX_TEST_MAIN(tests)
