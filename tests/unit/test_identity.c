/* identity: normalization of identifier values, blocked junk, extraction
 * from events, profile id format. Resolution is covered end to end in
 * test_pipeline.c. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "event/event.h"
#include "identity/identity.h"
#include "px_test.h"

/* Normalizes `in` for kind `kind` of cfg and checks status and output. */
static void expect_norm(const px_config *cfg, const char *kind, const char *in, px_status want,
                        const char *want_out) {
  const px_kind *k = px_config_kind(cfg, kind, NULL);
  if (!k) fail_msg("no kind %s", kind);
  char out[PX_IDENT_VALUE_MAX + 1];
  memset(out, 0, sizeof out);
  px_status s = px_identity_normalize(cfg, k, in, out);
  if (s != want)
    fail_msg("normalize(%s, \"%s\") = %s (\"%s\"), want %s", kind, in, px_status_str(s),
             s == PX_OK ? out : "", px_status_str(want));
  if (want == PX_OK && strcmp(out, want_out) != 0)
    fail_msg("normalize(%s, \"%s\") = \"%s\", want \"%s\"", kind, in, out, want_out);
}

static void config_with(px_config *c, const char *json) {
  px_error e;
  px_error_clear(&e);
  px_status s = px_config_parse(json, strlen(json), c, &e);
  if (s != PX_OK) fail_msg("config %s: %s %s %s", json, px_status_str(s), e.field, e.reason);
}

static void test_email(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  expect_norm(&c, "email", "Jane.Doe@Example.COM", PX_OK, "jane.doe@example.com");
  expect_norm(&c, "email", "  jane@example.com \t\n", PX_OK, "jane@example.com");
  expect_norm(&c, "email", "a+tag@sub.example.co.uk", PX_OK, "a+tag@sub.example.co.uk");
  expect_norm(&c, "email", "plainaddress", PX_INVALID, NULL);
  expect_norm(&c, "email", "@example.com", PX_INVALID, NULL);
  expect_norm(&c, "email", "jane@", PX_INVALID, NULL);
  expect_norm(&c, "email", "jane@@example.com", PX_INVALID, NULL);
  expect_norm(&c, "email", "a@b@example.com", PX_INVALID, NULL);
  expect_norm(&c, "email", "jane doe@example.com", PX_INVALID, NULL);
  expect_norm(&c, "email", "<jane@example.com>", PX_INVALID, NULL);
  expect_norm(&c, "email", "jane@example.com, joe@example.com", PX_INVALID, NULL);
  expect_norm(&c, "email", "\"jane\"@example.com", PX_INVALID, NULL);
  /* Junk is junk before it is an invalid e-mail. */
  expect_norm(&c, "email", "null", PX_BLOCKED, NULL);
  expect_norm(&c, "email", "  ", PX_BLOCKED, NULL);
  expect_norm(&c, "email", "TEST@test.com", PX_BLOCKED, NULL);
  px_config_free(&c);
}

static void test_phone_default_country_1(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  expect_norm(&c, "phone", "(555) 010-9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "555.010.9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "555 010 9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "5550109999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "1-555-010-9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "1 (555) 010-9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "+1 (555) 010-9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "001 555 010 9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "  +1 555 010 9999  ", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "+44 20 7946 0958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "0044 20 7946 0958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "+44/20/7946/0958", PX_OK, "+442079460958");
  px_config_free(&c);
}

