/* Journey stage models kept as exclusive stage segments (segment/journey.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/timeutil.h"
#include "profile/profile.h"
#include "segment/def.h"
#include "segment/journey.h"
#include "segment/members.h"

#define DAY_MS 86400000.0

static const char retail[] =
    "{\"stages\":["
    "{\"name\":\"new_visitor\",\"rule\":\"true\"},"
    "{\"name\":\"browsing\",\"rule\":\"at least 1 event \\\"Product Viewed\\\"\"},"
    "{\"name\":\"considering\",\"rule\":\"at least 1 event \\\"Product Added\\\" in last 30 days or at least 1 event "
    "\\\"Checkout Started\\\" in last 30 days\"},"
    "{\"name\":\"first_purchase\",\"rule\":\"at least 1 event \\\"Order Completed\\\"\"},"
    "{\"name\":\"repeat\",\"rule\":\"at least 2 events \\\"Order Completed\\\"\"},"
    "{\"name\":\"loyal\",\"rule\":\"at least 5 events \\\"Order Completed\\\" and at least 1 event \\\"Order "
    "Completed\\\" in last 90 days\"},"
    "{\"name\":\"lapsing\",\"rule\":\"at least 1 event \\\"Order Completed\\\" and no event \\\"Order Completed\\\" "
    "in last 90 days\"},"
    "{\"name\":\"lost\",\"rule\":\"at least 1 event \\\"Order Completed\\\" and no event \\\"Order Completed\\\" in "
    "last 365 days\"}]}";

#define ADOPTED "(at least 1 event \\\"Subscription Started\\\" or at least 1 event \\\"Order Completed\\\")"
static const char business[] =
    "{\"stages\":["
    "{\"name\":\"need\",\"rule\":\"true\"},"
    "{\"name\":\"research\",\"rule\":\"at least 1 event \\\"Content Viewed\\\" or at least 1 event \\\"Product "
    "Viewed\\\" or at least 1 event \\\"Signed Up\\\"\"},"
    "{\"name\":\"decide\",\"rule\":\"at least 1 event \\\"Demo Requested\\\" or at least 1 event \\\"Trial "
    "Started\\\" or at least 1 event \\\"Quote Requested\\\"\"},"
    "{\"name\":\"adopt\",\"rule\":\"" ADOPTED "\"},"
    "{\"name\":\"use\",\"rule\":\"" ADOPTED " and at least 5 events \\\"Feature Used\\\" in last 30 days\"},"
    "{\"name\":\"recommend\",\"rule\":\"" ADOPTED " and (at least 1 event \\\"Referral Sent\\\" or at least 1 event "
    "\\\"Review Submitted\\\")\"}]}";

const char *px_journey_preset(const char *name) {
  if (strcmp(name, "retail") == 0) return retail;
  if (strcmp(name, "business") == 0) return business;
  return NULL;
}

/* 1-47 bytes of a-z 0-9 _ */
static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n >= PX_JOURNEY_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
  return 1;
}

typedef struct model {
  char name[PX_JOURNEY_NAME_MAX];
  int n;
  char stage[PX_JOURNEY_MAX_STAGES][PX_JOURNEY_NAME_MAX];
  const char *rule[PX_JOURNEY_MAX_STAGES]; /* into the parsed JSON */
  uint32_t seg[PX_JOURNEY_MAX_STAGES];     /* the stage segments' ids (once loaded) */
} model;

static void segment_name(const char *model_name, const char *stage, char out[PX_DEF_NAME_MAX]) {
  snprintf(out, PX_DEF_NAME_MAX, "journey.%s.%s", model_name, stage);
}

