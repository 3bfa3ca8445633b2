/* The recommendations definition: parsing, printing, storing (recs.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "recs/recs.h"
#include "segment/def.h"
#include "segment/every.h"

#define DEF_EVERY_MS 60000LL
static const char *const kind_names[] = {"purchase", "cart", "view"};
static const double kind_weights[] = {1, 0.5, 0.25};

void px_recs_def_free(px_recs_def *d) {
  for (size_t i = 0; i < d->n_in; i++) free(d->in[i].where);
  free(d->exclude);
  memset(d, 0, sizeof *d);
}

static int known(const char *m, const char *const *names) {
  for (; *names; names++)
    if (strcmp(m, *names) == 0) return 1;
  return 0;
}

/* An event rule's text (checked by compiling it) into *out (malloc'd). */
static px_status rule_member(const cJSON *v, const char *field, char **out, px_error *err) {
  if (!v || cJSON_IsNull(v)) return PX_OK;
  if (!cJSON_IsString(v) || !v->valuestring[0])
    return px_error_set(err, PX_INVALID, field, "must be an event rule (a string) or null");
  px_rule *r = NULL;
  px_rule_error re;
  px_status s = px_rule_compile(v->valuestring, strlen(v->valuestring), PX_RULE_EVENT, &r, &re);
  px_rule_free(r);
  if (s == PX_INVALID || s == PX_TOO_LARGE)
    return px_error_set(err, PX_INVALID, field, "%d:%d: %s", re.line, re.column, re.message);
  if (s != PX_OK) return s;
  return (*out = strdup(v->valuestring)) ? PX_OK : PX_NOMEM;
}

static px_status duration_member(const cJSON *j, const char *member, int64_t *out, px_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, member);
  if (!v || cJSON_IsNull(v)) return PX_OK;
  char field[64];
  snprintf(field, sizeof field, "recommendations.%s", member);
  if (!cJSON_IsString(v) || px_agg_window_parse(v->valuestring, out) != PX_OK)
    return px_error_set(err, PX_INVALID, field, "a duration (\"30d\", \"12h\", \"2w\") or null");
  return PX_OK;
}

static px_status count_member(const cJSON *j, const char *member, double lo, double hi, uint32_t *out,
                              px_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, member);
  if (!v) return PX_OK;
  char field[64];
  snprintf(field, sizeof field, "recommendations.%s", member);
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
    return px_error_set(err, PX_INVALID, field, "must be a whole number from %g to %g", lo, hi);
  *out = (uint32_t)v->valuedouble;
  return PX_OK;
}

static px_status interaction(const cJSON *j, size_t i, px_recs_interaction *out, px_error *err) {
  static const char *const members[] = {"event", "item", "kind", "weight", "where", NULL};
  char field[80];
  snprintf(field, sizeof field, "recommendations.interactions[%zu]", i);
  if (!cJSON_IsObject(j)) return px_error_set(err, PX_INVALID, field, "must be an object {\"event\", \"item\", ...}");
  const cJSON *c;
  cJSON_ArrayForEach(c, j) {
    if (!known(c->string, members))
      return px_error_set(err, PX_INVALID, field, "unknown member \"%.64s\" (event, item, kind, weight, where)",
                          c->string);
  }
  const char *names[2] = {"event", "item"};
  char *dst[2] = {out->event, out->item};
  for (int k = 0; k < 2; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, names[k]);
    snprintf(field, sizeof field, "recommendations.interactions[%zu].%s", i, names[k]);
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= PX_RULE_NAME_MAX)
      return px_error_set(err, PX_INVALID, field, "required: a string of 1 to %d bytes (%s)", PX_RULE_NAME_MAX - 1,
                          k ? "the property holding the item id, e.g. \"products[].product_id\"" : "an event name");
    strcpy(dst[k], v->valuestring);
  }
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
  out->kind = PX_RECS_PURCHASE;
  if (kind) {
    int found = 0;
    for (int k = 0; k < 3 && !found; k++)
      if (cJSON_IsString(kind) && strcmp(kind->valuestring, kind_names[k]) == 0) out->kind = (px_recs_kind)k, found = 1;
    snprintf(field, sizeof field, "recommendations.interactions[%zu].kind", i);
    if (!found) return px_error_set(err, PX_INVALID, field, "must be \"purchase\", \"cart\" or \"view\"");
  }
  out->weight = kind_weights[out->kind];
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "weight");
  snprintf(field, sizeof field, "recommendations.interactions[%zu].weight", i);
  if (w && !(cJSON_IsNumber(w) && w->valuedouble > 0 && w->valuedouble <= 1000))
    return px_error_set(err, PX_INVALID, field, "must be a number > 0 and <= 1000");
  if (w) out->weight = w->valuedouble;
  snprintf(field, sizeof field, "recommendations.interactions[%zu].where", i);
  return rule_member(cJSON_GetObjectItemCaseSensitive(j, "where"), field, &out->where, err);
}

