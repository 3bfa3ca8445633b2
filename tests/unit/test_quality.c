/* quality: column profiles of a file source. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "px_test.h"
#include "quality/quality.h"

static px_csv_field f(const char *s) { return (px_csv_field){s, strlen(s)}; }

static const cJSON *col(const cJSON *report, const char *name) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "columns")) {
    if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name")), name) == 0) return c;
  }
  fail_msg("no column %s", name);
  return NULL;
}

static double num(const cJSON *o, const char *k) { return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k)); }

static void test_profiles_columns(void **state) {
  (void)state;
  px_mapping *m = malloc(sizeof *m);
  px_error err;
  const char *mj = "{\"identifiers\":{\"email\":{\"column\":\"email\",\"std\":\"email\"}},"
                   "\"traits\":{\"age\":{\"column\":\"age\",\"type\":\"number\"}}}";
  PX_ASSERT_OK(px_mapping_parse(mj, strlen(mj), m, &err));
  px_csv_field cols[] = {f("name"), f("email"), f("age")};
  PX_ASSERT_OK(px_mapping_bind(m, cols, 3, &err));
  px_quality *q = px_quality_create(cols, 3, m, 0);
  const char *rows[][3] = {{"John Smith", "john@x.io", "42"}, {"Ann Lee", "bad-address", "x"},
                           {"John Smith", "", "7"},           {" ", "ann@x.io", ""},
                           {"Zoë Ö", "zoe@x.io", "101"}};
  for (int i = 0; i < 5; i++) {
    px_csv_field r[3] = {f(rows[i][0]), f(rows[i][1]), f(rows[i][2])};
    PX_ASSERT_OK(px_quality_add(q, r, 3));
  }
  px_quality_bad_record(q);
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_quality_json(q, &b));
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  PX_ASSERT_INT_EQ(num(j, "rows"), 5);
  PX_ASSERT_INT_EQ(num(j, "bad_records"), 1);
  const cJSON *name = col(j, "name");
  PX_ASSERT_INT_EQ(num(name, "filled"), 4); /* blanks are not a value */
  PX_ASSERT_INT_EQ(num(name, "distinct"), 3);
  const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(name, "top"), 0);
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(top, "value")), "John Smith");
  PX_ASSERT_INT_EQ(num(top, "count"), 2);
  const cJSON *pat = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(name, "patterns"), 0);
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pat, "pattern")), "Aaaa Aaaaa");
  PX_ASSERT_INT_EQ(num(pat, "count"), 2); /* John Smith twice (Ann Lee is Aaa Aaa) */
  const cJSON *email = col(j, "email"), *inv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(email, "invalid"), 0);
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inv, "rule")), "email");
  PX_ASSERT_INT_EQ(num(inv, "count"), 1);
  const cJSON *age = col(j, "age");
  inv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(age, "invalid"), 0);
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inv, "rule")), "number");
  PX_ASSERT_INT_EQ(num(inv, "count"), 1);
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(name, "invalid")), 0); /* not mapped */
  cJSON_Delete(j);
  px_buf_reset(&b);
  PX_ASSERT_OK(px_quality_text(q, &b));
  PX_ASSERT_STR_CONTAINS(b.data, "5 rows, 1 bad records");
  PX_ASSERT_STR_CONTAINS(b.data, "invalid (email) 1");
  px_buf_free(&b);
  px_quality_destroy(q);
  free(m);
}

/* Past the tracking limit, distinct is a lower bound and says so. */
static void test_distinct_cap(void **state) {
  (void)state;
  px_csv_field cols[] = {f("id")};
  px_quality *q = px_quality_create(cols, 1, NULL, 0);
  char v[32];
  for (int i = 0; i < PX_QUALITY_MAX_DISTINCT + 5000; i++) {
    snprintf(v, sizeof v, "id-%d", i);
    px_csv_field r = f(v);
    px_quality_add(q, &r, 1);
  }
  px_buf b;
  px_buf_init(&b, 0);
  px_quality_json(q, &b);
  PX_ASSERT_STR_CONTAINS(b.data, "\"distinct_capped\":true");
  px_buf_free(&b);
  px_quality_destroy(q);
}

/* Columns of two files sharing values (case aside) are found; small value
 * sets and unrelated columns are not. */
