/* px-gen: a deterministic generator of Segment-shaped event streams.
 *
 * Visits of many people run side by side (a pool of open sessions, one of
 * which gives the next event), so consecutive events come from different
 * people as they do at a collector. Output is JSON lines (one event a line,
 * for `pickaxe import`) or batch request bodies (one {"batch":[...]} a line,
 * for px-load). --refs writes "user_id:<id>" for every user id that appears. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "gen_event.h"
#include "gen_person.h"

#define POOL 64 /* sessions open at once */

typedef struct slot {
  px_sbuf buf; /* rendered events, '\n'-separated */
  size_t off;  /* next event to emit */
  uint64_t person;
  int uid_at, line, open;
} slot;

typedef struct opts {
  uint64_t seed, profiles, events, batch_size;
  int batch, stats;
  const char *out, *refs;
  int64_t start_ms, period_ms;
  double dup_rate;
} opts;

typedef struct writer {
  FILE *f;
  const opts *o;
  uint64_t in_batch, lines, bytes;
} writer;

static void usage(void) {
  fputs("usage: px-gen [--events N] [--profiles N] [--seed N] [--format jsonl|batch] [--batch-size N]\n"
        "              [--start YYYY-MM-DD] [--days N] [--dup-rate P] [--out FILE] [--refs FILE] [--stats]\n",
        stderr);
  exit(2);
}

static int64_t parse_date_ms(const char *s) {
  int y, m, d;
  char extra;
  if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
    px_bench_die("--start: expected YYYY-MM-DD, got '%s'", s);
  return px_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400000;
}

static void parse_args(int argc, char **argv, opts *o) {
  *o = (opts){.seed = 1, .profiles = 10000, .events = 100000, .batch_size = 100};
  o->start_ms = parse_date_ms("2024-01-01");
  o->period_ms = 90LL * 86400000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--seed")) o->seed = (uint64_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 0, 1LL << 62);
    else if (!strcmp(a, "--profiles")) o->profiles = (uint64_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 1LL << 32);
    else if (!strcmp(a, "--events")) o->events = (uint64_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 0, 1LL << 40);
    else if (!strcmp(a, "--batch-size"))
      o->batch_size = (uint64_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 100000);
    else if (!strcmp(a, "--start")) o->start_ms = parse_date_ms(px_arg_value(argc, argv, &i));
    else if (!strcmp(a, "--days")) o->period_ms = px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 36500) * 86400000;
    else if (!strcmp(a, "--dup-rate")) o->dup_rate = px_arg_double(a, px_arg_value(argc, argv, &i), 0, 0.5);
    else if (!strcmp(a, "--out")) o->out = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--refs")) o->refs = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--stats")) o->stats = 1;
    else if (!strcmp(a, "--format")) {
      const char *v = px_arg_value(argc, argv, &i);
      if (!strcmp(v, "batch")) o->batch = 1;
      else if (strcmp(v, "jsonl") != 0) px_bench_die("--format: expected jsonl or batch, got '%s'", v);
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    else px_bench_die("unknown argument '%s' (try --help)", a);
  }
}

static void write_event(writer *w, const char *ev, size_t len, int64_t now_ms) {
  if (w->o->batch) {
    fputs(w->in_batch ? "," : "{\"batch\":[", w->f);
    fwrite(ev, 1, len, w->f);
    w->bytes += len + (w->in_batch ? 1 : 10);
    if (++w->in_batch == w->o->batch_size) {
      char ts[25];
      px_iso8601(now_ms, ts);
      w->bytes += (size_t)fprintf(w->f, "],\"sentAt\":\"%s\"}\n", ts);
      w->in_batch = 0;
      w->lines++;
    }
  } else {
    fwrite(ev, 1, len, w->f);
    fputc('\n', w->f);
    w->bytes += len + 1;
    w->lines++;
  }
}

static void finish(writer *w, int64_t now_ms) {
  if (w->o->batch && w->in_batch) {
    char ts[25];
    px_iso8601(now_ms, ts);
    w->bytes += (size_t)fprintf(w->f, "],\"sentAt\":\"%s\"}\n", ts);
    w->lines++;
  }
}

