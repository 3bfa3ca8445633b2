/* Matching configurations: defaults, JSON in (strict: every member known,
 * every error naming its member) and JSON out. Inference is in infer.c. */
#include "match/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/records.h"

static const char *const type_names[] = {"text", "name", "email", "phone", "date", "postcode", "id", "number", NULL};
static const char *const cmp_names[] = {"exact", "jaro_winkler", "levenshtein", "days", "relative_difference", NULL};

static int lookup(const char *s, const char *const *list) {
  for (int i = 0; s && list[i]; i++)
    if (strcmp(s, list[i]) == 0) return i;
  return -1;
}

const char *px_match_type_name(px_match_type t) {
  return t >= PX_MT_TEXT && t <= PX_MT_NUMBER ? type_names[t] : "?";
}

void px_match_config_init(px_match_config *c) {
  memset(c, 0, sizeof *c);
  c->threshold = 0.99;
  c->max_block = 2000;
  c->max_cluster = 50;
  c->u_samples = 1000000;
  c->seed = 1;
}

void px_match_field_defaults(px_match_field *f, px_match_type t) {
  static const px_cmp_field jw_name = {PX_CMP_JARO_WINKLER, {0.94, 0.88, 0.7}, 3};
  static const px_cmp_field jw_text = {PX_CMP_JARO_WINKLER, {0.92, 0.8}, 2};
  static const px_cmp_field edits = {PX_CMP_LEVENSHTEIN, {1, 2}, 2};
  static const px_cmp_field number = {PX_CMP_NUMBER, {0.01, 0.1}, 2};
  f->type = t;
  f->swap_with = -1;
  f->tf = 0;
  switch (t) {
    case PX_MT_NAME: f->cmp = jw_name, f->tf = 1; break;
    case PX_MT_TEXT: f->cmp = jw_text, f->tf = 1; break;
    case PX_MT_NUMBER: f->cmp = number; break;
    default: f->cmp = edits; break; /* typed identifiers: typos and transposed digits */
  }
}

/* ---- reading ---- */

static px_status set_err(px_error *err, const char *path, const char *member, const char *why) {
  char field[128];
  snprintf(field, sizeof field, "%s%s%s", path, *path && member && *member != '[' ? "." : "", member ? member : "");
  return px_error_set(err, PX_INVALID, field, "%s", why);
}

static int field_index(const px_match_config *c, const char *name) {
  for (int i = 0; name && i < c->nfields; i++)
    if (strcmp(c->fields[i].name, name) == 0) return i;
  return -1;
}

static int is_int(const cJSON *j, double lo, double hi) {
  return cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) && j->valuedouble >= lo && j->valuedouble <= hi;
}

static px_status read_thresholds(px_match_field *f, const cJSON *a, const char *path, px_error *err) {
  if (!cJSON_IsArray(a)) return set_err(err, path, "thresholds", "must be an array of numbers");
  int n = cJSON_GetArraySize(a);
  if (n > PX_CMP_MAX_THRESHOLDS) return set_err(err, path, "thresholds", "at most 4 thresholds");
  f->cmp.nthresholds = 0;
  for (const cJSON *t = a->child; t; t = t->next) {
    double v = t->valuedouble, prev = f->cmp.nthresholds ? f->cmp.thresholds[f->cmp.nthresholds - 1] : NAN;
    int ok = cJSON_IsNumber(t) && isfinite(v);
    switch (f->cmp.kind) {
      case PX_CMP_JARO_WINKLER: ok = ok && v > 0 && v < 1 && (isnan(prev) || v < prev); break;
      case PX_CMP_LEVENSHTEIN: ok = ok && is_int(t, 0, 255) && (isnan(prev) || v > prev); break;
      default: ok = ok && v >= 0 && (isnan(prev) || v > prev); break;
    }
    if (!ok)
      return set_err(err, path, "thresholds",
                     f->cmp.kind == PX_CMP_JARO_WINKLER ? "similarities between 0 and 1, decreasing"
                     : f->cmp.kind == PX_CMP_LEVENSHTEIN ? "edit distances 0 to 255, increasing"
                                                         : "non-negative numbers, increasing");
    f->cmp.thresholds[f->cmp.nthresholds++] = v;
  }
  if (f->cmp.kind == PX_CMP_EXACT && f->cmp.nthresholds)
    return set_err(err, path, "thresholds", "an exact comparison has no thresholds");
  if (f->cmp.kind != PX_CMP_EXACT && !f->cmp.nthresholds) /* (else it would be exact by another name) */
    return set_err(err, path, "thresholds", "at least one is required with this comparison");
  return PX_OK;
}