static void test_overlaps_between_files(void **state) {
  (void)state;
  px_csv_field ca[] = {f("cust_no"), f("flag")}, cb[] = {f("customer"), f("amount"), f("flag")};
  px_quality *a = px_quality_create(ca, 2, NULL, 1), *b = px_quality_create(cb, 3, NULL, 1);
  char v[32], w[32];
  for (int i = 0; i < 100; i++) {
    snprintf(v, sizeof v, "C%d", i);
    px_csv_field r[2] = {f(v), f(i % 2 ? "y" : "n")};
    px_quality_add(a, r, 2);
  }
  for (int i = 50; i < 250; i++) {
    snprintf(v, sizeof v, "c%d", i);
    snprintf(w, sizeof w, "%d", 1000 + i);
    px_csv_field r[3] = {f(v), f(w), f(i % 2 ? "y" : "n")};
    px_quality_add(b, r, 3);
  }
  const px_quality *qs[] = {a, b};
  const char *files[] = {"crm.csv", "pos.csv"};
  px_buf o;
  px_buf_init(&o, 0);
  PX_ASSERT_OK(px_quality_overlaps(qs, files, 2, 0, &o));
  cJSON *list = cJSON_Parse(o.data);
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(list), 1); /* the y/n flags share everything but are too few to say */
  const cJSON *x = cJSON_GetArrayItem(list, 0);
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(x, "a"), "column")), "cust_no");
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(x, "b"), "column")), "customer");
  PX_ASSERT_INT_EQ(num(x, "shared"), 50);
  PX_ASSERT_TRUE(num(x, "containment") == 0.5);
  PX_ASSERT_TRUE(num(x, "jaccard") == 0.2);
  cJSON_Delete(list);
  px_buf_reset(&o);
  PX_ASSERT_OK(px_quality_overlaps(qs, files, 2, 1, &o));
  PX_ASSERT_STR_EQ(o.data, "  crm.csv:cust_no ~ pos.csv:customer  50 shared, 50% of the smaller\n");
  px_buf_free(&o);
  px_quality_destroy(a);
  px_quality_destroy(b);
}

static const cJSON *item(const cJSON *o, const char *k, int i) {
  return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, k), i);
}
static const char *str(const cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k)); }

/* Records given value by value, with columns found on the way: nested
 * members by path, array items under [], numbers as JSON text; a record
 * with several values of one column fills it once; fill rates stay over all
 * records, those before the column appeared included. */
static void test_columns_found_on_the_way(void **state) {
  (void)state;
  px_quality *q = px_quality_create(NULL, 0, NULL, 0);
  px_quality_set_unit(q, "events");
  const char *docs[] = {
      "{\"email\":\"ann@x.io\",\"age\":42}",
      "{\"email\":\"bo@x.io\",\"address\":{\"city\":\"Leeds\"},\"vip\":true,\"n\":null,\"e\":{},\"a\":[]}",
      "{\"products\":[{\"sku\":\"A-1\",\"price\":19.99},{\"sku\":\"B-2\",\"price\":1e21}],\"tags\":[\"x\",\"x\",[\"deep\"]]}",
      "{\"email\":\"  \",\"vip\":false,\"age\":42.0}",
  };
  for (int i = 0; i < 4; i++) {
    cJSON *d = cJSON_Parse(docs[i]);
    px_quality_begin(q);
    PX_ASSERT_OK(px_quality_add_json(q, "traits", d));
    cJSON_Delete(d);
  }
  PX_ASSERT_INT_EQ(px_quality_column(q, "traits.email", 12), 0); /* found again, not added */
  PX_ASSERT_OK(px_quality_sort_columns(q, 0));
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_quality_json(q, &b));
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  PX_ASSERT_INT_EQ(num(j, "events"), 4);
  PX_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "columns_capped")));
  const char *names[] = {"traits.address.city", "traits.age", "traits.email", "traits.products[].price",
                         "traits.products[].sku", "traits.tags[]", "traits.tags[][]", "traits.vip"};
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "columns")), 8); /* null, {}, [] are no value */
  for (int i = 0; i < 8; i++) PX_ASSERT_STR_EQ(str(item(j, "columns", i), "name"), names[i]);
  const cJSON *email = col(j, "traits.email");
  PX_ASSERT_INT_EQ(num(email, "filled"), 2); /* the blank one is no value */
  PX_ASSERT_TRUE(num(email, "fill_rate") == 0.5);
  const cJSON *age = col(j, "traits.age");
  PX_ASSERT_INT_EQ(num(age, "distinct"), 1); /* 42 and 42.0 are the same number */
  PX_ASSERT_STR_EQ(str(item(age, "top", 0), "value"), "42");
  PX_ASSERT_INT_EQ(num(item(age, "top", 0), "count"), 2);
  const cJSON *sku = col(j, "traits.products[].sku");
  PX_ASSERT_INT_EQ(num(sku, "filled"), 1); /* one record, two values */
  PX_ASSERT_INT_EQ(num(sku, "distinct"), 2);
  PX_ASSERT_STR_EQ(str(item(sku, "patterns", 0), "pattern"), "A-9");
  PX_ASSERT_INT_EQ(num(item(sku, "patterns", 0), "count"), 2);
  const cJSON *price = col(j, "traits.products[].price");
  const char *p0 = str(item(price, "top", 0), "value"), *p1 = str(item(price, "top", 1), "value");
  PX_ASSERT_TRUE((!strcmp(p0, "19.99") && !strcmp(p1, "1e+21")) || (!strcmp(p0, "1e+21") && !strcmp(p1, "19.99")));
  const cJSON *tags = col(j, "traits.tags[]");
  PX_ASSERT_INT_EQ(num(item(tags, "top", 0), "count"), 2);
  PX_ASSERT_STR_EQ(str(item(col(j, "traits.tags[][]"), "top", 0), "value"), "deep");
  const cJSON *vip = col(j, "traits.vip");
  PX_ASSERT_INT_EQ(num(vip, "filled"), 2);
  PX_ASSERT_INT_EQ(num(vip, "distinct"), 2);
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(vip, "patterns")), 2); /* true, false */
  PX_ASSERT_STR_EQ(str(col(j, "traits.address.city"), "name"), "traits.address.city");
  PX_ASSERT_TRUE(num(col(j, "traits.address.city"), "fill_rate") == 0.25);
  cJSON_Delete(j);
  px_buf_reset(&b);
  PX_ASSERT_OK(px_quality_text(q, &b));
  PX_ASSERT_STR_CONTAINS(b.data, "4 events, 0 bad records\n\ntraits.address.city\n");
  px_buf_free(&b);
  px_quality_destroy(q);
}