/* The stages of a definition (j: {"stages": [...]}) into m; rules point into j. */
static px_status parse_stages(const cJSON *j, model *m, px_error *err) {
  const cJSON *c;
  if (!cJSON_IsObject(j)) return px_error_set(err, PX_INVALID, "journey", "must be an object {\"stages\": [...]}");
  cJSON_ArrayForEach(c, j) {
    if (strcmp(c->string, "stages"))
      return px_error_set(err, PX_INVALID, "journey", "unknown member \"%.64s\" (stages, or preset alone)", c->string);
  }
  const cJSON *stages = cJSON_GetObjectItemCaseSensitive(j, "stages");
  int n = cJSON_GetArraySize(stages);
  if (!cJSON_IsArray(stages) || n < 2 || n > PX_JOURNEY_MAX_STAGES)
    return px_error_set(err, PX_INVALID, "journey.stages", "must be a list of 2 to %d stages {\"name\", \"rule\"}",
                        PX_JOURNEY_MAX_STAGES);
  m->n = 0;
  cJSON_ArrayForEach(c, stages) {
    char field[64];
    int k = m->n;
    snprintf(field, sizeof field, "journey.stages[%d]", k);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name"), *rule = cJSON_GetObjectItemCaseSensitive(c, "rule");
    if (!cJSON_IsObject(c) || cJSON_GetArraySize(c) != 2 || !cJSON_IsString(name) || !cJSON_IsString(rule))
      return px_error_set(err, PX_INVALID, field, "must be {\"name\": STAGE, \"rule\": RULE}");
    if (!name_ok(name->valuestring))
      return px_error_set(err, PX_INVALID, field, "a stage name is 1-%d characters of a-z 0-9 _",
                          PX_JOURNEY_NAME_MAX - 1);
    for (int i = 0; i < k; i++)
      if (strcmp(m->stage[i], name->valuestring) == 0)
        return px_error_set(err, PX_INVALID, field, "stage \"%s\" is given twice", name->valuestring);
    strcpy(m->stage[k], name->valuestring);
    m->rule[k] = rule->valuestring;
    m->n++;
  }
  return PX_OK;
}

/* Stage k's segment rule: its own rule and none of the later ones. */
static px_status stage_rule(const model *m, int k, px_buf *out) {
  px_buf_reset(out);
  for (int j = k; j < m->n; j++) {
    const char *nl = strchr(m->rule[j], '#') ? "\n" : ""; /* a rule may end in a # comment */
    px_buf_printf(out, "%s(%s%s)", j == k ? "" : j == k + 1 ? " and not (" : " or ", m->rule[j], nl);
  }
  return px_buf_puts(out, k + 1 < m->n ? ")" : "");
}

/* The stored model of name (its rules pointing into *root, to free). */
static px_status load(px_txn *txn, const px_store *st, const char *name, model *m, cJSON **root) {
  *root = NULL;
  memset(m, 0, sizeof *m);
  px_def d;
  px_status s = px_def_get(txn, st, PX_DEF_JOURNEY, name, &d);
  if (s != PX_OK) return s;
  *root = cJSON_Parse(d.body);
  px_def_free(&d);
  snprintf(m->name, sizeof m->name, "%s", name);
  if (!*root || parse_stages(*root, m, NULL) != PX_OK) return PX_STORE;
  for (int k = 0; k < m->n && s == PX_OK; k++) {
    char seg[PX_DEF_NAME_MAX];
    segment_name(name, m->stage[k], seg);
    px_def sd;
    if ((s = px_def_get(txn, st, PX_DEF_SEGMENT, seg, &sd)) == PX_OK) {
      m->seg[k] = sd.id;
      px_def_free(&sd);
    } else if (s == PX_NOT_FOUND) {
      s = PX_OK; /* deleted by hand: the stage has no members */
    }
  }
  return s;
}

/* The definition's stages (a preset read as its stages), after the name;
 * *root (to free) holds the rules m points into. */