static void test_phone_default_country_44(void **state) {
  (void)state;
  px_config c;
  config_with(&c, "{\"identity\":{\"default_country_code\":\"44\"}}");
  expect_norm(&c, "phone", "+44 20 7946 0958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "020 7946 0958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "(020) 7946-0958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "0044 20 7946 0958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "00442079460958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "44 20 7946 0958", PX_OK, "+442079460958");
  expect_norm(&c, "phone", "07700 900123", PX_OK, "+447700900123");
  expect_norm(&c, "phone", "+1 (555) 010-9999", PX_OK, "+15550109999");
  expect_norm(&c, "phone", "001 555 010 9999", PX_OK, "+15550109999");
  px_config_free(&c);
}

static void test_phone_invalid(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  expect_norm(&c, "phone", "555-CALL-NOW", PX_INVALID, NULL);
  expect_norm(&c, "phone", "1-800-FLOWERS", PX_INVALID, NULL);
  expect_norm(&c, "phone", "555 010 9999 ext 12", PX_INVALID, NULL);
  expect_norm(&c, "phone", "555010999x", PX_INVALID, NULL);
  expect_norm(&c, "phone", "12345", PX_INVALID, NULL);               /* too short */
  expect_norm(&c, "phone", "+1234567890123456", PX_INVALID, NULL);   /* 16 digits */
  expect_norm(&c, "phone", "+1 555 010 9999 +2", PX_INVALID, NULL);  /* a second + */
  expect_norm(&c, "phone", "555+0109999", PX_INVALID, NULL);         /* + not first */
  expect_norm(&c, "phone", "++15550109999", PX_INVALID, NULL);
  expect_norm(&c, "phone", "+", PX_BLOCKED, NULL);                    /* junk characters only */
  expect_norm(&c, "phone", "()", PX_INVALID, NULL);
  expect_norm(&c, "phone", "555_010_9999", PX_INVALID, NULL);
  expect_norm(&c, "phone", "555\xc2\xa0" "010 9999", PX_INVALID, NULL); /* NBSP is not a separator */
  char many[100];
  memset(many, '5', 99);
  many[99] = 0;
  expect_norm(&c, "phone", many, PX_INVALID, NULL);
  px_config_free(&c);
}

static void test_blocked_junk_values(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  static const char *junk[] = {"",        "null",    "NULL",  "Null",    "undefined",
                               "nil",     "none",    "None",  "-1",      "0",
                               "anonymous", "ANONYMOUS", "unknown", "0000", "----",
                               "00000000-0000-0000-0000-000000000000", "  null  ", " ",
                               "\t\n",    "n/a",     "N/A",   "000000000000"};
  static const char *kinds[] = {"user_id", "anonymous_id", "email", "phone"};
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) expect_norm(&c, kinds[k], junk[i], PX_BLOCKED, NULL);
  /* Values that merely contain junk are fine. */
  expect_norm(&c, "user_id", "null-user-7", PX_OK, "null-user-7");
  expect_norm(&c, "user_id", "10", PX_OK, "10");
  expect_norm(&c, "user_id", "-2", PX_OK, "-2");
  expect_norm(&c, "anonymous_id", "00000000-0000-0000-0000-000000000001", PX_OK,
              "00000000-0000-0000-0000-000000000001");
  expect_norm(&c, "user_id", "unknown1", PX_OK, "unknown1");
  px_config_free(&c);
}

static void test_custom_blocked_values(void **state) {
  (void)state;
  px_config c;
  config_with(&c, "{\"identity\":{\"blocked_values\":[\"Guest\"],"
                  "\"kinds\":[{\"kind\":\"crm_id\",\"normalize\":\"digits\"}]}}");
  expect_norm(&c, "user_id", "guest", PX_BLOCKED, NULL);
  expect_norm(&c, "user_id", "GUEST", PX_BLOCKED, NULL);
  expect_norm(&c, "user_id", "null", PX_OK, "null"); /* the defaults were replaced */
  expect_norm(&c, "user_id", "0000", PX_BLOCKED, NULL); /* zeros and dashes always are junk */
  expect_norm(&c, "crm_id", "CRM-00123", PX_OK, "00123");
  expect_norm(&c, "crm_id", "abc", PX_INVALID, NULL);
  expect_norm(&c, "crm_id", "CRM-0000", PX_BLOCKED, NULL); /* junk after normalization */
  px_config_free(&c);
}

static void test_trim_lower_none(void **state) {
  (void)state;
  px_config c;
  config_with(&c, "{\"identity\":{\"kinds\":[{\"kind\":\"handle\",\"normalize\":\"lower\"},"
                  "{\"kind\":\"raw\",\"normalize\":\"none\"}]}}");
  expect_norm(&c, "user_id", "  User-42 ", PX_OK, "User-42");
  expect_norm(&c, "anonymous_id", "\tAbC\n", PX_OK, "AbC");
  expect_norm(&c, "handle", "  MixedCase ", PX_OK, "mixedcase");
  expect_norm(&c, "raw", "  As Sent ", PX_OK, "  As Sent ");
  expect_norm(&c, "user_id", "caf\xc3\xa9", PX_OK, "caf\xc3\xa9");
  px_config_free(&c);
}

