/* mapping: file columns to Segment messages. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "mapping/mapping.h"
#include "px_test.h"

static void load(const char *json, px_mapping *m) {
  px_error err;
  px_error_clear(&err);
  px_status s = px_mapping_parse(json, strlen(json), m, &err);
  if (s != PX_OK) fail_msg("%s: %s %s", json, err.field, err.reason);
}

static void rejected(const char *json, const char *field) {
  px_mapping *m = malloc(sizeof *m);
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_STATUS(px_mapping_parse(json, strlen(json), m, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, field);
  free(m);
}

static px_csv_field f(const char *s) { return (px_csv_field){s, strlen(s)}; }

/* The message for one row, parsed (caller deletes), or NULL with err. */
static cJSON *row(px_mapping *m, const px_csv_field *cols, size_t n, const px_csv_field *vals, px_error *err) {
  PX_ASSERT_OK(px_mapping_bind(m, cols, n, err));
  px_buf b;
  px_buf_init(&b, 0);
  px_status s = px_mapping_row(m, vals, n, &b, err);
  cJSON *j = s == PX_OK ? cJSON_Parse(b.data) : NULL;
  if (s == PX_OK && !j) fail_msg("not JSON: %s", b.data);
  px_buf_free(&b);
  return j;
}

static void test_identify_row(void **state) {
  (void)state;
  px_mapping *m = malloc(sizeof *m);
  load("{\"identifiers\":{\"user_id\":\"rec_id\",\"email\":{\"column\":\"mail\",\"std\":\"email\"}},"
       "\"traits\":{\"first_name\":{\"column\":\"given_name\",\"std\":\"trim\"},"
       "\"dob\":{\"column\":\"date_of_birth\",\"std\":\"date\"},\"postcode\":{\"column\":\"pc\",\"std\":\"postcode\"},"
       "\"age\":{\"column\":\"age\",\"type\":\"number\"},\"vip\":{\"column\":\"vip\",\"type\":\"boolean\"}}}",
       m);
  px_csv_field cols[] = {f("rec_id"), f("given_name"), f("mail"), f("date_of_birth"), f("pc"), f("age"), f("vip")};
  px_csv_field vals[] = {f("rec-1"), f(" Ann "), f(" Ann@X.io"), f("19081209"), f("sw1a1aa"), f("+42"), f("Yes")};
  px_error err;
  cJSON *j = row(m, cols, 7, vals, &err);
  assert_non_null(j);
  char *text = cJSON_PrintUnformatted(j);
  PX_ASSERT_STR_CONTAINS(text, "\"type\":\"identify\"");
  PX_ASSERT_STR_CONTAINS(text, "\"userId\":\"rec-1\"");
  PX_ASSERT_STR_CONTAINS(text, "\"messageId\":\"row-");
  PX_ASSERT_STR_CONTAINS(text, "\"traits\":{\"email\":\"ann@x.io\",\"first_name\":\"Ann\",\"dob\":\"1908-12-09\","
                               "\"postcode\":\"SW1A 1AA\",\"age\":42,\"vip\":true}");
  free(text);
  cJSON_Delete(j);
  /* The same row, the same messageId: importing it again stores it once. */
  px_buf a, b;
  px_buf_init(&a, 0);
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_mapping_row(m, vals, 7, &a, &err));
  PX_ASSERT_OK(px_mapping_row(m, vals, 7, &b, &err));
  PX_ASSERT_STR_EQ(a.data, b.data);
  px_buf_free(&a);
  px_buf_free(&b);
  /* Empty values are left out; a bad one rejects the row, naming the column. */
  px_csv_field sparse[] = {f("rec-2"), f(""), f(" "), f(""), f(""), f(""), f("")};
  j = row(m, cols, 7, sparse, &err);
  text = cJSON_PrintUnformatted(j);
  PX_ASSERT_STR_EQ(strstr(text, "\"traits\"") ? "traits present" : "no traits", "no traits");
  free(text);
  cJSON_Delete(j);
  px_csv_field bad[] = {f("rec-3"), f("Ann"), f("not an address"), f(""), f(""), f(""), f("")};
  PX_ASSERT_NULL(row(m, cols, 7, bad, &err));
  PX_ASSERT_STR_EQ(err.field, "mail");
  px_csv_field badnum[] = {f("rec-3"), f("Ann"), f(""), f(""), f(""), f("12abc"), f("")};
  PX_ASSERT_NULL(row(m, cols, 7, badnum, &err));
  PX_ASSERT_STR_EQ(err.field, "age");
  free(m);
}

