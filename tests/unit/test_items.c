/* compute: the items function (src/compute/items.c): per item id, the
 * latest matching event's time and how many events; array paths, the
 * state's bytes (checked against an encoder written here from the
 * documented layout), merges, the caps, corrupt states, the readers'
 * accessors and the definition. Expected answers are worked by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "px_test.h"

#define T0 1700000000000LL /* 2023-11-14 */

static px_rule_agg items(const char *event, const char *property) {
  px_rule_agg a;
  memset(&a, 0, sizeof a);
  a.fn = PX_AGG_ITEMS;
  snprintf(a.event, sizeof a.event, "%s", event);
  snprintf(a.property, sizeof a.property, "%s", property);
  return a;
}

/* Observes an event whose properties are JSON text; returns *changed. */
static int obs(const px_rule_agg *a, px_buf *st, const char *name, int64_t ts, const char *props) {
  cJSON *p = cJSON_Parse(props);
  if (!p) fail_msg("bad test JSON %s", props);
  int changed = -1;
  PX_ASSERT_OK(px_agg_observe(a, st, name, ts, 1, p, T0, &changed));
  cJSON_Delete(p);
  return changed;
}

typedef struct want {
  const char *id;
  int64_t last;
  uint32_t count;
} want;

/* The state holds exactly w (in id order) and is capped or not: through
 * the accessors, check, value and the iteration. */
static void expect(const px_rule_agg *a, const px_buf *st, const want *w, size_t n, int capped) {
  size_t k = 99;
  int c = -1;
  PX_ASSERT_OK(px_agg_items_count(st->data, st->len, &k, &c));
  PX_ASSERT_UINT_EQ(k, n);
  PX_ASSERT_INT_EQ(c, capped);
  PX_ASSERT_OK(px_agg_check(a, st->data, st->len));
  px_rule_value v;
  int64_t until = 0;
  PX_ASSERT_OK(px_agg_value(a, st->data, st->len, T0, &v, &until, NULL));
  PX_ASSERT_INT_EQ(v.type, PX_RV_NUM);
  PX_ASSERT_TRUE(v.n == (double)n);
  PX_ASSERT_INT_EQ(until, INT64_MAX);
  size_t pos = 0;
  px_agg_item it;
  for (size_t i = 0; i < n; i++) {
    PX_ASSERT_OK(px_agg_items_next(st->data, st->len, &pos, &it));
    char id[300];
    snprintf(id, sizeof id, "%.*s", (int)it.n, it.id);
    PX_ASSERT_STR_EQ(id, w[i].id);
    PX_ASSERT_UINT_EQ(it.n, strlen(w[i].id));
    PX_ASSERT_INT_EQ(it.last_ms, w[i].last);
    PX_ASSERT_UINT_EQ(it.count, w[i].count);
    PX_ASSERT_UINT_EQ(pos, i + 1);
  }
  PX_ASSERT_STATUS(px_agg_items_next(st->data, st->len, &pos, &it), PX_NOT_FOUND);
}

/* The documented layout, written independently: 'I', flags, u32 k, k u32
 * offsets from the first record, k records (i64 last, u32 count, u8
 * length - 1, id), all little-endian. */
static void le(px_buf *b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) px_buf_putc(b, (char)(v >> (8 * i)));
}

static void build(px_buf *out, int flags, const want *w, size_t n) {
  px_buf_reset(out);
  px_buf_putc(out, 'I');
  px_buf_putc(out, (char)flags);
  le(out, n, 4);
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    le(out, off, 4);
    off += 13 + strlen(w[i].id);
  }
  for (size_t i = 0; i < n; i++) {
    le(out, (uint64_t)w[i].last, 8);
    le(out, w[i].count, 4);
    px_buf_putc(out, (char)(strlen(w[i].id) - 1));
    px_buf_puts(out, w[i].id);
  }
}

static void assert_bytes(const px_buf *got, const px_buf *want_) {
  PX_ASSERT_UINT_EQ(got->len, want_->len);
  for (size_t i = 0; i < got->len; i++)
    if (got->data[i] != want_->data[i])
      fail_msg("byte %zu: 0x%02x, want 0x%02x", i, (unsigned char)got->data[i], (unsigned char)want_->data[i]);
}

/* ---- observe ---- */

