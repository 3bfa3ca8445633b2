#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "px-bench";

void px_bench_set_prog(const char *argv0) {
  const char *slash = strrchr(argv0, '/');
  prog = slash ? slash + 1 : argv0;
}

void px_bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

uint64_t px_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * PX_NS_PER_S + (uint64_t)ts.tv_nsec;
}

void px_sleep_until_ns(uint64_t t_ns) {
  struct timespec ts = {.tv_sec = (time_t)(t_ns / PX_NS_PER_S), .tv_nsec = (long)(t_ns % PX_NS_PER_S)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

int64_t px_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long px_arg_ll(const char *flag, const char *s, long long min, long long max) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    px_bench_die("%s: expected an integer in [%lld, %lld], got '%s'", flag, min, max, s);
  return v;
}

double px_arg_double(const char *flag, const char *s, double min, double max) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= min && v <= max))
    px_bench_die("%s: expected a number in [%g, %g], got '%s'", flag, min, max, s);
  return v;
}

const char *px_arg_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) px_bench_die("%s needs a value", argv[*i]);
  *i += 1;
  return argv[*i];
}

void px_lines_open(px_lines *l, const char *path) {
  memset(l, 0, sizeof *l);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) px_bench_die("%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) px_bench_die("%s: %s", path, strerror(errno));
  if (st.st_size == 0) px_bench_die("%s: empty file", path);
  l->map_len = (size_t)st.st_size;
  l->map = mmap(NULL, l->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (l->map == MAP_FAILED) px_bench_die("%s: mmap: %s", path, strerror(errno));
  madvise(l->map, l->map_len, MADV_SEQUENTIAL);

  size_t cap = 1024;
  l->line = malloc(cap * sizeof *l->line);
  if (!l->line) px_bench_die("out of memory");
  const char *p = l->map, *end = p + l->map_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    size_t len = (size_t)(stop - p);
    if (len && p[len - 1] == '\r') len--;
    if (len) {
      if (l->n == cap) {
        cap *= 2;
        px_span *grown = realloc(l->line, cap * sizeof *l->line);
        if (!grown) px_bench_die("out of memory");
        l->line = grown;
      }
      l->line[l->n++] = (px_span){p, len};
    }
    p = stop + 1;
  }
  if (l->n == 0) px_bench_die("%s: no non-empty lines", path);
}

void px_lines_close(px_lines *l) {
  if (l->map && l->map != MAP_FAILED) munmap(l->map, l->map_len);
  free(l->line);
  memset(l, 0, sizeof *l);
}

void px_sbuf_reserve(px_sbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) px_bench_die("out of memory");
  b->p = p;
  b->cap = cap;
}

void px_sbuf_put(px_sbuf *b, const void *s, size_t n) {
  px_sbuf_reserve(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void px_sbuf_puts(px_sbuf *b, const char *s) { px_sbuf_put(b, s, strlen(s)); }

void px_sbuf_putc(px_sbuf *b, char c) { px_sbuf_put(b, &c, 1); }

void px_sbuf_u64(px_sbuf *b, uint64_t v) {
  char tmp[24];
  int i = (int)sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  px_sbuf_put(b, tmp + i, sizeof tmp - (size_t)i);
}

void px_sbuf_fmt(px_sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    px_sbuf_put(b, tmp, (size_t)n);
    return;
  }
  px_sbuf_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void px_sbuf_json_str(px_sbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  px_sbuf_reserve(b, strlen(s) + 2);
  px_sbuf_putc(b, '"');
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    switch (*c) {
    case '"': px_sbuf_put(b, "\\\"", 2); break;
    case '\\': px_sbuf_put(b, "\\\\", 2); break;
    case '\n': px_sbuf_put(b, "\\n", 2); break;
    case '\r': px_sbuf_put(b, "\\r", 2); break;
    case '\t': px_sbuf_put(b, "\\t", 2); break;
    default:
      if (*c < 0x20) {
        char esc[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
        px_sbuf_put(b, esc, sizeof esc);
      } else {
        px_sbuf_putc(b, (char)*c);
      }
    }
  }
  px_sbuf_putc(b, '"');
}

void px_sbuf_free(px_sbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}