/* One field; swap_with is resolved once every field is known. */
static px_status read_field(px_match_config *c, const cJSON *j, int i, const char **swap, px_error *err) {
  char path[32];
  snprintf(path, sizeof path, "fields[%d]", i);
  if (!cJSON_IsObject(j)) return set_err(err, path, NULL, "must be an object");
  px_match_field *f = &c->fields[i];
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
  int t = lookup(cJSON_GetStringValue(type), type_names);
  if (!type) return set_err(err, path, "type", "is required");
  if (t < 0) return set_err(err, path, "type", "must be text, name, email, phone, date, postcode, id or number");
  px_match_field_defaults(f, (px_match_type)t);
  const cJSON *thresholds = NULL;
  int have_cmp = 0;
  for (const cJSON *m = j->child; m; m = m->next) {
    const char *k = m->string, *sv = cJSON_GetStringValue(m);
    if (strcmp(k, "name") == 0 || strcmp(k, "column") == 0) {
      char *dst = k[0] == 'n' ? f->name : f->column;
      if (!sv || !*sv || strlen(sv) >= PX_MATCH_NAME_MAX)
        return set_err(err, path, k, "must be a non-empty string of at most 127 bytes");
      strcpy(dst, sv);
    } else if (strcmp(k, "type") == 0) {
    } else if (strcmp(k, "compare") == 0) {
      int kind = lookup(sv, cmp_names);
      if (kind < 0) return set_err(err, path, k, "must be exact, jaro_winkler, levenshtein, days or relative_difference");
      if (kind != (int)f->cmp.kind) memset(&f->cmp, 0, sizeof f->cmp);
      f->cmp.kind = (px_cmp_kind)kind;
      have_cmp = 1;
    } else if (strcmp(k, "thresholds") == 0) {
      thresholds = m;
    } else if (strcmp(k, "swap_with") == 0) {
      if (!sv) return set_err(err, path, k, "must be the name of another field");
      *swap = sv;
    } else if (strcmp(k, "term_frequency") == 0) {
      if (!cJSON_IsBool(m)) return set_err(err, path, k, "must be true or false");
      f->tf = cJSON_IsTrue(m);
    } else if (strcmp(k, "date_order") == 0) {
      if (!sv || (strcmp(sv, "dmy") && strcmp(sv, "mdy"))) return set_err(err, path, k, "must be dmy or mdy");
      f->date_order = sv[0] == 'm' ? PX_DATE_MDY : PX_DATE_DMY;
    } else if (strcmp(k, "country_code") == 0) {
      size_t n = sv ? strlen(sv) : 0;
      if (!sv || n >= sizeof f->country_code || strspn(sv, "0123456789") != n)
        return set_err(err, path, k, "must be digits (at most 7)");
      strcpy(f->country_code, sv);
    } else {
      return set_err(err, path, k, "is not a member of a field");
    }
  }
  if (!f->name[0]) return set_err(err, path, "name", "is required");
  if (!f->column[0]) strcpy(f->column, f->name);
  if (thresholds) {
    px_status s = read_thresholds(f, thresholds, path, err);
    if (s != PX_OK) return s;
  } else if (have_cmp && f->cmp.kind != PX_CMP_EXACT && !f->cmp.nthresholds) {
    return set_err(err, path, "thresholds", "are required with this comparison");
  }
  if (px_cmp_levels(&f->cmp) + (*swap != NULL) > PX_EM_MAX_LEVELS)
    return set_err(err, path, "thresholds", "too many levels (at most 8 with null, exact, swapped and different)");
  for (int k = 0; k < i; k++)
    if (strcmp(c->fields[k].name, f->name) == 0) return set_err(err, path, "name", "repeats another field's name");
  return PX_OK;
}

