/* pickaxe recommend eval|train|similar|user: item-to-item recommendations
 * (src/reco) on an interactions file: the offline evaluation against the
 * popularity baseline (eval), training with its sizes and times (train),
 * and the two queries the platform serves, per item (similar) and per
 * customer (user). Every command reads the file the same way (load). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "reco/basket.h"
#include "reco/data.h"
#include "reco/eval.h"
#include "reco/input.h"
#include "reco/model.h"
#include "reco/recommend.h"
#include "reco/split.h"

#define MAX_FILE ((size_t)4 << 30)
#define DAY_MS 86400000LL

static const char *help =
    "usage: pickaxe recommend eval|train|similar|user --csv FILE --user COL --item COL [options]\n"
    "  Item-to-item collaborative filtering on implicit feedback (purchases, views...): items are\n"
    "  similar when the same users have them (cosine, shrunk for rare items); a customer is\n"
    "  recommended the neighbours of their items. FILE is CSV, plain or gzip-compressed.\n"
    "\n"
    "reading:\n"
    "  --user COL, --item COL  header names, or column numbers from 1 (--no-header)\n"
    "  --time COL              ISO 8601 times, YYYY-MM-DD or YYYYMMDD (time splits, --half-life,\n"
    "                          --repurchase-days need it)\n"
    "  --weight COL            a number > 0 per interaction (default: each weighs 1)\n"
    "  --skip COL=PREFIX       leave out records whose COL starts with PREFIX (repeatable, up to 8;\n"
    "                          cancelled invoices: --skip InvoiceNo=C)\n"
    "  --delimiter C, --no-header\n"
    "  Records with an empty user or item are left out and counted; bad ones are reported by line.\n"
    "\n"
    "model:\n"
    "  --neighbours K (50)     similar items kept per item\n"
    "  --shrink L (5)          sim = co / (sqrt(n_i n_j) + L)\n"
    "  --locality Q (3)        a neighbour adds sim^Q to a customer's score (strong ones count most)\n"
    "  --half-life DAYS        older interactions weigh less (default: all the same)\n"
    "  --combine max|sum (max) a user's weight for an item from their interactions with it\n"
    "  --threads N (1)         training threads\n"
    "  --max-items N (all)     score a customer from their N most recent items\n"
    "\n"
    "pickaxe recommend eval ... [--split time:DATE|random:F|user:F] [--seed N] [--k 10] [--json]\n"
    "  Trains on the training part (default split user:0.25, seed 1) and ranks k items each user\n"
    "  did not have in training, by the model and by popularity: precision@k, recall@k, nDCG@k,\n"
    "  MAP@k and catalog coverage side by side (docs/internals/reco.md defines them). --json\n"
    "  prints {\"model\":{\"precision\",\"recall\",\"ndcg\",\"map\",\"coverage\"},\"popularity\":{...},...}.\n"
    "\n"
    "pickaxe recommend train ... [--json]\n"
    "  Trains on the whole file: sizes and times (read, baskets, training), and the time of 10\n"
    "  recommendations for each user in turn (p50, p99, max).\n"
    "\n"
    "pickaxe recommend similar ITEM ... [--n 10] [--json]\n"
    "  The items most similar to ITEM (\"bought together\"), with their similarity.\n"
    "\n"
    "pickaxe recommend user USER ... [--n 10] [--repurchase-days D] [--exclude ITEM,...] [--json]\n"
    "  USER's recommendations as of the file's last interaction, each with the user's items that\n"
    "  led to it; an item USER had comes back only when bought more than D days before; an unknown\n"
    "  USER gets the most popular items.\n"
    "\n"
    "pickaxe recommend user|similar ID [--data DIR] (no --csv), pickaxe recommend model [--data DIR]\n"
    "  The same queries on the customers of a data directory (see pickaxe recommend model --help).\n";

typedef struct args {
  const char *cmd; /* "recommend eval", for messages */
  const char *path, *delim, *combine, *split, *seed, *k, *neighbours, *shrink, *locality, *half_life, *threads, *max_items_s;
  const char *target, *n, *repurchase, *exclude; /* similar, user */
  px_reco_input in;
  int json;
  /* Read from the above by check. */
  px_reco_basket_opts basket;
  px_reco_model_opts model;
  size_t max_items;
  char skip_col[PX_RECO_MAX_SKIPS][256]; /* the columns of --skip COL=PREFIX */
} args;