static px_status parse(const cJSON *j, px_recs_def *out, px_error *err) {
  static const char *const members[] = {"interactions", "neighbours", "shrinkage", "locality", "half_life",
                                        "recent_items", "repurchase_after", "max_per_category", "catalog_only",
                                        "exclude", "fallback_segments", "refresh_every", NULL};
  if (!cJSON_IsObject(j))
    return px_error_set(err, PX_INVALID, "recommendations", "must be an object {\"interactions\": [...], ...}");
  const cJSON *c;
  cJSON_ArrayForEach(c, j) {
    if (!known(c->string, members))
      return px_error_set(err, PX_INVALID, "recommendations",
                          "unknown member \"%.64s\" (interactions, neighbours, shrinkage, locality, half_life, "
                          "recent_items, repurchase_after, max_per_category, catalog_only, exclude, "
                          "fallback_segments, refresh_every)",
                          c->string);
  }
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "interactions");
  int nin = cJSON_IsArray(in) ? cJSON_GetArraySize(in) : 0;
  if (nin < 1 || nin > PX_RECS_MAX_INTERACTIONS)
    return px_error_set(err, PX_INVALID, "recommendations.interactions",
                        "required: an array of 1 to %d interactions {\"event\", \"item\", \"kind\", \"weight\"}",
                        PX_RECS_MAX_INTERACTIONS);
  px_status s = PX_OK;
  for (int i = 0; i < nin && s == PX_OK; i++, out->n_in++)
    s = interaction(cJSON_GetArrayItem(in, i), (size_t)i, &out->in[i], err);
  if (s != PX_OK) return s;
  if ((s = count_member(j, "neighbours", 1, PX_RECO_MAX_NEIGHBOURS, &out->neighbours, err)) != PX_OK ||
      (s = count_member(j, "recent_items", 0, 100000, &out->recent_items, err)) != PX_OK ||
      (s = count_member(j, "max_per_category", 0, PX_RECS_MAX_N, &out->max_per_category, err)) != PX_OK)
    return s;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "shrinkage");
  if (v && !(cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e6))
    return px_error_set(err, PX_INVALID, "recommendations.shrinkage", "must be a number from 0 to 1000000");
  if (v) out->shrinkage = v->valuedouble;
  v = cJSON_GetObjectItemCaseSensitive(j, "locality");
  if (v && !(cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble <= 10))
    return px_error_set(err, PX_INVALID, "recommendations.locality", "must be a number > 0 and <= 10");
  if (v) out->locality = v->valuedouble;
  if ((s = duration_member(j, "half_life", &out->half_life_ms, err)) != PX_OK ||
      (s = duration_member(j, "repurchase_after", &out->repurchase_ms, err)) != PX_OK)
    return s;
  v = cJSON_GetObjectItemCaseSensitive(j, "catalog_only");
  if (v && !cJSON_IsBool(v))
    return px_error_set(err, PX_INVALID, "recommendations.catalog_only", "must be true or false");
  out->catalog_only = cJSON_IsTrue(v);
  if ((s = rule_member(cJSON_GetObjectItemCaseSensitive(j, "exclude"), "recommendations.exclude", &out->exclude,
                       err)) != PX_OK)
    return s;
  const cJSON *segs = cJSON_GetObjectItemCaseSensitive(j, "fallback_segments");
  if (segs && !(cJSON_IsArray(segs) && cJSON_GetArraySize(segs) <= PX_RECS_MAX_SEGMENTS))
    return px_error_set(err, PX_INVALID, "recommendations.fallback_segments",
                        "must be an array of at most %d segment names", PX_RECS_MAX_SEGMENTS);
  cJSON_ArrayForEach(c, segs) {
    char field[64];
    snprintf(field, sizeof field, "recommendations.fallback_segments[%zu]", out->n_segments);
    if (!cJSON_IsString(c) || !px_def_name_ok(c->valuestring))
      return px_error_set(err, PX_INVALID, field, "must be a segment name (1-127 bytes of A-Z a-z 0-9 _ - .)");
    strcpy(out->segments[out->n_segments++], c->valuestring);
  }
  v = cJSON_GetObjectItemCaseSensitive(j, "refresh_every");
  if (v && !(cJSON_IsString(v) && px_every_parse(v->valuestring, &out->every_ms)))
    return px_error_set(err, PX_INVALID, "recommendations.refresh_every",
                        "a positive whole number and a unit s, m, h, d or w (\"1m\"), or \"never\"");
  return PX_OK;
}

