/* Features for segment discovery: parsing the list, checking it against
 * the definitions, and reading every live profile's values. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "compute/compute.h"
#include "profile/profile.h"
#include "score/scores.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/features.h"

/* ---- the list ---- */

static const char *trim(const char *s, size_t *n) {
  while (*n && (*s == ' ' || *s == '\t')) s++, (*n)--;
  while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t')) (*n)--;
  return s;
}

/* One item: REF or days_since(REF). */
static px_status parse_item(const char *s, size_t n, px_feature *f, px_error *err) {
  memset(f, 0, sizeof *f);
  s = trim(s, &n);
  if (n >= sizeof f->ref) return px_error_set(err, PX_INVALID, "", "a feature is at most %zu bytes", sizeof f->ref - 1);
  memcpy(f->ref, s, n);
  f->ref[n] = 0;
  if (!n) return px_error_set(err, PX_INVALID, "", "an empty feature (two commas, or one at an end)");
  static const char ds[] = "days_since(";
  if (n > sizeof ds && memcmp(s, ds, sizeof ds - 1) == 0 && s[n - 1] == ')') {
    f->days = 1;
    s += sizeof ds - 1;
    n -= sizeof ds;
    s = trim(s, &n);
    memmove(f->ref, s, n); /* ref is the reference inside */
    f->ref[n] = 0;
  }
  px_rule_error re;
  px_status st = px_rule_reference(f->ref, n, &f->ns, f->name, &re);
  if (st == PX_INVALID)
    return px_error_set(err, PX_INVALID, f->ref, "column %d: %s", re.column + (f->days ? 11 : 0), re.message);
  if (st != PX_OK) return st;
  if (f->ns == PX_NS_CONSENT || f->ns == PX_NS_IDENTIFIER)
    return px_error_set(err, PX_INVALID, f->ref, "%s is not a number (features are numbers)",
                        f->ns == PX_NS_CONSENT ? "consent" : "an identifier");
  if (f->ns == PX_NS_PROFILE && strcmp(f->name, "events") != 0) f->days = 1; /* first_seen, last_seen */
  return PX_OK;
}

px_status px_features_parse(const char *list, px_feature **out, int *n, px_error *err) {
  *out = NULL;
  *n = 0;
  px_feature *f = calloc(PX_FEATURES_MAX, sizeof *f);
  if (!f) return PX_NOMEM;
  px_status s = PX_OK;
  const char *p = list ? list : "";
  int d = 0;
  for (;;) {
    const char *start = p;
    int quoted = 0;
    for (; *p && (quoted || *p != ','); p++) {
      if (*p == '"') quoted = !quoted;
      else if (*p == '\\' && quoted && p[1]) p++;
    }
    if (d == PX_FEATURES_MAX) {
      s = px_error_set(err, PX_INVALID, "", "at most %d features", PX_FEATURES_MAX);
      break;
    }
    if ((s = parse_item(start, (size_t)(p - start), &f[d], err)) != PX_OK) break;
    for (int i = 0; i < d && s == PX_OK; i++)
      if (f[i].ns == f[d].ns && f[i].days == f[d].days && strcmp(f[i].name, f[d].name) == 0)
        s = px_error_set(err, PX_INVALID, f[d].ref, "listed twice");
    if (s != PX_OK) break;
    d++;
    if (!*p) break;
    p++;
  }
  if (s != PX_OK) {
    free(f);
    return s;
  }
  *out = f;
  *n = d;
  return PX_OK;
}

/* ---- words ---- */

static void words(px_feature *f, const char *what) {
  char name[PX_RULE_NAME_MAX + 16];
  snprintf(name, sizeof name, "%s%.*s", f->ns == PX_NS_ACCOUNT ? "account " : "", PX_RULE_NAME_MAX - 1, what);
  for (char *c = name; *c; c++)
    if (*c == '_') *c = ' ';
  if (f->days) {
    snprintf(f->label, sizeof f->label, "days since %s", name);
    snprintf(f->high, sizeof f->high, "%s long ago", name);
    snprintf(f->low, sizeof f->low, "%s recently", name);
    f->unit = "days";
  } else {
    snprintf(f->label, sizeof f->label, "%s", name);
    snprintf(f->high, sizeof f->high, "%s %s", f->count ? "many" : "high", name);
    snprintf(f->low, sizeof f->low, "%s %s", f->count ? "few" : "low", name);
  }
}

/* A computed trait's definition: whether it is a time, a count, or
 * certainly a number. */
