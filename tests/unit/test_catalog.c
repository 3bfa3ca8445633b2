/* catalog: product parsing and checking (errors naming the field), the
 * canonical form, merge patches, the availability flag, the product
 * mapping's rows, and the catalog in a real store. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "mapping/mapping.h"
#include "store_env.h"

#define F ((fixture *)*state)

/* Parses json (no path id) into a canonical string (malloc'd), failing the test otherwise. */
static char *canon(const char *json) {
  px_product p;
  px_product_init(&p);
  px_error err;
  px_error_clear(&err);
  px_status s = px_product_parse(json, strlen(json), NULL, 0, &p, &err);
  if (s != PX_OK) fail_msg("%s: %s (%s: %s)", json, px_status_str(s), err.field, err.reason);
  char *out = strdup(p.json.data);
  px_product_free(&p);
  return out;
}

static void expect_error(const char *json, px_status want, const char *field, const char *reason) {
  px_product p;
  px_product_init(&p);
  px_error err;
  px_error_clear(&err);
  px_status s = px_product_parse(json, strlen(json), NULL, 0, &p, &err);
  if (s != want) fail_msg("%s: got %s, want %s (%s: %s)", json, px_status_str(s), px_status_str(want), err.field, err.reason);
  if (strcmp(err.field, field)) fail_msg("%s: field \"%s\", want \"%s\" (%s)", json, err.field, field, err.reason);
  if (!strstr(err.reason, reason)) fail_msg("%s: reason \"%s\" lacks \"%s\"", json, err.reason, reason);
  PX_ASSERT_UINT_EQ(p.json.len, 0);
  px_product_free(&p);
}

static void test_errors_name_the_field(void **state) {
  (void)state;
  expect_error("[]", PX_INVALID, "", "a product is a JSON object");
  expect_error("{}", PX_INVALID, "id", "is required");
  expect_error("{\"id\":null}", PX_INVALID, "id", "is required");
  expect_error("{\"id\":7}", PX_INVALID, "id", "must be a string");
  expect_error("{\"id\":\"\"}", PX_INVALID, "id", "must not be empty");
  expect_error("{\"id\":\"a\\tb\"}", PX_INVALID, "id", "control characters");
  expect_error("{\"id\":\"a\\u0085b\"}", PX_INVALID, "id", "control characters"); /* C1 */
  expect_error("{\"id\":\"a\",\"colour\":\"red\"}", PX_INVALID, "colour", "unknown member");
  expect_error("{\"id\":\"a\",\"price\":1,\"price\":2}", PX_INVALID, "price", "appears twice");
  expect_error("{\"id\":\"a\",\"name\":\"\"}", PX_INVALID, "name", "must not be empty");
  expect_error("{\"id\":\"a\",\"name\":3}", PX_INVALID, "name", "must be a string");
  expect_error("{\"id\":\"a\",\"name\":\"x\\ny\"}", PX_INVALID, "name", "control characters");
  expect_error("{\"id\":\"a\",\"price\":-0.01}", PX_INVALID, "price", "from 0 to");
  expect_error("{\"id\":\"a\",\"price\":\"2.55\"}", PX_INVALID, "price", "must be a number");
  expect_error("{\"id\":\"a\",\"price\":1e16}", PX_INVALID, "price", "from 0 to");
  expect_error("{\"id\":\"a\",\"price\":1e999}", PX_INVALID, "price", "from 0 to");
  expect_error("{\"id\":\"a\",\"currency\":\"gbp\"}", PX_INVALID, "currency", "upper-case ISO 4217");
  expect_error("{\"id\":\"a\",\"currency\":\"GBPX\"}", PX_INVALID, "currency", "3-letter");
  expect_error("{\"id\":\"a\",\"stock\":\"sold\"}", PX_INVALID, "stock", "in_stock, out_of_stock, preorder");
  expect_error("{\"id\":\"a\",\"stock\":\"In Stock\"}", PX_INVALID, "stock", "must be one of");
  expect_error("{\"id\":\"a\",\"quantity\":1.5}", PX_INVALID, "quantity", "whole number");
  expect_error("{\"id\":\"a\",\"quantity\":-1}", PX_INVALID, "quantity", "whole number");
  expect_error("{\"id\":\"a\",\"quantity\":\"3\"}", PX_INVALID, "quantity", "whole number");
  expect_error("{\"id\":\"a\",\"quantity\":9007199254740992}", PX_INVALID, "quantity", "whole number");
  expect_error("{\"id\":\"a\",\"category\":7}", PX_INVALID, "category", "array of levels");
  expect_error("{\"id\":\"a\",\"category\":[\"Home\",\"\"]}", PX_INVALID, "category[1]", "must not be empty");
  expect_error("{\"id\":\"a\",\"category\":[\"Home\",3]}", PX_INVALID, "category[1]", "must be a string");
  expect_error("{\"id\":\"a\",\"category\":\"Home >  > Candles\"}", PX_INVALID, "category[1]", "must not be empty");
  expect_error("{\"id\":\"a\",\"attributes\":[1]}", PX_INVALID, "attributes", "must be an object");
  expect_error("{\"id\":\"a\",\"attributes\":{\"x\":{\"y\":1}}}", PX_INVALID, "attributes.x", "not an object");
  expect_error("{\"id\":\"a\",\"attributes\":{\"x\":[[1]]}}", PX_INVALID, "attributes.x[0]", "strings, numbers or booleans");
  expect_error("{\"id\":\"a\",\"attributes\":{\"x\":[1,null]}}", PX_INVALID, "attributes.x[1]", "strings, numbers");
  expect_error("{\"id\":\"a\",\"attributes\":{\"x\":1,\"x\":2}}", PX_INVALID, "attributes.x", "appears twice");
  expect_error("{\"id\":\"a\",\"attributes\":{\"\":1}}", PX_INVALID, "attributes", "must not be empty");
  expect_error("{\"id\":\"a\",\"attributes\":{\"x\":\"a\\u0001\"}}", PX_INVALID, "attributes.x", "control characters");
  /* The JSON itself. */
  expect_error("{\"id\":\"a\"", PX_BAD_JSON, "", "malformed JSON");
  expect_error("{\"id\":\"a\"} {}", PX_BAD_JSON, "", "malformed JSON at byte 11");
  expect_error("{\"id\":\"a\\u0000b\"}", PX_BAD_JSON, "", "\\u0000 (NUL) in a string at byte 8: not allowed");
  expect_error("{\"id\":\"\xff\"}", PX_BAD_UTF8, "", "invalid UTF-8");
}

