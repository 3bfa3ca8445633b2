/* px-gen-people: a deterministic generator of person records with realistic
 * corruptions, for benchmarking record linkage (`pickaxe resolve`).
 *
 * Output is CSV with the Febrl columns plus phone and email. Originals are
 * `rec-N-org`, their duplicates `rec-N-dup-K`, so the entity of a record is
 * the number in its rec_id. Records come out in a shuffled order (a keyed
 * permutation of the record numbers), computed one at a time: memory stays
 * small at any size (8 bytes per 64 originals). --log writes, for every
 * duplicate, which corruptions it carries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "people.h"

#define BLOCK 64 /* originals per entry of the layout table */

typedef struct opts {
  uint64_t records, seed;
  double dup_rate;
  int max_dups, grouped, stats;
  const char *out, *log;
} opts;

/* Which original (and which of its records) each record number is: the
 * record number of the first record of every BLOCK-th original. */
typedef struct layout {
  uint64_t seed, records, originals;
  double q;                /* chance that an original has duplicates */
  double dup_w[32];        /* weights of 1..max_dups duplicates */
  int max_dups;
  uint64_t *start;
  size_t nblocks;
} layout;

typedef struct tally {
  uint64_t originals_out, dups_out;
  uint64_t kinds[PX_PK_COUNT], fields[PX_PK_COUNT][PX_PF_COUNT], edits[PX_PEOPLE_MAX_EDITS + 1];
  uint64_t dups_per_org[33];
} tally;

static void usage(void) {
  fputs("usage: px-gen-people --records N [--dup-rate P] [--max-dups M] [--seed S] [--out FILE|-]\n"
        "                     [--log FILE] [--grouped] [--stats]\n",
        stderr);
  exit(2);
}

static void parse_args(int argc, char **argv, opts *o) {
  *o = (opts){.records = 100000, .seed = 1, .dup_rate = 0.4, .max_dups = 5};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--records")) o->records = (uint64_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 1LL << 36);
    else if (!strcmp(a, "--dup-rate")) o->dup_rate = px_arg_double(a, px_arg_value(argc, argv, &i), 0, 0.9);
    else if (!strcmp(a, "--max-dups")) o->max_dups = (int)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 32);
    else if (!strcmp(a, "--seed")) o->seed = (uint64_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 0, 1LL << 62);
    else if (!strcmp(a, "--out")) o->out = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--log")) o->log = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--grouped")) o->grouped = 1;
    else if (!strcmp(a, "--stats")) o->stats = 1;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    else px_bench_die("unknown argument '%s' (try --help)", a);
  }
}

/* How many duplicates original i has (before the last one is cut short). */
static int dups_of(const layout *l, uint64_t i) {
  px_rng r = {px_mix64(l->seed ^ 0xd7b5ULL ^ px_mix64(i))};
  if (!px_rng_chance(&r, l->q)) return 0;
  double t = 0;
  for (int d = 0; d < l->max_dups; d++) t += l->dup_w[d];
  double u = px_rng_unit(&r) * t;
  for (int d = 0; d < l->max_dups; d++) {
    if (u < l->dup_w[d]) return d + 1;
    u -= l->dup_w[d];
  }
  return l->max_dups;
}

static void layout_build(layout *l, const opts *o) {
  memset(l, 0, sizeof *l);
  l->seed = o->seed;
  l->records = o->records;
  l->max_dups = o->max_dups;
  /* Duplicates per duplicated original: Zipf-like, d^-1.5 (1 is most usual). */
  double t = 0, mean = 0;
  for (int d = 1; d <= o->max_dups; d++) {
    l->dup_w[d - 1] = 1.0 / ((double)d * sqrt((double)d));
    t += l->dup_w[d - 1];
    mean += d * l->dup_w[d - 1];
  }
  mean /= t;
  /* A share p of duplicates needs p / (1 - p) duplicates per original. */
  l->q = o->dup_rate / (1 - o->dup_rate) / mean;
  if (l->q > 1) {
    fprintf(stderr, "px-gen-people: --dup-rate %.2f needs more than --max-dups %d allows; at most %.2f\n",
            o->dup_rate, o->max_dups, mean / (1 + mean));
    l->q = 1;
  }
  size_t cap = 1024;
  l->start = malloc(cap * sizeof *l->start);
  if (!l->start) px_bench_die("out of memory");
  uint64_t rec = 0, i = 0;
  while (rec < o->records) {
    if (i % BLOCK == 0) {
      if (l->nblocks == cap && !(l->start = realloc(l->start, (cap *= 2) * sizeof *l->start)))
        px_bench_die("out of memory");
      l->start[l->nblocks++] = rec;
    }
    rec += 1 + (uint64_t)dups_of(l, i);
    i++;
  }
  l->originals = i;
}

