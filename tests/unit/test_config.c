/* config: defaults, JSON parsing (errors name the field), storage. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "px_test.h"

#define FX ((px_test_store *)*state)

static px_status parse(const char *json, px_config *c, px_error *e) {
  px_error_clear(e);
  return px_config_parse(json, strlen(json), c, e);
}

static int blocked_has(const px_config *c, const char *v) {
  for (int i = 0; i < c->nblocked; i++)
    if (strcmp(c->blocked[i], v) == 0) return 1;
  return 0;
}

static void kind_order(const px_config *c, char *out, size_t n) {
  out[0] = 0;
  for (int i = 0; i < c->nkinds; i++)
    snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", c->kinds[i].name);
}

static void test_defaults(void **state) {
  (void)state;
  px_config c;
  px_config_default(&c);
  char order[512];
  kind_order(&c, order, sizeof order);
  PX_ASSERT_STR_EQ(order, "user_id,email,phone,anonymous_id");
  int idx = -1;
  const px_kind *k = px_config_kind(&c, "user_id", &idx);
  assert_non_null(k);
  PX_ASSERT_INT_EQ(idx, 0);
  PX_ASSERT_INT_EQ(k->max_per_profile, 1);
  PX_ASSERT_INT_EQ(k->norm, PX_NORM_TRIM);
  k = px_config_kind(&c, "email", &idx);
  PX_ASSERT_INT_EQ(k->max_per_profile, 5);
  PX_ASSERT_INT_EQ(k->norm, PX_NORM_EMAIL);
  PX_ASSERT_INT_EQ(k->npaths, 2);
  PX_ASSERT_STR_EQ(k->paths[0], "traits.email");
  PX_ASSERT_STR_EQ(k->paths[1], "context.traits.email");
  k = px_config_kind(&c, "phone", NULL);
  PX_ASSERT_INT_EQ(k->max_per_profile, 5);
  PX_ASSERT_INT_EQ(k->norm, PX_NORM_PHONE);
  k = px_config_kind(&c, "anonymous_id", &idx);
  PX_ASSERT_INT_EQ(idx, 3);
  PX_ASSERT_INT_EQ(k->max_per_profile, 0);
  PX_ASSERT_NULL(px_config_kind(&c, "nope", NULL));
  static const char *junk[] = {"", "null", "undefined", "nil", "none", "-1", "0", "anonymous", "unknown"};
  for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
    if (!blocked_has(&c, junk[i])) fail_msg("default blocked list lacks \"%s\"", junk[i]);
  PX_ASSERT_STR_EQ(c.default_country_code, "1");
  PX_ASSERT_INT_EQ(c.default_rule, PX_SURV_MOST_RECENT);
  PX_ASSERT_INT_EQ(px_config_trait_rule(&c, "anything"), PX_SURV_MOST_RECENT);
  PX_ASSERT_UINT_EQ(c.version, 0);
  px_config_free(&c);
  px_config_free(&c); /* idempotent */
  px_config_free(NULL);
}

static void test_empty_object_is_default(void **state) {
  (void)state;
  px_config c, d;
  px_error e;
  PX_ASSERT_OK(parse("{}", &c, &e));
  px_config_default(&d);
  char a[512], b[512];
  kind_order(&c, a, sizeof a);
  kind_order(&d, b, sizeof b);
  PX_ASSERT_STR_EQ(a, b);
  PX_ASSERT_INT_EQ(c.nblocked, d.nblocked);
  px_config_free(&c);
  px_config_free(&d);
}

static void test_new_kinds_go_before_anonymous_id(void **state) {
  (void)state;
  px_config c;
  px_error e;
  PX_ASSERT_OK(parse("{\"identity\":{\"kinds\":[{\"kind\":\"crm_id\",\"max_per_profile\":1},"
                     "{\"kind\":\"device_id\",\"normalize\":\"lower\"}]}}",
                     &c, &e));
  char order[512];
  kind_order(&c, order, sizeof order);
  PX_ASSERT_STR_EQ(order, "user_id,email,phone,crm_id,device_id,anonymous_id");
  const px_kind *k = px_config_kind(&c, "crm_id", NULL);
  PX_ASSERT_INT_EQ(k->max_per_profile, 1);
  PX_ASSERT_INT_EQ(k->norm, PX_NORM_TRIM);
  PX_ASSERT_INT_EQ(k->npaths, 2);
  PX_ASSERT_STR_EQ(k->paths[0], "traits.crm_id");
  PX_ASSERT_STR_EQ(k->paths[1], "context.traits.crm_id");
  k = px_config_kind(&c, "device_id", NULL);
  PX_ASSERT_INT_EQ(k->norm, PX_NORM_LOWER);
  PX_ASSERT_INT_EQ(k->max_per_profile, 0);
  /* The moved anonymous_id kept its own settings. */
  k = px_config_kind(&c, "anonymous_id", NULL);
  PX_ASSERT_INT_EQ(k->norm, PX_NORM_TRIM);
  PX_ASSERT_INT_EQ(k->npaths, 0);
  px_config_free(&c);
}