static void test_limits(void **state) {
  (void)state;
  char *big = malloc(PX_PRODUCT_INPUT_MAX + 64);
  assert_non_null(big);
  /* An id of the maximum length passes; one byte more does not. */
  char json[600];
  char id[PX_PRODUCT_ID_MAX + 2];
  memset(id, 'x', sizeof id);
  id[PX_PRODUCT_ID_MAX] = 0;
  snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
  free(canon(json));
  id[PX_PRODUCT_ID_MAX] = 'x', id[PX_PRODUCT_ID_MAX + 1] = 0;
  snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
  expect_error(json, PX_INVALID, "id", "at most 256 bytes");
  /* 16 levels pass, 17 do not. */
  px_buf b;
  px_buf_init(&b, 0);
  px_buf_puts(&b, "{\"id\":\"c\",\"category\":[\"L\"");
  for (int i = 1; i < PX_PRODUCT_CATEGORY_DEPTH; i++) px_buf_puts(&b, ",\"L\"");
  px_buf_puts(&b, "]}");
  free(canon(b.data));
  b.len -= 2;
  px_buf_puts(&b, ",\"L\"]}");
  expect_error(b.data, PX_INVALID, "category", "at most 16 levels");
  /* 64 attributes pass, 65 do not (nulls do not count). */
  px_buf_reset(&b);
  px_buf_puts(&b, "{\"id\":\"a\",\"attributes\":{\"n\":null");
  for (int i = 0; i < PX_PRODUCT_ATTRS_MAX; i++) px_buf_printf(&b, ",\"a%02d\":%d", i, i);
  px_buf_puts(&b, "}}");
  free(canon(b.data));
  b.len -= 2;
  px_buf_puts(&b, ",\"zz\":1}}");
  expect_error(b.data, PX_INVALID, "attributes", "at most 64 attributes");
  /* An array of 65 values. */
  px_buf_reset(&b);
  px_buf_puts(&b, "{\"id\":\"a\",\"attributes\":{\"sizes\":[0");
  for (int i = 1; i <= PX_PRODUCT_ATTR_ARRAY_MAX; i++) px_buf_printf(&b, ",%d", i);
  px_buf_puts(&b, "]}}");
  expect_error(b.data, PX_INVALID, "attributes.sizes", "at most 64 values");
  /* A string value of 1025 bytes. */
  memset(big, 'v', 1025);
  big[1025] = 0;
  px_buf_reset(&b);
  px_buf_printf(&b, "{\"id\":\"a\",\"attributes\":{\"text\":\"%s\"}}", big);
  expect_error(b.data, PX_INVALID, "attributes.text", "at most 1024 bytes");
  /* The canonical form past 16384 bytes: 20 attributes of 1000 bytes. */
  memset(big, 'v', 1000);
  big[1000] = 0;
  px_buf_reset(&b);
  px_buf_puts(&b, "{\"id\":\"a\",\"attributes\":{");
  for (int i = 0; i < 20; i++) px_buf_printf(&b, "%s\"k%d\":\"%s\"", i ? "," : "", i, big);
  px_buf_puts(&b, "}}");
  expect_error(b.data, PX_INVALID, "", "larger than 16384 bytes as canonical JSON");
  /* The input past 64 KiB. */
  memset(big, ' ', PX_PRODUCT_INPUT_MAX + 1);
  memcpy(big, "{\"id\":\"a\"}", 10);
  big[PX_PRODUCT_INPUT_MAX + 1] = 0;
  expect_error(big, PX_TOO_LARGE, "", "larger than 65536 bytes");
  px_buf_free(&b);
  free(big);
}