/* A whole number option in [lo, hi]. */
static int whole(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *v) {
  char *end;
  if (!s || *s < '0' || *s > '9') return 0;
  *v = strtoull(s, &end, 10);
  return !*end && *v >= lo && *v <= hi;
}

/* A number option in [lo, hi]. */
static int number(const char *s, double lo, double hi, double *v) {
  char *end;
  *v = strtod(s, &end);
  return *s && !*end && isfinite(*v) && *v >= lo && *v <= hi;
}

/* The options every command takes; 1 when argv[*i] was one, -1 after a usage error. */
static int common_opt(int argc, char **argv, int *i, args *a) {
  const char *skip;
  if (px_cli_opt(argc, argv, i, "--csv", &a->path) || px_cli_opt(argc, argv, i, "--user", &a->in.user) ||
      px_cli_opt(argc, argv, i, "--item", &a->in.item) || px_cli_opt(argc, argv, i, "--time", &a->in.time) ||
      px_cli_opt(argc, argv, i, "--weight", &a->in.weight) ||
      px_cli_opt(argc, argv, i, "--delimiter", &a->delim) ||
      px_cli_opt(argc, argv, i, "--neighbours", &a->neighbours) ||
      px_cli_opt(argc, argv, i, "--shrink", &a->shrink) || px_cli_opt(argc, argv, i, "--locality", &a->locality) ||
      px_cli_opt(argc, argv, i, "--half-life", &a->half_life) ||
      px_cli_opt(argc, argv, i, "--combine", &a->combine) || px_cli_opt(argc, argv, i, "--threads", &a->threads) ||
      px_cli_opt(argc, argv, i, "--max-items", &a->max_items_s))
    return 1;
  if (!strcmp(argv[*i], "--no-header")) return a->in.no_header = 1;
  if (!strcmp(argv[*i], "--json")) return a->json = 1;
  if (px_cli_opt(argc, argv, i, "--skip", &skip)) {
    const char *eq = strchr(skip, '=');
    if (!eq || eq == skip || !eq[1]) {
      px_cli_fail(PX_EXIT_USAGE, "%s: --skip is COL=PREFIX, not %s", a->cmd, skip);
      return -1;
    }
    if (a->in.n_skip == PX_RECO_MAX_SKIPS) {
      px_cli_fail(PX_EXIT_USAGE, "%s: at most %d --skip rules", a->cmd, PX_RECO_MAX_SKIPS);
      return -1;
    }
    size_t len = (size_t)(eq - skip);
    if (len >= sizeof a->skip_col[0]) {
      px_cli_fail(PX_EXIT_USAGE, "%s: --skip: a column name of at most 255 bytes", a->cmd);
      return -1;
    }
    char *col = a->skip_col[a->in.n_skip];
    memcpy(col, skip, len);
    col[len] = 0;
    a->in.skip[a->in.n_skip++] = (px_reco_skip){col, eq + 1};
    return 1;
  }
  return 0;
}

