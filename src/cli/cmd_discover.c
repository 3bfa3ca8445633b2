/* pickaxe discover: k-means over per-profile features of the stored
 * profiles (src/segment/features.h reads them, src/score/kmeans.h
 * clusters them), each cluster described in plain words, and one cluster
 * saved as a live segment whose rule is "nearer to this centroid than to
 * any other" (px_kmeans_nearest_rule). Reading, fitting and saving run in
 * one transaction, so the saved segment's members are the cluster's
 * profiles. See docs/internals/score.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "cli/discover.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"

static const char help[] =
    "usage: pickaxe discover --features LIST [--k N | --kmax N] [--seed N] [--log FEATURES]\n"
    "                        [--json] [--data DIR] [--save-cluster I --as NAME]\n"
    "\n"
    "Finds groups of similar customers: k-means over features of every live profile,\n"
    "standardized (z-scores), k chosen by silhouette among 2..kmax (default 8)\n"
    "unless --k is given. Prints each cluster's size, share, centroid and what sets\n"
    "it apart in plain words.\n"
    "\n"
    "  --features LIST   comma-separated references as rules write them: computed.NAME,\n"
    "                    profile.events, first_seen, last_seen, a numeric trait (NAME or\n"
    "                    trait.NAME), account.NAME, days_since(REF) for a trait holding\n"
    "                    dates. Times are read as whole days since then.\n"
    "  --log FEATURES    features (of LIST) to take log1p of first: skewed amounts, counts\n"
    "  --seed N          every random choice follows from it (default 0)\n"
    "  --save-cluster I --as NAME\n"
    "                    saves cluster I as segment NAME; its rule keeps membership current\n"
    "                    as events arrive (nearest to the cluster's centroid)\n"
    "\n"
    "Profiles without every feature as a number are left out and counted. The clock\n"
    "is now (PICKAXE_NOW pins it).\n";

/* A whole number in lo..hi, or -1. */
static long whole(const char *s, long lo, long hi) {
  char *end;
  long v = strtol(s, &end, 10);
  return *s && !*end && v >= lo && v <= hi ? v : -1;
}

static int parse_args(int argc, char **argv, px_discover_args *a) {
  const char *k = NULL, *kmax = NULL, *seed = NULL, *save = NULL;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), -1;
    if (px_cli_opt(argc, argv, &i, "--data", &a->data) || px_cli_opt(argc, argv, &i, "--features", &a->features) ||
        px_cli_opt(argc, argv, &i, "--k", &k) || px_cli_opt(argc, argv, &i, "--kmax", &kmax) ||
        px_cli_opt(argc, argv, &i, "--seed", &seed) || px_cli_opt(argc, argv, &i, "--log", &a->log) ||
        px_cli_opt(argc, argv, &i, "--save-cluster", &save) || px_cli_opt(argc, argv, &i, "--as", &a->as))
      continue;
    if (!strcmp(argv[i], "--json")) a->json = 1;
    else return px_cli_fail(PX_EXIT_USAGE, "discover: unexpected argument %s (see pickaxe discover --help)", argv[i]);
  }
  if (!a->features) return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "discover: --features is required");
  if (k && (a->k = (int)whole(k, 1, PX_KMEANS_MAX_K)) < 0)
    return px_cli_fail(PX_EXIT_USAGE, "discover: --k must be a whole number from 1 to %d, not %s", PX_KMEANS_MAX_K, k);
  if (kmax && (a->kmax = (int)whole(kmax, 2, PX_KMEANS_MAX_K)) < 0)
    return px_cli_fail(PX_EXIT_USAGE, "discover: --kmax must be a whole number from 2 to %d, not %s",
                       PX_KMEANS_MAX_K, kmax);
  if (k && kmax) return px_cli_fail(PX_EXIT_USAGE, "discover: --k and --kmax do not go together (--kmax is for choosing k)");
  if (seed) {
    char *end;
    a->seed = strtoull(seed, &end, 10);
    if (!*seed || *end || *seed == '-') return px_cli_fail(PX_EXIT_USAGE, "discover: --seed must be a whole number, not %s", seed);
  }
  a->save = -1;
  if (a->as && !save) return px_cli_fail(PX_EXIT_USAGE, "discover: --as NAME goes with --save-cluster I");
  if (save && !a->as) return px_cli_fail(PX_EXIT_USAGE, "discover: --save-cluster I needs --as NAME (the segment's name)");
  if (save && (a->save = (int)whole(save, 0, PX_KMEANS_MAX_K - 1)) < 0)
    return px_cli_fail(PX_EXIT_USAGE, "discover: --save-cluster must be a cluster number (0, 1, ...), not %s", save);
  if (a->as && !px_def_name_ok(a->as))
    return px_cli_fail(PX_EXIT_USAGE, "discover: bad segment name \"%s\" (1-127 of A-Z a-z 0-9 _ - .)", a->as);
  return 0;
}