static void test_length_limit(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  char v[PX_IDENT_VALUE_MAX + 2];
  memset(v, 'u', sizeof v - 1);
  v[sizeof v - 1] = 0; /* 257 characters */
  expect_norm(&c, "user_id", v, PX_INVALID, NULL);
  v[PX_IDENT_VALUE_MAX] = 0; /* 256 */
  expect_norm(&c, "user_id", v, PX_OK, v);
  /* Surrounding white space does not count. */
  char padded[PX_IDENT_VALUE_MAX + 10];
  snprintf(padded, sizeof padded, "   %s   ", v);
  expect_norm(&c, "user_id", padded, PX_OK, v);
  px_config_free(&c);
}

static void test_profile_id_format(void **state) {
  (void)state;
  char s[17];
  px_profile_id_format(0x1a2bull, s);
  PX_ASSERT_STR_EQ(s, "0000000000001a2b");
  uint64_t v = 0;
  PX_ASSERT_INT_EQ(px_profile_id_parse(s, &v), 1);
  PX_ASSERT_UINT_EQ(v, 0x1a2b);
  px_profile_id_format(UINT64_MAX, s);
  PX_ASSERT_STR_EQ(s, "ffffffffffffffff");
  PX_ASSERT_INT_EQ(px_profile_id_parse(s, &v), 1);
  PX_ASSERT_UINT_EQ(v, UINT64_MAX);
  PX_ASSERT_INT_EQ(px_profile_id_parse("0000000000000000", &v), 0);
  PX_ASSERT_INT_EQ(px_profile_id_parse("0000000000001A2B", &v), 0);
  PX_ASSERT_INT_EQ(px_profile_id_parse("1a2b", &v), 0);
  PX_ASSERT_INT_EQ(px_profile_id_parse("00000000000001a2b", &v), 0);
  PX_ASSERT_INT_EQ(px_profile_id_parse("000000000000-a2b", &v), 0);
  PX_ASSERT_INT_EQ(px_profile_id_parse("", &v), 0);
}

/* Builds an event from JSON (type read from the message). */
static void make_event(const char *json, px_event *ev) {
  cJSON *j = cJSON_Parse(json);
  if (!j) fail_msg("bad JSON in test: %s", json);
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = 1, .received_ms = 1714557600000LL};
  px_error e;
  px_error_clear(&e);
  px_status s = px_event_from_json(j, &ctx, ev, &e);
  if (s != PX_OK) fail_msg("event %s: %s %s %s", json, px_status_str(s), e.field, e.reason);
}

static void ids_to_string(const px_config *c, const px_ident *ids, int n, char *out, size_t on) {
  out[0] = 0;
  for (int i = 0; i < n; i++)
    snprintf(out + strlen(out), on - strlen(out), "%s%s:%s", i ? " " : "", c->kinds[ids[i].kind].name,
             ids[i].value);
}

static void expect_extract(const px_config *c, const char *json, const char *want, int want_blocked) {
  px_event ev;
  make_event(json, &ev);
  px_ident ids[PX_MAX_EVENT_IDENTS];
  int blocked = -1;
  int n = px_identity_extract(c, &ev, ids, PX_MAX_EVENT_IDENTS, &blocked);
  char got[2048];
  ids_to_string(c, ids, n, got, sizeof got);
  px_event_free(&ev);
  if (strcmp(got, want) != 0) fail_msg("extract(%s) = \"%s\", want \"%s\"", json, got, want);
  if (blocked != want_blocked) fail_msg("extract(%s): blocked %d, want %d", json, blocked, want_blocked);
}

static void test_extract(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  /* Priority order of the configuration, whatever the order in the event. */
  expect_extract(&c,
                 "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"traits\":{\"phone\":\"555 010 9999\","
                 "\"email\":\"J@X.io\"},\"userId\":\" u1 \"}",
                 "user_id:u1 email:j@x.io phone:+15550109999 anonymous_id:a1", 0);
  /* context.traits counts too; duplicates after normalization collapse. */
  expect_extract(&c,
                 "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u1\",\"context\":{\"traits\":"
                 "{\"email\":\"j@x.io\"}}}",
                 "user_id:u1 email:j@x.io", 0);
  expect_extract(&c,
                 "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":\"J@x.io\"},"
                 "\"context\":{\"traits\":{\"email\":\"j@X.IO\"}}}",
                 "user_id:u1 email:j@x.io", 0);
  /* Junk and invalid values are dropped and counted. */
  expect_extract(&c,
                 "{\"type\":\"identify\",\"userId\":\"null\",\"anonymousId\":\"a1\",\"traits\":"
                 "{\"email\":\"not-an-email\",\"phone\":\"call me\"}}",
                 "anonymous_id:a1", 3);
  /* A group's traits describe the account, not the person. */
  expect_extract(&c,
                 "{\"type\":\"group\",\"groupId\":\"g1\",\"userId\":\"u1\",\"traits\":"
                 "{\"email\":\"billing@acme.io\"},\"context\":{\"traits\":{\"email\":\"me@acme.io\"}}}",
                 "user_id:u1 email:me@acme.io", 0);
  /* Numeric identifiers. */
  expect_extract(&c, "{\"type\":\"identify\",\"userId\":12345,\"traits\":{\"phone\":5550109999}}",
                 "user_id:12345 phone:+15550109999", 0);
  px_config_free(&c);
}

