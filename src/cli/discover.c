/* pickaxe discover's output: the clusters in words and numbers (text or
 * JSON), the profiles left out, and the rule a saved cluster becomes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/discover.h"
#include "segment/def.h"
#include "segment/members.h"

void px_discover_free(px_discover *dv) {
  free(dv->f);
  px_feature_rows_free(&dv->rows);
  px_kmeans_free(&dv->model);
  free(dv->rule);
  memset(dv, 0, sizeof *dv);
}

/* ---- the rule ---- */

px_status px_discover_rule(px_discover *dv, int c, px_error *err) {
  char *terms[PX_FEATURES_MAX] = {0};
  px_status s = PX_OK;
  for (int i = 0; i < dv->d && s == PX_OK; i++) {
    if (!(terms[i] = malloc(PX_FEATURE_TEXT + 32))) s = PX_NOMEM;
    else s = px_feature_term(&dv->f[i], dv->log1p[i], terms[i], PX_FEATURE_TEXT + 32);
  }
  px_buf text;
  px_buf_init(&text, 1 << 20);
  if (s == PX_OK) s = px_kmeans_nearest_rule(&dv->model, c, (const char *const *)terms, &text);
  for (int i = 0; i < dv->d; i++) free(terms[i]);
  px_rule *r = NULL;
  px_rule_error re;
  if (s == PX_OK) s = px_rule_compile(text.data, text.len, PX_RULE_PROFILE, &r, &re);
  if (s == PX_TOO_LARGE)
    s = px_error_set(err, PX_INVALID, "", "the cluster's rule would be %zu bytes, over the %d a rule may have: use "
                     "fewer features or clusters", text.len, PX_RULE_MAX_BYTES);
  else if (s == PX_INVALID)
    s = px_error_set(err, PX_INVALID, "", "the cluster's rule does not compile (column %d: %s)", re.column, re.message);
  size_t cap = 2 * text.len + 64;
  if (s == PX_OK && !(dv->rule = malloc(cap))) s = PX_NOMEM;
  if (s == PX_OK) s = px_rule_print(r, dv->rule, cap);
  px_rule_free(r);
  px_buf_free(&text);
  dv->saved = c;
  return s;
}

px_status px_discover_check(px_txn *txn, const px_store *st, px_discover *dv, const char *name, int c) {
  px_def def;
  px_status s = px_def_get(txn, st, PX_DEF_SEGMENT, name, &def);
  if (s != PX_OK) return s;
  dv->version = def.version;
  s = px_members_count(txn, st, def.id, &dv->members);
  dv->differ = 0;
  for (size_t i = 0; i < dv->rows.n && s == PX_OK; i++) {
    int in = 0;
    s = px_members_has(txn, st, def.id, dv->rows.pids[i], &in);
    dv->differ += in != ((int)dv->model.labels[i] == c);
  }
  px_def_free(&def);
  return s;
}

/* ---- words and numbers ---- */

/* A number for people: 1240, 35.5, 8.25, 0.035. */
static void num(char *out, size_t cap, double v) {
  if (!isfinite(v)) snprintf(out, cap, "n/a");
  else if (fabs(v) >= 100) snprintf(out, cap, "%.0f", v);
  else snprintf(out, cap, "%.3g", v);
}

static void hints(const px_discover *dv, px_kmeans_hint *h, const char **names) {
  for (int i = 0; i < dv->d; i++) {
    names[i] = dv->f[i].label;
    h[i] = (px_kmeans_hint){dv->f[i].label, dv->f[i].high, dv->f[i].low, dv->f[i].unit};
  }
}

px_status px_discover_print_left_out(const px_discover *dv, px_buf *out) {
  const px_feature_rows *r = &dv->rows;
  if (!r->left_out) return PX_OK;
  px_status s = px_buf_printf(out, "%llu profiles without all features, left out:", (unsigned long long)r->left_out);
  const char *sep = " ";
  for (int i = 0; i < dv->d && s == PX_OK; i++) {
    if (r->missing[i]) s = px_buf_printf(out, "%s%s missing or not a number on %llu", sep, dv->f[i].ref,
                                         (unsigned long long)r->missing[i]), sep = ", ";
    if (s == PX_OK && r->negative[i])
      s = px_buf_printf(out, "%s%s below 0 (log1p needs 0 or more) on %llu", sep, dv->f[i].ref, (unsigned long long)r->negative[i]),
      sep = ", ";
  }
  return s == PX_OK ? px_buf_putc(out, '\n') : s;
}

