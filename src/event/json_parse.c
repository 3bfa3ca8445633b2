/* A strict JSON parser (RFC 8259) that builds ordinary cJSON trees. It
 * replaces cJSON_Parse on the ingestion path: cJSON compares every value
 * against "null", "false" and "true" with strncmp before looking at its first
 * byte, measures each string in a separate pass and copies every number for
 * strtod; here each byte is looked at about once. Nodes and strings come from
 * px_arena_alloc (what cJSON_malloc gives), so the trees live in the current
 * arena (event/arena.h) and cJSON_Delete frees them as usual. See docs/internals/event.md. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "event/arena.h"
#include "event/event.h"

#define MAX_NESTING 1000 /* as cJSON: recursion stays far from the stack's end */

typedef struct parser {
  const unsigned char *p, *start, *end;
  int depth;
  px_json_info *info; /* may be NULL */
} parser;

static cJSON *new_node(int type) {
  cJSON *n = px_arena_alloc(sizeof *n);
  if (n) {
    memset(n, 0, sizeof *n);
    n->type = type;
  }
  return n;
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
    ps->p++;
}

static int hex4(const unsigned char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = s[i], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
    else return 0;
    v = v << 4 | d;
  }
  *out = v;
  return 1;
}

static size_t put_utf8(unsigned cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Whether some byte of w is '"', '\\' or below 0x20. */
static inline int special_in_word(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
  uint64_t hit = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((slash - ones) & ~slash);
  return (hit & highs) != 0;
}

/* At the opening quote. Returns a NUL-terminated copy (escapes decoded) and
 * its length, or
 * NULL with ps->p at the offending byte. A decoded string is never longer
 * than its source, so the copy is sized by the source. */
static char *parse_string(parser *ps, size_t *len) {
  const unsigned char *s = ++ps->p, *q = s;
  for (uint64_t w; q + 8 <= ps->end; q += 8) {
    memcpy(&w, q, 8);
    if (special_in_word(w)) break;
  }
  while (q < ps->end && *q != '"' && *q != '\\' && *q >= 0x20) q++;
  if (q < ps->end && *q == '"') { /* no escapes: the common case */
    size_t n = (size_t)(q - s);
    *len = n;
    char *out = px_arena_alloc(n + 1);
    if (!out) return NULL;
    memcpy(out, s, n);
    out[n] = 0;
    ps->p = q + 1;
    return out;
  }
  /* Find the end, then decode. */
  const unsigned char *e = q;
  while (e < ps->end && *e != '"') {
    if (*e < 0x20) {
      ps->p = e; /* control characters must be escaped */
      return NULL;
    }
    e += *e == '\\' ? 2 : 1;
  }
  if (e >= ps->end) {
    ps->p = ps->end;
    return NULL;
  }
  char *out = px_arena_alloc((size_t)(e - s) + 1), *o = out;
  if (!out) return NULL;
  const unsigned char *r = s, *esc = s;
  while (r < e) {
    if (*r != '\\') {
      *o++ = (char)*r++;
      continue;
    }
    esc = r;
    unsigned c = r[1], cp;
    r += 2;
    switch (c) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u':
        if (e - r < 4 || !hex4(r, &cp)) goto bad;
        r += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff) goto bad; /* a lone low surrogate */
        if (cp >= 0xd800 && cp <= 0xdbff) {       /* a high one needs its pair */
          unsigned lo;
          if (e - r < 6 || r[0] != '\\' || r[1] != 'u' || !hex4(r + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
            goto bad;
          r += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0) goto bad; /* a NUL cannot live in a C string */
        o += put_utf8(cp, o);
        break;
      default: goto bad;
    }
  }
  *o = 0;
  ps->p = e + 1;
  *len = (size_t)(o - out);
  return out;
bad:
  cJSON_free(out);
  ps->p = esc; /* the escape that is wrong */
  return NULL;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* RFC 8259 numbers. Exact when the digits fit in 53 bits and the power of
 * ten is at most 22 (both operands exact, one correctly rounded operation);
 * otherwise strtod, which rounds correctly too: the same double either way. */
static int parse_number(parser *ps, double *out) {
  const unsigned char *p = ps->p, *start = p, *end = ps->end;
  int neg = 0, digits = 0, exp10 = 0;
  uint64_t sig = 0;
  if (p < end && *p == '-') neg = 1, p++;
  if (p >= end || *p < '0' || *p > '9') goto bad;
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9') goto bad; /* no leading zeros */
  } else {
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) sig = sig * 10 + (uint64_t)(*p - '0');
  }
  if (p < end && *p == '.') {
    p++;
    if (p >= end || *p < '0' || *p > '9') goto bad;
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++, exp10--) sig = sig * 10 + (uint64_t)(*p - '0');
  }
  int has_exp = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p >= end || *p < '0' || *p > '9') goto bad;
    while (p < end && *p >= '0' && *p <= '9') p++;
    has_exp = 1;
  }
  ps->p = p;
  if (!has_exp && digits <= 15 && exp10 >= -22) { /* < 10^15 < 2^53: exact */
    double d = (double)sig;
    d = exp10 ? d / pow10_exact[-exp10] : d;
    *out = neg ? -d : d;
    return 1;
  }
  char buf[64], *copy = buf;
  size_t n = (size_t)(p - start);
  if (n >= sizeof buf && !(copy = malloc(n + 1))) return 0;
  memcpy(copy, start, n);
  copy[n] = 0;
  *out = strtod(copy, NULL); /* the C locale: the decimal point is '.' */
  if (copy != buf) free(copy);
  return 1;