static void test_items_single_path(void **state) {
  (void)state;
  px_rule_agg a = items("Order Line", "stock_code");
  px_buf st, ref;
  px_buf_init(&st, 0), px_buf_init(&ref, 0);
  expect(&a, &st, NULL, 0, 0); /* no events: no items, the empty state */
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 5, "{\"stock_code\": \"85123A\"}"), 3);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 1, "{\"stock_code\": 85123}"), 3);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 9, "{\"stock_code\": \"85123A\"}"), 3);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 9, "{\"stock_code\": \"85123A\"}"), 3); /* a tie keeps it */
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 7, "{\"stock_code\": \"85123\"}"), 3); /* the number's text */
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 2, "{\"stock_code\": \"85123A\"}"), 3); /* older: counts */
  /* Another event name, and values that are no item: nothing. */
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Completed", T0 + 50, "{\"stock_code\": \"X\"}"), 0);
  const char *skipped[] = {"{}", "{\"stock_code\": \"\"}", "{\"stock_code\": true}", "{\"stock_code\": null}",
                           "{\"stock_code\": {\"id\": 1}}", "{\"stock_code\": [1, 2]}", "{\"code\": 1}"};
  for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++)
    PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 50, skipped[i]), 0);
  want w[] = {{"85123", T0 + 7, 2}, {"85123A", T0 + 9, 4}}; /* "85123" sorts first: a prefix */
  expect(&a, &st, w, 2, 0);
  build(&ref, 0, w, 2);
  assert_bytes(&st, &ref);
  /* Numbers: integers as integers, others as their shortest text, -0 as 0. */
  px_buf_reset(&st);
  obs(&a, &st, "Order Line", T0, "{\"stock_code\": 19.99}");
  obs(&a, &st, "Order Line", T0, "{\"stock_code\": -3}");
  obs(&a, &st, "Order Line", T0, "{\"stock_code\": -0.0}");
  obs(&a, &st, "Order Line", T0, "{\"stock_code\": 1e20}");
  obs(&a, &st, "Order Line", T0, "{\"stock_code\": 9007199254740991}");
  obs(&a, &st, "Order Line", T0, "{\"stock_code\": 3.0}");
  want nums[] = {{"-3", T0, 1}, {"0", T0, 1},    {"19.99", T0, 1},
                 {"1e+20", T0, 1}, {"3", T0, 1}, {"9007199254740991", T0, 1}};
  expect(&a, &st, nums, 6, 0);
  /* Strings up to PX_AGG_VALUE_MAX bytes. */
  px_buf_reset(&st);
  char big[PX_AGG_VALUE_MAX + 2], json[PX_AGG_VALUE_MAX + 64];
  memset(big, 'x', PX_AGG_VALUE_MAX + 1);
  big[PX_AGG_VALUE_MAX + 1] = 0;
  snprintf(json, sizeof json, "{\"stock_code\": \"%s\"}", big);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0, json), 0);
  big[PX_AGG_VALUE_MAX] = 0;
  snprintf(json, sizeof json, "{\"stock_code\": \"%s\"}", big);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0, json), 3);
  want longest[] = {{big, T0, 1}};
  expect(&a, &st, longest, 1, 0);
  /* A dotted path; any event name with event "". */
  px_rule_agg d = items("", "product.sku");
  px_buf_reset(&st);
  obs(&d, &st, "Viewed", T0 + 3, "{\"product\": {\"sku\": \"b\"}}");
  obs(&d, &st, "Bought", T0 + 4, "{\"product\": {\"sku\": \"a\"}}");
  obs(&d, &st, "Bought", T0 + 4, "{\"product\": \"a\"}");
  want dotted[] = {{"a", T0 + 4, 1}, {"b", T0 + 3, 1}};
  expect(&d, &st, dotted, 2, 0);
  px_buf_free(&st), px_buf_free(&ref);
}

static void test_items_array_path(void **state) {
  (void)state;
  px_rule_agg a = items("Order Completed", "products[].product_id");
  px_buf st;
  px_buf_init(&st, 0);
  /* a twice in one event counts once; non-objects, absent and null members
   * are skipped; 7 and "7" are one item. */
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Completed", T0 + 10,
                       "{\"products\": [{\"product_id\": \"a\"}, {\"product_id\": \"b\", \"price\": 3},"
                       " {\"product_id\": \"a\"}, {\"sku\": \"c\"}, \"d\", 5, null, {\"product_id\": null},"
                       " {\"product_id\": 7}, {\"product_id\": \"7\"}, {\"product_id\": [\"e\"]}]}"),
                   3);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Completed", T0 + 4, "{\"products\": [{\"product_id\": \"a\"}]}"), 3);
  /* No array there, an empty one, none with an id: nothing. */
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Completed", T0 + 99, "{\"products\": {\"product_id\": \"z\"}}"), 0);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Completed", T0 + 99, "{\"products\": []}"), 0);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Completed", T0 + 99, "{\"products\": [{}, 1]}"), 0);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Completed", T0 + 99, "{\"product_id\": \"z\"}"), 0);
  want w[] = {{"7", T0 + 10, 1}, {"a", T0 + 10, 2}, {"b", T0 + 10, 1}};
  expect(&a, &st, w, 3, 0);
  /* Dotted on both sides of the step, and many elements (past the ids
   * read without allocating). */
  px_rule_agg n = items("", "order.lines[].item.sku");
  px_buf_reset(&st);
  char json[8192];
  size_t len = (size_t)snprintf(json, sizeof json, "{\"order\": {\"lines\": [");
  for (int i = 0; i < 100; i++)
    len += (size_t)snprintf(json + len, sizeof json - len, "%s{\"item\": {\"sku\": \"s%02d\"}}", i ? "," : "",
                            i % 40);
  snprintf(json + len, sizeof json - len, "]}}");
  PX_ASSERT_INT_EQ(obs(&n, &st, "e", T0, json), 3);
  size_t k = 0;
  PX_ASSERT_OK(px_agg_items_count(st.data, st.len, &k, NULL));
  PX_ASSERT_UINT_EQ(k, 40); /* s00..s39, each once although named 2 or 3 times */
  size_t pos = 0;
  px_agg_item it;
  for (int i = 0; i < 40; i++) {
    PX_ASSERT_OK(px_agg_items_next(st.data, st.len, &pos, &it));
    char id[8];
    snprintf(id, sizeof id, "s%02d", i);
    PX_ASSERT_TRUE(it.n == 3 && memcmp(it.id, id, 3) == 0);
    PX_ASSERT_UINT_EQ(it.count, 1);
  }
  px_buf_free(&st);
}