static px_status parse_def(const char *name, const cJSON *j, model *m, cJSON **root, px_error *err) {
  *root = NULL;
  if (!name || !name_ok(name))
    return px_error_set(err, PX_INVALID, "name", "a journey name is 1-%d characters of a-z 0-9 _",
                        PX_JOURNEY_NAME_MAX - 1);
  const cJSON *preset = cJSON_GetObjectItemCaseSensitive(j, "preset");
  if (preset) {
    const char *text = cJSON_IsString(preset) && cJSON_GetArraySize(j) == 1 ? px_journey_preset(preset->valuestring) : NULL;
    if (!text) return px_error_set(err, PX_INVALID, "journey.preset", "must be \"retail\" or \"business\", and alone");
    if (!(*root = cJSON_Parse(text))) return PX_NOMEM;
    j = *root;
  }
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%s", name);
  px_status s = parse_stages(j, m, err);
  /* Each rule on its own: a stage's segment rule holds the later stages'
   * rules too, and an error should name the stage it is in. */
  for (int k = 0; k < m->n && s == PX_OK; k++) {
    px_rule_error rerr = {0};
    px_rule *r = NULL;
    if ((s = px_rule_compile(m->rule[k], strlen(m->rule[k]), PX_RULE_PROFILE, &r, &rerr)) == PX_INVALID ||
        s == PX_TOO_LARGE)
      s = px_error_set(err, PX_INVALID, "", "stage %s: line %d, column %d: %s", m->stage[k], rerr.line, rerr.column,
                       rerr.message);
    if (s == PX_INVALID && err) snprintf(err->field, sizeof err->field, "journey.stages[%d].rule", k);
    px_rule_free(r);
  }
  return s;
}

px_status px_journey_check(const char *name, const cJSON *j, px_error *err) {
  model m;
  cJSON *root;
  px_status s = parse_def(name, j, &m, &root, err);
  cJSON_Delete(root);
  return s;
}

px_status px_journey_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, const char *json,
                            size_t n, int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err) {
  cJSON *j = cJSON_ParseWithLength(json, n), *preset_root = NULL;
  if (!j && name && name_ok(name)) return px_error_set(err, PX_INVALID, "journey", "not valid JSON");
  model m;
  px_status s = parse_def(name, j, &m, &preset_root, err);
  /* The old version's stages that this one drops go. */
  model old;
  cJSON *old_root = NULL;
  px_status ls = s == PX_OK ? load(txn, st, name, &old, &old_root) : PX_NOT_FOUND;
  if (s == PX_OK && ls != PX_OK && ls != PX_NOT_FOUND) s = ls;
  for (int i = 0; s == PX_OK && ls == PX_OK && i < old.n; i++) {
    int kept = 0;
    for (int k = 0; k < m.n; k++) kept |= strcmp(old.stage[i], m.stage[k]) == 0;
    char seg[PX_DEF_NAME_MAX];
    segment_name(name, old.stage[i], seg);
    if (!kept && (s = px_segment_delete(txn, st, cfg, seg, now_ms)) == PX_NOT_FOUND) s = PX_OK;
  }
  cJSON_Delete(old_root);
  px_buf rule;
  px_buf_init(&rule, 0);
  for (int k = 0; k < m.n && s == PX_OK; k++) {
    char seg[PX_DEF_NAME_MAX];
    segment_name(name, m.stage[k], seg);
    if ((s = stage_rule(&m, k, &rule)) != PX_OK) break;
    px_rule_error rerr = {0};
    s = px_segment_define(txn, st, cfg, seg, rule.data, now_ms, progress, arg, &rerr);
    if (s == PX_INVALID || s == PX_TOO_LARGE)
      s = px_error_set(err, PX_INVALID, "journey.stages", "stage %s: %s", m.stage[k], rerr.message);
  }
  px_buf_free(&rule);
  char *body = s == PX_OK ? cJSON_PrintUnformatted(preset_root ? preset_root : j) : NULL;
  if (s == PX_OK && !body) s = PX_NOMEM;
  if (s == PX_OK) s = px_def_put(txn, st, PX_DEF_JOURNEY, name, body, strlen(body), now_ms, NULL, NULL);
  cJSON_free(body);
  cJSON_Delete(preset_root);
  cJSON_Delete(j);
  return s;
}