static px_status computed_kind(px_txn *txn, const px_store *st, px_feature *f, int *number, px_error *err) {
  px_ctrait t;
  px_status s = px_ctrait_get(txn, st, f->name, &t);
  if (s == PX_NOT_FOUND)
    return px_error_set(err, PX_INVALID, f->ref, "no computed trait named \"%s\" (define it with pickaxe apply)",
                        f->name);
  if (s != PX_OK) return s;
  px_agg_fn fn = t.agg.fn;
  int time = (fn == PX_AGG_FIRST || fn == PX_AGG_LAST) && !t.agg.property[0];
  if (time) f->days = 1;
  f->count = fn == PX_AGG_COUNT || fn == PX_AGG_DISTINCT;
  *number = !time && fn != PX_AGG_FIRST && fn != PX_AGG_LAST && fn != PX_AGG_MOST_FREQUENT;
  px_ctrait_free(&t);
  return PX_OK;
}

px_status px_features_prepare(px_txn *txn, const px_store *st, px_feature *f, int d, px_error *err) {
  for (int i = 0; i < d; i++) {
    int explicit_days = f[i].days, number = 0;
    px_status s = PX_OK;
    switch (f[i].ns) {
      case PX_NS_COMPUTED: s = computed_kind(txn, st, &f[i], &number, err); break;
      case PX_NS_PROFILE:
        number = strcmp(f[i].name, "events") == 0;
        f[i].count = number;
        break;
      case PX_NS_SCORE: number = 1; break; /* scores are numbers (a string one, e.g. rfm_cell, reads as missing) */
      default: break; /* traits and account traits: numbers, or times under days_since */
    }
    if (s != PX_OK) return s;
    if (explicit_days && number)
      return px_error_set(err, PX_INVALID, f[i].ref, "days_since needs a time, and %s is a number", f[i].ref);
    words(&f[i], f[i].ns == PX_NS_PROFILE && !number ? (strcmp(f[i].name, "first_seen") ? "last seen" : "first seen")
                                                      : f[i].name);
  }
  return PX_OK;
}

px_status px_feature_term(const px_feature *f, int log1p, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s%s%s%s%s", log1p ? "log1p(" : "", f->days ? "days_since(" : "", f->ref,
                   f->days ? ")" : "", log1p ? ")" : "");
  if (n < 0 || (size_t)n >= cap) {
    if (cap) out[0] = 0;
    return PX_TOO_LARGE;
  }
  return PX_OK;
}

/* ---- reading ---- */

typedef struct reader {
  px_txn *txn;
  const px_store *st;
  const px_config *cfg;
  const px_feature *f;
  int d;
  const unsigned char *log1p;
  int64_t now;
  px_source *sources;
  size_t nsources;
  px_buf scratch;
  px_feature_rows *out;
  size_t cap;
  px_status status;
} reader;

/* A JSON value as a rule value: numbers, strings (for times), else null. */
static void from_json(const cJSON *j, px_buf *scratch, px_rule_value *v) {
  memset(v, 0, sizeof *v);
  if (cJSON_IsNumber(j)) {
    v->type = PX_RV_NUM;
    v->n = j->valuedouble;
  } else if (cJSON_IsString(j) && px_buf_puts(scratch, j->valuestring) == PX_OK) {
    v->type = PX_RV_STR;
    v->s = scratch->data;
    v->len = scratch->len;
  }
}

/* A trait of entity, or a member path inside an object trait
 * (`address.lat`), as the segment engine reads it. */
static px_status trait(reader *r, uint64_t entity, const char *name, px_rule_value *v) {
  memset(v, 0, sizeof *v);
  const char *json;
  size_t n;
  px_status s = px_profile_trait(r->txn, r->st, r->cfg, r->sources, r->nsources, entity, name, &json, &n);
  const char *dot = strchr(name, '.');
  char head[PX_RULE_NAME_MAX];
  if (s == PX_NOT_FOUND && dot) {
    snprintf(head, sizeof head, "%.*s", (int)(dot - name), name);
    s = px_profile_trait(r->txn, r->st, r->cfg, r->sources, r->nsources, entity, head, &json, &n);
  } else {
    dot = NULL;
  }
  if (s == PX_NOT_FOUND) return PX_OK;
  if (s != PX_OK) return s;
  cJSON *root = cJSON_ParseWithLength(json, n);
  const cJSON *j = root;
  for (const char *p = dot ? dot + 1 : NULL; p && j;) {
    const char *end = strchr(p, '.');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    snprintf(head, sizeof head, "%.*s", (int)len, p);
    j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, head) : NULL;
    p = end ? end + 1 : NULL;
  }
  px_buf_reset(&r->scratch);
  from_json(j, &r->scratch, v);
  cJSON_Delete(root);
  return PX_OK;
}