static void test_items_where(void **state) {
  (void)state;
  px_rule_agg a = items("Order Line", "sku");
  px_rule *r = NULL;
  px_rule_error err;
  PX_ASSERT_OK(px_rule_compile("quantity > 1", 12, PX_RULE_EVENT, &r, &err));
  a.where = r;
  px_buf st;
  px_buf_init(&st, 0);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 1, "{\"sku\": \"a\", \"quantity\": 2}"), 3);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 2, "{\"sku\": \"a\", \"quantity\": 1}"), 0);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 3, "{\"sku\": \"b\"}"), 0);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order Line", T0 + 4, "{\"sku\": \"b\", \"quantity\": 5}"), 3);
  want w[] = {{"a", T0 + 1, 1}, {"b", T0 + 4, 1}};
  expect(&a, &st, w, 2, 0);
  /* Expire changes nothing: nothing leaves. */
  int changed = -1;
  size_t len = st.len;
  PX_ASSERT_OK(px_agg_expire(&a, &st, T0 + 1000LL * 86400000, &changed));
  PX_ASSERT_INT_EQ(changed, 0);
  PX_ASSERT_UINT_EQ(st.len, len);
  expect(&a, &st, w, 2, 0);
  px_rule_free(r);
  px_buf_free(&st);
}

/* The same events in any order give the same bytes. */
static void test_items_order_does_not_matter(void **state) {
  (void)state;
  px_rule_agg a = items("e", "p");
  const struct {
    int64_t ts;
    const char *props;
  } ev[] = {{T0 + 5, "{\"p\": \"b\"}"}, {T0 + 1, "{\"p\": \"a\"}"}, {T0 + 9, "{\"p\": \"c\"}"},
            {T0 + 3, "{\"p\": \"b\"}"}, {T0 + 7, "{\"p\": \"a\"}"}, {T0 - 4, "{\"p\": \"ab\"}"}};
  const int n = 6;
  px_buf first, st;
  px_buf_init(&first, 0), px_buf_init(&st, 0);
  uint64_t seed = 7;
  for (int round = 0; round < 50; round++) {
    int order[6] = {0, 1, 2, 3, 4, 5};
    for (int i = n - 1; i > 0; i--) {
      int j = (int)(px_test_next(&seed) % (uint64_t)(i + 1)), t = order[i];
      order[i] = order[j], order[j] = t;
    }
    px_buf_reset(&st);
    for (int i = 0; i < n; i++) obs(&a, &st, "e", ev[order[i]].ts, ev[order[i]].props);
    if (round == 0) {
      want w[] = {{"a", T0 + 7, 2}, {"ab", T0 - 4, 1}, {"b", T0 + 5, 2}, {"c", T0 + 9, 1}};
      expect(&a, &st, w, 4, 0);
      px_buf_append(&first, st.data, st.len);
    } else {
      assert_bytes(&st, &first);
    }
  }
  px_buf_free(&first), px_buf_free(&st);
}

/* ---- merge ---- */

