/* event/json_parse: the strict parser on the ingestion path. Its trees must
 * be the trees cJSON builds for the same valid text. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "event/event.h"
#include "px_test.h"

static char *compact(const cJSON *j) {
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_json_write(j, &b));
  return b.data;
}

/* Parses text with both parsers; the compact forms must be equal. */
static void same_as_cjson(const char *text) {
  cJSON *ours = px_json_parse(text, strlen(text), NULL);
  cJSON *ref = cJSON_Parse(text);
  if (!ours || !ref) fail_msg("%s: ours %p, cJSON %p", text, (void *)ours, (void *)ref);
  char *a = compact(ours), *b = compact(ref);
  PX_ASSERT_STR_EQ(a, b);
  free(a);
  free(b);
  cJSON_Delete(ours);
  cJSON_Delete(ref);
}

static void rejected_at(const char *text, size_t want_stop) {
  size_t stop = 12345;
  cJSON *j = px_json_parse(text, strlen(text), &stop);
  if (j) fail_msg("%s was accepted", text);
  if (stop != want_stop) fail_msg("%s: stopped at %zu, want %zu", text, stop, want_stop);
}

static void test_documents(void **state) {
  (void)state;
  same_as_cjson("{}");
  same_as_cjson("[]");
  same_as_cjson(" { \"a\" : [ 1 , 2.5 , -3e2 , true , false , null , \"x\" ] } ");
  same_as_cjson("{\"type\":\"track\",\"event\":\"Order Completed\",\"properties\":{\"revenue\":19.99,"
                "\"items\":[{\"sku\":\"A-1\",\"qty\":2}],\"coupon\":null},\"context\":{}}");
  same_as_cjson("\"just a string\"");
  same_as_cjson("42");
  same_as_cjson("{\"dup\":1,\"dup\":2}"); /* duplicate keys are kept, in order */
  same_as_cjson("{\"a long key that goes past eight bytes\":\"and a value that does too\"}");
}

static void test_escapes(void **state) {
  (void)state;
  same_as_cjson("\"q\\\"b\\\\s\\/n\\nr\\rt\\tb\\bf\\f\"");
  same_as_cjson("\"caf\\u00e9 \\u20ac \\ud83d\\ude00\"");
  same_as_cjson("\"caf\xc3\xa9 raw UTF-8\"");
  cJSON *j = px_json_parse("\"\\ud83d\\ude00\"", 14, NULL);
  PX_ASSERT_STR_EQ(j->valuestring, "\xf0\x9f\x98\x80");
  cJSON_Delete(j);
}

static void test_numbers_match_strtod(void **state) {
  (void)state;
  const char *nums[] = {"0", "-0", "1", "-1", "0.1", "0.3", "1.5", "19.99", "123456789012345",
                        "1234567890123456789", "0.000001", "3.141592653589793", "1e3", "1E-3",
                        "2.5e+10", "-7.25e-5", "1e308", "1e-320", "9007199254740993",
                        "0.1234567890123456789", "100000000000000000000000"};
  for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
    cJSON *j = px_json_parse(nums[i], strlen(nums[i]), NULL);
    if (!cJSON_IsNumber(j)) fail_msg("%s did not parse as a number", nums[i]);
    double want = strtod(nums[i], NULL);
    if (memcmp(&j->valuedouble, &want, sizeof want) != 0)
      fail_msg("%s -> %.17g, strtod gives %.17g", nums[i], j->valuedouble, want);
    cJSON_Delete(j);
  }
  /* Random decimals with up to 15 digits and 6 decimals: the exact path. */
  srand(7);
  for (int i = 0; i < 20000; i++) {
    char s[40];
    snprintf(s, sizeof s, "%s%d.%0*d", rand() % 2 ? "-" : "", rand() % 1000000000, 1 + rand() % 6,
             rand() % 1000000);
    cJSON *j = px_json_parse(s, strlen(s), NULL);
    double want = strtod(s, NULL);
    if (!j || memcmp(&j->valuedouble, &want, sizeof want) != 0) fail_msg("%s differs from strtod", s);
    cJSON_Delete(j);
  }
}

static void test_strictness(void **state) {
  (void)state;
  rejected_at("", 0);
  rejected_at("+1", 0);
  rejected_at("01", 1);
  rejected_at("1.", 2);
  rejected_at(".5", 0);
  rejected_at("1e", 2);
  rejected_at("[1,]", 3);
  rejected_at("{\"a\":1,}", 7);
  rejected_at("{\"a\" 1}", 5);
  rejected_at("{a:1}", 1);
  rejected_at("\"tab\tinside\"", 4);
  rejected_at("\"\\x\"", 1);
  rejected_at("\"\\u12\"", 1);
  rejected_at("\"\\udc00\"", 1);       /* a lone low surrogate */
  rejected_at("\"\\ud800 \"", 1);      /* a high one without its pair */
  rejected_at("\"\\u0000\"", 1);       /* NUL */
  rejected_at("\"open", 5);
  rejected_at("tru", 0);
  rejected_at("nul", 0);
  rejected_at("{} {}", 3);             /* only white space may follow */
  rejected_at("[1 2]", 3);
}

static void test_nesting_limit(void **state) {
  (void)state;
  char deep[2200];
  for (int i = 0; i < 1100; i++) deep[i] = '[', deep[2199 - i] = ']';
  PX_ASSERT_TRUE(px_json_parse(deep, sizeof deep, NULL) == NULL);
  cJSON *ok = px_json_parse(deep + 200, sizeof deep - 400, NULL); /* 900 levels */
  PX_ASSERT_TRUE(ok != NULL);
  cJSON_Delete(ok);
}

/* The sibling list is cJSON's: editing a parsed tree with cJSON's own
 * functions works (the normalizer adds, replaces and detaches members). */
static void test_tree_is_editable(void **state) {
  (void)state;
  const char *t = "{\"a\":1,\"b\":2,\"c\":3}";
  cJSON *j = px_json_parse(t, strlen(t), NULL);
  cJSON_AddStringToObject(j, "d", "x");
  cJSON_Delete(cJSON_DetachItemViaPointer(j, cJSON_GetObjectItemCaseSensitive(j, "b")));
  cJSON_Delete(cJSON_DetachItemViaPointer(j, cJSON_GetObjectItemCaseSensitive(j, "d")));
  cJSON_AddNumberToObject(j, "e", 5);
  cJSON_ReplaceItemInObjectCaseSensitive(j, "a", cJSON_CreateString("y"));
  char *s = compact(j);
  PX_ASSERT_STR_EQ(s, "{\"a\":\"y\",\"c\":3,\"e\":5}");
  free(s);
  cJSON_Delete(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_documents),     cmocka_unit_test(test_escapes),
      cmocka_unit_test(test_numbers_match_strtod), cmocka_unit_test(test_strictness),
      cmocka_unit_test(test_nesting_limit), cmocka_unit_test(test_tree_is_editable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
