/* The golden value of a trait: its survivorship rule applied to the rows
 * of that trait (one per value and source). Shared by the single customer
 * view (render.c) and by rules that read one trait (px_profile_trait). */
#include <string.h>

#include "profile/profile.h"
#include "profile/profile_int.h"

/* Does a beat b under the rule? freq_a/freq_b are per-value totals. */
static int better(px_survivorship rule, const px_trait_row *a, uint64_t freq_a, const px_trait_row *b,
                  uint64_t freq_b) {
  if (rule == PX_SURV_SOURCE_PRIORITY) {
    if (a->priority != b->priority) return a->priority > b->priority;
  } else if (rule == PX_SURV_MOST_FREQUENT) {
    if (freq_a != freq_b) return freq_a > freq_b;
  } else if (rule == PX_SURV_FIRST) {
    if (a->o.first != b->o.first) return a->o.first < b->o.first;
    return 0;
  }
  if (a->o.last != b->o.last) return a->o.last > b->o.last;
  return a->o.last_seq > b->o.last_seq;
}

void px_golden_init(px_golden *g, px_survivorship rule) {
  memset(g, 0, sizeof *g);
  g->rule = rule;
}

/* The rows of one value (same hash, one per source) are adjacent in key
 * order; under most_frequent they compete with their value's total. */
static void flush_group(px_golden *g) {
  if (!g->ghave) return;
  if (!g->have || better(g->rule, &g->gbest, g->gfreq, &g->best, g->best_freq)) {
    g->best = g->gbest;
    g->best_freq = g->gfreq;
    g->have = 1;
  }
  g->ghave = 0;
  g->gfreq = 0;
}

void px_golden_add(px_golden *g, const px_trait_row *r) {
  if (g->rule != PX_SURV_MOST_FREQUENT) {
    if (!g->have || better(g->rule, r, 0, &g->best, 0)) g->best = *r, g->have = 1;
    return;
  }
  if (g->ghave && r->hash != g->gbest.hash) flush_group(g);
  g->gfreq += r->o.count;
  if (!g->ghave || better(g->rule, r, 0, &g->gbest, 0)) g->gbest = *r;
  g->ghave = 1;
}

const px_trait_row *px_golden_result(px_golden *g) {
  flush_group(g);
  return g->have ? &g->best : NULL;
}

/* Row fields from a PX_DB_TRAITS key and value. */
static void read_row(const MDB_val *k, const MDB_val *v, px_trait_row *r) {
  const char *tail = (const char *)k->mv_data + k->mv_size - 12;
  r->hash = px_get_u64(tail);
  r->source = px_get_u32(tail + 8);
  memcpy(&r->o, v->mv_data, sizeof r->o);
  r->json = (const char *)v->mv_data + sizeof r->o;
  r->json_len = v->mv_size - sizeof r->o;
  r->priority = 0;
}

px_status px_profile_trait(px_txn *txn, const px_store *st, const px_config *cfg, const px_source *sources,
                           size_t nsources, uint64_t entity, const char *name, const char **json, size_t *n) {
  *json = NULL;
  *n = 0;
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, entity);
  px_key_str(&pre, name, strlen(name));
  if (pre.overflow) return PX_NOT_FOUND;
  /* The transaction's cursor: a profile's traits, and profiles read in id
   * order (a backfill), are next to the last ones read. */
  MDB_cursor *cur = px_txn_cursor(txn, st, PX_DB_TRAITS);
  if (!cur) return PX_STORE;
  px_golden g;
  px_golden_init(&g, px_config_trait_rule(cfg, name));
  MDB_val k = {pre.n, pre.b}, v;
  int rc;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != pre.n + 12 || memcmp(k.mv_data, pre.b, pre.n) != 0 || v.mv_size < sizeof(px_obs)) break;
    px_trait_row r;
    read_row(&k, &v, &r);
    for (size_t i = 0; i < nsources; i++)
      if (sources[i].id == r.source) r.priority = sources[i].priority;
    px_golden_add(&g, &r);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return px_store_status(rc);
  const px_trait_row *best = px_golden_result(&g);
  if (!best) return PX_NOT_FOUND;
  *json = best->json;
  *n = best->json_len;
  return PX_OK;
}

px_status px_profile_account(px_txn *txn, const px_store *st, uint64_t pid, uint64_t *account) {
  *account = 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_LINKS), px_store_dbi(st, PX_DB_LINKS), &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid);
  MDB_val k = {pre.n, pre.b}, v;
  px_obs best = {0};
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 16 || px_get_u64(k.mv_data) != pid) break;
    px_obs o;
    if (v.mv_size < sizeof o) continue;
    memcpy(&o, v.mv_data, sizeof o);
    if (!*account || o.last > best.last || (o.last == best.last && o.last_seq > best.last_seq)) {
      best = o;
      *account = px_get_u64((const char *)k.mv_data + 8);
    }
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return px_store_status(rc);
  return *account ? PX_OK : PX_NOT_FOUND;
}