static void test_items_merge(void **state) {
  (void)state;
  px_rule_agg a = items("e", "p");
  px_buf A, B, C, all, x, y, z;
  px_buf_init(&A, 0), px_buf_init(&B, 0), px_buf_init(&C, 0), px_buf_init(&all, 0);
  px_buf_init(&x, 0), px_buf_init(&y, 0), px_buf_init(&z, 0);
  /* A: a@1 a@3 b@2; B: b@7 c@5; C: a@2 d@4 d@6. */
  const struct {
    px_buf *st;
    int64_t ts;
    const char *id;
  } ev[] = {{&A, 1, "a"}, {&A, 3, "a"}, {&A, 2, "b"}, {&B, 7, "b"}, {&B, 5, "c"},
            {&C, 2, "a"}, {&C, 4, "d"}, {&C, 6, "d"}};
  for (size_t i = 0; i < sizeof ev / sizeof *ev; i++) {
    char props[32];
    snprintf(props, sizeof props, "{\"p\": \"%s\"}", ev[i].id);
    obs(&a, ev[i].st, "e", T0 + ev[i].ts, props);
    obs(&a, &all, "e", T0 + ev[i].ts, props);
  }
  want w[] = {{"a", T0 + 3, 3}, {"b", T0 + 7, 2}, {"c", T0 + 5, 1}, {"d", T0 + 6, 2}};
  expect(&a, &all, w, 4, 0);
  /* (A + B) + C */
  px_buf_append(&x, A.data, A.len);
  PX_ASSERT_OK(px_agg_merge(&a, &x, B.data, B.len));
  PX_ASSERT_OK(px_agg_merge(&a, &x, C.data, C.len));
  expect(&a, &x, w, 4, 0);
  assert_bytes(&x, &all);
  /* A + (B + C) */
  px_buf_append(&y, B.data, B.len);
  PX_ASSERT_OK(px_agg_merge(&a, &y, C.data, C.len));
  px_buf_append(&z, A.data, A.len);
  PX_ASSERT_OK(px_agg_merge(&a, &z, y.data, y.len));
  assert_bytes(&z, &all);
  /* (C + A) + B, and B + C into an empty state then A. */
  px_buf_reset(&x);
  px_buf_append(&x, C.data, C.len);
  PX_ASSERT_OK(px_agg_merge(&a, &x, A.data, A.len));
  PX_ASSERT_OK(px_agg_merge(&a, &x, B.data, B.len));
  assert_bytes(&x, &all);
  px_buf_reset(&x);
  PX_ASSERT_OK(px_agg_merge(&a, &x, B.data, B.len));
  PX_ASSERT_OK(px_agg_merge(&a, &x, C.data, C.len));
  PX_ASSERT_OK(px_agg_merge(&a, &x, A.data, A.len));
  assert_bytes(&x, &all);
  /* Merging the empty state changes nothing; merging continues to observe. */
  PX_ASSERT_OK(px_agg_merge(&a, &x, "", 0));
  assert_bytes(&x, &all);
  obs(&a, &x, "e", T0 + 8, "{\"p\": \"c\"}");
  want w2[] = {{"a", T0 + 3, 3}, {"b", T0 + 7, 2}, {"c", T0 + 8, 2}, {"d", T0 + 6, 2}};
  expect(&a, &x, w2, 4, 0);
  /* Counts add up to UINT32_MAX and stay there. */
  want big[] = {{"a", T0, UINT32_MAX - 1}};
  build(&x, 0, big, 1);
  build(&y, 0, big, 1);
  PX_ASSERT_OK(px_agg_merge(&a, &x, y.data, y.len));
  want sat[] = {{"a", T0, UINT32_MAX}};
  expect(&a, &x, sat, 1, 0);
  obs(&a, &x, "e", T0 - 1, "{\"p\": \"a\"}");
  expect(&a, &x, sat, 1, 0);
  /* The capped flag survives a merge, from either side. */
  build(&x, 0, w, 2);
  build(&y, 1, w + 2, 2);
  PX_ASSERT_OK(px_agg_merge(&a, &x, y.data, y.len));
  expect(&a, &x, w, 4, 1);
  build(&x, 1, w, 2);
  build(&y, 0, w + 2, 2);
  PX_ASSERT_OK(px_agg_merge(&a, &x, y.data, y.len));
  expect(&a, &x, w, 4, 1);
  px_buf_free(&A), px_buf_free(&B), px_buf_free(&C), px_buf_free(&all);
  px_buf_free(&x), px_buf_free(&y), px_buf_free(&z);
}

/* ---- caps ---- */

static void obs_id(const px_rule_agg *a, px_buf *st, int64_t ts, const char *id, int want_changed) {
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "p", id);
  int changed = -1;
  PX_ASSERT_OK(px_agg_observe(a, st, "e", ts, 1, p, T0, &changed));
  if (want_changed >= 0) PX_ASSERT_INT_EQ(changed, want_changed);
  cJSON_Delete(p);
}

/* The item id i of the count cap tests: "i00000".. */
static const char *nth(char *buf, const char *prefix, int i) {
  snprintf(buf, 16, "%s%05d", prefix, i);
  return buf;
}

static int has(const px_buf *st, const char *id, int64_t *last) {
  size_t pos = 0;
  px_agg_item it;
  while (px_agg_items_next(st->data, st->len, &pos, &it) == PX_OK)
    if (it.n == strlen(id) && memcmp(it.id, id, it.n) == 0) {
      if (last) *last = it.last_ms;
      return 1;
    }
  return 0;
}