static px_status read_rules(px_match_config *c, const cJSON *a, px_error *err) {
  if (!cJSON_IsArray(a)) return set_err(err, "", "blocking", "must be an array of rules");
  if (cJSON_GetArraySize(a) > PX_MATCH_MAX_RULES) return set_err(err, "", "blocking", "at most 16 rules");
  c->nrules = 0;
  for (const cJSON *r = a->child; r; r = r->next) {
    char path[48];
    snprintf(path, sizeof path, "blocking[%d]", c->nrules);
    px_block_rule *rule = &c->rules[c->nrules];
    memset(rule, 0, sizeof *rule);
    if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) < 1 || cJSON_GetArraySize(r) > PX_BLOCK_MAX_PARTS)
      return set_err(err, path, NULL, "must be an array of 1 to 4 fields");
    for (const cJSON *p = r->child; p; p = p->next) {
      char pp[64];
      snprintf(pp, sizeof pp, "%s[%d]", path, rule->nparts);
      const char *name = cJSON_GetStringValue(p);
      int prefix = 0;
      if (cJSON_IsObject(p)) {
        for (const cJSON *m = p->child; m; m = m->next) {
          if (strcmp(m->string, "field") == 0) {
            if (!(name = cJSON_GetStringValue(m))) return set_err(err, pp, "field", "must be a field's name");
          } else if (strcmp(m->string, "prefix") == 0) {
            if (!is_int(m, 1, 255)) return set_err(err, pp, "prefix", "must be a whole number from 1 to 255");
            prefix = (int)m->valuedouble;
          } else {
            return set_err(err, pp, m->string, "is not a member of a blocking part (field, prefix)");
          }
        }
      } else if (!name) {
        return set_err(err, pp, NULL, "must be a field's name or {\"field\", \"prefix\"}");
      }
      int f = field_index(c, name);
      if (f < 0) return set_err(err, pp, NULL, "names no field");
      rule->field[rule->nparts] = f;
      rule->prefix[rule->nparts++] = prefix;
    }
    c->nrules++;
  }
  return PX_OK;
}

/* The fields of group i (names), from an array. */
static px_status read_members(px_match_config *c, const cJSON *a, const char *path, px_error *err) {
  px_match_group *g = &c->groups[c->ngroups];
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 2 || cJSON_GetArraySize(a) > c->nfields)
    return set_err(err, path, NULL, "must be an array of at least two fields");
  for (const cJSON *m = a->child; m; m = m->next) {
    char mp[80];
    snprintf(mp, sizeof mp, "%s[%d]", path, g->nmembers);
    int f = field_index(c, cJSON_GetStringValue(m));
    if (f < 0) return set_err(err, mp, NULL, "names no field");
    for (int k = 0; k <= c->ngroups; k++)
      for (int x = 0; x < c->groups[k].nmembers; x++)
        if (c->groups[k].member[x] == f) return set_err(err, mp, NULL, "is already in a group");
    g->member[g->nmembers++] = f;
  }
  return PX_OK;
}

static px_status read_groups(px_match_config *c, const cJSON *a, px_error *err) {
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > PX_EM_MAX_GROUPS)
    return set_err(err, "", "groups", "must be an array of at most 4 groups");
  c->ngroups = 0;
  for (const cJSON *j = a->child; j; j = j->next) {
    char path[32];
    snprintf(path, sizeof path, "groups[%d]", c->ngroups);
    px_match_group *g = &c->groups[c->ngroups];
    memset(g, 0, sizeof *g);
    px_status s;
    if (cJSON_IsArray(j)) { /* shorthand: the fields alone */
      snprintf(g->name, sizeof g->name, "group%d", c->ngroups + 1);
      if ((s = read_members(c, j, path, err)) != PX_OK) return s;
    } else if (cJSON_IsObject(j)) {
      const cJSON *fields = NULL;
      for (const cJSON *m = j->child; m; m = m->next) {
        const char *sv = cJSON_GetStringValue(m);
        if (strcmp(m->string, "name") == 0) {
          if (!sv || !*sv || strlen(sv) >= PX_MATCH_NAME_MAX)
            return set_err(err, path, "name", "must be a non-empty string of at most 127 bytes");
          strcpy(g->name, sv);
        } else if (strcmp(m->string, "fields") == 0) {
          fields = m;
        } else {
          return set_err(err, path, m->string, "is not a member of a group (name, fields)");
        }
      }
      if (!g->name[0]) return set_err(err, path, "name", "is required");
      if (!fields) return set_err(err, path, "fields", "is required");
      char fp[48];
      snprintf(fp, sizeof fp, "%s.fields", path);
      if ((s = read_members(c, fields, fp, err)) != PX_OK) return s;
    } else {
      return set_err(err, path, NULL, "must be {\"name\", \"fields\"} or an array of fields");
    }
    int taken = field_index(c, g->name) >= 0;
    for (int k = 0; k < c->ngroups; k++) taken = taken || strcmp(c->groups[k].name, g->name) == 0;
    if (taken) return set_err(err, path, "name", "repeats a field's or another group's name");
    c->ngroups++;
  }
  return PX_OK;
}

