/* Fuzz target: aggregation states (src/compute) as stored bytes.
 *
 * Input: byte 0 picks the function (mod 12: the nine of rules, decay with
 * two terms "e" and "*", daily, items), byte 1 the shape (bit 0
 * windowed, bit 1 no property (items: the path "a[].v" instead of "v"),
 * bits 2-3 a base time), byte 2 the length L of state A; then L bytes of A
 * and the rest as state B. Decodes both, reads values, expires, observes
 * an event made from the input and merges B into A. Checks: garbage is
 * PX_STORE (and left as it was), never a crash; whatever is accepted keeps
 * decoding after every operation; valid_until lies after now; expiring at
 * now never changes the value at now or later. Items states: iterating
 * with px_agg_items_next agrees with px_agg_check and px_agg_items_count
 * (every item in ascending id order, then PX_NOT_FOUND; PX_STORE before
 * the end of a refused state), and a merge counts every item of both. */
#include <cjson/cJSON.h>

#include "compute/compute.h"
#include "fuzz_common.h"

static int same(px_rule_value a, px_rule_value b) {
  if (a.type != b.type) return 0;
  switch (a.type) {
    case PX_RV_NULL: return 1;
    case PX_RV_BOOL: return a.b == b.b;
    case PX_RV_NUM: return a.n == b.n || (a.n != a.n && b.n != b.n);
    case PX_RV_STR: return a.len == b.len && (!a.len || memcmp(a.s, b.s, a.len) == 0);
    case PX_RV_TIME: return a.t == b.t;
  }
  return 0;
}

static void check_value(const px_rule_agg *a, const px_buf *st, int64_t now) {
  px_rule_value v;
  int64_t until = 0;
  px_status s = px_agg_value(a, st->data, st->len, now, &v, &until, NULL);
  FUZZ_CHECK(s == PX_OK, "value of an accepted state: %s", px_status_str(s));
  FUZZ_CHECK(until > now, "valid until %lld, not after now %lld", (long long)until, (long long)now);
}

/* An items state read by the iteration: what check said (ok), every item
 * in ascending order, as many as px_agg_items_count says; the number. */