static void test_items_count_cap(void **state) {
  (void)state;
  px_rule_agg a = items("e", "p");
  px_buf st;
  px_buf_init(&st, 0);
  char id[16];
  for (int i = 0; i < PX_AGG_MAX_ENTRIES; i++) obs_id(&a, &st, T0 + i, nth(id, "i", i), 3);
  size_t k = 0;
  int capped = -1;
  PX_ASSERT_OK(px_agg_items_count(st.data, st.len, &k, &capped));
  PX_ASSERT_UINT_EQ(k, PX_AGG_MAX_ENTRIES);
  PX_ASSERT_INT_EQ(capped, 0); /* full, not past */
  /* An existing item still counts. */
  obs_id(&a, &st, T0 + 5, nth(id, "i", 7), 3);
  /* A new item older than the oldest (i00000 at T0), or as old: dropped,
   * flagged. Flagged again: no change at all. */
  obs_id(&a, &st, T0 - 1, "old", 2);
  obs_id(&a, &st, T0, "same", 0);
  PX_ASSERT_OK(px_agg_items_count(st.data, st.len, &k, &capped));
  PX_ASSERT_UINT_EQ(k, PX_AGG_MAX_ENTRIES);
  PX_ASSERT_INT_EQ(capped, 1);
  PX_ASSERT_TRUE(!has(&st, "old", NULL) && !has(&st, "same", NULL) && has(&st, "i00000", NULL));
  /* A more recent one takes the oldest's place: i00000, then i00001. */
  int64_t last = 0;
  obs_id(&a, &st, T0 + 20000, "new1", 3);
  PX_ASSERT_TRUE(!has(&st, "i00000", NULL) && has(&st, "new1", &last) && has(&st, "i00001", NULL));
  PX_ASSERT_INT_EQ(last, T0 + 20000);
  obs_id(&a, &st, T0 + 2, "new2", 3);
  PX_ASSERT_TRUE(!has(&st, "i00001", NULL) && has(&st, "new2", NULL) && has(&st, "i00002", NULL));
  /* i00002 and new2 are now the oldest, both at T0 + 2: "a" at T0 + 2 is
   * not more recent (dropped); at T0 + 3 it is, and the first of the two by
   * id, i00002, makes way. */
  obs_id(&a, &st, T0 + 2, "a", 0);
  PX_ASSERT_TRUE(!has(&st, "a", NULL) && has(&st, "i00002", NULL));
  obs_id(&a, &st, T0 + 3, "a", 3);
  PX_ASSERT_TRUE(has(&st, "a", NULL) && !has(&st, "i00002", NULL) && has(&st, "new2", NULL));
  PX_ASSERT_OK(px_agg_items_count(st.data, st.len, &k, &capped));
  PX_ASSERT_UINT_EQ(k, PX_AGG_MAX_ENTRIES);
  PX_ASSERT_OK(px_agg_check(&a, st.data, st.len));

  /* Merge past the cap: the 10,000 most recent of the union stay. A holds
   * a00000.. at T0 + 2i, B b00000.. at T0 + 2i + 1, 6,000 each: a00000 to
   * a00999 and b00000 to b00999 are the oldest 2,000. */
  px_buf A, B;
  px_buf_init(&A, 0), px_buf_init(&B, 0);
  for (int i = 0; i < 6000; i++) {
    obs_id(&a, &A, T0 + 2 * i, nth(id, "a", i), 3);
    obs_id(&a, &B, T0 + 2 * i + 1, nth(id, "b", i), 3);
  }
  px_buf AB, BA;
  px_buf_init(&AB, 0), px_buf_init(&BA, 0);
  px_buf_append(&AB, A.data, A.len);
  px_buf_append(&BA, B.data, B.len);
  PX_ASSERT_OK(px_agg_merge(&a, &AB, B.data, B.len));
  PX_ASSERT_OK(px_agg_merge(&a, &BA, A.data, A.len));
  assert_bytes(&AB, &BA);
  PX_ASSERT_OK(px_agg_items_count(AB.data, AB.len, &k, &capped));
  PX_ASSERT_UINT_EQ(k, PX_AGG_MAX_ENTRIES);
  PX_ASSERT_INT_EQ(capped, 1);
  PX_ASSERT_TRUE(!has(&AB, "a00999", NULL) && !has(&AB, "b00999", NULL));
  PX_ASSERT_TRUE(has(&AB, "a01000", NULL) && has(&AB, "b01000", NULL) && has(&AB, "b05999", NULL));
  px_buf_free(&A), px_buf_free(&B), px_buf_free(&AB), px_buf_free(&BA), px_buf_free(&st);
}

/* A 256-byte id: letter c, then the number i, padded with '.'. */
static const char *long_id(char *buf, char c, int i) {
  memset(buf, '.', 256);
  buf[256] = 0;
  char head[16];
  int n = snprintf(head, sizeof head, "%c%05d", c, i);
  memcpy(buf, head, (size_t)n);
  return buf;
}