px_status px_journey_delete(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, int64_t now_ms) {
  model m;
  cJSON *root;
  px_status s = load(txn, st, name, &m, &root);
  for (int k = 0; k < m.n && s == PX_OK; k++) {
    char seg[PX_DEF_NAME_MAX];
    segment_name(name, m.stage[k], seg);
    if ((s = px_segment_delete(txn, st, cfg, seg, now_ms)) == PX_NOT_FOUND) s = PX_OK;
  }
  cJSON_Delete(root);
  return s == PX_OK ? px_def_del(txn, st, PX_DEF_JOURNEY, name) : s;
}

static px_status model_json(px_txn *txn, const px_store *st, const model *m, px_buf *out) {
  px_buf_printf(out, "{\"name\":\"%s\",\"stages\":[", m->name);
  px_status s = PX_OK;
  for (int k = 0; k < m->n && s == PX_OK; k++) {
    char seg[PX_DEF_NAME_MAX];
    segment_name(m->name, m->stage[k], seg);
    uint64_t count = 0;
    if (m->seg[k]) s = px_members_count(txn, st, m->seg[k], &count);
    px_buf_printf(out, "%s{\"name\":\"%s\",\"rule\":", k ? "," : "", m->stage[k]);
    px_buf_json_str(out, m->rule[k], strlen(m->rule[k]));
    px_buf_printf(out, ",\"segment\":\"%s\",\"profiles\":%llu}", seg, (unsigned long long)count);
  }
  return s == PX_OK ? px_buf_puts(out, "]}") : s;
}

px_status px_journey_get(px_txn *txn, const px_store *st, const char *name, px_buf *out) {
  model m;
  cJSON *root;
  px_status s = load(txn, st, name, &m, &root);
  if (s == PX_OK) s = model_json(txn, st, &m, out);
  cJSON_Delete(root);
  return s;
}

px_status px_journey_list(px_txn *txn, const px_store *st, px_buf *out) {
  px_def *defs;
  size_t n;
  px_status s = px_def_list(txn, st, PX_DEF_JOURNEY, &defs, &n);
  if (s != PX_OK) return s;
  px_buf_puts(out, "{\"journeys\":[");
  for (size_t i = 0; i < n; i++) {
    if (s == PX_OK && i) px_buf_putc(out, ',');
    if (s == PX_OK) s = px_journey_get(txn, st, defs[i].name, out);
    px_def_free(&defs[i]);
  }
  free(defs);
  return s == PX_OK ? px_buf_puts(out, "]}") : s;
}

/* ---- stays, from the segment history ---- */

typedef struct stay {
  int stage;
  int64_t entered, left; /* left: INT64_MAX while in it */
} stay;

typedef struct stays {
  const model *m;
  stay *v;
  size_t n, cap;
  int nomem;
  /* Stages left at time pending_t with no stay open: the history orders a
   * millisecond's rows by cause, so an entry (by a definition) may come
   * after the leaving (by an event) that followed it. */
  uint32_t pending;
  int64_t pending_t;
} stays;

static int stage_of_segment(const model *m, uint32_t seg) {
  for (int k = 0; k < m->n; k++)
    if (m->seg[k] && m->seg[k] == seg) return k;
  return -1;
}

static int collect_stay(void *arg, const px_seg_change *c) {
  stays *ss = arg;
  int k = stage_of_segment(ss->m, c->segment);
  if (k < 0) return 0;
  if (ss->pending && ss->pending_t != c->time_ms) ss->pending = 0;
  if (!c->entered) { /* closes the open stay in k */
    for (size_t i = ss->n; i-- > 0;)
      if (ss->v[i].stage == k && ss->v[i].left == INT64_MAX) {
        ss->v[i].left = c->time_ms;
        return 0;
      }
    ss->pending |= 1u << k, ss->pending_t = c->time_ms;
    return 0;
  }
  int64_t left = INT64_MAX;
  if (ss->pending & (1u << k)) { /* entered and left within the millisecond */
    ss->pending &= ~(1u << k);
    left = c->time_ms;
  }
  if (ss->n == ss->cap) {
    size_t nc = ss->cap ? ss->cap * 2 : 8;
    stay *p = realloc(ss->v, nc * sizeof *p);
    if (!p) return ss->nomem = 1;
    ss->v = p;
    ss->cap = nc;
  }
  ss->v[ss->n++] = (stay){k, c->time_ms, left};
  return 0;
}