bad:
  ps->p = p;
  return 0;
}

static cJSON *parse_value(parser *ps);

/* Keys repeat from message to message ("type", "context", "library"...):
 * the first distinct short keys the process meets are kept for good, and
 * members point at them (cJSON_StringIsConst: never freed) instead of each
 * holding a copy. Lookups take no lock: a slot is published by storing its
 * hash last, and never changes after. */
#define INTERN_SLOTS 4096
#define INTERN_MAX_KEY 48

typedef struct intern_slot {
  _Atomic uint64_t hash; /* 0: empty */
  size_t len;
  const char *key;
} intern_slot;

static intern_slot interned[INTERN_SLOTS];
static size_t interned_count; /* under intern_mu */
static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *intern_find(const unsigned char *s, size_t n, uint64_t h) {
  for (size_t i = h & (INTERN_SLOTS - 1), probes = 0; probes < INTERN_SLOTS; probes++, i = (i + 1) & (INTERN_SLOTS - 1)) {
    uint64_t sh = atomic_load_explicit(&interned[i].hash, memory_order_acquire);
    if (!sh) return NULL;
    if (sh == h && interned[i].len == n && memcmp(interned[i].key, s, n) == 0) return interned[i].key;
  }
  return NULL;
}

static const char *intern(const unsigned char *s, size_t n) {
  uint64_t h = XXH3_64bits(s, n) | 1;
  const char *k = intern_find(s, n, h);
  if (k) return k;
  pthread_mutex_lock(&intern_mu);
  if (!(k = intern_find(s, n, h)) && interned_count < INTERN_SLOTS * 3 / 4) {
    char *copy = malloc(n + 1);
    if (copy) {
      memcpy(copy, s, n);
      copy[n] = 0;
      size_t i = h & (INTERN_SLOTS - 1);
      while (atomic_load_explicit(&interned[i].hash, memory_order_relaxed)) i = (i + 1) & (INTERN_SLOTS - 1);
      interned[i].len = n;
      interned[i].key = copy;
      atomic_store_explicit(&interned[i].hash, h, memory_order_release);
      interned_count++;
      k = copy;
    }
  }
  pthread_mutex_unlock(&intern_mu);
  return k;
}

/* At a key's opening quote: the key (interned when short and plain, then
 * *shared is set), and its length. */
static char *parse_key(parser *ps, size_t *len, int *shared) {
  const unsigned char *s = ps->p + 1, *q = s;
  while (q < ps->end && q - s <= INTERN_MAX_KEY && *q != '"' && *q != '\\' && *q >= 0x20) q++;
  if (q < ps->end && *q == '"' && q - s <= INTERN_MAX_KEY) {
    const char *k = intern(s, (size_t)(q - s));
    if (k) {
      *len = (size_t)(q - s);
      *shared = 1;
      ps->p = q + 1;
      return (char *)k;
    }
  }
  *shared = 0;
  return parse_string(ps, len);
}