static void test_items_byte_cap(void **state) {
  (void)state;
  px_rule_agg a = items("e", "p");
  px_buf st;
  px_buf_init(&st, 0);
  char id[257];
  /* A 256-byte item costs 4 + 13 + 256 = 273 bytes: 3,840 fit in 1 MiB
   * with the 6-byte header (1,048,326 bytes; 250 left). */
  for (int i = 0; i < 3840; i++) obs_id(&a, &st, T0 + i, long_id(id, 'L', i), 3);
  PX_ASSERT_UINT_EQ(st.len, 6 + 3840 * 273);
  /* 13 one-byte items (18 bytes each) still fit, older than all: 16 left. */
  for (int i = 0; i < 13; i++) {
    char s[2] = {(char)('a' + i), 0};
    obs_id(&a, &st, T0 - 100 + i, s, 3);
  }
  PX_ASSERT_UINT_EQ(st.len, PX_AGG_MAX_ENTRY_BYTES - 16);
  size_t k = 0;
  int capped = -1;
  PX_ASSERT_OK(px_agg_items_count(st.data, st.len, &k, &capped));
  PX_ASSERT_UINT_EQ(k, 3853);
  PX_ASSERT_INT_EQ(capped, 0);
  /* An older long item cannot make room: dropped, nothing removed. */
  obs_id(&a, &st, T0 - 1000, long_id(id, 'M', 0), 2);
  PX_ASSERT_UINT_EQ(st.len, PX_AGG_MAX_ENTRY_BYTES - 16);
  /* One more recent than all: the 13 short ones (234 bytes, 250 free then)
   * are not enough, L00000 goes too (523 free), then it fits. */
  obs_id(&a, &st, T0 + 100000, long_id(id, 'N', 0), 3);
  PX_ASSERT_OK(px_agg_items_count(st.data, st.len, &k, &capped));
  PX_ASSERT_UINT_EQ(k, 3840);
  PX_ASSERT_INT_EQ(capped, 1);
  PX_ASSERT_UINT_EQ(st.len, 6 + 3840 * 273);
  PX_ASSERT_TRUE(!has(&st, "a", NULL) && !has(&st, "m", NULL));
  PX_ASSERT_TRUE(!has(&st, long_id(id, 'L', 0), NULL) && has(&st, long_id(id, 'L', 1), NULL));
  PX_ASSERT_TRUE(has(&st, long_id(id, 'N', 0), NULL));
  PX_ASSERT_OK(px_agg_check(&a, st.data, st.len));
  px_buf_free(&st);
}

/* ---- corrupt states ---- */