/* A profile's stays in m, in the order they began (ss->v reused across
 * calls); a stay that began and ended within a millisecond comes before
 * the one that followed it then. */
static px_status stays_of(px_txn *txn, const px_store *st, uint64_t pid, stays *ss) {
  ss->n = 0;
  ss->pending = 0;
  px_status s = px_segment_history(txn, st, pid, collect_stay, ss);
  if (s == PX_OK && ss->nomem) s = PX_NOMEM;
  for (size_t i = 1; i < ss->n; i++) { /* nearly sorted already: insertion */
    stay y = ss->v[i];
    size_t j = i;
    while (j > 0 && (ss->v[j - 1].entered > y.entered || (ss->v[j - 1].entered == y.entered && ss->v[j - 1].left > y.left)))
      ss->v[j] = ss->v[j - 1], j--;
    ss->v[j] = y;
  }
  return s;
}

static void iso(px_buf *out, int64_t t) {
  char at[32];
  px_time_format_iso(t, at);
  px_buf_printf(out, "\"%s\"", at);
}

px_status px_journey_of(px_txn *txn, const px_store *st, uint64_t pid, int64_t now_ms, px_buf *out) {
  px_def *defs;
  size_t n;
  px_status s = px_def_list(txn, st, PX_DEF_JOURNEY, &defs, &n);
  if (s != PX_OK) return s;
  px_buf_putc(out, '{');
  stays ss = {0};
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    model m;
    cJSON *root;
    if ((s = load(txn, st, defs[i].name, &m, &root)) == PX_OK) {
      ss.m = &m;
      s = stays_of(txn, st, pid, &ss);
    }
    cJSON_Delete(root);
    if (s != PX_OK) break;
    const stay *cur = NULL; /* the open stay (stages are exclusive: one at most) */
    for (size_t k = 0; k < ss.n; k++)
      if (ss.v[k].left == INT64_MAX) cur = &ss.v[k];
    px_buf_printf(out, "%s\"%s\":{\"stage\":", i ? "," : "", m.name);
    if (cur) {
      px_buf_printf(out, "\"%s\",\"since\":", m.stage[cur->stage]);
      iso(out, cur->entered);
    } else {
      px_buf_puts(out, "null,\"since\":null");
    }
    px_buf_puts(out, ",\"stays\":[");
    for (size_t k = 0; k < ss.n; k++) {
      const stay *y = &ss.v[k];
      int64_t end = y->left == INT64_MAX ? now_ms : y->left;
      px_buf_printf(out, "%s{\"stage\":\"%s\",\"entered_at\":", k ? "," : "", m.stage[y->stage]);
      iso(out, y->entered);
      px_buf_puts(out, ",\"left_at\":");
      if (y->left == INT64_MAX) px_buf_puts(out, "null");
      else iso(out, y->left);
      px_buf_printf(out, ",\"days\":%.4f}", (double)(end - y->entered) / DAY_MS);
    }
    px_buf_puts(out, "]}");
  }
  free(ss.v);
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  return s == PX_OK ? px_buf_putc(out, '}') : s;
}

/* ---- the funnel ---- */