/* Feature f of profile pid as a rule would read it. */
static px_status value(reader *r, const px_feature *f, uint64_t pid, const px_profile_rec *rec, px_rule_value *v) {
  memset(v, 0, sizeof *v);
  switch (f->ns) {
    case PX_NS_PROFILE:
      if (strcmp(f->name, "events") == 0) v->type = PX_RV_NUM, v->n = (double)rec->events;
      else v->type = PX_RV_TIME, v->t = strcmp(f->name, "first_seen") == 0 ? rec->first_seen : rec->last_seen;
      return PX_OK;
    case PX_NS_COMPUTED: {
      px_buf_reset(&r->scratch);
      px_status s = px_ctrait_value(r->txn, r->st, pid, f->name, r->now, &r->scratch, v);
      return s == PX_NOT_FOUND ? PX_OK : s; /* deleted meanwhile: missing */
    }
    case PX_NS_TRAIT: return trait(r, pid, f->name, v);
    case PX_NS_ACCOUNT: {
      uint64_t aid;
      px_status s = px_profile_account(r->txn, r->st, pid, &aid);
      if (s == PX_NOT_FOUND) return PX_OK;
      return s == PX_OK ? trait(r, aid, f->name, v) : s;
    }
    case PX_NS_SCORE: {
      px_buf_reset(&r->scratch);
      px_status s = px_score_get(r->txn, r->st, pid, f->name, v, &r->scratch);
      return s == PX_NOT_FOUND ? PX_OK : s;
    }
    default: return PX_OK;
  }
}

/* The value as a number: itself, or whole days since a time. 0: missing. */
static int number(const reader *r, const px_feature *f, const px_rule_value *v, double *x) {
  if (f->days) {
    int64_t t, days;
    if (v->type == PX_RV_TIME) {
      t = v->t;
    } else if (v->type == PX_RV_STR && v->len < 64) {
      char iso[64];
      memcpy(iso, v->s, v->len);
      iso[v->len] = 0;
      if (px_time_parse_iso(iso, &t) != PX_OK) return 0;
    } else {
      return 0;
    }
    if (!px_rule_days_since(r->now, t, &days)) return 0;
    *x = (double)days;
    return 1;
  }
  if (v->type != PX_RV_NUM || !isfinite(v->n)) return 0;
  *x = v->n;
  return 1;
}

static int read_profile(void *arg, uint64_t pid, const px_profile_rec *rec) {
  reader *r = arg;
  px_feature_rows *o = r->out;
  if (o->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 1024;
    double *x = realloc(o->x, nc * (size_t)r->d * sizeof *x);
    if (x) o->x = x;
    uint64_t *p = x ? realloc(o->pids, nc * sizeof *p) : NULL;
    if (p) o->pids = p;
    if (!x || !p) return r->status = PX_NOMEM, 1;
    r->cap = nc;
  }
  double *row = o->x + o->n * (size_t)r->d;
  int complete = 1;
  for (int i = 0; i < r->d; i++) {
    px_rule_value v;
    if ((r->status = value(r, &r->f[i], pid, rec, &v)) != PX_OK) return 1;
    if (!number(r, &r->f[i], &v, &row[i])) {
      o->missing[i]++;
      complete = 0;
    } else if (r->log1p && r->log1p[i] && row[i] < 0) {
      o->negative[i]++;
      complete = 0;
    }
  }
  o->profiles++;
  if (complete) o->pids[o->n++] = pid;
  else o->left_out++;
  return 0;
}

px_status px_features_read(px_txn *txn, const px_store *st, const px_config *cfg, const px_feature *f, int d,
                           const unsigned char *log1p, int64_t now_ms, px_feature_rows *out) {
  if (d < 1 || d > PX_FEATURES_MAX) return PX_INVALID;
  reader r = {.txn = txn, .st = st, .cfg = cfg, .f = f, .d = d, .log1p = log1p, .now = now_ms, .out = out};
  px_buf_init(&r.scratch, 1 << 20);
  px_status s = px_source_list(txn, st, &r.sources, &r.nsources);
  if (s == PX_OK) s = px_profile_each_live(txn, st, read_profile, &r);
  if (s == PX_OK) s = r.status;
  free(r.sources);
  px_buf_free(&r.scratch);
  return s;
}

void px_feature_rows_free(px_feature_rows *r) {
  if (!r) return;
  free(r->x);
  free(r->pids);
  memset(r, 0, sizeof *r);
}