/* Checks the common options into a->basket and a->model: PX_EXIT_OK, or the exit code after saying why. */
static int check_common(args *a) {
  if (!a->path || !a->in.user || !a->in.item) {
    fputs(help, stderr);
    return px_cli_fail(PX_EXIT_USAGE, "%s: --csv, --user and --item are required", a->cmd);
  }
  if (a->delim && strlen(a->delim) == 1) a->in.delimiter = a->delim[0];
  else if (a->delim) return px_cli_fail(PX_EXIT_USAGE, "%s: --delimiter is one character", a->cmd);
  a->model = px_reco_model_defaults();
  a->basket = (px_reco_basket_opts){0};
  unsigned long long v;
  if (a->neighbours) {
    if (!whole(a->neighbours, 1, PX_RECO_MAX_NEIGHBOURS, &v))
      return px_cli_fail(PX_EXIT_USAGE, "%s: --neighbours is a whole number from 1 to %d, not %s", a->cmd,
                         PX_RECO_MAX_NEIGHBOURS, a->neighbours);
    a->model.neighbours = (uint32_t)v;
  }
  if (a->threads) {
    if (!whole(a->threads, 1, 16, &v))
      return px_cli_fail(PX_EXIT_USAGE, "%s: --threads is from 1 to 16, not %s", a->cmd, a->threads);
    a->model.threads = (uint32_t)v;
  }
  if (a->max_items_s) {
    if (!whole(a->max_items_s, 0, 1000000000, &v))
      return px_cli_fail(PX_EXIT_USAGE, "%s: --max-items is a whole number, not %s", a->cmd, a->max_items_s);
    a->max_items = (size_t)v;
  }
  if (a->shrink && !number(a->shrink, 0, 1e9, &a->model.shrink))
    return px_cli_fail(PX_EXIT_USAGE, "%s: --shrink is a number >= 0, not %s", a->cmd, a->shrink);
  if (a->locality && !number(a->locality, 0.01, 100, &a->model.locality))
    return px_cli_fail(PX_EXIT_USAGE, "%s: --locality is a number from 0.01 to 100, not %s", a->cmd, a->locality);
  if (a->half_life && (!number(a->half_life, 1e-6, 1e6, &a->basket.half_life_days)))
    return px_cli_fail(PX_EXIT_USAGE, "%s: --half-life is a number of days > 0, not %s", a->cmd, a->half_life);
  if (a->half_life && !a->in.time) return px_cli_fail(PX_EXIT_USAGE, "%s: --half-life needs --time", a->cmd);
  if (a->combine && strcmp(a->combine, "max") && strcmp(a->combine, "sum"))
    return px_cli_fail(PX_EXIT_USAGE, "%s: --combine is max or sum, not %s", a->cmd, a->combine);
  a->basket.combine = a->combine && !strcmp(a->combine, "sum") ? PX_RECO_COMBINE_SUM : PX_RECO_COMBINE_MAX;
  return PX_EXIT_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The whole file, gunzipped when it is gzip (zlib reads other files as
 * they are); NULL after saying why. */
static char *read_input(const args *a, size_t *n) {
  gzFile f = gzopen(a->path, "rb");
  if (!f) return px_cli_fail(PX_EXIT_FAIL, "%s: cannot open %s", a->cmd, a->path), NULL;
  gzbuffer(f, 1 << 17);
  size_t cap = (size_t)1 << 22, len = 0;
  char *buf = malloc(cap + 1);
  const char *why = buf ? NULL : "out of memory";
  while (!why) {
    if (len == cap) {
      if (cap >= MAX_FILE) {
        why = "larger than 4 GiB";
        break;
      }
      cap = cap * 2 > MAX_FILE ? MAX_FILE : cap * 2;
      char *p = realloc(buf, cap + 1);
      if (!p) {
        why = "out of memory";
        break;
      }
      buf = p;
    }
    size_t want = cap - len > (1u << 30) ? (1u << 30) : cap - len;
    int got = gzread(f, buf + len, (unsigned)want);
    if (got < 0) {
      int e;
      why = gzerror(f, &e);
      break;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  if (why) {
    px_cli_fail(PX_EXIT_FAIL, "%s: %s: %s", a->cmd, a->path, why);
    gzclose(f);
    free(buf);
    return NULL;
  }
  gzclose(f);
  buf[len] = 0;
  *n = len;
  return buf;
}

typedef struct bad_ctx {
  const args *a;
  size_t shown;
} bad_ctx;

static void report_bad(void *arg, long line, const char *reason) {
  bad_ctx *b = arg;
  if (b->shown++ < 20) fprintf(stderr, "%s: %s:%ld: %s; skipped\n", b->a->cmd, b->a->path, line, reason);
}

static void print_reading(const args *a, const px_reco_read_stats *rs) {
  fprintf(stderr, "%s: %zu records: %zu interactions, %zu without a user or item, %zu skipped by --skip, %zu bad\n",
          a->cmd, rs->records, rs->added, rs->no_id, rs->skipped, rs->bad);
}

/* Reads the file into *d (what was read goes to stderr): PX_EXIT_OK, or the exit code after saying why. */
static int load(const args *a, px_reco_data **d, px_reco_read_stats *rs, double *seconds) {
  double t0 = now_s();
  size_t n;
  char *data = read_input(a, &n);
  if (!data) return PX_EXIT_FAIL;
  *d = px_reco_data_new();
  bad_ctx bad = {a, 0};
  px_error err;
  px_error_clear(&err);
  px_status st = *d ? px_reco_read(*d, &a->in, data, n, report_bad, &bad, rs, &err) : PX_NOMEM;
  free(data);
  *seconds = now_s() - t0;
  if (st == PX_OK) {
    print_reading(a, rs);
    if (rs->bad > 20) fprintf(stderr, "%s: %zu bad records skipped in all\n", a->cmd, rs->bad);
    if (rs->added) return PX_EXIT_OK;
  }
  px_reco_data_free(*d);
  *d = NULL;
  if (st == PX_OK) return px_cli_fail(PX_EXIT_FAIL, "%s: %s: no interactions", a->cmd, a->path);
  if (st == PX_NOT_FOUND)
    return px_cli_fail(PX_EXIT_USAGE, "%s: %s: no column %s (--%s)", a->cmd, a->path, err.reason, err.field);
  if (st == PX_INVALID) return px_cli_fail(PX_EXIT_FAIL, "%s: %s: %s", a->cmd, a->path, err.reason);
  return px_cli_fail(PX_EXIT_FAIL, "%s: %s: %s", a->cmd, a->path, px_status_str(st));
}


/* Baskets of every interaction and the model trained on them. */
static int train_all(const args *a, const px_reco_data *d, px_reco_baskets **b, px_reco_model **m,
                     double *baskets_s) {
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  *b = NULL;
  *m = NULL;
  double t0 = now_s();
  px_status st = px_reco_baskets_build(x, n, NULL, 0, px_reco_ids_count(px_reco_data_users(d)),
                                       px_reco_ids_count(px_reco_data_items(d)), &a->basket, b);
  *baskets_s = now_s() - t0;
  if (st == PX_OK && (st = px_reco_model_train(*b, &a->model, m)) != PX_OK) {
    px_reco_baskets_free(*b);
    *b = NULL;
  }
  if (st != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "%s: training: %s", a->cmd, px_status_str(st));
  return PX_EXIT_OK;
}

/* ---- eval ---- */

static void scores_json(const char *name, const px_reco_scores *s) {
  printf("\"%s\":{\"precision\":%.6f,\"recall\":%.6f,\"ndcg\":%.6f,\"map\":%.6f,\"coverage\":%.6f,"
         "\"items_recommended\":%zu}",
         name, s->precision, s->recall, s->ndcg, s->map, s->coverage, s->items_recommended);
}

static void print_eval(const args *a, const px_reco_eval_opts *o, const px_reco_eval *e, double read_s,
                       size_t users, size_t items) {
  char split[64];
  px_reco_split_format(&o->split, split);
  if (a->json) {
    printf("{");
    scores_json("model", &e->model);
    putchar(',');
    scores_json("popularity", &e->popularity);
    printf(",\"k\":%zu,\"split\":\"%s\",\"seed\":%llu,\"users\":%zu,\"items\":%zu,\"train\":%zu,\"test\":%zu,"
           "\"train_users\":%zu,\"train_items\":%zu,\"test_users\":%zu,\"evaluated_users\":%zu,\"cold_users\":%zu,"
           "\"nothing_new_users\":%zu,\"relevant\":%zu,\"relevant_unknown\":%zu,"
           "\"timings_s\":{\"read\":%.4f,\"split\":%.4f,\"training\":%.4f,\"ranking\":%.4f}}\n",
           o->k, split, (unsigned long long)o->seed, users, items, e->train, e->test, e->train_users,
           e->train_items, e->test_users, e->users, e->cold_users, e->nothing_new_users, e->relevant,
           e->relevant_unknown, read_s, e->split_s, e->train_s, e->rank_s);
    return;
  }
  printf("split %s: %zu interactions train, %zu test (%zu users, %zu items)\n", split, e->train, e->test, users,
         items);
  printf("evaluated users: %zu of %zu with test interactions (%zu without training interactions, %zu with "
         "nothing new)\n",
         e->users, e->test_users, e->cold_users, e->nothing_new_users);
  printf("relevant items: %zu (%zu unknown to training)\n\n", e->relevant, e->relevant_unknown);
  printf("%-14s %10s %10s\n", "", "model", "popularity");
  char name[32];
  const char *labels[] = {"precision", "recall", "ndcg", "map"};
  double mv[] = {e->model.precision, e->model.recall, e->model.ndcg, e->model.map};
  double pv[] = {e->popularity.precision, e->popularity.recall, e->popularity.ndcg, e->popularity.map};
  for (int r = 0; r < 4; r++) {
    snprintf(name, sizeof name, "%s@%zu", labels[r], o->k);
    printf("%-14s %10.4f %10.4f\n", name, mv[r], pv[r]);
  }
  printf("%-14s %10.4f %10.4f\n", "coverage", e->model.coverage, e->popularity.coverage);
  printf("\ntimes: read %.3f s, split %.3f s, train %.3f s, rank %.3f s\n", read_s, e->split_s, e->train_s,
         e->rank_s);
}

static int eval(int argc, char **argv) {
  args a = {.cmd = "recommend eval", .split = "user:0.25", .seed = "1", .k = "10"};
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    int c = common_opt(argc, argv, &i, &a);
    if (c < 0) return PX_EXIT_USAGE;
    if (c || px_cli_opt(argc, argv, &i, "--split", &a.split) || px_cli_opt(argc, argv, &i, "--seed", &a.seed) ||
        px_cli_opt(argc, argv, &i, "--k", &a.k))
      continue;
    return px_cli_fail(PX_EXIT_USAGE, "recommend eval: unknown argument %s", argv[i]);
  }
  int rc = check_common(&a);
  if (rc != PX_EXIT_OK) return rc;
  px_reco_eval_opts o = {.basket = a.basket, .model = a.model, .max_items = a.max_items};
  px_error err;
  px_error_clear(&err);
  if (px_reco_split_parse(a.split, &o.split, &err) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "recommend eval: --split: %s", err.reason);
  if (o.split.kind == PX_RECO_SPLIT_TIME && !a.in.time)
    return px_cli_fail(PX_EXIT_USAGE, "recommend eval: --split %s needs --time", a.split);
  unsigned long long v;
  if (!whole(a.seed, 0, UINT64_MAX, &v))
    return px_cli_fail(PX_EXIT_USAGE, "recommend eval: --seed is a whole number, not %s", a.seed);
  o.seed = v;
  if (!whole(a.k, 1, PX_RECO_MAX_K, &v))
    return px_cli_fail(PX_EXIT_USAGE, "recommend eval: --k is a whole number from 1 to %d, not %s", PX_RECO_MAX_K,
                       a.k);
  o.k = (size_t)v;

  px_reco_data *d;
  px_reco_read_stats rs;
  double read_s;
  if ((rc = load(&a, &d, &rs, &read_s)) != PX_EXIT_OK) return rc;
  size_t n, users = px_reco_ids_count(px_reco_data_users(d)), items = px_reco_ids_count(px_reco_data_items(d));
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  px_reco_eval e;
  px_status st = px_reco_evaluate(x, n, (uint32_t)users, (uint32_t)items, &o, &e);
  if (st == PX_OK) print_eval(&a, &o, &e, read_s, users, items);
  px_reco_data_free(d);
  if (st == PX_NOT_FOUND)
    return px_cli_fail(PX_EXIT_FAIL,
                       "recommend eval: no user to evaluate: nobody has new items in the test part and "
                       "interactions in the training part (%zu train, %zu test)",
                       e.train, e.test);
  if (st != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "recommend eval: %s", px_status_str(st));
  return PX_EXIT_OK;
}

/* ---- train ---- */

/* Per-customer query times: 10 recommendations for every user with a
 * basket, each timed on its own; p50, p99 and max in microseconds. */
typedef struct query_times {
  double p50, p99, max;
  size_t n;
} query_times;

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static px_status time_queries(const px_reco_baskets *b, const px_reco_model *m, size_t max_items, query_times *t) {
  memset(t, 0, sizeof *t);
  px_reco_query *q;
  px_status st = px_reco_query_new(m, &q);
  double *us = malloc((b->n_users ? b->n_users : 1) * sizeof *us);
  if (st != PX_OK || !us) {
    px_reco_query_free(q);
    free(us);
    return st != PX_OK ? st : PX_NOMEM;
  }
  px_reco_rec out[10];
  for (uint32_t u = 0; u < b->n_users && st == PX_OK; u++) {
    px_reco_request r = {.items = b->items + b->start[u], .n_items = b->start[u + 1] - b->start[u], .n = 10,
                         .now_ms = b->now_ms, .max_items = max_items};
    if (!r.n_items) continue;
    size_t got;
    double t0 = now_s();
    st = px_reco_recommend(q, &r, out, &got);
    us[t->n++] = (now_s() - t0) * 1e6;
  }
  if (t->n) {
    qsort(us, t->n, sizeof *us, by_value);
    t->p50 = us[(t->n - 1) / 2];
    t->p99 = us[(size_t)ceil(0.99 * (double)t->n) - 1];
    t->max = us[t->n - 1];
  }
  px_reco_query_free(q);
  free(us);
  return st;
}

static int train(int argc, char **argv) {
  args a = {.cmd = "recommend train"};
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    int c = common_opt(argc, argv, &i, &a);
    if (c < 0) return PX_EXIT_USAGE;
    if (!c) return px_cli_fail(PX_EXIT_USAGE, "recommend train: unknown argument %s", argv[i]);
  }
  int rc = check_common(&a);
  px_reco_data *d;
  px_reco_read_stats rs;
  double read_s, baskets_s;
  if (rc != PX_EXIT_OK || (rc = load(&a, &d, &rs, &read_s)) != PX_EXIT_OK) return rc;
  px_reco_baskets *b = NULL;
  px_reco_model *m = NULL;
  query_times qt;
  if ((rc = train_all(&a, d, &b, &m, &baskets_s)) == PX_EXIT_OK) {
    px_status st = time_queries(b, m, a.max_items, &qt);
    if (st != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "recommend train: %s", px_status_str(st));
  }
  if (rc == PX_EXIT_OK) {
    const px_reco_model_stats *s = px_reco_model_stats_of(m);
    size_t n;
    px_reco_data_interactions(d, &n);
    size_t users = px_reco_ids_count(px_reco_data_users(d)), items = px_reco_ids_count(px_reco_data_items(d));
    if (a.json)
      printf("{\"records\":%zu,\"interactions\":%zu,\"users\":%zu,\"items\":%zu,\"pairs\":%zu,\"co_pairs\":%zu,"
             "\"updates\":%zu,\"neighbours\":%zu,\"k\":%u,\"shrink\":%g,\"locality\":%g,\"threads\":%u,"
             "\"read_s\":%.4f,\"baskets_s\":%.4f,\"train_s\":%.4f,"
             "\"query_us\":{\"n\":%zu,\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f}}\n",
             rs.records, n, users, items, s->pairs, s->co_pairs, s->updates, s->neighbours, a.model.neighbours,
             a.model.shrink, a.model.locality, a.model.threads, read_s, baskets_s, s->seconds, qt.n, qt.p50, qt.p99,
             qt.max);
    else
      printf("%zu interactions, %zu users, %zu items, %zu distinct (user, item) pairs\n"
             "%zu item pairs bought together, %zu co-occurrence additions, %zu neighbours kept (K %u)\n"
             "read %.3f s, baskets %.3f s, training %.3f s\n"
             "10 recommendations for each of %zu users: p50 %.1f us, p99 %.1f us, max %.1f us\n",
             n, users, items, s->pairs, s->co_pairs, s->updates, s->neighbours, a.model.neighbours, read_s,
             baskets_s, s->seconds, qt.n, qt.p50, qt.p99, qt.max);
  }
  px_reco_model_free(m);
  px_reco_baskets_free(b);
  px_reco_data_free(d);
  return rc;
}

/* ---- similar, user ---- */

static void print_recs(const args *a, const px_reco_data *d, const px_reco_rec *r, size_t n, int reasons) {
  const px_reco_ids *items = px_reco_data_items(d);
  px_buf b;
  px_buf_init(&b, 0);
  for (size_t k = 0; k < n; k++) {
    const char *id = px_reco_ids_name(items, r[k].item);
    if (!a->json) {
      printf("%3zu. %-20s %.4f", k + 1, id, r[k].score);
      if (r[k].popular) printf("  (popular)");
      for (int e = 0; reasons && e < r[k].n_reasons; e++)
        printf("%s%s %.4f", e ? ", " : "  because: ", px_reco_ids_name(items, r[k].reason[e]), r[k].reason_score[e]);
      putchar('\n');
      continue;
    }
    px_buf_puts(&b, k ? ",{\"item\":" : "{\"item\":");
    px_buf_json_str(&b, id, strlen(id));
    if (!reasons) {
      px_buf_printf(&b, ",\"score\":%.6g}", r[k].score);
      continue;
    }
    px_buf_printf(&b, ",\"score\":%.6g,\"popular\":%s,\"because\":[", r[k].score, r[k].popular ? "true" : "false");
    for (int e = 0; e < r[k].n_reasons; e++) {
      const char *why = px_reco_ids_name(items, r[k].reason[e]);
      px_buf_puts(&b, e ? ",{\"item\":" : "{\"item\":");
      px_buf_json_str(&b, why, strlen(why));
      px_buf_printf(&b, ",\"score\":%.6g}", r[k].reason_score[e]);
    }
    px_buf_puts(&b, "]}");
  }
  if (a->json) fwrite(b.data ? b.data : "", 1, b.len, stdout);
  px_buf_free(&b);
}

static int query(int argc, char **argv, int per_user) {
  args a = {.cmd = per_user ? "recommend user" : "recommend similar", .n = "10"};
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    int c = common_opt(argc, argv, &i, &a);
    if (c < 0) return PX_EXIT_USAGE;
    if (c || px_cli_opt(argc, argv, &i, "--n", &a.n)) continue;
    if (per_user && (px_cli_opt(argc, argv, &i, "--repurchase-days", &a.repurchase) ||
                     px_cli_opt(argc, argv, &i, "--exclude", &a.exclude)))
      continue;
    if (argv[i][0] != '-' && !a.target) a.target = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "%s: unknown argument %s", a.cmd, argv[i]);
  }
  int rc = check_common(&a);
  if (rc != PX_EXIT_OK) return rc;
  if (!a.target) return px_cli_fail(PX_EXIT_USAGE, "%s: which %s?", a.cmd, per_user ? "USER" : "ITEM");
  unsigned long long n;
  double days = 0;
  if (!whole(a.n, 1, PX_RECO_MAX_RESULTS, &n))
    return px_cli_fail(PX_EXIT_USAGE, "%s: --n is a whole number from 1 to %d, not %s", a.cmd, PX_RECO_MAX_RESULTS,
                       a.n);
  if (a.repurchase && !number(a.repurchase, 0, 1e6, &days))
    return px_cli_fail(PX_EXIT_USAGE, "%s: --repurchase-days is a number of days, not %s", a.cmd, a.repurchase);
  if (a.repurchase && !a.in.time) return px_cli_fail(PX_EXIT_USAGE, "%s: --repurchase-days needs --time", a.cmd);

  px_reco_data *d;
  px_reco_read_stats rs;
  double read_s, baskets_s;
  if ((rc = load(&a, &d, &rs, &read_s)) != PX_EXIT_OK) return rc;
  px_reco_baskets *b = NULL;
  px_reco_model *m = NULL;
  px_reco_query *q = NULL;
  px_reco_rec *out = malloc(n * sizeof *out);
  uint64_t *bits = NULL;
  const px_reco_ids *items = px_reco_data_items(d);
  uint32_t target;
  px_status st;
  if (!out) {
    rc = px_cli_fail(PX_EXIT_FAIL, "%s: out of memory", a.cmd);
    goto out;
  }
  if (!per_user && px_reco_ids_find(items, a.target, strlen(a.target), &target) != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "%s: no item %s in %s", a.cmd, a.target, a.path);
    goto out;
  }
  if ((rc = train_all(&a, d, &b, &m, &baskets_s)) != PX_EXIT_OK) goto out;
  if ((st = px_reco_query_new(m, &q)) != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "%s: %s", a.cmd, px_status_str(st));
    goto out;
  }
  px_reco_request r = {.n = (size_t)n, .now_ms = b->now_ms, .repurchase_ms = (int64_t)(days * DAY_MS),
                       .max_items = a.max_items};
  size_t got = 0;
  int known = 0;
  if (per_user) {
    uint32_t u;
    known = px_reco_ids_find(px_reco_data_users(d), a.target, strlen(a.target), &u) == PX_OK;
    if (known) {
      r.items = b->items + b->start[u];
      r.n_items = b->start[u + 1] - b->start[u];
    }
    size_t words = ((size_t)px_reco_ids_count(items) + 63) / 64;
    if (a.exclude && !(bits = calloc(words ? words : 1, sizeof *bits))) {
      rc = px_cli_fail(PX_EXIT_FAIL, "%s: out of memory", a.cmd);
      goto out;
    }
    for (const char *s = a.exclude; s && *s;) {
      const char *comma = strchr(s, ',');
      size_t len = comma ? (size_t)(comma - s) : strlen(s);
      uint32_t it;
      if (px_reco_ids_find(items, s, len, &it) == PX_OK) bits[it >> 6] |= (uint64_t)1 << (it & 63);
      s = comma ? comma + 1 : s + len;
    }
    r.exclude_bits = bits;
    st = px_reco_recommend(q, &r, out, &got);
  } else {
    st = px_reco_similar(q, target, &r, out, &got);
  }
  if (st != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "%s: %s", a.cmd, px_status_str(st));
    goto out;
  }
  px_buf id;
  px_buf_init(&id, 0);
  px_buf_json_str(&id, a.target, strlen(a.target));
  if (a.json && per_user)
    printf("{\"user\":%s,\"known\":%s,\"items\":%zu,\"recommendations\":[", id.data, known ? "true" : "false",
           r.n_items);
  else if (a.json)
    printf("{\"item\":%s,\"similar\":[", id.data);
  else if (per_user)
    printf("%s: %s\n", a.target, known ? "recommendations from the user's items" : "unknown user: popular items");
  px_buf_free(&id);
  print_recs(&a, d, out, got, per_user);
  if (a.json) printf("]}\n");
  else if (!got) printf("(none)\n");