static px_status read_model(px_match_config *c, const cJSON *j, px_error *err) {
  if (!cJSON_IsObject(j)) return set_err(err, "", "model", "must be an object");
  px_em_model *mdl = &c->model;
  memset(mdl, 0, sizeof *mdl);
  mdl->nfields = c->nfields;
  int have_lambda = 0, have_fields = 0, have_groups = 0;
  for (const cJSON *m = j->child; m; m = m->next) {
    if (strcmp(m->string, "lambda") == 0) {
      if (!cJSON_IsNumber(m) || !(m->valuedouble > 0 && m->valuedouble < 1))
        return set_err(err, "model", "lambda", "must be a probability between 0 and 1");
      mdl->lambda = m->valuedouble;
      have_lambda = 1;
    } else if (strcmp(m->string, "fields") == 0) {
      if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != c->nfields)
        return set_err(err, "model", "fields", "must be an array with one entry per field");
      int f = 0;
      for (const cJSON *e = m->child; e; e = e->next, f++) {
        char path[48];
        snprintf(path, sizeof path, "model.fields[%d]", f);
        int levels = px_match_field_levels(&c->fields[f]);
        mdl->nlevels[f] = levels;
        if (!cJSON_IsObject(e)) return set_err(err, path, NULL, "must be an object with m and u");
        int seen = 0;
        for (const cJSON *p = e->child; p; p = p->next) {
          int is_m = strcmp(p->string, "m") == 0;
          if (!is_m && strcmp(p->string, "u") != 0) return set_err(err, path, p->string, "is not a member (m, u)");
          if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != levels - 1)
            return set_err(err, path, p->string, "must have one probability per level from exact to different");
          int l = 1;
          for (const cJSON *x = p->child; x; x = x->next, l++) {
            if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0 && x->valuedouble <= 1))
              return set_err(err, path, p->string, "probabilities are between 0 and 1");
            (is_m ? mdl->m : mdl->u)[f][l] = x->valuedouble;
          }
          seen |= is_m ? 1 : 2;
        }
        if (seen != 3) return set_err(err, path, seen & 1 ? "u" : "m", "is required");
      }
      have_fields = 1;
    } else if (strcmp(m->string, "groups") == 0) {
      if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != c->ngroups)
        return set_err(err, "model", "groups", "must be an array with one entry per group");
      int g = 0;
      for (const cJSON *e = m->child; e; e = e->next, g++) {
        char path[48];
        snprintf(path, sizeof path, "model.groups[%d]", g);
        const cJSON *ch = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "changed") : NULL;
        if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) != 1 || !ch)
          return set_err(err, path, NULL, "must be an object with changed alone");
        if (!cJSON_IsNumber(ch) || !(ch->valuedouble > 0 && ch->valuedouble < 1))
          return set_err(err, path, "changed", "must be a probability between 0 and 1");
        mdl->changed[g] = ch->valuedouble;
      }
      have_groups = 1;
    } else {
      return set_err(err, "model", m->string, "is not a member of a model (lambda, fields, groups)");
    }
  }
  if (!have_lambda) return set_err(err, "model", "lambda", "is required");
  if (!have_fields) return set_err(err, "model", "fields", "is required");
  if (c->ngroups && !have_groups) return set_err(err, "model", "groups", "is required (the configuration has groups)");
  mdl->ngroups = c->ngroups;
  for (int g = 0; g < c->ngroups; g++)
    for (int k = 0; k < c->groups[g].nmembers; k++) mdl->group[c->groups[g].member[k]] = (unsigned char)(g + 1);
  c->have_model = 1;
  return PX_OK;
}