px_status px_recs_def_parse(const cJSON *j, px_recs_def *out, px_error *err) {
  memset(out, 0, sizeof *out);
  out->neighbours = 50;
  out->shrinkage = 5;
  out->locality = 3;
  out->recent_items = 100;
  out->every_ms = DEF_EVERY_MS;
  px_status s = parse(j, out, err);
  if (s != PX_OK) px_recs_def_free(out);
  return s;
}

static void put_duration(px_buf *out, const char *member, int64_t ms) {
  px_buf_printf(out, ",\"%s\":", member);
  if (!ms) {
    px_buf_puts(out, "null");
    return;
  }
  char text[32];
  px_agg_window_format(ms, text);
  px_buf_printf(out, "\"%s\"", text);
}

static void put_rule(px_buf *out, const char *member, const char *rule) {
  px_buf_printf(out, ",\"%s\":", member);
  if (rule) px_buf_json_str(out, rule, strlen(rule));
  else px_buf_puts(out, "null");
}

px_status px_recs_def_print(const px_recs_def *d, px_buf *out) {
  char num[40];
  px_buf_puts(out, "{\"interactions\":[");
  for (size_t i = 0; i < d->n_in; i++) {
    const px_recs_interaction *x = &d->in[i];
    px_buf_puts(out, i ? ",{\"event\":" : "{\"event\":");
    px_buf_json_str(out, x->event, strlen(x->event));
    px_buf_puts(out, ",\"item\":");
    px_buf_json_str(out, x->item, strlen(x->item));
    px_num_shortest(x->weight, num);
    px_buf_printf(out, ",\"kind\":\"%s\",\"weight\":%s", kind_names[x->kind], num);
    if (x->where) put_rule(out, "where", x->where);
    px_buf_putc(out, '}');
  }
  px_buf_printf(out, "],\"neighbours\":%u", d->neighbours);
  px_num_shortest(d->shrinkage, num);
  px_buf_printf(out, ",\"shrinkage\":%s", num);
  px_num_shortest(d->locality, num);
  px_buf_printf(out, ",\"locality\":%s", num);
  put_duration(out, "half_life", d->half_life_ms);
  px_buf_printf(out, ",\"recent_items\":%u", d->recent_items);
  put_duration(out, "repurchase_after", d->repurchase_ms);
  px_buf_printf(out, ",\"max_per_category\":%u,\"catalog_only\":%s", d->max_per_category,
                d->catalog_only ? "true" : "false");
  put_rule(out, "exclude", d->exclude);
  px_buf_puts(out, ",\"fallback_segments\":[");
  for (size_t i = 0; i < d->n_segments; i++) {
    if (i) px_buf_putc(out, ',');
    px_buf_json_str(out, d->segments[i], strlen(d->segments[i]));
  }
  char every[32];
  px_every_format(d->every_ms, every);
  return px_buf_printf(out, "],\"refresh_every\":\"%s\"}", every);
}