out:
  free(out);
  free(bits);
  px_reco_query_free(q);
  px_reco_model_free(m);
  px_reco_baskets_free(b);
  px_reco_data_free(d);
  if (fflush(stdout) != 0 && rc == PX_EXIT_OK) rc = px_cli_fail(PX_EXIT_FAIL, "%s: cannot write stdout", a.cmd);
  return rc;
}

int px_cmd_recommend(int argc, char **argv) {
  if (argc < 2 || px_cli_is_help(argv[1]))
    return fputs(help, argc < 2 ? stderr : stdout), argc < 2 ? PX_EXIT_USAGE : PX_EXIT_OK;
  /* Without --csv, user and similar ask the data directory's model. */
  int csv = 0;
  for (int i = 2; i < argc && !csv; i++) csv = !strcmp(argv[i], "--csv");
  if (!strcmp(argv[1], "model") || (!csv && (!strcmp(argv[1], "user") || !strcmp(argv[1], "similar"))))
    return px_cmd_recommend_store(argc, argv);
  if (!strcmp(argv[1], "eval")) return eval(argc, argv);
  if (!strcmp(argv[1], "train")) return train(argc, argv);
  if (!strcmp(argv[1], "similar")) return query(argc, argv, 0);
  if (!strcmp(argv[1], "user")) return query(argc, argv, 1);
  return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "recommend: unknown command %s", argv[1]);
}