static px_status read_config(const cJSON *root, px_match_config *c, px_error *err) {
  if (!cJSON_IsObject(root)) return set_err(err, "", NULL, "a matching configuration is a JSON object");
  const cJSON *fields = cJSON_GetObjectItemCaseSensitive(root, "fields");
  if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) < 1 || cJSON_GetArraySize(fields) > PX_EM_MAX_FIELDS)
    return set_err(err, "", "fields", "must be an array of 1 to 32 fields");
  const char *swap[PX_EM_MAX_FIELDS] = {0};
  px_status s;
  for (const cJSON *f = fields->child; f; f = f->next, c->nfields++)
    if ((s = read_field(c, f, c->nfields, &swap[c->nfields], err)) != PX_OK) return s;
  for (int i = 0; i < c->nfields; i++) {
    if (!swap[i]) continue;
    char path[32];
    snprintf(path, sizeof path, "fields[%d]", i);
    int g = field_index(c, swap[i]);
    if (g < 0 || g == i) return set_err(err, path, "swap_with", "must name another field");
    c->fields[i].swap_with = g;
  }
  const cJSON *model = NULL;
  for (const cJSON *m = root->child; m; m = m->next) {
    const char *k = m->string;
    if (strcmp(k, "fields") == 0) {
    } else if (strcmp(k, "blocking") == 0) {
      if ((s = read_rules(c, m, err)) != PX_OK) return s;
    } else if (strcmp(k, "groups") == 0) {
      if ((s = read_groups(c, m, err)) != PX_OK) return s;
    } else if (strcmp(k, "threshold") == 0) {
      if (!cJSON_IsNumber(m) || !(m->valuedouble > 0 && m->valuedouble < 1))
        return set_err(err, "", k, "must be a probability between 0 and 1");
      c->threshold = m->valuedouble;
    } else if (strcmp(k, "max_block") == 0) {
      if (!is_int(m, 2, 1e9)) return set_err(err, "", k, "must be a whole number from 2");
      c->max_block = (size_t)m->valuedouble;
    } else if (strcmp(k, "max_cluster") == 0) {
      if (!is_int(m, 0, 1e9)) return set_err(err, "", k, "must be a whole number (0: no limit)");
      c->max_cluster = (size_t)m->valuedouble;
    } else if (strcmp(k, "u_samples") == 0) {
      if (!is_int(m, 1000, 1e9)) return set_err(err, "", k, "must be a whole number from 1000");
      c->u_samples = (size_t)m->valuedouble;
    } else if (strcmp(k, "seed") == 0) {
      if (!is_int(m, 0, 9007199254740991.0)) return set_err(err, "", k, "must be a whole number");
      c->seed = (uint64_t)m->valuedouble;
    } else if (strcmp(k, "u") == 0) {
      const char *v = cJSON_GetStringValue(m);
      if (!v || (strcmp(v, "sampled") && strcmp(v, "em"))) return set_err(err, "", k, "must be sampled or em");
      c->u_from_em = v[0] == 'e';
    } else if (strcmp(k, "threads") == 0) {
      if (!is_int(m, 0, 64)) return set_err(err, "", k, "must be a whole number from 0 (one per core) to 64");
      c->threads = (int)m->valuedouble;
    } else if (strcmp(k, "model") == 0) {
      model = m;
    } else {
      return set_err(err, "", k, "is not a member of a matching configuration");
    }
  }
  return model ? read_model(c, model, err) : PX_OK;
}

px_status px_match_config_parse(const char *json, size_t n, px_match_config *out, px_error *err) {
  px_match_config_init(out);
  cJSON *root = cJSON_ParseWithLength(json, n);
  if (!root) return px_error_set(err, PX_BAD_JSON, "", "not valid JSON");
  px_status s = read_config(root, out, err);
  cJSON_Delete(root);
  if (s != PX_OK) px_match_config_init(out);
  return s;
}

/* ---- writing ---- */

/* The shortest decimal that reads back as the same double. */
static void num(px_buf *b, double v) {
  char s[32];
  for (int p = 6; p <= 17; p++) {
    snprintf(s, sizeof s, "%.*g", p, v);
    if (strtod(s, NULL) == v) break;
  }
  px_buf_puts(b, s);
}

static void str(px_buf *b, const char *s) { px_buf_json_str(b, s, strlen(s)); }