static void test_canonical_form(void **state) {
  (void)state;
  /* Members in the canonical order, attributes by name, nulls and empty
   * collections left out, category strings split, numbers shortest. */
  char *c = canon("{\"attributes\":{\"size\":[\"S\",\"M\"],\"colour\":\"white\",\"gone\":null,\"new\":true},"
                  "\"quantity\":12.0,\"stock\":\"in_stock\",\"currency\":\"GBP\",\"price\":2.550,"
                  "\"category\":\" Home > Candles \",\"name\":\"WHITE HANGING HEART T-LIGHT HOLDER\","
                  "\"id\":\"85123A\",\"updated_at\":\"2020-01-01T00:00:00.000Z\"}");
  PX_ASSERT_STR_EQ(c, "{\"id\":\"85123A\",\"name\":\"WHITE HANGING HEART T-LIGHT HOLDER\",\"category\":[\"Home\","
                      "\"Candles\"],\"price\":2.55,\"currency\":\"GBP\",\"stock\":\"in_stock\",\"quantity\":12,"
                      "\"attributes\":{\"colour\":\"white\",\"new\":true,\"size\":[\"S\",\"M\"]}}");
  /* The canonical form reads back as itself. */
  char *again = canon(c);
  PX_ASSERT_STR_EQ(again, c);
  free(again);
  free(c);
  c = canon("{\"id\":\"z\",\"category\":[],\"attributes\":{},\"price\":-0.0,\"name\":null,\"stock\":null}");
  PX_ASSERT_STR_EQ(c, "{\"id\":\"z\",\"price\":0,\"stock\":\"in_stock\"}");
  free(c);
  c = canon("{\"id\":\"x/y \\u00e9\",\"category\":[\"A > B\"],\"price\":1e15,\"quantity\":9007199254740991}");
  PX_ASSERT_STR_EQ(c, "{\"id\":\"x/y \xc3\xa9\",\"category\":[\"A > B\"],\"price\":1e+15,\"stock\":\"in_stock\","
                      "\"quantity\":9007199254740991}");
  again = canon(c);
  PX_ASSERT_STR_EQ(again, c);
  free(again);
  free(c);
  /* Tab and line breaks are allowed in attribute strings. */
  c = canon("{\"id\":\"t\",\"attributes\":{\"care\":\"wash\\n\\tcold\"}}");
  PX_ASSERT_STR_CONTAINS(c, "\"care\":\"wash\\n\\tcold\"");
  free(c);
}