static cJSON *parse_container(parser *ps, int object) {
  if (++ps->depth > MAX_NESTING) return NULL;
  if (ps->info && ps->depth > ps->info->depth) ps->info->depth = ps->depth;
  cJSON *node = new_node(object ? cJSON_Object : cJSON_Array), *last = NULL;
  if (!node) return NULL;
  const unsigned char close = object ? '}' : ']';
  ps->p++;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    ps->depth--;
    return node;
  }
  int top = ps->depth == 1 && object && ps->info;
  for (;;) {
    char *key = NULL;
    int shared = 0;
    const unsigned char *member = NULL;
    if (object) {
      skip_ws(ps);
      member = ps->p;
      size_t kn;
      if (ps->p >= ps->end || *ps->p != '"' || !(key = parse_key(ps, &kn, &shared))) goto fail;
      if (ps->info && kn > ps->info->longest_key) ps->info->longest_key = kn;
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        if (!shared) cJSON_free(key);
        goto fail;
      }
      ps->p++;
    }
    cJSON *item = parse_value(ps);
    if (!item) {
      if (!shared) cJSON_free(key);
      goto fail;
    }
    item->string = key;
    if (shared) item->type |= cJSON_StringIsConst;
    if (top) {
      px_json_info *in = ps->info;
      if (in->nspans < in->max_spans)
        in->spans[in->nspans] = (px_json_span){item, (size_t)(member - ps->start), (size_t)(ps->p - ps->start)};
      in->nspans++;
    }
    if (last) { /* cJSON's list: next links forward, child->prev is the last */
      last->next = item;
      item->prev = last;
    } else {
      node->child = item;
    }
    node->child->prev = last = item;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == close) {
      ps->p++;
      ps->depth--;
      return node;
    }
    goto fail;
  }
fail:
  cJSON_Delete(node);
  return NULL;
}

static int literal(parser *ps, const char *word, size_t n) {
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return 0;
  ps->p += n;
  return 1;
}

static cJSON *parse_value(parser *ps) {
  skip_ws(ps);
  if (ps->p >= ps->end) return NULL;
  cJSON *n;
  switch (*ps->p) {
    case '{': return parse_container(ps, 1);
    case '[': return parse_container(ps, 0);
    case '"': {
      size_t sn;
      char *s = parse_string(ps, &sn);
      if (!s) return NULL;
      if (ps->info && sn > ps->info->longest_string) ps->info->longest_string = sn;
      if (!(n = new_node(cJSON_String))) {
        cJSON_free(s);
        return NULL;
      }
      n->valuestring = s;
      return n;
    }
    case 't': return literal(ps, "true", 4) ? new_node(cJSON_True) : NULL;
    case 'f': return literal(ps, "false", 5) ? new_node(cJSON_False) : NULL;
    case 'n': return literal(ps, "null", 4) ? new_node(cJSON_NULL) : NULL;
    default: {
      double d;
      if (!parse_number(ps, &d) || !(n = new_node(cJSON_Number))) return NULL;
      n->valuedouble = d;
      if (ps->info && !isfinite(d)) ps->info->nonfinite = 1;
      n->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
      return n;
    }
  }
}

cJSON *px_json_parse_info(const char *text, size_t n, size_t *stop, px_json_info *info) {
  parser ps = {(const unsigned char *)text, (const unsigned char *)text, (const unsigned char *)text + n, 0, info};
  if (info) {
    info->nspans = 0;
    info->depth = 0;
    info->longest_key = info->longest_string = 0;
    info->nonfinite = 0;
  }
  cJSON *root = parse_value(&ps);
  if (root) {
    skip_ws(&ps);
    if (ps.p != ps.end) { /* only white space may follow */
      cJSON_Delete(root);
      root = NULL;
    }
  }
  if (stop) *stop = (size_t)(ps.p - ps.start);
  return root;
}

cJSON *px_json_parse(const char *text, size_t n, size_t *stop) { return px_json_parse_info(text, n, stop, NULL); }
