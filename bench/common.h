/* Shared helpers of the benchmark tools: clock, argument parsing, a mapped
 * line file, a small deterministic PRNG and a growable string buffer.
 * Nothing here depends on the pickaxe library. */
#ifndef PX_BENCH_COMMON_H
#define PX_BENCH_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PX_NS_PER_S 1000000000ULL

/* Name used in error messages; set once from main. */
void px_bench_set_prog(const char *argv0);
_Noreturn void px_bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t px_now_ns(void);
/* Sleep until the monotonic time t_ns (returns at once if it has passed). */
void px_sleep_until_ns(uint64_t t_ns);
/* Wall clock in milliseconds since the Unix epoch. */
int64_t px_wall_ms(void);

/* Strict number parsing for a flag's value: dies naming the flag if the
 * value is not a number in [min, max]. */
long long px_arg_ll(const char *flag, const char *s, long long min, long long max);
double px_arg_double(const char *flag, const char *s, double min, double max);
/* The value after flag argv[*i]; dies if there is none. Advances *i. */
const char *px_arg_value(int argc, char **argv, int *i);

/* A text file mapped read-only and split into its non-empty lines. The
 * spans point into the mapping and are valid until px_lines_close. */
typedef struct px_span {
  const char *p;
  size_t len;
} px_span;

typedef struct px_lines {
  void *map;
  size_t map_len;
  px_span *line;
  size_t n;
} px_lines;

/* Dies on error (missing file, empty file). */
void px_lines_open(px_lines *l, const char *path);
void px_lines_close(px_lines *l);

/* splitmix64: a bijective 64-bit mixer, and a generator stepping through it. */
static inline uint64_t px_mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

typedef struct px_rng {
  uint64_t s;
} px_rng;

static inline uint64_t px_rng_next(px_rng *r) {
  r->s += 0x9e3779b97f4a7c15ULL;
  uint64_t x = r->s;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
/* Uniform in [0, 1). */
static inline double px_rng_unit(px_rng *r) { return (double)(px_rng_next(r) >> 11) * 0x1.0p-53; }
/* Uniform in [0, n); n > 0. The modulo bias is below 2^-40 for n < 2^24. */
static inline uint64_t px_rng_below(px_rng *r, uint64_t n) { return px_rng_next(r) % n; }
static inline int px_rng_chance(px_rng *r, double p) { return px_rng_unit(r) < p; }

/* A growable string buffer. Allocation failure is fatal (a tool, not a server). */
typedef struct px_sbuf {
  char *p;
  size_t len, cap;
} px_sbuf;

void px_sbuf_reserve(px_sbuf *b, size_t extra);
void px_sbuf_put(px_sbuf *b, const void *s, size_t n);
void px_sbuf_puts(px_sbuf *b, const char *s);
void px_sbuf_putc(px_sbuf *b, char c);
void px_sbuf_u64(px_sbuf *b, uint64_t v);
void px_sbuf_fmt(px_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a quoted JSON string, escaped. */
void px_sbuf_json_str(px_sbuf *b, const char *s);
void px_sbuf_free(px_sbuf *b);

#endif