static void test_path_id(void **state) {
  (void)state;
  px_product p;
  px_product_init(&p);
  px_error err;
  px_error_clear(&err);
  /* No id in the body: the path's. */
  PX_ASSERT_OK(px_product_parse("{\"price\":1}", 11, "a/b", 3, &p, &err));
  PX_ASSERT_STR_EQ(p.id, "a/b");
  PX_ASSERT_UINT_EQ(p.idn, 3);
  PX_ASSERT_STR_EQ(p.json.data, "{\"id\":\"a/b\",\"price\":1,\"stock\":\"in_stock\"}");
  /* The same id in both: fine; another: refused. */
  PX_ASSERT_OK(px_product_parse("{\"id\":\"a/b\"}", 12, "a/b", 3, &p, &err));
  PX_ASSERT_STATUS(px_product_parse("{\"id\":\"a\"}", 10, "a/b", 3, &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "id");
  PX_ASSERT_STR_CONTAINS(err.reason, "does not match the id in the path");
  PX_ASSERT_STATUS(px_product_parse("{}", 2, "a\x01", 2, &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "id");
  /* The id checks alone. */
  PX_ASSERT_OK(px_product_id_check("85123A", 6, NULL));
  PX_ASSERT_STATUS(px_product_id_check("", 0, &err), PX_INVALID);
  PX_ASSERT_STATUS(px_product_id_check("a\x7f", 2, &err), PX_INVALID);
  PX_ASSERT_STATUS(px_product_id_check("\xc3\x28", 2, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "UTF-8");
  px_product_free(&p);
}

static void test_json_reader(void **state) {
  (void)state;
  cJSON *j;
  px_error err;
  px_error_clear(&err);
  /* An escaped backslash followed by "u0000" is text, not a NUL. */
  const char *ok = "{\"id\":\"a\\\\u0000\"}  \n";
  PX_ASSERT_OK(px_product_json(ok, strlen(ok), 100, &j, &err));
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")), "a\\u0000");
  cJSON_Delete(j);
  PX_ASSERT_STATUS(px_product_json("{\"a\":1}x", 8, 100, &j, &err), PX_BAD_JSON);
  PX_ASSERT_INT_EQ(err.offset, 7);
  PX_ASSERT_NULL(j);
  PX_ASSERT_STATUS(px_product_json("{\"a\":}", 6, 100, &j, &err), PX_BAD_JSON);
  PX_ASSERT_STATUS(px_product_json("{\"a\":\"\0\"}", 9, 100, &j, &err), PX_BAD_JSON);
  PX_ASSERT_STR_EQ(err.reason, "NUL byte at byte 6");
  PX_ASSERT_INT_EQ(err.offset, 6);
  PX_ASSERT_STATUS(px_product_json("{\"a\":\"\xc3\"}", 9, 100, &j, &err), PX_BAD_UTF8);
  PX_ASSERT_STR_EQ(err.reason, "invalid UTF-8 at byte 6");
  PX_ASSERT_STATUS(px_product_json("{}", 2, 1, &j, &err), PX_TOO_LARGE);
  PX_ASSERT_STATUS(px_product_json("", 0, 1, &j, &err), PX_BAD_JSON);
}

/* The stored form: canonical JSON of a patch applied to base. */
static px_status patched(const char *base, const char *patch, px_product *p, px_error *err) {
  char *b = canon(base);
  px_status s = px_product_merge(b, strlen(b), patch, strlen(patch), p, err);
  free(b);
  return s;
}

static void test_merge_patch(void **state) {
  (void)state;
  const char *base = "{\"id\":\"p\",\"name\":\"Mug\",\"category\":[\"Home\",\"Kitchen\"],\"price\":4,\"quantity\":3,"
                     "\"attributes\":{\"colour\":\"blue\",\"size\":\"L\"}}";
  px_product p;
  px_product_init(&p);
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(patched(base, "{\"stock\":\"out_of_stock\"}", &p, &err));
  PX_ASSERT_STR_EQ(p.json.data, "{\"id\":\"p\",\"name\":\"Mug\",\"category\":[\"Home\",\"Kitchen\"],\"price\":4,"
                                "\"stock\":\"out_of_stock\",\"quantity\":3,\"attributes\":{\"colour\":\"blue\","
                                "\"size\":\"L\"}}");
  PX_ASSERT_INT_EQ(p.flags, 0);
  /* null removes; objects merge member by member; arrays are replaced;
   * the id may be repeated; updated_at is ignored. */
  PX_ASSERT_OK(patched(base,
                       "{\"id\":\"p\",\"name\":null,\"category\":[\"Gifts\"],\"attributes\":{\"size\":null,"
                       "\"material\":\"stoneware\"},\"updated_at\":\"x\"}",
                       &p, &err));
  PX_ASSERT_STR_EQ(p.json.data, "{\"id\":\"p\",\"category\":[\"Gifts\"],\"price\":4,\"stock\":\"in_stock\","
                                "\"quantity\":3,\"attributes\":{\"colour\":\"blue\",\"material\":\"stoneware\"}}");
  PX_ASSERT_INT_EQ(p.flags, PX_PRODUCT_AVAILABLE);
  /* Removing every attribute leaves none. */
  PX_ASSERT_OK(patched(base, "{\"attributes\":null,\"quantity\":0}", &p, &err));
  PX_ASSERT_STR_EQ(p.json.data, "{\"id\":\"p\",\"name\":\"Mug\",\"category\":[\"Home\",\"Kitchen\"],\"price\":4,"
                                "\"stock\":\"in_stock\",\"quantity\":0}");
  PX_ASSERT_INT_EQ(p.flags, 0);
  /* An object onto a scalar member: the result is checked like any product. */
  PX_ASSERT_STATUS(patched(base, "{\"price\":{\"amount\":3}}", &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "price");
  PX_ASSERT_STATUS(patched(base, "{\"attributes\":{\"colour\":{\"r\":1}}}", &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "attributes.colour");
  PX_ASSERT_STATUS(patched(base, "{\"stock\":\"nope\"}", &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "stock");
  PX_ASSERT_STATUS(patched(base, "{\"colour\":\"red\"}", &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "colour");
  /* The id cannot change, nor be removed. */
  PX_ASSERT_STATUS(patched(base, "{\"id\":\"q\"}", &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "id");
  PX_ASSERT_STATUS(patched(base, "{\"id\":null}", &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "id");
  /* Not an object, a repeated member, not JSON. */
  PX_ASSERT_STATUS(patched(base, "[]", &p, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "a merge patch of a product is a JSON object");
  PX_ASSERT_STATUS(patched(base, "{\"attributes\":{\"a\":1,\"a\":null}}", &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "attributes.a");
  PX_ASSERT_STATUS(patched(base, "{\"price\":", &p, &err), PX_BAD_JSON);
  /* An empty patch changes nothing. */
  PX_ASSERT_OK(patched(base, "{}", &p, &err));
  char *c = canon(base);
  PX_ASSERT_STR_EQ(p.json.data, c);
  free(c);
  px_product_free(&p);
}

static void test_availability(void **state) {
  (void)state;
  static const struct {
    const char *stock;
    int available;
  } states[] = {{"in_stock", 1}, {"out_of_stock", 0}, {"preorder", 1}, {"backorder", 1}, {"discontinued", 0}};
  px_product p;
  px_product_init(&p);
  for (size_t i = 0; i < sizeof states / sizeof *states; i++) {
    char json[128];
    px_stock st;
    PX_ASSERT_OK(px_stock_parse(states[i].stock, &st));
    PX_ASSERT_STR_EQ(px_stock_name(st), states[i].stock);
    const char *qty[] = {"", ",\"quantity\":null", ",\"quantity\":5", ",\"quantity\":0"};
    for (int q = 0; q < 4; q++) {
      snprintf(json, sizeof json, "{\"id\":\"a\",\"stock\":\"%s\"%s}", states[i].stock, qty[q]);
      PX_ASSERT_OK(px_product_parse(json, strlen(json), NULL, 0, &p, NULL));
      int want = q == 3 ? 0 : states[i].available;
      if ((int)p.flags != (want ? PX_PRODUCT_AVAILABLE : 0)) fail_msg("%s: flags %u, want available %d", json, p.flags, want);
    }
  }
  /* No stock given: in_stock. */
  PX_ASSERT_OK(px_product_parse("{\"id\":\"a\"}", 10, NULL, 0, &p, NULL));
  PX_ASSERT_INT_EQ(p.flags, PX_PRODUCT_AVAILABLE);
  PX_ASSERT_NULL(px_stock_name((px_stock)99));
  px_stock st;
  PX_ASSERT_STATUS(px_stock_parse("IN_STOCK", &st), PX_INVALID);
  PX_ASSERT_STATUS(px_stock_parse(NULL, &st), PX_INVALID);
  px_product_free(&p);
}

/* ---- the store ---- */

static void put(fixture *f, const char *json, int64_t now, px_catalog_outcome want) {
  px_error err;
  px_error_clear(&err);
  px_catalog_outcome o = 0;
  px_status s = px_catalog_put(f->txn, f->st, json, strlen(json), now, &err, &o);
  if (s != PX_OK) fail_msg("%s: %s (%s: %s)", json, px_status_str(s), err.field, err.reason);
  if (o != want) fail_msg("%s: outcome %d, want %d", json, (int)o, (int)want);
}

typedef struct walk {
  char ids[16][64];
  unsigned flags[16];
  int n;
  int stop_at; /* stop (PX_EXISTS) at this many, or 0 */
} walk;

static px_status walk_cb(void *arg, const char *id, size_t idn, unsigned flags, const char *json, size_t jn) {
  walk *w = arg;
  if (w->n == 16 || idn >= 64) return PX_TOO_LARGE;
  /* The JSON is the product's own, with its id. */
  if (jn < idn + 8 || memcmp(json, "{\"id\":\"", 7) != 0) return PX_STORE;
  memcpy(w->ids[w->n], id, idn);
  w->ids[w->n][idn] = 0;
  w->flags[w->n++] = flags;
  return w->stop_at && w->n == w->stop_at ? PX_EXISTS : PX_OK;
}

static void test_store_put_get_each_delete(void **state) {
  fixture *f = F;
  int64_t t1 = 1796450400000; /* 2026-12-05T06:00:00.000Z */
  uint64_t count = 9;
  PX_ASSERT_OK(px_catalog_count(f->txn, f->st, &count));
  PX_ASSERT_UINT_EQ(count, 0);
  put(f, "{\"id\":\"85123A\",\"name\":\"HEART\",\"price\":2.55,\"quantity\":12}", t1, PX_CATALOG_CREATED);
  put(f, "{\"id\":\"71053\",\"stock\":\"out_of_stock\"}", t1, PX_CATALOG_CREATED);
  put(f, "{\"id\":\"22752\",\"stock\":\"preorder\",\"quantity\":0}", t1, PX_CATALOG_CREATED);
  PX_ASSERT_OK(px_catalog_count(f->txn, f->st, &count));
  PX_ASSERT_UINT_EQ(count, 3);

  MDB_val v;
  PX_ASSERT_OK(px_catalog_get(f->txn, f->st, "85123A", 6, &v));
  const char *want = "{\"id\":\"85123A\",\"name\":\"HEART\",\"price\":2.55,\"stock\":\"in_stock\",\"quantity\":12,"
                     "\"updated_at\":\"2026-12-05T06:00:00.000Z\"}";
  PX_ASSERT_UINT_EQ(v.mv_size, strlen(want));
  assert_memory_equal(v.mv_data, want, v.mv_size);
  /* The raw record: the flags byte, then the JSON. */
  MDB_val raw;
  PX_ASSERT_OK(px_store_get(f->txn, f->st, PX_DB_PRODUCTS, "85123A", 6, &raw));
  PX_ASSERT_INT_EQ(*(unsigned char *)raw.mv_data, PX_PRODUCT_AVAILABLE);
  assert_memory_equal((char *)raw.mv_data + 1, want, raw.mv_size - 1);

  int avail = -1;
  PX_ASSERT_OK(px_catalog_available(f->txn, f->st, "85123A", 6, &avail));
  PX_ASSERT_INT_EQ(avail, 1);
  PX_ASSERT_OK(px_catalog_available(f->txn, f->st, "71053", 5, &avail));
  PX_ASSERT_INT_EQ(avail, 0);
  PX_ASSERT_OK(px_catalog_available(f->txn, f->st, "22752", 5, &avail));
  PX_ASSERT_INT_EQ(avail, 0);
  PX_ASSERT_STATUS(px_catalog_available(f->txn, f->st, "nope", 4, &avail), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_catalog_get(f->txn, f->st, "", 0, &v), PX_NOT_FOUND);

  /* The same product again, later: unchanged, its updated_at kept. */
  put(f, "{\"quantity\":12,\"price\":2.55,\"name\":\"HEART\",\"id\":\"85123A\",\"updated_at\":\"1999-01-01\"}",
      t1 + 5000, PX_CATALOG_UNCHANGED);
  PX_ASSERT_OK(px_catalog_get(f->txn, f->st, "85123A", 6, &v));
  assert_memory_equal(v.mv_data, want, v.mv_size);
  /* Changed: replaced, with the new time. */
  put(f, "{\"id\":\"85123A\",\"name\":\"HEART\",\"price\":2.65,\"quantity\":12}", t1 + 6000, PX_CATALOG_REPLACED);
  PX_ASSERT_OK(px_catalog_get(f->txn, f->st, "85123A", 6, &v));
  char *text = strndup(v.mv_data, v.mv_size);
  PX_ASSERT_STR_CONTAINS(text, "\"price\":2.65,");
  PX_ASSERT_STR_CONTAINS(text, "\"updated_at\":\"2026-12-05T06:00:06.000Z\"");
  free(text);

  /* Each in id order; a non-OK return stops and is returned. */
  walk w = {0};
  PX_ASSERT_OK(px_catalog_each(f->txn, f->st, walk_cb, &w));
  PX_ASSERT_INT_EQ(w.n, 3);
  PX_ASSERT_STR_EQ(w.ids[0], "22752");
  PX_ASSERT_STR_EQ(w.ids[1], "71053");
  PX_ASSERT_STR_EQ(w.ids[2], "85123A");
  PX_ASSERT_INT_EQ(w.flags[0], 0);
  PX_ASSERT_INT_EQ(w.flags[2], PX_PRODUCT_AVAILABLE);
  walk stop = {.stop_at = 2};
  PX_ASSERT_STATUS(px_catalog_each(f->txn, f->st, walk_cb, &stop), PX_EXISTS);
  PX_ASSERT_INT_EQ(stop.n, 2);

  /* Pages: after an id (present or not), limit, more. */
  int more = -1;
  walk p1 = {0};
  PX_ASSERT_OK(px_catalog_page(f->txn, f->st, NULL, 0, 2, walk_cb, &p1, &more));
  PX_ASSERT_INT_EQ(p1.n, 2);
  PX_ASSERT_INT_EQ(more, 1);
  walk p2 = {0};
  PX_ASSERT_OK(px_catalog_page(f->txn, f->st, "71053", 5, 2, walk_cb, &p2, &more));
  PX_ASSERT_INT_EQ(p2.n, 1);
  PX_ASSERT_STR_EQ(p2.ids[0], "85123A");
  PX_ASSERT_INT_EQ(more, 0);
  walk p3 = {0};
  PX_ASSERT_OK(px_catalog_page(f->txn, f->st, "3", 1, 1, walk_cb, &p3, &more)); /* between ids */
  PX_ASSERT_STR_EQ(p3.ids[0], "71053");
  PX_ASSERT_INT_EQ(more, 1);
  walk p4 = {0};
  PX_ASSERT_OK(px_catalog_page(f->txn, f->st, "9", 1, 5, walk_cb, &p4, &more)); /* past the last */
  PX_ASSERT_INT_EQ(p4.n, 0);
  PX_ASSERT_INT_EQ(more, 0);

  /* Patch: stock changes take effect at once. */
  px_error err;
  px_error_clear(&err);
  px_catalog_outcome o;
  px_buf out;
  px_buf_init(&out, 0);
  PX_ASSERT_OK(px_catalog_patch(f->txn, f->st, "85123A", 6, "{\"quantity\":0}", 14, t1 + 7000, &err, &o, &out));
  PX_ASSERT_INT_EQ(o, PX_CATALOG_REPLACED);
  PX_ASSERT_STR_CONTAINS(out.data, "\"quantity\":0,\"updated_at\":\"2026-12-05T06:00:07.000Z\"}");
  PX_ASSERT_OK(px_catalog_available(f->txn, f->st, "85123A", 6, &avail));
  PX_ASSERT_INT_EQ(avail, 0);
  px_buf_reset(&out);
  PX_ASSERT_OK(px_catalog_patch(f->txn, f->st, "85123A", 6, "{\"quantity\":0}", 14, t1 + 8000, &err, &o, &out));
  PX_ASSERT_INT_EQ(o, PX_CATALOG_UNCHANGED);
  PX_ASSERT_STR_CONTAINS(out.data, "06:00:07.000Z");
  PX_ASSERT_STATUS(px_catalog_patch(f->txn, f->st, "nope", 4, "{}", 2, t1, &err, &o, NULL), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_catalog_patch(f->txn, f->st, "85123A", 6, "{\"price\":-1}", 12, t1, &err, &o, NULL), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "price");
  px_buf_free(&out);

  /* A bad product is refused and nothing is stored. */
  PX_ASSERT_STATUS(px_catalog_put(f->txn, f->st, "{\"id\":\"x\",\"price\":\"1\"}", 22, t1, &err, &o), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "price");
  PX_ASSERT_STATUS(px_catalog_get(f->txn, f->st, "x", 1, &v), PX_NOT_FOUND);

  /* Delete. */
  PX_ASSERT_OK(px_catalog_del(f->txn, f->st, "71053", 5));
  PX_ASSERT_STATUS(px_catalog_del(f->txn, f->st, "71053", 5), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_catalog_get(f->txn, f->st, "71053", 5, &v), PX_NOT_FOUND);
  PX_ASSERT_OK(px_catalog_count(f->txn, f->st, &count));
  PX_ASSERT_UINT_EQ(count, 2);
}

/* Products are in the log: committed, they survive a reopen, and a rebuild
 * (emptying the derived state) leaves them alone. */
static void test_durable_and_not_derived(void **state) {
  fixture *f = F;
  put(f, "{\"id\":\"keep\",\"stock\":\"backorder\"}", 1796450400000, PX_CATALOG_CREATED);
  PX_ASSERT_OK(px_store_commit(f->txn));
  f->txn = NULL;
  px_store_close(f->st);
  px_store_opts o = {.map_size = (size_t)256 << 20};
  PX_ASSERT_OK(px_store_open(f->dir, &o, &f->st));
  PX_ASSERT_OK(px_store_begin(f->st, PX_TXN_WRITE, &f->txn));
  PX_ASSERT_OK(px_store_clear_derived(f->txn, f->st));
  int avail = 0;
  PX_ASSERT_OK(px_catalog_available(f->txn, f->st, "keep", 4, &avail));
  PX_ASSERT_INT_EQ(avail, 1);
  /* The log's lock alone is enough to write. */
  px_store_abort(f->txn);
  PX_ASSERT_OK(px_store_begin(f->st, PX_TXN_LOG, &f->txn));
  put(f, "{\"id\":\"keep\",\"stock\":\"discontinued\"}", 1796450401000, PX_CATALOG_REPLACED);
  PX_ASSERT_OK(px_catalog_available(f->txn, f->st, "keep", 4, &avail));
  PX_ASSERT_INT_EQ(avail, 0);
}

/* ---- the product mapping ---- */

static px_status load(const char *json, px_mapping *m, px_error *err) {
  px_error_clear(err);
  return px_mapping_parse(json, strlen(json), m, err);
}

static void expect_mapping_error(const char *json, const char *field, const char *reason) {
  px_mapping *m = malloc(sizeof *m);
  px_error err;
  px_status s = load(json, m, &err);
  if (s != PX_INVALID) fail_msg("%s: %s, want invalid", json, px_status_str(s));
  if (strcmp(err.field, field)) fail_msg("%s: field \"%s\", want \"%s\" (%s)", json, err.field, field, err.reason);
  if (!strstr(err.reason, reason)) fail_msg("%s: reason \"%s\" lacks \"%s\"", json, err.reason, reason);
  free(m);
}

static void test_mapping_errors(void **state) {
  (void)state;
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"name\":\"N\"}}", "product.id", "is required");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"colour\":\"C\"}}", "product.colour",
                       "unknown (id, name, category");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"id\":\"J\"}}", "product.id", "appears twice");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\"},\"traits\":{\"a\":\"A\"}}", "traits",
                       "only product and attributes");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\"},\"identifiers\":{\"user_id\":\"U\"}}",
                       "identifiers", "only product and attributes");
  expect_mapping_error("{\"type\":\"product\",\"event\":\"E\",\"product\":{\"id\":\"I\"}}", "event", "no event");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"price\":{\"column\":\"P\",\"type\":\"string\"}}}",
                       "product.price", "is a number");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"name\":{\"column\":\"N\",\"type\":\"number\"}}}",
                       "product.name", "is text");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"name\":{\"column\":\"N\",\"separator\":\"/\"}}}",
                       "product.name.separator", "only product.category");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"category\":{\"column\":\"C\",\"separator\":\"\"}}}",
                       "product.category.separator", "must be 1-15 bytes");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"currency\":{\"value\":\"GBP\",\"column\":\"C\"}}}",
                       "product.currency", "a column or a value, not both");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"currency\":{\"value\":\"pounds\"}}}",
                       "product.currency.value", "not a 3-letter currency code");
  expect_mapping_error("{\"type\":\"product\",\"product\":{\"id\":\"I\",\"stock\":{\"value\":\"sold\"}}}",
                       "product.stock.value", "not a stock state");
  expect_mapping_error("{\"identifiers\":{\"user_id\":\"U\"},\"product\":{\"id\":\"I\"}}", "product",
                       "only a product mapping");
  expect_mapping_error("{\"identifiers\":{\"user_id\":\"U\"},\"traits\":{\"t\":{\"value\":\"x\"}}}", "traits.t.value",
                       "only the fields of a product mapping");
  expect_mapping_error("{\"type\":\"sku\"}", "type", "identify, track or product");
}