static void test_existing_kind_is_updated_in_place(void **state) {
  (void)state;
  px_config c;
  px_error e;
  PX_ASSERT_OK(parse("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"max_per_profile\":1,"
                     "\"paths\":[\"traits.mail\",\"properties.email\"]},"
                     "{\"kind\":\"phone\",\"normalize\":\"digits\"}]}}",
                     &c, &e));
  char order[512];
  kind_order(&c, order, sizeof order);
  PX_ASSERT_STR_EQ(order, "user_id,email,phone,anonymous_id");
  const px_kind *k = px_config_kind(&c, "email", NULL);
  PX_ASSERT_INT_EQ(k->max_per_profile, 1);
  PX_ASSERT_INT_EQ(k->norm, PX_NORM_EMAIL);
  PX_ASSERT_INT_EQ(k->npaths, 2);
  PX_ASSERT_STR_EQ(k->paths[0], "traits.mail");
  PX_ASSERT_STR_EQ(k->paths[1], "properties.email");
  PX_ASSERT_INT_EQ(px_config_kind(&c, "phone", NULL)->norm, PX_NORM_DIGITS);
  px_config_free(&c);
}

static void test_blocked_values_replace_defaults(void **state) {
  (void)state;
  px_config c;
  px_error e;
  PX_ASSERT_OK(parse("{\"identity\":{\"blocked_values\":[\"guest\",\"x\"]}}", &c, &e));
  PX_ASSERT_INT_EQ(c.nblocked, 2);
  PX_ASSERT_INT_EQ(blocked_has(&c, "guest"), 1);
  PX_ASSERT_INT_EQ(blocked_has(&c, "null"), 0);
  px_config_free(&c);
  PX_ASSERT_OK(parse("{\"identity\":{\"blocked_values\":[]}}", &c, &e));
  PX_ASSERT_INT_EQ(c.nblocked, 0);
  px_config_free(&c);
}

static void test_country_code_and_traits(void **state) {
  (void)state;
  px_config c;
  px_error e;
  PX_ASSERT_OK(parse("{\"identity\":{\"default_country_code\":\"44\"},"
                     "\"traits\":{\"default\":\"first\",\"rules\":{\"plan\":\"source_priority\","
                     "\"city\":\"most_frequent\",\"email\":\"most_recent\"}}}",
                     &c, &e));
  PX_ASSERT_STR_EQ(c.default_country_code, "44");
  PX_ASSERT_INT_EQ(c.default_rule, PX_SURV_FIRST);
  PX_ASSERT_INT_EQ(c.ntrait_rules, 3);
  PX_ASSERT_INT_EQ(px_config_trait_rule(&c, "plan"), PX_SURV_SOURCE_PRIORITY);
  PX_ASSERT_INT_EQ(px_config_trait_rule(&c, "city"), PX_SURV_MOST_FREQUENT);
  PX_ASSERT_INT_EQ(px_config_trait_rule(&c, "email"), PX_SURV_MOST_RECENT);
  PX_ASSERT_INT_EQ(px_config_trait_rule(&c, "other"), PX_SURV_FIRST);
  PX_ASSERT_STR_EQ(px_survivorship_name(PX_SURV_MOST_FREQUENT), "most_frequent");
  PX_ASSERT_STR_EQ(px_norm_name(PX_NORM_PHONE), "phone");
  px_config_free(&c);
}

/* Every error names the offending field. */
static void expect_error(const char *json, px_status want, const char *field) {
  px_config c;
  px_error e;
  px_status s = parse(json, &c, &e);
  px_config_free(&c);
  if (s != want)
    fail_msg("%s: %s, want %s", json, px_status_str(s), px_status_str(want));
  if (strcmp(e.field, field) != 0)
    fail_msg("%s: field \"%s\", want \"%s\" (reason: %s)", json, e.field, field, e.reason);
  if (!e.reason[0]) fail_msg("%s: no reason given", json);
}