static void test_items_corrupt(void **state) {
  (void)state;
  px_rule_agg a = items("e", "p");
  want w[] = {{"a", T0, 1}, {"bc", T0 + 1, 2}, {"d", T0 - 1, 3}};
  px_buf good, bad;
  px_buf_init(&good, 0), px_buf_init(&bad, 0);
  build(&good, 0, w, 3);
  expect(&a, &good, w, 3, 0);
  /* Sizes: 6 + 3 x 4 + (14 + 15 + 14) = 61 bytes. */
  PX_ASSERT_UINT_EQ(good.len, 61);
  cJSON *p = cJSON_Parse("{\"p\": \"zz\"}");
  px_rule_value v;
  size_t k, pos;
  px_agg_item it;
  /* Every truncation: refused by check, value, count, observe (unchanged),
   * merge either way, and by the iteration before its end. */
  for (size_t n = 1; n < good.len; n++) {
    px_buf_reset(&bad);
    px_buf_append(&bad, good.data, n);
    PX_ASSERT_STATUS(px_agg_check(&a, bad.data, n), PX_STORE);
    PX_ASSERT_STATUS(px_agg_value(&a, bad.data, n, T0, &v, NULL, NULL), PX_STORE);
    PX_ASSERT_STATUS(px_agg_items_count(bad.data, n, &k, NULL), PX_STORE);
    PX_ASSERT_STATUS(px_agg_observe(&a, &bad, "e", T0, 1, p, T0, NULL), PX_STORE);
    PX_ASSERT_UINT_EQ(bad.len, n);
    PX_ASSERT_TRUE(memcmp(bad.data, good.data, n) == 0);
    px_buf copy;
    px_buf_init(&copy, 0);
    px_buf_append(&copy, good.data, good.len);
    PX_ASSERT_STATUS(px_agg_merge(&a, &copy, bad.data, n), PX_STORE);
    assert_bytes(&copy, &good);
    PX_ASSERT_STATUS(px_agg_merge(&a, &bad, good.data, good.len), PX_STORE);
    PX_ASSERT_UINT_EQ(bad.len, n);
    px_buf_free(&copy);
    px_status s;
    pos = 0;
    while ((s = px_agg_items_next(bad.data, n, &pos, &it)) == PX_OK) {}
    PX_ASSERT_STATUS(s, PX_STORE);
  }
  /* Byte by byte changes that break the layout. */
  /* Header 0-5, offsets 6-17 (0, 14, 29), records at 18 ("a": last 18-25,
   * count 26-29, length 30, id 31), 32 ("bc": id 45-46), 47 ("d": id 60). */
  struct {
    size_t at;
    uint8_t to;
    int ok;
    const char *what;
  } edits[] = {
      {0, 'Y', 0, "tag"},
      {1, 2, 0, "unknown flag"},
      {2, 0, 0, "k is 0"},
      {2, 2, 0, "k is 2 with three records"},
      {2, 4, 0, "k is 4"},
      {5, 1, 0, "k huge"},
      {10, 1, 0, "offset of record 1"},
      {14, 30, 0, "offset of record 2 past its start"},
      {30, 1, 0, "length of record 0 (2 for 1 byte)"},
      {26, 0, 0, "count 0"},
      {31, 'c', 0, "record 0 \"c\" before record 1 \"bc\": unsorted"},
      {45, 'a', 1, "record 1 \"ac\": still sorted"},
      {20, 0x80, 1, "a last_ms far in the past: any time will do"},
  };
  for (size_t e = 0; e < sizeof edits / sizeof *edits; e++) {
    px_buf_reset(&bad);
    px_buf_append(&bad, good.data, good.len);
    bad.data[edits[e].at] = (char)edits[e].to;
    px_status want_ = edits[e].ok ? PX_OK : PX_STORE;
    if (px_agg_check(&a, bad.data, bad.len) != want_) fail_msg("%s: check gives the wrong answer", edits[e].what);
    pos = 0;
    px_status s;
    while ((s = px_agg_items_next(bad.data, bad.len, &pos, &it)) == PX_OK) {}
    if (s != (want_ == PX_OK ? PX_NOT_FOUND : PX_STORE)) fail_msg("%s: iteration ends with %s", edits[e].what, px_status_str(s));
  }
  /* Hand-built: duplicate ids, unsorted, a prefix after its extension, k = 0,
   * a trailing byte, the empty header. */
  want dup[] = {{"a", T0, 1}, {"a", T0, 1}};
  want unsorted[] = {{"b", T0, 1}, {"a", T0, 1}};
  want prefix[] = {{"ab", T0, 1}, {"a", T0, 1}};
  want ok2[] = {{"a", T0, 1}, {"ab", T0, 1}};
  build(&bad, 0, dup, 2);
  PX_ASSERT_STATUS(px_agg_check(&a, bad.data, bad.len), PX_STORE);
  build(&bad, 0, unsorted, 2);
  PX_ASSERT_STATUS(px_agg_check(&a, bad.data, bad.len), PX_STORE);
  PX_ASSERT_STATUS(px_agg_items_count(bad.data, bad.len, &k, NULL), PX_STORE);
  pos = 0;
  PX_ASSERT_OK(px_agg_items_next(bad.data, bad.len, &pos, &it)); /* "b" is fine on its own */
  PX_ASSERT_STATUS(px_agg_items_next(bad.data, bad.len, &pos, &it), PX_STORE);
  build(&bad, 0, prefix, 2);
  PX_ASSERT_STATUS(px_agg_check(&a, bad.data, bad.len), PX_STORE);
  build(&bad, 0, ok2, 2);
  PX_ASSERT_OK(px_agg_check(&a, bad.data, bad.len));
  px_buf_putc(&bad, 0);
  PX_ASSERT_STATUS(px_agg_check(&a, bad.data, bad.len), PX_STORE);
  build(&bad, 0, NULL, 0);
  PX_ASSERT_UINT_EQ(bad.len, 6);
  PX_ASSERT_STATUS(px_agg_check(&a, bad.data, bad.len), PX_STORE);
  /* Another function's state is not one; nor is an items state for it. */
  px_rule_agg d = a;
  d.fn = PX_AGG_DAILY;
  PX_ASSERT_STATUS(px_agg_check(&d, good.data, good.len), PX_STORE);
  px_buf other;
  px_buf_init(&other, 0);
  cJSON *q = cJSON_Parse("{\"p\": 3}");
  PX_ASSERT_OK(px_agg_observe(&d, &other, "e", T0, 1, q, T0, NULL));
  PX_ASSERT_STATUS(px_agg_check(&a, other.data, other.len), PX_STORE);
  PX_ASSERT_STATUS(px_agg_items_count(other.data, other.len, &k, NULL), PX_STORE);
  /* Random bytes behind a plausible header: refused or accepted, never a
   * crash (ASan), and the iteration agrees with check. */
  uint64_t seed = 42;
  for (int i = 0; i < 20000; i++) {
    uint8_t buf[64];
    size_t n = (size_t)(px_test_next(&seed) % sizeof buf);
    for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)px_test_next(&seed);
    if (n > 0) buf[0] = 'I';
    if (n > 1) buf[1] &= 1;
    if (n > 5) buf[2] = (uint8_t)(buf[2] % 4), buf[3] = buf[4] = buf[5] = 0;
    px_status c = px_agg_check(&a, buf, n);
    PX_ASSERT_TRUE(c == PX_OK || c == PX_STORE);
    (void)px_agg_value(&a, buf, n, T0, &v, NULL, NULL);
    pos = 0;
    px_status s;
    while ((s = px_agg_items_next(buf, n, &pos, &it)) == PX_OK) {}
    PX_ASSERT_STATUS(s, c == PX_OK ? PX_NOT_FOUND : PX_STORE);
  }
  cJSON_Delete(p), cJSON_Delete(q);
  px_buf_free(&good), px_buf_free(&bad), px_buf_free(&other);
}