/* One CSV row through the mapping into a product: px_product_parse's status; out gets the product's JSON or the error. */
static px_status map_row(px_mapping *m, const char *const *cols, const char *const *vals, size_t n, px_buf *row,
                         px_product *p, px_error *err) {
  px_csv_field c[16], v[16];
  for (size_t i = 0; i < n; i++) {
    c[i] = (px_csv_field){cols[i], strlen(cols[i])};
    v[i] = (px_csv_field){vals[i], strlen(vals[i])};
  }
  PX_ASSERT_OK(px_mapping_bind(m, c, n, err));
  px_buf_reset(row);
  px_status s = px_mapping_row(m, v, n, row, err);
  if (s != PX_OK) return s;
  return px_product_parse(row->data, row->len, NULL, 0, p, err);
}

static void test_mapping_rows(void **state) {
  (void)state;
  px_mapping *m = malloc(sizeof *m);
  px_error err;
  PX_ASSERT_OK(load("{\"type\":\"product\",\"product\":{\"id\":\"StockCode\",\"name\":\"Description\","
                    "\"category\":{\"column\":\"Category\",\"separator\":\" > \"},\"price\":{\"column\":\"UnitPrice\","
                    "\"type\":\"number\"},\"currency\":{\"value\":\"gbp\"},\"stock\":\"Stock\",\"quantity\":\"Qty\"},"
                    "\"attributes\":{\"colour\":\"Colour\",\"weight\":{\"column\":\"Weight\",\"type\":\"number\"},"
                    "\"gift\":{\"column\":\"Gift\",\"type\":\"boolean\"},\"brand\":{\"value\":\"Acme\"}}}",
                    m, &err));
  PX_ASSERT_INT_EQ(m->product, 1);
  static const char *const cols[] = {"StockCode", "Description", "Category", "UnitPrice", "Stock", "Qty",
                                     "Colour",    "Weight",      "Gift"};
  px_buf row;
  px_buf_init(&row, 0);
  px_product p;
  px_product_init(&p);
  const char *r1[] = {" 85123A ", "WHITE HEART", "Home >Candles", "2.550", "In Stock", "12", "white", ".3", "yes"};
  PX_ASSERT_OK(map_row(m, cols, r1, 9, &row, &p, &err));
  PX_ASSERT_STR_EQ(row.data, "{\"id\":\"85123A\",\"name\":\"WHITE HEART\",\"category\":[\"Home >Candles\"],\"price\":2.55,"
                             "\"currency\":\"GBP\",\"stock\":\"in_stock\",\"quantity\":12,\"attributes\":{\"colour\":"
                             "\"white\",\"weight\":0.3,\"gift\":true,\"brand\":\"Acme\"}}");
  PX_ASSERT_STR_EQ(p.json.data, "{\"id\":\"85123A\",\"name\":\"WHITE HEART\",\"category\":[\"Home >Candles\"],"
                                "\"price\":2.55,\"currency\":\"GBP\",\"stock\":\"in_stock\",\"quantity\":12,"
                                "\"attributes\":{\"brand\":\"Acme\",\"colour\":\"white\",\"gift\":true,\"weight\":0.3}}");
  /* Empty values are left out; the separator splits; stock words normalized. */
  const char *r2[] = {"71053", "", "Home > Lighting > Lanterns", "", "OUT-OF-STOCK", "", "", "", ""};
  PX_ASSERT_OK(map_row(m, cols, r2, 9, &row, &p, &err));
  PX_ASSERT_STR_EQ(p.json.data, "{\"id\":\"71053\",\"category\":[\"Home\",\"Lighting\",\"Lanterns\"],\"currency\":"
                                "\"GBP\",\"stock\":\"out_of_stock\",\"attributes\":{\"brand\":\"Acme\"}}");
  PX_ASSERT_INT_EQ(p.flags, 0);
  /* Rejected rows name the column. */
  static const struct {
    const char *vals[9];
    const char *field, *reason;
  } bad[] = {
      {{"", "x", "", "", "", "", "", "", ""}, "StockCode", "is empty but required"},
      {{"a", "x", "", "£3", "", "", "", "", ""}, "UnitPrice", "not a number"},
      {{"a", "x", "", "-3", "", "", "", "", ""}, "UnitPrice", "must not be negative"},
      {{"a", "x", "", "", "", "2.5", "", "", ""}, "Qty", "not a whole number"},
      {{"a", "x", "", "", "sold", "", "", "", ""}, "Stock", "not a stock state"},
      {{"a", "x", "Home >  > X", "", "", "", "", "", ""}, "Category", "an empty level"},
      {{"a", "x", "", "", "", "", "", "heavy", ""}, "Weight", "not a number"},
      {{"a", "x", "", "", "", "", "", "", "maybe"}, "Gift", "not true or false"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    px_error_clear(&err);
    px_status s = map_row(m, cols, bad[i].vals, 9, &row, &p, &err);
    if (s != PX_INVALID || strcmp(err.field, bad[i].field) || !strstr(err.reason, bad[i].reason))
      fail_msg("bad row %zu: %s %s: %s", i, px_status_str(s), err.field, err.reason);
  }
  /* An error the catalog finds (a name with a line break) is reported on the column. */
  const char *r3[] = {"a", "two\nlines", "", "", "", "", "", "", ""};
  PX_ASSERT_STATUS(map_row(m, cols, r3, 9, &row, &p, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "name");
  PX_ASSERT_STR_EQ(px_mapping_product_column(m, err.field), "Description");
  PX_ASSERT_STR_EQ(px_mapping_product_column(m, "category[2]"), "Category");
  PX_ASSERT_STR_EQ(px_mapping_product_column(m, "attributes.weight"), "Weight");
  PX_ASSERT_STR_EQ(px_mapping_product_column(m, "attributes.brand"), "brand");
  PX_ASSERT_STR_EQ(px_mapping_product_column(m, "attributes.other[1]"), "attributes.other[1]"); /* no such field */
  PX_ASSERT_STR_EQ(px_mapping_product_column(m, ""), "");
  /* Stock as a boolean; a bare column name for category (one level). */
  PX_ASSERT_OK(load("{\"type\":\"product\",\"format\":\"jsonl\",\"product\":{\"id\":\"sku\",\"category\":\"cat\","
                    "\"stock\":{\"column\":\"available\",\"type\":\"boolean\"}}}",
                    m, &err));
  cJSON *obj = cJSON_Parse("{\"sku\":42,\"cat\":\"A > B\",\"available\":false}");
  px_csv_field vals[8];
  px_buf text;
  px_buf_init(&text, 0);
  PX_ASSERT_OK(px_mapping_json_record(m, obj, vals, &text, &err));
  px_buf_reset(&row);
  PX_ASSERT_OK(px_mapping_row(m, vals, (size_t)m->nfields, &row, &err));
  PX_ASSERT_STR_EQ(row.data, "{\"id\":\"42\",\"category\":[\"A > B\"],\"stock\":\"out_of_stock\"}");
  cJSON_Delete(obj);
  px_buf_free(&text);
  px_buf_free(&row);
  px_product_free(&p);
  free(m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_errors_name_the_field),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_canonical_form),
    cmocka_unit_test(test_path_id),
    cmocka_unit_test(test_json_reader),
    cmocka_unit_test(test_merge_patch),
    cmocka_unit_test(test_availability),
    cmocka_unit_test_setup_teardown(test_store_put_get_each_delete, setup, teardown),
    cmocka_unit_test_setup_teardown(test_durable_and_not_derived, setup, teardown),
    cmocka_unit_test(test_mapping_errors),
    cmocka_unit_test(test_mapping_rows),
};
PX_TEST_MAIN(tests)