/* Opens a new visit in slot s, by a person no other open slot is serving. */
static void refill(px_gen *g, const opts *o, slot *pool, slot *s, uint8_t *state, int64_t now_ms) {
  uint64_t who = 0;
  for (int tries = 0; tries < 8; tries++) {
    double u = px_rng_unit(&g->rng); /* skewed: a few people are far more active */
    who = (uint64_t)((double)o->profiles * u * u);
    int busy = 0;
    for (int i = 0; i < POOL && !busy; i++)
      busy = &pool[i] != s && pool[i].open && pool[i].off < pool[i].buf.len && pool[i].person == who;
    if (!busy) break;
  }
  px_person p;
  px_person_make(&p, o->seed, who, o->profiles / 20 + 1);
  int device = 0; /* the main device most of the time */
  if (p.devices > 1 && !px_rng_chance(&g->rng, 0.6)) device = 1 + (int)px_rng_below(&g->rng, (uint64_t)p.devices - 1);
  s->buf.len = 0;
  s->off = 0;
  s->line = 0;
  s->person = who;
  s->open = 1;
  int64_t t = now_ms + (int64_t)px_rng_below(&g->rng, 600000);
  px_gen_session(g, &p, device, &state[who], t, &s->buf, &s->uid_at);
}

int main(int argc, char **argv) {
  px_bench_set_prog(argv[0]);
  opts o;
  parse_args(argc, argv, &o);
  uint8_t *state = calloc(o.profiles, 1);
  slot *pool = calloc(POOL, sizeof *pool);
  if (!state || !pool) px_bench_die("out of memory");
  px_gen g = {.seed = o.seed, .rng = {px_mix64(o.seed ^ 0x9e4e12a7ULL)}, .products = 5000};

  writer w = {.f = stdout, .o = &o};
  if (o.out && !(w.f = fopen(o.out, "w"))) px_bench_die("%s: cannot write", o.out);
  static char iobuf[1 << 20];
  setvbuf(w.f, iobuf, _IOFBF, sizeof iobuf);

  int64_t now_ms = o.start_ms;
  uint64_t dups = 0;
  px_sbuf last = {0}; /* the previous event, for duplicates */
  for (uint64_t n = 0; n < o.events;) {
    now_ms = o.start_ms + (int64_t)((double)o.period_ms * (double)n / (double)o.events);
    if (last.len && o.dup_rate > 0 && px_rng_chance(&g.rng, o.dup_rate)) { /* a client retry: same messageId */
      write_event(&w, last.p, last.len, now_ms);
      dups++;
      n++;
      continue;
    }
    slot *s = &pool[px_rng_below(&g.rng, POOL)];
    if (!s->open || s->off >= s->buf.len) refill(&g, &o, pool, s, state, now_ms);
    const char *ev = s->buf.p + s->off;
    const char *nl = memchr(ev, '\n', s->buf.len - s->off);
    size_t len = (size_t)(nl - ev);
    if (s->line++ == s->uid_at) state[s->person] |= PX_ST_EMITTED;
    write_event(&w, ev, len, now_ms);
    s->off += len + 1;
    if (o.dup_rate > 0) {
      last.len = 0;
      px_sbuf_put(&last, ev, len);
    }
    n++;
  }
  finish(&w, now_ms);
  if (fflush(w.f) != 0 || ferror(w.f)) px_bench_die("write error");
  if (o.out) fclose(w.f);

  uint64_t refs = 0, signed_up = 0;
  FILE *rf = NULL;
  if (o.refs && !(rf = fopen(o.refs, "w"))) px_bench_die("%s: cannot write", o.refs);
  for (uint64_t i = 0; i < o.profiles; i++) {
    signed_up += (state[i] & PX_ST_SIGNED_UP) != 0;
    if (!(state[i] & PX_ST_EMITTED)) continue;
    refs++;
    if (rf) fprintf(rf, "user_id:u%llu\n", (unsigned long long)i);
  }
  if (rf && fclose(rf) != 0) px_bench_die("%s: write error", o.refs);

  if (o.stats) {
    fprintf(stderr, "px-gen: %llu events in %llu lines, %llu bytes (%.0f bytes/event), %llu duplicates\n",
            (unsigned long long)o.events, (unsigned long long)w.lines, (unsigned long long)w.bytes,
            o.events ? (double)w.bytes / (double)o.events : 0.0, (unsigned long long)dups);
    uint64_t total = 0;
    for (int t = 0; t < PX_EV_TYPES; t++) total += g.rendered[t];
    fputs("  rendered:", stderr);
    for (int t = 0; t < PX_EV_TYPES; t++)
      fprintf(stderr, " %s %.1f%%", px_gen_type_name(t), total ? 100.0 * (double)g.rendered[t] / (double)total : 0.0);
    fprintf(stderr, "\n  people with a user id in the output: %llu (signed up: %llu) of %llu\n",
            (unsigned long long)refs, (unsigned long long)signed_up, (unsigned long long)o.profiles);
  }
  for (int i = 0; i < POOL; i++) px_sbuf_free(&pool[i].buf);
  px_sbuf_free(&last);
  free(pool);
  free(state);
  return 0;
}