px_status px_discover_print(const px_discover *dv, px_buf *out) {
  const px_kmeans_model *m = &dv->model;
  char iso[32];
  px_time_format_iso(dv->now_ms, iso);
  px_status s = px_buf_printf(out, "%llu profiles read at %s, %zu with every feature\n",
                              (unsigned long long)dv->rows.profiles, iso, dv->rows.n);
  if (s == PX_OK) s = px_discover_print_left_out(dv, out);
  if (s == PX_OK) s = px_buf_puts(out, "features:");
  for (int i = 0; i < dv->d && s == PX_OK; i++) {
    char term[PX_FEATURE_TEXT + 32];
    px_feature_term(&dv->f[i], dv->log1p[i], term, sizeof term);
    s = px_buf_printf(out, "%s %s (%s)", i ? "," : "", dv->f[i].label, term);
  }
  if (s == PX_OK) s = px_buf_printf(out, "\nk = %d", m->k);
  if (s == PX_OK && m->chosen && m->kmax_tried >= 2) {
    s = px_buf_puts(out, ", chosen by silhouette:");
    for (int k = 2; k <= m->kmax_tried && s == PX_OK; k++)
      s = px_buf_printf(out, " k=%d %.3f%s", k, m->tried[k], k == m->k ? " *" : "");
  } else if (s == PX_OK && m->k == 1 && m->chosen) {
    s = px_buf_puts(out, " (no structure: every profile alike)");
  } else if (s == PX_OK) {
    s = px_buf_puts(out, " (given)");
  }
  if (s == PX_OK && m->k > 1)
    s = px_buf_printf(out, "; silhouette %.3f (%s)", m->silhouette, m->silhouette_n < m->n ? "on a sample" : "exact");
  if (s == PX_OK) s = px_buf_putc(out, '\n');
  px_kmeans_hint h[PX_FEATURES_MAX];
  const char *names[PX_FEATURES_MAX];
  hints(dv, h, names);
  for (int c = 0; c < m->k && s == PX_OK; c++) {
    s = px_buf_printf(out, "cluster %d: %zu customers (%.1f%%): ", c, m->size[c],
                      100.0 * (double)m->size[c] / (double)m->n);
    if (s == PX_OK) s = px_kmeans_describe_cluster(m, c, names, h, (size_t)dv->d, out);
    if (s == PX_OK) s = px_buf_puts(out, "\n  centroid:");
    for (int i = 0; i < dv->d && s == PX_OK; i++) {
      char v[48];
      num(v, sizeof v, m->center_orig[(size_t)c * (size_t)dv->d + (size_t)i]);
      s = px_buf_printf(out, "%s %s %s", i ? "," : "", dv->f[i].label, v);
    }
    if (s == PX_OK) s = px_buf_putc(out, '\n');
  }
  for (int i = 0; i < dv->d && s == PX_OK; i++)
    if (m->sd[i] == 0) s = px_buf_printf(out, "%s is the same for everyone and plays no part\n", dv->f[i].label);
  return s;
}

px_status px_discover_json(const px_discover *dv, px_buf *out) {
  char iso[32];
  px_time_format_iso(dv->now_ms, iso);
  px_status s = px_buf_printf(out, "{\"now\":\"%s\",\"profiles\":%llu,\"fitted\":%zu,\"left_out\":%llu,\"features\":[",
                              iso, (unsigned long long)dv->rows.profiles, dv->rows.n,
                              (unsigned long long)dv->rows.left_out);
  for (int i = 0; i < dv->d && s == PX_OK; i++) {
    char term[PX_FEATURE_TEXT + 32];
    px_feature_term(&dv->f[i], dv->log1p[i], term, sizeof term);
    s = px_buf_puts(out, i ? ",{\"ref\":" : "{\"ref\":");
    if (s == PX_OK) s = px_buf_json_str(out, dv->f[i].ref, strlen(dv->f[i].ref));
    if (s == PX_OK) s = px_buf_puts(out, ",\"label\":");
    if (s == PX_OK) s = px_buf_json_str(out, dv->f[i].label, strlen(dv->f[i].label));
    if (s == PX_OK) s = px_buf_puts(out, ",\"term\":");
    if (s == PX_OK) s = px_buf_json_str(out, term, strlen(term));
    if (s == PX_OK)
      s = px_buf_printf(out, ",\"days_since\":%s,\"log1p\":%s,\"missing\":%llu,\"negative\":%llu}",
                        dv->f[i].days ? "true" : "false", dv->log1p[i] ? "true" : "false",
                        (unsigned long long)dv->rows.missing[i], (unsigned long long)dv->rows.negative[i]);
  }
  px_kmeans_hint h[PX_FEATURES_MAX];
  const char *names[PX_FEATURES_MAX];
  hints(dv, h, names);
  if (s == PX_OK) s = px_buf_puts(out, "],\"model\":");
  if (s == PX_OK) s = px_kmeans_json(&dv->model, names, h, (size_t)dv->d, out);
  return s;
}

px_status px_discover_print_saved(const px_discover *dv, const px_discover_args *a, px_buf *out) {
  const px_kmeans_model *m = &dv->model;
  int c = dv->saved;
  if (a->json) {
    px_status s = px_buf_puts(out, ",\"saved\":{\"segment\":");
    if (s == PX_OK) s = px_buf_json_str(out, a->as, strlen(a->as));
    if (s == PX_OK) s = px_buf_printf(out, ",\"cluster\":%d,\"version\":%llu,\"rule\":", c, (unsigned long long)dv->version);
    if (s == PX_OK) s = px_buf_json_str(out, dv->rule, strlen(dv->rule));
    if (s == PX_OK)
      s = px_buf_printf(out, ",\"members\":%llu,\"cluster_size\":%zu,\"differ\":%llu}", (unsigned long long)dv->members,
                        m->size[c], (unsigned long long)dv->differ);
    return s;
  }
  px_status s = px_buf_printf(out, "saved cluster %d as segment %s (version %llu): %llu members; the cluster has %zu\n",
                              c, a->as, (unsigned long long)dv->version, (unsigned long long)dv->members, m->size[c]);
  if (s == PX_OK && dv->differ)
    s = px_buf_printf(out, "note: %llu fitted profiles are not where the cluster put them (on a boundary between "
                      "clusters)\n", (unsigned long long)dv->differ);
  if (s == PX_OK) s = px_buf_printf(out, "rule: %s\n", dv->rule);
  return s;
}