px_status px_match_config_json(const px_match_config *c, px_buf *out) {
  px_buf_puts(out, "{\n  \"fields\": [");
  for (int i = 0; i < c->nfields; i++) {
    const px_match_field *f = &c->fields[i];
    px_buf_puts(out, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
    str(out, f->name);
    px_buf_puts(out, ", \"column\": ");
    str(out, f->column);
    px_buf_printf(out, ", \"type\": \"%s\", \"compare\": \"%s\"", type_names[f->type], cmp_names[f->cmp.kind]);
    if (f->cmp.nthresholds) {
      px_buf_puts(out, ", \"thresholds\": [");
      for (int t = 0; t < f->cmp.nthresholds; t++) {
        if (t) px_buf_puts(out, ", ");
        num(out, f->cmp.thresholds[t]);
      }
      px_buf_putc(out, ']');
    }
    if (f->swap_with >= 0) px_buf_puts(out, ", \"swap_with\": "), str(out, c->fields[f->swap_with].name);
    px_buf_printf(out, ", \"term_frequency\": %s", f->tf ? "true" : "false");
    if (f->type == PX_MT_DATE) px_buf_printf(out, ", \"date_order\": \"%s\"", f->date_order ? "mdy" : "dmy");
    if (f->country_code[0]) px_buf_printf(out, ", \"country_code\": \"%s\"", f->country_code);
    px_buf_putc(out, '}');
  }
  px_buf_puts(out, "\n  ],\n  \"blocking\": [");
  for (int r = 0; r < c->nrules; r++) {
    const px_block_rule *rule = &c->rules[r];
    px_buf_puts(out, r ? ", [" : "[");
    for (int p = 0; p < rule->nparts; p++) {
      if (p) px_buf_puts(out, ", ");
      const char *name = c->fields[rule->field[p]].name;
      if (rule->prefix[p]) {
        px_buf_puts(out, "{\"field\": ");
        str(out, name);
        px_buf_printf(out, ", \"prefix\": %d}", rule->prefix[p]);
      } else {
        str(out, name);
      }
    }
    px_buf_putc(out, ']');
  }
  px_buf_putc(out, ']');
  if (c->ngroups) {
    px_buf_puts(out, ",\n  \"groups\": [");
    for (int g = 0; g < c->ngroups; g++) {
      px_buf_puts(out, g ? ", {\"name\": " : "{\"name\": ");
      str(out, c->groups[g].name);
      px_buf_puts(out, ", \"fields\": [");
      for (int k = 0; k < c->groups[g].nmembers; k++) {
        if (k) px_buf_puts(out, ", ");
        str(out, c->fields[c->groups[g].member[k]].name);
      }
      px_buf_puts(out, "]}");
    }
    px_buf_putc(out, ']');
  }
  px_buf_puts(out, ",\n  \"threshold\": ");
  num(out, c->threshold);
  px_buf_printf(out, ", \"max_block\": %zu, \"max_cluster\": %zu, \"u_samples\": %zu, \"seed\": %llu", c->max_block,
                c->max_cluster, c->u_samples, (unsigned long long)c->seed);
  if (c->u_from_em) px_buf_puts(out, ", \"u\": \"em\"");
  if (c->threads) px_buf_printf(out, ", \"threads\": %d", c->threads);
  if (c->have_model) {
    px_buf_puts(out, ",\n  \"model\": {\"lambda\": ");
    num(out, c->model.lambda);
    px_buf_puts(out, ", \"fields\": [");
    for (int f = 0; f < c->nfields; f++) {
      px_buf_puts(out, f ? ",\n    {" : "\n    {");
      for (int k = 0; k < 2; k++) {
        px_buf_puts(out, k ? ", \"u\": [" : "\"m\": [");
        for (int l = 1; l < c->model.nlevels[f]; l++) {
          if (l > 1) px_buf_puts(out, ", ");
          num(out, (k ? c->model.u : c->model.m)[f][l]);
        }
        px_buf_putc(out, ']');
      }
      px_buf_putc(out, '}');
    }
    px_buf_putc(out, ']');
    if (c->ngroups) {
      px_buf_puts(out, ",\n    \"groups\": [");
      for (int g = 0; g < c->ngroups; g++) {
        px_buf_puts(out, g ? ", {\"changed\": " : "{\"changed\": ");
        num(out, c->model.changed[g]);
        px_buf_putc(out, '}');
      }
      px_buf_putc(out, ']');
    }
    px_buf_putc(out, '}');
  }
  return px_buf_puts(out, "\n}\n");
}