/* Record number j is record k (0: the original) of original *idx. */
static void layout_find(const layout *l, uint64_t j, uint64_t *idx, int *k) {
  size_t lo = 0, hi = l->nblocks - 1;
  while (lo < hi) { /* the last block starting at or before j */
    size_t mid = (lo + hi + 1) / 2;
    if (l->start[mid] <= j) lo = mid;
    else hi = mid - 1;
  }
  uint64_t rec = l->start[lo], i = (uint64_t)lo * BLOCK;
  for (;; i++) {
    uint64_t n = 1 + (uint64_t)dups_of(l, i);
    if (j < rec + n) break;
    rec += n;
  }
  *idx = i;
  *k = (int)(j - rec);
}

/* A keyed permutation of [0, n): a balanced Feistel network on the
 * smallest even number of bits that covers n, walking the cycle until the
 * value falls below n. */
typedef struct perm {
  uint64_t n, key;
  int half;
} perm;

static uint64_t perm_apply(const perm *p, uint64_t x) {
  uint64_t mask = (1ULL << p->half) - 1;
  do {
    uint64_t left = x >> p->half, right = x & mask;
    for (int round = 0; round < 4; round++) {
      uint64_t f = px_mix64(right ^ p->key ^ ((uint64_t)round << 56)) & mask;
      uint64_t t = left ^ f;
      left = right;
      right = t;
    }
    x = (left << p->half) | right;
  } while (x >= p->n);
  return x;
}

static void put_field(px_sbuf *b, const char *s) {
  if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && (!s[0] || s[strlen(s) - 1] != ' ')) {
    px_sbuf_puts(b, s);
    return;
  }
  px_sbuf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"') px_sbuf_putc(b, '"');
    px_sbuf_putc(b, *s);
  }
  px_sbuf_putc(b, '"');
}

static void put_record(px_sbuf *b, const char *rec_id, const px_people_rec *p) {
  px_sbuf_puts(b, rec_id);
  for (int f = 0; f < PX_PF_COUNT; f++) {
    px_sbuf_putc(b, ',');
    put_field(b, p->f[f]);
  }
  px_sbuf_putc(b, '\n');
}

static void put_edits(px_sbuf *b, const char *rec_id, const px_people_edit *e, int n) {
  px_sbuf_puts(b, rec_id);
  px_sbuf_putc(b, ',');
  for (int i = 0; i < n; i++) {
    if (i) px_sbuf_putc(b, ';');
    const char *field = e[i].kind == PX_PK_SWAP ? "name" : e[i].kind == PX_PK_MOVED ? "address"
                                                                                     : px_people_field_name(e[i].field);
    px_sbuf_fmt(b, "%s:%s", field, px_people_kind_name(e[i].kind));
  }
  px_sbuf_putc(b, '\n');
}

static void flush(px_sbuf *b, FILE *f, size_t at_least, uint64_t *bytes) {
  if (b->len < at_least) return;
  if (b->len && fwrite(b->p, 1, b->len, f) != b->len) px_bench_die("write error");
  if (bytes) *bytes += b->len;
  b->len = 0;
}