/* ---- definitions ---- */

static void test_items_definition(void **state) {
  (void)state;
  cJSON *j = cJSON_Parse("{\"name\": \"_reco_0\", \"function\": \"items\", \"event\": \"Order Completed\","
                         " \"property\": \"products[].product_id\", \"where\": \"total > 0\"}");
  px_ctrait t;
  px_error err;
  PX_ASSERT_OK(px_ctrait_parse(j, &t, &err));
  PX_ASSERT_INT_EQ(t.agg.fn, PX_AGG_ITEMS);
  PX_ASSERT_STR_EQ(t.agg.property, "products[].product_id");
  px_buf out;
  px_buf_init(&out, 0);
  PX_ASSERT_OK(px_ctrait_print(&t, &out));
  PX_ASSERT_STR_EQ(out.data, "{\"name\":\"_reco_0\",\"function\":\"items\",\"event\":\"Order Completed\","
                             "\"property\":\"products[].product_id\",\"where\":\"total > 0\",\"window\":null}");
  char key[512];
  PX_ASSERT_OK(px_rule_agg_print(&t.agg, key, sizeof key));
  PX_ASSERT_STR_EQ(key, "items(\"products[].product_id\" of event \"Order Completed\" where total > 0)");
  PX_ASSERT_STR_EQ(px_agg_fn_name(PX_AGG_ITEMS), "items");
  px_agg_fn fn;
  PX_ASSERT_OK(px_agg_fn_parse("items", &fn));
  PX_ASSERT_INT_EQ(fn, PX_AGG_ITEMS);
  px_ctrait_free(&t);
  cJSON_Delete(j);
  const char *good[] = {"stock_code", "product.sku", "a[].b", "order.lines[].item.sku", "a-b[].c_d"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    char def[256];
    snprintf(def, sizeof def, "{\"name\":\"x\",\"function\":\"items\",\"property\":\"%s\"}", good[i]);
    j = cJSON_Parse(def);
    PX_ASSERT_OK(px_ctrait_parse(j, &t, &err));
    px_ctrait_free(&t);
    cJSON_Delete(j);
  }
  struct {
    const char *json, *field, *reason;
  } bad[] = {
      {"{\"name\":\"x\",\"function\":\"items\"}", "property", "is required for function items"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"p\",\"window\":\"30d\"}", "window",
       "does not go with function items"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"[].a\"}", "property", "products[].product_id"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a[]\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a.b[]\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a[].b[].c\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a.[].b\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a[]b.c\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a[].\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a[]..b\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a[ ].b\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a[0].b\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":\"a]\"}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"items\",\"property\":3}", "property", "one array step"},
      {"{\"name\":\"x\",\"function\":\"distinct\",\"property\":\"a[].b\"}", "property",
       "goes only with function items"},
      {"{\"name\":\"x\",\"function\":\"count\",\"property\":\"a[]\"}", "property", "goes only with function items"},
      {"{\"name\":\"x\",\"function\":\"itemz\",\"property\":\"a\"}", "function", "daily, items"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = cJSON_Parse(bad[i].json);
    PX_ASSERT_STATUS(px_ctrait_parse(j, &t, &err), PX_INVALID);
    PX_ASSERT_STR_EQ(err.field, bad[i].field);
    PX_ASSERT_STR_CONTAINS(err.reason, bad[i].reason);
    px_ctrait_free(&t);
    cJSON_Delete(j);
  }
  /* Other functions keep single brackets as part of a member's name. */
  j = cJSON_Parse("{\"name\":\"x\",\"function\":\"distinct\",\"property\":\"a[0]\"}");
  PX_ASSERT_OK(px_ctrait_parse(j, &t, &err));
  px_ctrait_free(&t);
  cJSON_Delete(j);
  px_buf_free(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_items_single_path),
    cmocka_unit_test(test_items_array_path),
    cmocka_unit_test(test_items_where),
    cmocka_unit_test(test_items_order_does_not_matter),
    cmocka_unit_test(test_items_merge),
    cmocka_unit_test(test_items_count_cap),
    cmocka_unit_test(test_items_byte_cap),
    cmocka_unit_test(test_items_corrupt),
    cmocka_unit_test(test_items_definition),
};

PX_TEST_MAIN(tests)