typedef struct funnel {
  px_txn *txn;
  const px_store *st;
  int64_t from, to;
  stays ss;
  uint64_t profiles;
  uint64_t at_end[PX_JOURNEY_MAX_STAGES], entered[PX_JOURNEY_MAX_STAGES], advanced[PX_JOURNEY_MAX_STAGES],
      to_next[PX_JOURNEY_MAX_STAGES], left[PX_JOURNEY_MAX_STAGES];
  double days[PX_JOURNEY_MAX_STAGES];
  px_status s;
} funnel;

static int funnel_profile(void *arg, uint64_t pid, const px_profile_rec *rec) {
  (void)rec;
  funnel *f = arg;
  if ((f->s = stays_of(f->txn, f->st, pid, &f->ss)) != PX_OK) return 1;
  f->profiles++;
  const stay *v = f->ss.v;
  size_t n = f->ss.n;
  unsigned counted = 0; /* stages whose entry in the period was counted (once per profile) */
  for (size_t i = 0; i < n; i++) {
    const stay *y = &v[i];
    if (y->entered <= f->to && y->left > f->to) f->at_end[y->stage]++;
    if (y->left >= f->from && y->left <= f->to) {
      f->left[y->stage]++;
      f->days[y->stage] += (double)(y->left - y->entered) / DAY_MS;
    }
    if (y->entered < f->from || y->entered > f->to || (counted & (1u << y->stage))) continue;
    counted |= 1u << y->stage;
    f->entered[y->stage]++;
    /* The stages after this entry, by the period's end. */
    int advanced = 0, next = -1;
    for (size_t j = i + 1; j < n && v[j].entered <= f->to; j++) {
      if (v[j].stage == y->stage) continue;
      if (next < 0) next = v[j].stage;
      if (v[j].stage > y->stage) advanced = 1;
    }
    f->advanced[y->stage] += advanced;
    f->to_next[y->stage] += next == y->stage + 1;
  }
  return 0;
}

px_status px_journey_funnel(px_txn *txn, const px_store *st, const char *name, int64_t from_ms, int64_t to_ms,
                            px_buf *out) {
  if (from_ms > to_ms) return PX_INVALID;
  model m;
  cJSON *root;
  px_status s = load(txn, st, name, &m, &root);
  funnel *f = s == PX_OK ? calloc(1, sizeof *f) : NULL;
  if (s == PX_OK && !f) s = PX_NOMEM;
  if (s == PX_OK) {
    *f = (funnel){.txn = txn, .st = st, .from = from_ms, .to = to_ms, .ss = {.m = &m}};
    s = px_profile_each_live(txn, st, funnel_profile, f);
    if (s == PX_OK) s = f->s;
  }
  if (s == PX_OK) {
    px_buf_printf(out, "{\"journey\":\"%s\",\"from\":", m.name);
    iso(out, from_ms);
    px_buf_puts(out, ",\"to\":");
    iso(out, to_ms);
    px_buf_printf(out, ",\"profiles\":%llu,\"stages\":[", (unsigned long long)f->profiles);
    for (int k = 0; k < m.n; k++) {
      px_buf_printf(out,
                    "%s{\"name\":\"%s\",\"at_end\":%llu,\"entered\":%llu,\"advanced\":%llu,\"to_next\":%llu,"
                    "\"conversion\":",
                    k ? "," : "", m.stage[k], (unsigned long long)f->at_end[k], (unsigned long long)f->entered[k],
                    (unsigned long long)f->advanced[k], (unsigned long long)f->to_next[k]);
      if (f->entered[k]) px_buf_printf(out, "%.6f", (double)f->advanced[k] / (double)f->entered[k]);
      else px_buf_puts(out, "null");
      px_buf_printf(out, ",\"left\":%llu,\"mean_days\":", (unsigned long long)f->left[k]);
      if (f->left[k]) px_buf_printf(out, "%.4f}", f->days[k] / (double)f->left[k]);
      else px_buf_puts(out, "null}");
    }
    s = px_buf_puts(out, "]}");
  }
  if (f) free(f->ss.v);
  free(f);
  cJSON_Delete(root);
  return s;
}