static void test_track_row(void **state) {
  (void)state;
  px_mapping *m = malloc(sizeof *m);
  load("{\"type\":\"track\",\"event\":\"Order Completed\",\"date_order\":\"MDY\","
       "\"message_id\":\"invoice\",\"timestamp\":{\"column\":\"when\",\"std\":\"date\"},"
       "\"identifiers\":{\"user_id\":{\"column\":\"customer\",\"required\":true},\"loyalty_card\":\"card\"},"
       "\"properties\":{\"revenue\":{\"column\":\"total\",\"type\":\"number\"},\"sku\":\"sku\"}}",
       m);
  px_csv_field cols[] = {f("invoice"), f("when"), f("customer"), f("card"), f("total"), f("sku")};
  px_csv_field vals[] = {f("536365"), f("12/1/2010"), f("17850"), f("LC-9"), f("15.30"), f("85123A")};
  px_error err;
  cJSON *j = row(m, cols, 6, vals, &err);
  char *text = cJSON_PrintUnformatted(j);
  PX_ASSERT_STR_EQ(text, "{\"type\":\"track\",\"messageId\":\"536365\",\"timestamp\":\"2010-12-01T00:00:00.000Z\","
                         "\"userId\":\"17850\",\"event\":\"Order Completed\",\"context\":{\"traits\":"
                         "{\"loyalty_card\":\"LC-9\"}},\"properties\":{\"revenue\":15.3,\"sku\":\"85123A\"}}");
  free(text);
  cJSON_Delete(j);
  px_csv_field nocust[] = {f("536366"), f("12/1/2010"), f(""), f(""), f("1"), f("x")};
  PX_ASSERT_NULL(row(m, cols, 6, nocust, &err));
  PX_ASSERT_STR_EQ(err.field, "customer");
  PX_ASSERT_STR_CONTAINS(err.reason, "required");
  /* A required trait or property is checked where it is read. */
  px_mapping *r = malloc(sizeof *r);
  load("{\"identifiers\":{\"user_id\":\"id\"},\"traits\":{\"email\":{\"column\":\"mail\",\"required\":true}}}", r);
  px_csv_field rcols[] = {f("id"), f("mail")}, rvals[] = {f("u1"), f(" ")};
  PX_ASSERT_NULL(row(r, rcols, 2, rvals, &err));
  PX_ASSERT_STR_EQ(err.field, "mail");
  PX_ASSERT_STR_CONTAINS(err.reason, "required");
  free(r);
  /* A column the file does not have. */
  px_csv_field fewer[] = {f("invoice"), f("when"), f("customer")};
  PX_ASSERT_STATUS(px_mapping_bind(m, fewer, 3, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "no column named");
  free(m);
}

static void test_mapping_errors_name_the_field(void **state) {
  (void)state;
  rejected("[]", "");
  rejected("{\"identifiers\":{}}", "identifiers");
  rejected("{\"type\":\"page\",\"identifiers\":{\"user_id\":\"a\"}}", "type");
  rejected("{\"type\":\"track\",\"identifiers\":{\"user_id\":\"a\"}}", "event");
  rejected("{\"event\":\"E\",\"identifiers\":{\"user_id\":\"a\"}}", "event");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"traits\":{\"age\":{\"column\":\"a\",\"type\":\"int\"}}}", "traits.age.type");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"traits\":{\"age\":{\"type\":\"number\"}}}", "traits.age.column");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"traits\":{\"x\":{\"column\":\"a\",\"stdd\":\"text\"}}}", "traits.x.stdd");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"traits\":{\"x\":{\"column\":\"a\",\"type\":\"number\",\"std\":\"email\"}}}", "traits.x");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"csv\":{\"delimiter\":\";;\"}}", "csv.delimiter");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"properties\":{\"p\":\"a\"}}", "properties");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"colour\":1}", "colour");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"date_order\":\"YMD\"}", "date_order");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"format\":\"xml\"}", "format");
  rejected("{\"identifiers\":{\"user_id\":\"a\"},\"country_code\":\"+44\"}", "country_code");
}

/* JSON lines: members (or dotted paths) as columns; phones standardized. */
static void test_jsonl_record(void **state) {
  (void)state;
  px_mapping *m = malloc(sizeof *m);
  load("{\"format\":\"jsonl\",\"country_code\":\"44\",\"identifiers\":{\"user_id\":\"id\"},"
       "\"traits\":{\"city\":\"address.city\",\"phone\":{\"column\":\"tel\",\"std\":\"phone\"},"
       "\"age\":{\"column\":\"age\",\"type\":\"number\"},\"vip\":\"vip\",\"note\":\"note\"}}",
       m);
  assert_int_equal(m->jsonl, 1);
  cJSON *obj = cJSON_Parse("{\"id\":17,\"address\":{\"city\":\"Leeds\"},\"tel\":\"020 7946 0018\","
                           "\"age\":0.1,\"vip\":false,\"note\":null}");
  px_csv_field vals[PX_MAPPING_MAX_FIELDS];
  px_buf text, msg;
  px_buf_init(&text, 0);
  px_buf_init(&msg, 0);
  px_error err;
  PX_ASSERT_OK(px_mapping_json_record(m, obj, vals, &text, &err));
  PX_ASSERT_OK(px_mapping_row(m, vals, (size_t)m->nfields, &msg, &err));
  PX_ASSERT_STR_CONTAINS(msg.data, "\"userId\":\"17\"");
  PX_ASSERT_STR_CONTAINS(msg.data, "\"traits\":{\"city\":\"Leeds\",\"phone\":\"+442079460018\",\"age\":0.1,"
                                   "\"vip\":\"false\"}");
  cJSON_Delete(obj);
  /* A nested object where a value belongs rejects the record, naming it. */
  obj = cJSON_Parse("{\"id\":1,\"tel\":{\"home\":\"1\"}}");
  PX_ASSERT_STATUS(px_mapping_json_record(m, obj, vals, &text, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "tel");
  cJSON_Delete(obj);
  /* A phone with letters does not convert. */
  obj = cJSON_Parse("{\"id\":1,\"tel\":\"call me\"}");
  PX_ASSERT_OK(px_mapping_json_record(m, obj, vals, &text, &err));
  PX_ASSERT_STATUS(px_mapping_row(m, vals, (size_t)m->nfields, &msg, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "tel");
  cJSON_Delete(obj);
  px_buf_free(&text);
  px_buf_free(&msg);
  free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identify_row),
      cmocka_unit_test(test_track_row),
      cmocka_unit_test(test_mapping_errors_name_the_field),
      cmocka_unit_test(test_jsonl_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