/* --log: each must be one of the features. */
static int parse_log(const px_discover_args *a, const px_feature *f, int d, unsigned char *log1p) {
  memset(log1p, 0, (size_t)d);
  if (!a->log) return 0;
  px_feature *lf;
  int nl;
  px_error err;
  px_error_clear(&err);
  if (px_features_parse(a->log, &lf, &nl, &err) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "discover: --log: %s%s%s", err.field, *err.field ? ": " : "", err.reason);
  int rc = 0;
  for (int i = 0; i < nl && !rc; i++) {
    int found = -1;
    for (int j = 0; j < d; j++)
      if (f[j].ns == lf[i].ns && !strcmp(f[j].name, lf[i].name) && (f[j].days == lf[i].days || !lf[i].days))
        found = j;
    if (found < 0) rc = px_cli_fail(PX_EXIT_USAGE, "discover: --log: %s is not one of the --features", lf[i].ref);
    else log1p[found] = 1;
  }
  free(lf);
  return rc;
}

static int fail_status(const char *what, px_status s, const px_error *err) {
  if (s == PX_INVALID && err && *err->reason)
    return px_cli_fail(PX_EXIT_USAGE, "discover: %s%s%s", err->field, *err->field ? ": " : "", err->reason);
  return px_cli_fail(PX_EXIT_FAIL, "discover: %s: %s", what, px_status_str(s));
}

/* Saves cluster c as segment a->as in txn (a write transaction), and
 * checks its members against the cluster's labels. */
static int save(px_txn *txn, px_store *st, const px_config *cfg, const px_discover_args *a, px_discover *dv,
                px_buf *out) {
  const px_kmeans_model *m = &dv->model;
  if (m->k < 2)
    return px_cli_fail(PX_EXIT_USAGE, "discover: one cluster of everyone: nothing to save (give --k 2 or more)");
  if (a->save >= m->k)
    return px_cli_fail(PX_EXIT_USAGE, "discover: --save-cluster %d: there are %d clusters (0 to %d)", a->save, m->k,
                       m->k - 1);
  px_def existing;
  px_status s = px_def_get(txn, st, PX_DEF_SEGMENT, a->as, &existing);
  if (s == PX_OK) {
    px_def_free(&existing);
    return px_cli_fail(PX_EXIT_USAGE, "discover: a segment named %s exists (pickaxe segment delete %s, or pick another name)",
                       a->as, a->as);
  }
  if (s != PX_NOT_FOUND) return fail_status("segment", s, NULL);
  px_error err;
  px_error_clear(&err);
  if ((s = px_discover_rule(dv, a->save, &err)) != PX_OK) return fail_status("rule", s, &err);
  px_rule_error re = {0};
  s = px_segment_define(txn, st, cfg, a->as, dv->rule, dv->now_ms, NULL, NULL, &re);
  if (s == PX_INVALID) return px_cli_fail(PX_EXIT_FAIL, "discover: the cluster's rule was refused: %s", re.message);
  if (s == PX_OK) s = px_discover_check(txn, st, dv, a->as, a->save);
  if (s != PX_OK) return fail_status("saving", s, NULL);
  return px_discover_print_saved(dv, a, out) == PX_OK ? 0 : px_cli_fail(PX_EXIT_FAIL, "discover: out of memory");
}