/* The computed trait of interaction i, as px_ctrait_define takes it. */
static char *trait_json(const px_recs_interaction *x, size_t i) {
  char name[32];
  snprintf(name, sizeof name, PX_RECS_TRAIT_PREFIX "%zu", i);
  cJSON *t = cJSON_CreateObject();
  char *text = NULL;
  if (t && cJSON_AddStringToObject(t, "name", name) && cJSON_AddStringToObject(t, "function", "items") &&
      cJSON_AddStringToObject(t, "event", x->event) && cJSON_AddStringToObject(t, "property", x->item) &&
      (!x->where || cJSON_AddStringToObject(t, "where", x->where)))
    text = cJSON_PrintUnformatted(t);
  cJSON_Delete(t);
  return text;
}

px_status px_recs_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                         int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err) {
  cJSON *j = cJSON_ParseWithLength(json, n);
  px_recs_def d;
  px_status s = j ? px_recs_def_parse(j, &d, err) : px_error_set(err, PX_INVALID, "recommendations", "not valid JSON");
  cJSON_Delete(j);
  if (s != PX_OK) return s;
  for (size_t i = 0; i < d.n_in && s == PX_OK; i++) {
    char *text = trait_json(&d.in[i], i);
    if (!text) {
      s = PX_NOMEM;
      break;
    }
    px_error terr;
    px_error_clear(&terr);
    s = px_ctrait_define(txn, st, cfg, text, strlen(text), now_ms, progress, arg, &terr);
    cJSON_free(text);
    if (s == PX_INVALID) {
      char field[sizeof err->field];
      snprintf(field, sizeof field, "recommendations.interactions[%zu].%.64s", i,
               strcmp(terr.field, "property") == 0 ? "item" : terr.field);
      px_error_set(err, s, field, "%s", terr.reason);
    }
  }
  /* The traits of interactions the definition no longer has. */
  for (size_t i = d.n_in; i < PX_RECS_MAX_INTERACTIONS && s == PX_OK; i++) {
    char name[32];
    snprintf(name, sizeof name, PX_RECS_TRAIT_PREFIX "%zu", i);
    s = px_ctrait_delete(txn, st, cfg, name, now_ms);
    if (s == PX_NOT_FOUND) s = PX_OK;
  }
  px_buf body;
  px_buf_init(&body, 0);
  if (s == PX_OK && (s = px_recs_def_print(&d, &body)) == PX_OK && body.len > PX_DEF_BODY_MAX)
    s = px_error_set(err, PX_INVALID, "recommendations", "larger than %d bytes once stored", PX_DEF_BODY_MAX);
  if (s == PX_OK) s = px_def_put(txn, st, PX_DEF_RECS, PX_RECS_DEF_NAME, body.data, body.len, now_ms, NULL, NULL);
  px_buf_free(&body);
  px_recs_def_free(&d);
  return s;
}

px_status px_recs_def_get(px_txn *txn, const px_store *st, px_recs_def *out, int64_t *updated_ms) {
  px_def def;
  px_status s = px_def_get(txn, st, PX_DEF_RECS, PX_RECS_DEF_NAME, &def);
  if (s != PX_OK) return s;
  cJSON *j = cJSON_Parse(def.body);
  s = j && px_recs_def_parse(j, out, NULL) == PX_OK ? PX_OK : PX_STORE;
  cJSON_Delete(j);
  if (updated_ms) *updated_ms = def.updated_ms;
  px_def_free(&def);
  return s;
}