/* Past PX_QUALITY_MAX_COLUMNS, new columns are refused and the report says so;
 * known ones still count. */
static void test_column_cap(void **state) {
  (void)state;
  px_quality *q = px_quality_create(NULL, 0, NULL, 0);
  char name[32];
  px_quality_begin(q);
  for (int i = 0; i < PX_QUALITY_MAX_COLUMNS + 10; i++) {
    int n = snprintf(name, sizeof name, "f%d", i);
    long c = px_quality_column(q, name, (size_t)n);
    PX_ASSERT_INT_EQ(c, i < PX_QUALITY_MAX_COLUMNS ? i : -1);
    if (c >= 0) px_quality_value(q, (size_t)c, "v", 1);
  }
  PX_ASSERT_INT_EQ(px_quality_column(q, "f7", 2), 7);
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_quality_json(q, &b));
  cJSON *j = cJSON_Parse(b.data);
  PX_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "columns_capped")));
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "columns")), PX_QUALITY_MAX_COLUMNS);
  PX_ASSERT_INT_EQ(num(col(j, "f255"), "filled"), 1);
  cJSON_Delete(j);
  px_buf_reset(&b);
  PX_ASSERT_OK(px_quality_text(q, &b));
  PX_ASSERT_STR_CONTAINS(b.data, "1 rows, 0 bad records\nmore than 256 fields: only the first 256 found are listed\n");
  px_buf_free(&b);
  px_quality_destroy(q);
}

/* Found columns and file columns meet in the overlaps, labelled as given. */
static void test_overlaps_with_found_columns(void **state) {
  (void)state;
  px_csv_field ca[] = {f("customer_no")};
  px_quality *a = px_quality_create(ca, 1, NULL, 1), *b = px_quality_create(NULL, 0, NULL, 1);
  char v[32];
  for (int i = 0; i < 30; i++) {
    snprintf(v, sizeof v, "CUST-%d", i);
    px_csv_field r = f(v);
    px_quality_add(a, &r, 1);
  }
  for (int i = 10; i < 50; i++) {
    px_quality_begin(b);
    int n = snprintf(v, sizeof v, "cust-%d", i);
    px_quality_value(b, (size_t)px_quality_column(b, "userId", 6), v, (size_t)n);
  }
  const px_quality *qs[] = {a, b};
  const char *labels[] = {"crm.csv", "source:web"};
  px_buf o;
  px_buf_init(&o, 0);
  PX_ASSERT_OK(px_quality_overlaps(qs, labels, 2, 1, &o));
  PX_ASSERT_STR_EQ(o.data, "  crm.csv:customer_no ~ source:web:userId  20 shared, 67% of the smaller\n");
  px_buf_free(&o);
  px_quality_destroy(a);
  px_quality_destroy(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_profiles_columns), cmocka_unit_test(test_distinct_cap),
                                     cmocka_unit_test(test_overlaps_between_files),
                                     cmocka_unit_test(test_columns_found_on_the_way), cmocka_unit_test(test_column_cap),
                                     cmocka_unit_test(test_overlaps_with_found_columns)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