static void print_stats(const opts *o, const layout *l, const tally *t, double secs, uint64_t bytes) {
  uint64_t total = 0;
  for (int k = 0; k < PX_PK_COUNT; k++) total += t->kinds[k];
  fprintf(stderr, "px-gen-people: %llu records (%llu originals, %llu duplicates = %.1f%%) in %.2f s, %llu bytes\n",
          (unsigned long long)o->records, (unsigned long long)t->originals_out, (unsigned long long)t->dups_out,
          100.0 * (double)t->dups_out / (double)o->records, secs, (unsigned long long)bytes);
  fputs("  originals with d duplicates:", stderr);
  for (int d = 0; d <= l->max_dups; d++) fprintf(stderr, " %d:%llu", d, (unsigned long long)t->dups_per_org[d]);
  fputs("\n  corruptions per duplicate:", stderr);
  for (int e = 1; e <= PX_PEOPLE_MAX_EDITS; e++)
    fprintf(stderr, " %d:%.1f%%", e, t->dups_out ? 100.0 * (double)t->edits[e] / (double)t->dups_out : 0.0);
  fputs("\n  corruption kinds (share of all corruptions; fields):\n", stderr);
  for (int k = 0; k < PX_PK_COUNT; k++) {
    fprintf(stderr, "    %-10s %5.1f%% ", px_people_kind_name((px_pk)k),
            total ? 100.0 * (double)t->kinds[k] / (double)total : 0.0);
    for (int f = 0; f < PX_PF_COUNT; f++)
      if (t->fields[k][f]) fprintf(stderr, " %s:%llu", px_people_field_name(f), (unsigned long long)t->fields[k][f]);
    fputc('\n', stderr);
  }
}

int main(int argc, char **argv) {
  px_bench_set_prog(argv[0]);
  opts o;
  parse_args(argc, argv, &o);
  uint64_t t0 = px_now_ns();
  px_people_lists_init();
  layout l;
  layout_build(&l, &o);

  FILE *out = stdout, *log = NULL;
  if (o.out && strcmp(o.out, "-") != 0 && !(out = fopen(o.out, "w"))) px_bench_die("%s: cannot write", o.out);
  if (o.log && !(log = fopen(o.log, "w"))) px_bench_die("%s: cannot write", o.log);

  px_sbuf b = {0}, lb = {0};
  px_sbuf_puts(&b, "rec_id");
  for (int f = 0; f < PX_PF_COUNT; f++) px_sbuf_fmt(&b, ",%s", px_people_field_name(f));
  px_sbuf_putc(&b, '\n');
  if (log) px_sbuf_puts(&lb, "rec_id,corruptions\n");

  int bits = 2;
  while (bits < 62 && (1ULL << bits) < o.records) bits += 2;
  perm pm = {.n = o.records, .key = px_mix64(o.seed ^ 0x5ca1ab1eULL), .half = bits / 2};
  tally t = {0};
  uint64_t bytes = 0;
  px_people_rec org, dup;
  px_people_edit edits[PX_PEOPLE_MAX_EDITS];
  char rec_id[64];
  for (uint64_t pos = 0; pos < o.records; pos++) {
    uint64_t j = o.grouped ? pos : perm_apply(&pm, pos), idx;
    int k;
    layout_find(&l, j, &idx, &k);
    px_people_make(&org, o.seed, idx, l.originals);
    if (k == 0) {
      snprintf(rec_id, sizeof rec_id, "rec-%llu-org", (unsigned long long)idx);
      put_record(&b, rec_id, &org);
      t.originals_out++;
      /* duplicates actually written: the last original's may be cut short */
      uint64_t want = (uint64_t)dups_of(&l, idx);
      t.dups_per_org[j + 1 + want <= o.records ? want : o.records - j - 1]++;
    } else {
      int ne = px_people_corrupt(&org, o.seed, idx, (uint64_t)k - 1, &dup, edits);
      snprintf(rec_id, sizeof rec_id, "rec-%llu-dup-%d", (unsigned long long)idx, k - 1);
      put_record(&b, rec_id, &dup);
      if (log) put_edits(&lb, rec_id, edits, ne);
      t.dups_out++;
      t.edits[ne]++;
      for (int e = 0; e < ne; e++) {
        t.kinds[edits[e].kind]++;
        t.fields[edits[e].kind][edits[e].field]++;
      }
    }
    flush(&b, out, 1 << 20, &bytes);
    if (log) flush(&lb, log, 1 << 20, NULL);
  }
  flush(&b, out, 0, &bytes);
  if (log) flush(&lb, log, 0, NULL);
  if (fflush(out) != 0 || ferror(out)) px_bench_die("write error");
  if (out != stdout && fclose(out) != 0) px_bench_die("%s: write error", o.out);
  if (log && fclose(log) != 0) px_bench_die("%s: write error", o.log);

  if (o.stats) print_stats(&o, &l, &t, (double)(px_now_ns() - t0) / 1e9, bytes);
  px_sbuf_free(&b);
  px_sbuf_free(&lb);
  free(l.start);
  return 0;
}