int px_cmd_discover(int argc, char **argv) {
  px_discover_args a = {.data = PX_DEFAULT_DATA};
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc < 0 ? PX_EXIT_OK : rc;
  px_discover dv;
  memset(&dv, 0, sizeof dv);
  px_error err;
  px_error_clear(&err);
  px_status s = px_features_parse(a.features, &dv.f, &dv.d, &err);
  if (s != PX_OK) {
    if (s == PX_INVALID)
      return px_cli_fail(PX_EXIT_USAGE, "discover: --features: %s%s%s", err.field, *err.field ? ": " : "", err.reason);
    return px_cli_fail(PX_EXIT_FAIL, "discover: %s", px_status_str(s));
  }
  if ((rc = parse_log(&a, dv.f, dv.d, dv.log1p)) != 0) {
    px_discover_free(&dv);
    return rc;
  }
  px_store *st = px_cli_open(a.data);
  if (!st) {
    px_discover_free(&dv);
    return PX_EXIT_FAIL;
  }
  px_txn *txn = NULL;
  px_config cfg;
  int have_cfg = 0;
  px_buf out;
  px_buf_init(&out, 0);
  dv.now_ms = px_time_now_ms();
  if ((s = px_store_begin(st, a.save >= 0, &txn)) != PX_OK || (s = px_config_load(txn, st, &cfg, NULL)) != PX_OK) {
    rc = fail_status("opening", s, NULL);
    goto out;
  }
  have_cfg = 1;
  if ((s = px_features_prepare(txn, st, dv.f, dv.d, &err)) != PX_OK) {
    rc = s == PX_INVALID ? px_cli_fail(PX_EXIT_USAGE, "discover: --features: %s: %s", err.field, err.reason)
                         : fail_status("reading", s, NULL);
    goto out;
  }
  if ((s = px_features_read(txn, st, &cfg, dv.f, dv.d, dv.log1p, dv.now_ms, &dv.rows)) != PX_OK) {
    rc = fail_status("reading", s, NULL);
    goto out;
  }
  if (!dv.rows.n) {
    px_discover_print_left_out(&dv, &out);
    rc = px_cli_fail(PX_EXIT_FAIL, "discover: no profile has every feature (%llu profiles read)\n%s",
                     (unsigned long long)dv.rows.profiles, out.data ? out.data : "");
    goto out;
  }
  px_kmeans_opts o = {.k = a.k, .kmax = a.kmax, .seed = a.seed, .log1p = dv.log1p};
  if ((s = px_kmeans_fit(dv.rows.x, dv.rows.n, dv.d, &o, &dv.model, &err)) != PX_OK) {
    rc = s == PX_INVALID ? px_cli_fail(PX_EXIT_USAGE, "discover: %s%s%s", err.field, *err.field ? ": " : "", err.reason)
                         : fail_status("clustering", s, NULL);
    goto out;
  }
  s = a.json ? px_discover_json(&dv, &out) : px_discover_print(&dv, &out);
  if (s != PX_OK) {
    rc = fail_status("output", s, NULL);
    goto out;
  }
  if (a.save >= 0) {
    if ((rc = save(txn, st, &cfg, &a, &dv, &out)) != 0) goto out;
    if ((s = px_store_commit(txn)) != PX_OK) {
      txn = NULL;
      rc = fail_status("saving", s, NULL);
      goto out;
    }
    txn = NULL;
  }
  if (a.json && px_buf_putc(&out, '}') != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "discover: out of memory");
  if (!rc) fputs(out.data, stdout), fputs(a.json ? "\n" : "", stdout);
out:
  if (txn) px_store_abort(txn);
  if (have_cfg) px_config_free(&cfg);
  px_store_close(st);
  px_buf_free(&out);
  px_discover_free(&dv);
  return rc;
}