static void test_parse_errors_name_the_field(void **state) {
  (void)state;
  expect_error("", PX_BAD_JSON, "");
  expect_error("{", PX_BAD_JSON, "");
  expect_error("[]", PX_BAD_JSON, "");
  expect_error("\"identity\"", PX_BAD_JSON, "");
  expect_error("{\"identity\":{\"kinds\":{}}}", PX_INVALID, "identity.kinds");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"ok\"},{\"kind\":\"Bad Name\"}]}}", PX_INVALID,
               "identity.kinds[1]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"\"}]}}", PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{}]}}", PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[\"email\"]}}", PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"abcdefghijklmnopqrstuvwxyz0123456\"}]}}",
               PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"max_per_profile\":-1}]}}", PX_INVALID,
               "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"max_per_profile\":\"5\"}]}}",
               PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"max_per_profile\":1000001}]}}",
               PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"normalize\":\"upper\"}]}}",
               PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"paths\":\"traits.email\"}]}}",
               PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"paths\":[\"a\",\"b\",\"c\",\"d\","
               "\"e\",\"f\",\"g\",\"h\",\"i\"]}]}}",
               PX_INVALID, "identity.kinds[0]");
  expect_error("{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"paths\":[\"\"]}]}}", PX_INVALID,
               "identity.kinds[0]");
  expect_error("{\"identity\":{\"blocked_values\":\"null\"}}", PX_INVALID, "identity.blocked_values");
  expect_error("{\"identity\":{\"blocked_values\":[\"a\",1]}}", PX_INVALID, "identity.blocked_values");
  expect_error("{\"identity\":{\"default_country_code\":\"+44\"}}", PX_INVALID,
               "identity.default_country_code");
  expect_error("{\"identity\":{\"default_country_code\":\"1234\"}}", PX_INVALID,
               "identity.default_country_code");
  expect_error("{\"identity\":{\"default_country_code\":44}}", PX_INVALID,
               "identity.default_country_code");
  expect_error("{\"identity\":{\"default_country_code\":\"\"}}", PX_INVALID,
               "identity.default_country_code");
  expect_error("{\"traits\":{\"default\":\"newest\"}}", PX_INVALID, "traits.default");
  expect_error("{\"traits\":{\"rules\":{\"plan\":\"best\"}}}", PX_INVALID, "traits.rules");
  expect_error("{\"traits\":{\"rules\":{\"plan\":1}}}", PX_INVALID, "traits.rules");
  expect_error("{\"traits\":{\"rules\":[\"most_recent\"]}}", PX_INVALID, "traits.rules");
}

static void test_too_many(void **state) {
  (void)state;
  /* 4 built-in kinds + 28 new = 32 is the limit. */
  char json[8192] = "{\"identity\":{\"kinds\":[";
  for (int i = 0; i < 28; i++)
    snprintf(json + strlen(json), sizeof json - strlen(json), "%s{\"kind\":\"k%d\"}", i ? "," : "", i);
  strcat(json, "]}}");
  px_config c;
  px_error e;
  PX_ASSERT_OK(parse(json, &c, &e));
  PX_ASSERT_INT_EQ(c.nkinds, PX_MAX_KINDS);
  PX_ASSERT_STR_EQ(c.kinds[PX_MAX_KINDS - 1].name, "anonymous_id");
  px_config_free(&c);
  json[strlen(json) - 3] = 0;
  strcat(json, ",{\"kind\":\"one_more\"}]}}");
  expect_error(json, PX_INVALID, "identity.kinds[28]");

  /* 128 blocked values fit, 129 do not. */
  char bl[4096] = "{\"identity\":{\"blocked_values\":[";
  for (int i = 0; i < PX_MAX_BLOCKED; i++)
    snprintf(bl + strlen(bl), sizeof bl - strlen(bl), "%s\"v%d\"", i ? "," : "", i);
  strcat(bl, "]}}");
  PX_ASSERT_OK(parse(bl, &c, &e));
  PX_ASSERT_INT_EQ(c.nblocked, PX_MAX_BLOCKED);
  px_config_free(&c);
  bl[strlen(bl) - 3] = 0;
  strcat(bl, ",\"more\"]}}");
  expect_error(bl, PX_INVALID, "identity.blocked_values");
}

/* Only the given n bytes are parsed. */
static void test_parse_respects_length(void **state) {
  (void)state;
  const char *json = "{\"identity\":{\"default_country_code\":\"44\"}}garbage";
  size_t n = strlen(json) - strlen("garbage");
  char *copy = malloc(n);
  memcpy(copy, json, n);
  px_config c;
  px_error e;
  px_error_clear(&e);
  PX_ASSERT_OK(px_config_parse(copy, n, &c, &e));
  PX_ASSERT_STR_EQ(c.default_country_code, "44");
  px_config_free(&c);
  free(copy);
}