static size_t check_items(const void *st, size_t n, px_status ok) {
  size_t pos = 0, k = 0, count = 0;
  px_agg_item it, prev = {NULL, 0, 0, 0};
  px_status s;
  while ((s = px_agg_items_next(st, n, &pos, &it)) == PX_OK) {
    FUZZ_CHECK(it.n >= 1 && it.n <= PX_AGG_VALUE_MAX && it.count >= 1, "item of %zu bytes, count %u", it.n,
               (unsigned)it.count);
    if (k) {
      size_t m = prev.n < it.n ? prev.n : it.n;
      int c = memcmp(prev.id, it.id, m);
      FUZZ_CHECK(c < 0 || (c == 0 && prev.n < it.n), "items out of order");
    }
    prev = it;
    k++;
  }
  FUZZ_CHECK(s == (ok == PX_OK ? PX_NOT_FOUND : PX_STORE), "iteration ends with %s, check said %s",
             px_status_str(s), px_status_str(ok));
  px_status c = px_agg_items_count(st, n, &count, NULL);
  FUZZ_CHECK(c == ok, "count says %s, check %s", px_status_str(c), px_status_str(ok));
  FUZZ_CHECK(ok != PX_OK || count == k, "count %zu, iterated %zu", count, k);
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  px_rule_agg a;
  memset(&a, 0, sizeof a);
  a.fn = (px_agg_fn)(data[0] % 12);
  strcpy(a.property, (data[1] & 2) ? "" : "v");
  a.window_ms = (data[1] & 1) ? 86400000LL : 0;
  static const px_decay_spec spec = {2, {{"e", 10, 86400000LL}, {"*", 0.5, 3600000LL}}};
  if (a.fn == PX_AGG_DECAY) a.decay = &spec, a.property[0] = 0, a.window_ms = 0;
  if (a.fn == PX_AGG_DAILY) strcpy(a.property, "v"), a.window_ms = 0;
  if (a.fn == PX_AGG_ITEMS) strcpy(a.property, (data[1] & 2) ? "a[].v" : "v"), a.window_ms = 0;
  int64_t now = 1700000000000LL + (int64_t)((data[1] >> 2) & 3) * 3600000LL;
  size_t la = data[2] < size - 3 ? data[2] : size - 3;
  char *sa = fuzz_copy(data + 3, la, 0), *sb = fuzz_copy(data + 3 + la, size - 3 - la, 0);
  size_t lb = size - 3 - la;

  px_buf A;
  px_buf_init(&A, 0);
  px_buf_append(&A, sa, la);
  px_status okA = px_agg_check(&a, sa, la), okB = px_agg_check(&a, sb, lb);
  FUZZ_CHECK(okA == PX_OK || okA == PX_STORE, "check A: %s", px_status_str(okA));
  FUZZ_CHECK(okB == PX_OK || okB == PX_STORE, "check B: %s", px_status_str(okB));
  size_t itemsB = 0;
  if (a.fn == PX_AGG_ITEMS) (void)check_items(sa, la, okA), itemsB = check_items(sb, lb, okB);

  if (okA == PX_OK) {
    check_value(&a, &A, now);
    /* Expiring at now changes no value at now or later. */
    px_rule_value before, after;
    int64_t later = now + 3600000LL;
    px_buf keep;
    px_buf_init(&keep, 0);
    px_buf_append(&keep, A.data, A.len);
    FUZZ_CHECK(px_agg_value(&a, keep.data, keep.len, later, &before, NULL, NULL) == PX_OK, "value");
    FUZZ_CHECK(px_agg_expire(&a, &A, now, NULL) == PX_OK, "expire of an accepted state");
    FUZZ_CHECK(px_agg_check(&a, A.data, A.len) == PX_OK, "expired state does not decode");
    FUZZ_CHECK(px_agg_value(&a, A.data, A.len, later, &after, NULL, NULL) == PX_OK, "value after expire");
    FUZZ_CHECK(same(before, after), "expire changed the value");
    px_buf_free(&keep);

    /* An event made of the input's last bytes; "a": an array of up to 3
     * elements, objects with a "v" or not, for the items path. */
    cJSON *props = cJSON_CreateObject();
    uint8_t last = data[size - 1];
    if (last & 1) cJSON_AddNumberToObject(props, "v", (double)(last >> 1) - 20);
    else cJSON_AddStringToObject(props, "v", (last & 2) ? "x" : "y");
    cJSON *arr = cJSON_AddArrayToObject(props, "a");
    for (size_t i = 0; i < 3 && size >= 5 + i && arr; i++) {
      uint8_t b = data[size - 2 - i];
      cJSON *el = (b & 3) == 3 ? cJSON_CreateString("w") : cJSON_CreateObject();
      if ((b & 3) == 0) cJSON_AddNumberToObject(el, "v", (double)(b >> 2) - 8);
      else if ((b & 3) == 1) cJSON_AddStringToObject(el, "v", (b & 4) ? "x" : "z");
      cJSON_AddItemToArray(arr, el);
    }
    int64_t ts = now + ((int64_t)(last % 7) - 4) * 3600000LL * 7;
    int changed = 0;
    px_status s = px_agg_observe(&a, &A, "e", ts, (uint64_t)size * 1000 + last, props, now, &changed);
    FUZZ_CHECK(s == PX_OK, "observe: %s", px_status_str(s));
    FUZZ_CHECK(px_agg_check(&a, A.data, A.len) == PX_OK, "observed state does not decode");
    check_value(&a, &A, now);
    cJSON_Delete(props);
  }
  size_t len = A.len, items_before = 0;
  if (a.fn == PX_AGG_ITEMS && okA == PX_OK) items_before = check_items(A.data, A.len, PX_OK);
  px_status s = px_agg_merge(&a, &A, sb, lb);
  if (okA == PX_OK && okB == PX_OK) {
    FUZZ_CHECK(s == PX_OK, "merge of accepted states: %s", px_status_str(s));
    FUZZ_CHECK(px_agg_check(&a, A.data, A.len) == PX_OK, "merged state does not decode");
    check_value(&a, &A, now);
    if (a.fn == PX_AGG_ITEMS) {
      size_t k = check_items(A.data, A.len, PX_OK);
      FUZZ_CHECK(k >= itemsB && k >= items_before && k <= itemsB + items_before, "merged %zu items of %zu and %zu",
                 k, items_before, itemsB);
    }
  } else {
    FUZZ_CHECK(s == PX_STORE, "merge with a corrupt side: %s", px_status_str(s));
    FUZZ_CHECK(A.len == len, "a failed merge changed the state");
  }
  px_buf_free(&A);
  free(sa);
  free(sb);
  return 0;
}