static void test_extract_custom_paths(void **state) {
  (void)state;
  px_config c;
  config_with(&c, "{\"identity\":{\"kinds\":[{\"kind\":\"crm_id\",\"paths\":[\"properties.crm.id\","
                  "\"context.externalIds.crm\"]}]}}");
  expect_extract(&c,
                 "{\"type\":\"track\",\"event\":\"e\",\"anonymousId\":\"a1\",\"properties\":"
                 "{\"crm\":{\"id\":\"C-9\"}}}",
                 "crm_id:C-9 anonymous_id:a1", 0);
  expect_extract(&c,
                 "{\"type\":\"track\",\"event\":\"e\",\"anonymousId\":\"a1\",\"properties\":"
                 "{\"crm\":\"C-9\"},\"context\":{\"externalIds\":{\"crm\":\"C-10\"}}}",
                 "crm_id:C-10 anonymous_id:a1", 0);
  px_config_free(&c);
}

/* Regression (fixed; src/identity/normalize.c, px_identity_extract: snprintf "%.0f"):
 * numeric identifier values read from kind paths are rounded to integers
 * (and cut to 31 characters), so distinct values collide: crm_id 12.6 and 13
 * become the same identifier and would merge two customers. userId and
 * anonymousId numbers are kept exactly (event.c id_field uses %lld / %.17g).
 *  Fixed: both use px_event_number_str (integers exactly,
 * other numbers with %.17g). */
static void test_extract_numbers_are_not_rounded(void **state) {
  (void)state;
  px_config c;
  config_with(&c, "{\"identity\":{\"kinds\":[{\"kind\":\"crm_id\"}]}}");
  px_event ev;
  make_event("{\"type\":\"identify\",\"anonymousId\":\"a\",\"traits\":{\"crm_id\":12.6}}", &ev);
  px_ident ids[4];
  int blocked;
  int n = px_identity_extract(&c, &ev, ids, 4, &blocked);
  char got[512];
  ids_to_string(&c, ids, n, got, sizeof got);
  px_event_free(&ev);
  px_config_free(&c);
  if (strstr(got, "crm_id:13")) fail_msg("12.6 extracted as \"%s\"", got);
}

static void test_extract_respects_max(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  px_event ev;
  make_event("{\"type\":\"identify\",\"userId\":\"u\",\"anonymousId\":\"a\",\"traits\":"
             "{\"email\":\"e@x.io\"}}",
             &ev);
  px_ident ids[2];
  int blocked;
  PX_ASSERT_INT_EQ(px_identity_extract(&c, &ev, ids, 2, &blocked), 2);
  PX_ASSERT_STR_EQ(ids[0].value, "u");
  PX_ASSERT_STR_EQ(ids[1].value, "e@x.io");
  px_event_free(&ev);
  px_config_free(&c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_email),
    cmocka_unit_test(test_phone_default_country_1),
    cmocka_unit_test(test_phone_default_country_44),
    cmocka_unit_test(test_phone_invalid),
    cmocka_unit_test(test_blocked_junk_values),
    cmocka_unit_test(test_custom_blocked_values),
    cmocka_unit_test(test_trim_lower_none),
    cmocka_unit_test(test_length_limit),
    cmocka_unit_test(test_profile_id_format),
    cmocka_unit_test(test_extract),
    cmocka_unit_test(test_extract_custom_paths),
    cmocka_unit_test(test_extract_numbers_are_not_rounded),
    cmocka_unit_test(test_extract_respects_max),
};

PX_TEST_MAIN(tests)