static void test_to_json_round_trip(void **state) {
  (void)state;
  px_config c, d;
  px_error e;
  PX_ASSERT_OK(parse("{\"identity\":{\"kinds\":[{\"kind\":\"crm_id\",\"max_per_profile\":2,"
                     "\"normalize\":\"digits\",\"paths\":[\"traits.crm\"]}],"
                     "\"blocked_values\":[\"guest\"],\"default_country_code\":\"33\"},"
                     "\"traits\":{\"default\":\"most_frequent\",\"rules\":{\"plan\":\"first\"}}}",
                     &c, &e));
  char *json = px_config_to_json(&c);
  assert_non_null(json);
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  cJSON_Delete(j);
  PX_ASSERT_OK(parse(json, &d, &e));
  char a[512], b[512];
  kind_order(&c, a, sizeof a);
  kind_order(&d, b, sizeof b);
  PX_ASSERT_STR_EQ(a, b);
  for (int i = 0; i < c.nkinds; i++) {
    PX_ASSERT_INT_EQ(c.kinds[i].max_per_profile, d.kinds[i].max_per_profile);
    PX_ASSERT_INT_EQ(c.kinds[i].norm, d.kinds[i].norm);
    PX_ASSERT_INT_EQ(c.kinds[i].npaths, d.kinds[i].npaths);
    for (int p = 0; p < c.kinds[i].npaths; p++) PX_ASSERT_STR_EQ(c.kinds[i].paths[p], d.kinds[i].paths[p]);
  }
  PX_ASSERT_INT_EQ(d.nblocked, 1);
  PX_ASSERT_STR_EQ(d.blocked[0], "guest");
  PX_ASSERT_STR_EQ(d.default_country_code, "33");
  PX_ASSERT_INT_EQ(d.default_rule, PX_SURV_MOST_FREQUENT);
  PX_ASSERT_INT_EQ(px_config_trait_rule(&d, "plan"), PX_SURV_FIRST);
  free(json);
  px_config_free(&c);
  px_config_free(&d);
}

static void test_store_and_load(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  px_config c;
  px_error e;
  uint64_t v;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_config_version(txn, st, &v));
  PX_ASSERT_UINT_EQ(v, 0);
  PX_ASSERT_OK(px_config_load(txn, st, &c, &e));
  PX_ASSERT_INT_EQ(c.nkinds, 4);
  px_config_free(&c);

  const char *j1 = "{\"identity\":{\"default_country_code\":\"44\"}}";
  PX_ASSERT_OK(px_config_store(txn, st, j1, strlen(j1), &e));
  PX_ASSERT_OK(px_config_version(txn, st, &v));
  PX_ASSERT_UINT_EQ(v, 1);
  /* An invalid configuration is refused and changes nothing. */
  const char *bad = "{\"traits\":{\"default\":\"nope\"}}";
  px_error_clear(&e);
  PX_ASSERT_STATUS(px_config_store(txn, st, bad, strlen(bad), &e), PX_INVALID);
  PX_ASSERT_STR_EQ(e.field, "traits.default");
  PX_ASSERT_OK(px_config_version(txn, st, &v));
  PX_ASSERT_UINT_EQ(v, 1);
  const char *j2 = "{\"identity\":{\"default_country_code\":\"33\"}}";
  PX_ASSERT_OK(px_config_store(txn, st, j2, strlen(j2), &e));
  PX_ASSERT_OK(px_store_commit(txn));

  PX_ASSERT_OK(px_store_begin(st, 0, &txn));
  PX_ASSERT_OK(px_config_load(txn, st, &c, &e));
  PX_ASSERT_STR_EQ(c.default_country_code, "33");
  PX_ASSERT_UINT_EQ(c.version, 2);
  px_config_free(&c);
  px_store_abort(txn);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_empty_object_is_default),
    cmocka_unit_test(test_new_kinds_go_before_anonymous_id),
    cmocka_unit_test(test_existing_kind_is_updated_in_place),
    cmocka_unit_test(test_blocked_values_replace_defaults),
    cmocka_unit_test(test_country_code_and_traits),
    cmocka_unit_test(test_parse_errors_name_the_field),
    cmocka_unit_test(test_too_many),
    cmocka_unit_test(test_parse_respects_length),
    cmocka_unit_test(test_to_json_round_trip),
    cmocka_unit_test_setup_teardown(test_store_and_load, px_test_store_setup, px_test_store_teardown),
};

PX_TEST_MAIN(tests)
