/* Incremental aggregation: observe, merge, value, expire over the decoded
 * state (state.c). Semantics: docs/internals/compute.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute_int.h"

/* ---- reading an event ---- */

const cJSON *cmp_lookup(const cJSON *props, const char *path, size_t len) {
  const cJSON *node = props;
  const char *p = path, *end = path + len;
  while (node) {
    if (!cJSON_IsObject(node)) return NULL;
    const char *dot = memchr(p, '.', (size_t)(end - p));
    size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
    const cJSON *c = node->child;
    while (c && !(c->string && strncmp(c->string, p, n) == 0 && c->string[n] == 0)) c = c->next;
    node = c;
    if (!dot) return node;
    p = dot + 1;
  }
  return NULL;
}

static const cJSON *lookup(const cJSON *props, const char *path) { return cmp_lookup(props, path, strlen(path)); }

/* A string holding exactly a JSON number ("19.99", "-3", "1e3"). */
static int numeric_string(const char *s) {
  const char *p = s;
  if (*p == '-') p++;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
  else return 0;
  if (*p == '.') {
    p++;
    if (!(*p >= '0' && *p <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
  }
  return *p == 0 && p - s < 64;
}

static int as_number(const cJSON *v, double *x) {
  if (cJSON_IsNumber(v)) *x = v->valuedouble;
  else if (cJSON_IsString(v) && v->valuestring && numeric_string(v->valuestring)) *x = strtod(v->valuestring, NULL);
  else return 0;
  return isfinite(*x);
}

/* The value's stored key in out (PX_AGG_VALUE_MAX bytes); its length, or 0
 * when the value is not kept (absent, null, object, array, too long). */
static uint32_t value_key(const cJSON *v, uint8_t *out) {
  if (cJSON_IsTrue(v)) return out[0] = 't', 1;
  if (cJSON_IsFalse(v)) return out[0] = 'f', 1;
  if (cJSON_IsNumber(v)) {
    double x = v->valuedouble;
    if (!isfinite(x)) return 0;
    if (x == 0) x = 0; /* -0 is 0 */
    int n = (x == floor(x) && fabs(x) < 9007199254740992.0) ? snprintf((char *)out + 1, 64, "%lld", (long long)x)
                                                           : snprintf((char *)out + 1, 64, "%.17g", x);
    out[0] = 'n';
    return (uint32_t)n + 1;
  }
  if (cJSON_IsString(v) && v->valuestring) {
    size_t n = strlen(v->valuestring);
    if (n + 1 > PX_AGG_VALUE_MAX) return 0;
    out[0] = 's';
    memcpy(out + 1, v->valuestring, n);
    return (uint32_t)n + 1;
  }
  return 0;
}

/* ---- time ---- */

static int64_t sat_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }
static int64_t sat_sub(int64_t a, int64_t b) { return a < INT64_MIN + b ? INT64_MIN : a - b; }

static int64_t window_of(const px_rule_agg *a) {
  return a->window_ms > PX_AGG_MAX_WINDOW_MS ? PX_AGG_MAX_WINDOW_MS : a->window_ms;
}

/* The first entry with ts > t. */
static size_t upper_bound(const cmp_state *s, int64_t t) {
  size_t lo = 0, hi = s->nents;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->ents[mid].ts <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* ---- folding events into the all-time part ---- */

static px_status fold(cmp_state *s, const cmp_entry *e) {
  switch ((px_agg_fn)s->fn) {
    case PX_AGG_DECAY: /* decay.c */
    case PX_AGG_DAILY: /* daily.c */
    case PX_AGG_ITEMS: break; /* items.c */
    case PX_AGG_COUNT: s->n++; break;
    case PX_AGG_SUM:
    case PX_AGG_AVG:
      s->x = s->n ? s->x + e->num : e->num;
      s->n++;
      break;
    case PX_AGG_MIN:
      if (!s->n || e->num < s->x) s->x = e->num;
      s->n++;
      break;
    case PX_AGG_MAX:
      if (!s->n || e->num > s->x) s->x = e->num;
      s->n++;
      break;
    case PX_AGG_FIRST:
    case PX_AGG_LAST: {
      int c = s->n ? cmp_time_cmp(e->ts, e->seq, s->ts, s->seq) : 0;
      if (!s->n || (s->fn == PX_AGG_FIRST ? c < 0 : c > 0)) s->ts = e->ts, s->seq = e->seq, s->val = e->val;
      s->n = 1;
      break;
    }
    case PX_AGG_DISTINCT:
    case PX_AGG_MOST_FREQUENT: {
      size_t lo = 0, hi = s->nvals;
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_slice_cmp(s->vals[mid].val, e->val);
        if (c == 0) {
          cmp_value *v = &s->vals[mid];
          if (v->count < UINT64_MAX) v->count++;
          if (cmp_time_cmp(e->ts, e->seq, v->ts, v->seq) > 0) v->ts = e->ts, v->seq = e->seq;
          return PX_OK;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
      }
      if (s->nvals >= PX_AGG_MAX_VALUES) {
        s->flags |= CMP_APPROXIMATE;
        return PX_OK;
      }
      px_status st = cmp_vals_grow(s, 1);
      if (st != PX_OK) return st;
      memmove(&s->vals[lo + 1], &s->vals[lo], (s->nvals - lo) * sizeof *s->vals);
      s->vals[lo] = (cmp_value){e->val, 1, e->ts, e->seq};
      s->nvals++;
      break;
    }
  }
  return PX_OK;
}

/* Removes entries [0, k). */
static void drop_front(cmp_state *s, size_t k) {
  for (size_t i = 0; i < k; i++) s->ent_bytes -= cmp_entry_size(s, &s->ents[i]);
  memmove(s->ents, s->ents + k, (s->nents - k) * sizeof *s->ents);
  s->nents -= k;
}

/* At now (when prune): windowed, drops entries that left the window; all
 * time, folds entries that became current. Then enforces the entry caps:
 * the oldest entries go early (dropped, or folded into the all-time part),
 * which flags the state approximate. */
static px_status compact(const px_rule_agg *a, cmp_state *s, int prune, int64_t now, int *rewritten) {
  size_t k = 0;
  if (prune) k = a->window_ms > 0 ? upper_bound(s, sat_sub(now, window_of(a))) : upper_bound(s, now);
  size_t bytes = s->ent_bytes;
  for (size_t i = 0; i < k; i++) bytes -= cmp_entry_size(s, &s->ents[i]);
  while (k < s->nents && (s->nents - k > PX_AGG_MAX_ENTRIES || bytes > PX_AGG_MAX_ENTRY_BYTES)) {
    bytes -= cmp_entry_size(s, &s->ents[k++]);
    s->flags |= CMP_APPROXIMATE;
  }
  if (!k) return PX_OK;
  if (a->window_ms <= 0)
    for (size_t i = 0; i < k; i++) {
      px_status st = fold(s, &s->ents[i]);
      if (st != PX_OK) return st;
    }
  drop_front(s, k);
  *rewritten = 1;
  return PX_OK;
}

/* Inserts e in (ts, seq) order; 0 if an entry with the same (ts, seq) is there. */
static px_status insert_entry(cmp_state *s, const cmp_entry *e, int *inserted) {
  size_t lo = 0, hi = s->nents;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_time_cmp(s->ents[mid].ts, s->ents[mid].seq, e->ts, e->seq);
    if (c == 0) {
      *inserted = 0;
      return PX_OK;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  px_status st = cmp_ents_grow(s, 1);
  if (st != PX_OK) return st;
  memmove(&s->ents[lo + 1], &s->ents[lo], (s->nents - lo) * sizeof *s->ents);
  s->ents[lo] = *e;
  s->nents++;
  s->ent_bytes += cmp_entry_size(s, e);
  *inserted = 1;
  return PX_OK;
}

/* Re-encodes s into state (replacing its bytes). */
/* Encodes s over state. s may point into state's bytes, so the encoding
 * is built aside first: on the stack when it fits (the state's buffer is
 * then reused: no allocation), else in a new buffer that replaces it. */
static px_status store(const cmp_state *s, px_buf *state) {
  size_t bound = cmp_encode_bound(s);
  uint8_t local[1024];
  if (bound <= sizeof local) {
    size_t n = cmp_encode(s, local);
    px_buf_reset(state);
    return px_buf_append(state, local, n);
  }
  px_buf tmp;
  px_buf_init(&tmp, state->max == SIZE_MAX ? 0 : state->max);
  px_status st = px_buf_reserve(&tmp, bound);
  if (st != PX_OK) {
    px_buf_free(&tmp);
    return st;
  }
  tmp.len = cmp_encode(s, (uint8_t *)tmp.data);
  tmp.data[tmp.len] = 0;
  px_buf_free(state);
  *state = tmp;
  return PX_OK;
}

/* ---- the API ---- */

int64_t px_agg_oldest(const px_rule_agg *a, int64_t now_ms) {
  if (a->window_ms <= 0) return INT64_MIN;
  int64_t t = sat_sub(now_ms, window_of(a));
  return t == INT64_MAX ? t : t + 1;
}

px_status px_agg_observe(const px_rule_agg *a, px_buf *state, const char *event_name, int64_t ts_ms,
                         uint64_t seq, const cJSON *properties, int64_t now_ms, int *changed) {
  if (changed) *changed = 0;
  if (!event_name) event_name = "";
  if (a->event[0] && strcmp(a->event, event_name) != 0) return PX_OK;
  if (a->fn == PX_AGG_DECAY) return cmp_decay_observe(a, state, event_name, ts_ms, now_ms, changed);
  if (a->fn == PX_AGG_ITEMS) return cmp_items_observe(a, state, event_name, ts_ms, properties, changed);
  if (ts_ms < px_agg_oldest(a, now_ms)) return PX_OK; /* can never count again */

  cmp_entry e = {ts_ms, seq, 0, {NULL, 0}};
  uint8_t key[PX_AGG_VALUE_MAX + 64];
  int have = 0; /* daily: the property is a number (an event without one still counts) */
  if (a->fn == PX_AGG_DAILY) {
    have = as_number(lookup(properties, a->property), &e.num);
  } else if (a->fn == PX_AGG_COUNT) {
    if (a->property[0]) {
      const cJSON *v = lookup(properties, a->property);
      if (!v || cJSON_IsNull(v)) return PX_OK;
    }
  } else if (cmp_uses_num(a->fn)) {
    if (!as_number(lookup(properties, a->property), &e.num)) return PX_OK;
  } else if (cmp_uses_val(a)) {
    e.val.p = key;
    if (!(e.val.n = value_key(lookup(properties, a->property), key))) return PX_OK;
  }
  if (a->where) {
    int ok = 0;
    px_status st = px_rule_eval_event(a->where, event_name, properties, &ok);
    if (st != PX_OK) return st;
    if (!ok) return PX_OK;
  }
  if (a->fn == PX_AGG_DAILY) return cmp_daily_observe(state, ts_ms, have, have ? e.num : 0, changed);

  if (cmp_fast_kind(a)) return cmp_fast_observe(a, state, &e, now_ms, changed);
  cmp_state s;
  px_status st = cmp_decode(a, state->data, state->len, &s);
  int taken = 0, rewritten = 0;
  if (st != PX_OK) goto out;
  if (a->window_ms > 0 || ts_ms > now_ms) {
    st = insert_entry(&s, &e, &taken);
  } else {
    st = fold(&s, &e);
    taken = 1;
  }
  if (st == PX_OK) st = compact(a, &s, 1, now_ms, &rewritten);
  if (st == PX_OK && (taken || rewritten)) st = store(&s, state);
  if (st == PX_OK && changed) *changed = (taken ? PX_AGG_TAKEN : 0) | (taken || rewritten ? PX_AGG_REWRITTEN : 0);
out:
  cmp_state_free(&s);
  return st;
}

px_status px_agg_expire(const px_rule_agg *a, px_buf *state, int64_t now_ms, int *changed) {
  if (changed) *changed = 0;
  if (a->fn == PX_AGG_DECAY) return cmp_decay_check(a, state->data, state->len); /* nothing leaves */
  if (a->fn == PX_AGG_DAILY) return cmp_daily_check(state->data, state->len);
  if (a->fn == PX_AGG_ITEMS) return cmp_items_check(state->data, state->len); /* nothing leaves */
  if (cmp_fast_kind(a)) return cmp_fast_expire(a, state, now_ms, changed);
  cmp_state s;
  int rewritten = 0;
  px_status st = cmp_decode(a, state->data, state->len, &s);
  if (st == PX_OK) st = compact(a, &s, 1, now_ms, &rewritten);
  if (st == PX_OK && rewritten) {
    st = store(&s, state);
    if (st == PX_OK && changed) *changed = PX_AGG_REWRITTEN;
  }
  cmp_state_free(&s);
  return st;
}

px_status px_agg_check(const px_rule_agg *a, const void *state, size_t n) {
  if (a->fn == PX_AGG_DECAY) return cmp_decay_check(a, state, n);
  if (a->fn == PX_AGG_DAILY) return cmp_daily_check(state, n);
  if (a->fn == PX_AGG_ITEMS) return cmp_items_check(state, n);
  if (cmp_fast_kind(a)) return cmp_fast_check(a, state, n);
  cmp_state s;
  px_status st = cmp_decode(a, state, n, &s);
  cmp_state_free(&s);
  return st;
}

/* Keeps the PX_AGG_MAX_VALUES values with the highest counts (latest first
 * among equals), back in value order. */
static int by_count_desc(const void *x, const void *y) {
  const cmp_value *a = x, *b = y;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  return -cmp_time_cmp(a->ts, a->seq, b->ts, b->seq);
}

static int by_value(const void *x, const void *y) {
  return cmp_slice_cmp(((const cmp_value *)x)->val, ((const cmp_value *)y)->val);
}

static px_status merge_values(cmp_state *A, const cmp_state *B) {
  size_t n = A->nvals + B->nvals;
  if (!B->nvals) return PX_OK;
  cmp_value *m = malloc(n * sizeof *m);
  if (!m) return PX_NOMEM;
  size_t i = 0, j = 0, k = 0;
  while (i < A->nvals || j < B->nvals) {
    int c = i == A->nvals ? 1 : j == B->nvals ? -1 : cmp_slice_cmp(A->vals[i].val, B->vals[j].val);
    if (c < 0) m[k++] = A->vals[i++];
    else if (c > 0) m[k++] = B->vals[j++];
    else {
      cmp_value v = A->vals[i++];
      const cmp_value *o = &B->vals[j++];
      v.count = o->count > UINT64_MAX - v.count ? UINT64_MAX : v.count + o->count; /* garbage-proof */
      if (cmp_time_cmp(o->ts, o->seq, v.ts, v.seq) > 0) v.ts = o->ts, v.seq = o->seq;
      m[k++] = v;
    }
  }
  if (k > PX_AGG_MAX_VALUES) {
    A->flags |= CMP_APPROXIMATE;
    if (A->fn == PX_AGG_MOST_FREQUENT) {
      qsort(m, k, sizeof *m, by_count_desc);
      qsort(m, PX_AGG_MAX_VALUES, sizeof *m, by_value);
    }
    k = PX_AGG_MAX_VALUES;
  }
  px_status st = cmp_vals_grow(A, k > A->nvals ? k - A->nvals : 0);
  if (st == PX_OK) {
    memcpy(A->vals, m, k * sizeof *m);
    A->nvals = k;
  }
  free(m);
  return st;
}

static px_status merge_entries(cmp_state *A, const cmp_state *B) {
  if (!B->nents) return PX_OK;
  size_t n = A->nents + B->nents;
  cmp_entry *m = malloc(n * sizeof *m);
  if (!m) return PX_NOMEM;
  size_t i = 0, j = 0, k = 0;
  while (i < A->nents || j < B->nents) {
    int c = i == A->nents   ? 1
            : j == B->nents ? -1
                            : cmp_time_cmp(A->ents[i].ts, A->ents[i].seq, B->ents[j].ts, B->ents[j].seq);
    if (c < 0) m[k++] = A->ents[i++];
    else if (c > 0) m[k++] = B->ents[j++];
    else m[k++] = A->ents[i++], j++; /* the same event on both sides counts once */
  }
  px_status st = cmp_ents_grow(A, k > A->nents ? k - A->nents : 0);
  if (st == PX_OK) {
    memcpy(A->ents, m, k * sizeof *m);
    A->nents = k;
    A->ent_bytes = 0;
    for (size_t x = 0; x < k; x++) A->ent_bytes += cmp_entry_size(A, &A->ents[x]);
  }
  free(m);
  return st;
}

px_status px_agg_merge(const px_rule_agg *a, px_buf *into, const void *other, size_t n) {
  if (a->fn == PX_AGG_DECAY) return cmp_decay_merge(a, into, other, n);
  if (a->fn == PX_AGG_DAILY) return cmp_daily_merge(into, other, n);
  if (a->fn == PX_AGG_ITEMS) return cmp_items_merge(into, other, n);
  if (cmp_fast_kind(a)) return cmp_fast_merge(a, into, other, n);
  cmp_state A, B;
  px_status st = cmp_decode(a, into->data, into->len, &A);
  px_status st2 = cmp_decode(a, other, n, &B);
  int rewritten = 0;
  if (st == PX_OK) st = st2;
  if (st != PX_OK || n == 0) goto out;
  A.flags |= B.flags & CMP_APPROXIMATE;
  if (a->window_ms <= 0 && B.n) {
    switch (a->fn) {
      case PX_AGG_COUNT: A.n += B.n; break;
      case PX_AGG_SUM:
      case PX_AGG_AVG:
        A.x = A.n ? A.x + B.x : B.x;
        A.n += B.n;
        break;
      case PX_AGG_MIN:
      case PX_AGG_MAX:
        if (!A.n || (a->fn == PX_AGG_MIN ? B.x < A.x : B.x > A.x)) A.x = B.x;
        A.n += B.n;
        break;
      case PX_AGG_FIRST:
      case PX_AGG_LAST: {
        int c = A.n ? cmp_time_cmp(B.ts, B.seq, A.ts, A.seq) : 0;
        if (!A.n || (a->fn == PX_AGG_FIRST ? c < 0 : c > 0)) A.ts = B.ts, A.seq = B.seq, A.val = B.val;
        A.n = 1;
        break;
      }
      default: break;
    }
  }
  if (a->window_ms <= 0) st = merge_values(&A, &B);
  if (st == PX_OK) st = merge_entries(&A, &B);
  /* Over the entry caps: the oldest go (windowed) or fold early (all time). */
  if (st == PX_OK) st = compact(a, &A, 0, 0, &rewritten);
  if (st == PX_OK) st = store(&A, into);
out:
  cmp_state_free(&A);
  cmp_state_free(&B);
  return st;
}

/* A stored value as a rule value; strings copied into scratch (or, without
 * scratch, pointing into the state's bytes). */
static px_status to_value(cmp_slice v, px_rule_value *out, px_buf *scratch) {
  if (v.p[0] == 't' || v.p[0] == 'f') {
    out->type = PX_RV_BOOL;
    out->b = v.p[0] == 't';
  } else if (v.p[0] == 'n') {
    char num[PX_AGG_VALUE_MAX + 1];
    memcpy(num, v.p + 1, v.n - 1);
    num[v.n - 1] = 0;
    out->type = PX_RV_NUM;
    out->n = strtod(num, NULL);
  } else {
    out->type = PX_RV_STR;
    out->s = (const char *)v.p + 1;
    out->len = v.n - 1;
    if (scratch) {
      px_buf_reset(scratch);
      px_status st = px_buf_append(scratch, v.p + 1, v.n - 1);
      if (st != PX_OK) return st;
      out->s = scratch->data ? scratch->data : "";
    }
  }
  return PX_OK;
}

px_status px_agg_value(const px_rule_agg *a, const void *state, size_t n, int64_t now_ms, px_rule_value *out,
                       int64_t *valid_until_ms, px_buf *scratch) {
  memset(out, 0, sizeof *out);
  out->type = PX_RV_NULL;
  if (a->fn == PX_AGG_DECAY) return cmp_decay_value(state, n, now_ms, out, valid_until_ms);
  if (a->fn == PX_AGG_DAILY) return cmp_daily_value(state, n, now_ms, out, valid_until_ms);
  if (a->fn == PX_AGG_ITEMS) return cmp_items_value(state, n, out, valid_until_ms);
  if (cmp_fast_kind(a)) return cmp_fast_value(a, state, n, now_ms, out, valid_until_ms);
  cmp_state s;
  px_status st = cmp_decode(a, state, n, &s);
  if (st != PX_OK) goto out;
  int64_t w = window_of(a), until = INT64_MAX;
  size_t lo = 0, hi = upper_bound(&s, now_ms);
  if (a->window_ms > 0) {
    lo = upper_bound(&s, sat_sub(now_ms, w));
    if (lo > hi) lo = hi;
    if (lo < hi) until = sat_add(s.ents[lo].ts, w); /* the oldest counted leaves */
  }
  if (hi < s.nents && s.ents[hi].ts < until) until = s.ents[hi].ts; /* the next future one enters */
  /* Fold what counts now into the decoded copy (never stored). */
  for (size_t i = lo; i < hi && st == PX_OK; i++) st = fold(&s, &s.ents[i]);
  if (st != PX_OK) goto out;
  if (valid_until_ms) *valid_until_ms = until;
  switch (a->fn) {
    case PX_AGG_DECAY: /* decay.c */
    case PX_AGG_DAILY: /* daily.c */
    case PX_AGG_ITEMS: break; /* items.c */
    case PX_AGG_COUNT:
    case PX_AGG_SUM:
      out->type = PX_RV_NUM;
      out->n = s.n ? (a->fn == PX_AGG_COUNT ? (double)s.n : s.x) : 0;
      break;
    case PX_AGG_AVG:
    case PX_AGG_MIN:
    case PX_AGG_MAX:
      if (s.n) {
        out->type = PX_RV_NUM;
        out->n = a->fn == PX_AGG_AVG ? s.x / (double)s.n : s.x;
      }
      break;
    case PX_AGG_FIRST:
    case PX_AGG_LAST:
      if (!s.n) break;
      if (s.val.p) {
        st = to_value(s.val, out, scratch);
      } else {
        out->type = PX_RV_TIME;
        out->t = s.ts;
      }
      break;
    case PX_AGG_DISTINCT:
      out->type = PX_RV_NUM;
      out->n = (double)s.nvals;
      break;
    case PX_AGG_MOST_FREQUENT: {
      const cmp_value *best = NULL;
      for (size_t i = 0; i < s.nvals; i++)
        if (!best || by_count_desc(&s.vals[i], best) < 0) best = &s.vals[i];
      if (best) st = to_value(best->val, out, scratch);
      break;
    }
  }
out:
  cmp_state_free(&s);
  return st;
}
