/* String ids to dense indexes: see ids.h. An open-addressing table (linear
 * probing, at most half full) of indexes into one byte array of names. */
#include "reco/ids.h"

#include <stdlib.h>
#include <string.h>

struct px_reco_ids {
  char *bytes; /* the names, each NUL-terminated */
  size_t len, cap;
  size_t *off;     /* off[i]: where name i starts in bytes */
  uint32_t *hash;  /* hash[i]: name i's hash (low 32 bits) */
  uint32_t n, cap_names;
  uint32_t *slots; /* index + 1; 0 is empty */
  uint32_t mask;   /* slots - 1 (a power of two minus one) */
};

/* FNV-1a over the bytes, then a finalizer to spread the low bits. */
static uint32_t hash_of(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return (uint32_t)h;
}

px_reco_ids *px_reco_ids_new(void) {
  px_reco_ids *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->mask = 1023;
  d->slots = calloc((size_t)d->mask + 1, sizeof *d->slots);
  if (!d->slots) {
    free(d);
    return NULL;
  }
  return d;
}

void px_reco_ids_free(px_reco_ids *d) {
  if (!d) return;
  free(d->bytes);
  free(d->off);
  free(d->hash);
  free(d->slots);
  free(d);
}

static int valid(const char *s, size_t n) { return n && n <= PX_RECO_MAX_ID_BYTES && !memchr(s, 0, n); }

/* The slot holding s, or the empty slot where it would go. */
static uint32_t probe(const px_reco_ids *d, const char *s, size_t n, uint32_t h) {
  for (uint32_t at = h & d->mask;; at = (at + 1) & d->mask) {
    uint32_t v = d->slots[at];
    if (!v) return at;
    uint32_t i = v - 1;
    if (d->hash[i] == h) {
      const char *name = d->bytes + d->off[i];
      if (strlen(name) == n && memcmp(name, s, n) == 0) return at;
    }
  }
}

px_status px_reco_ids_find(const px_reco_ids *d, const char *s, size_t n, uint32_t *index) {
  if (!valid(s, n)) return PX_NOT_FOUND;
  uint32_t v = d->slots[probe(d, s, n, hash_of(s, n))];
  if (!v) return PX_NOT_FOUND;
  *index = v - 1;
  return PX_OK;
}

static px_status grow_slots(px_reco_ids *d) {
  uint32_t mask = d->mask * 2 + 1;
  uint32_t *slots = calloc((size_t)mask + 1, sizeof *slots);
  if (!slots) return PX_NOMEM;
  for (uint32_t i = 0; i < d->n; i++) {
    uint32_t at = d->hash[i] & mask;
    while (slots[at]) at = (at + 1) & mask;
    slots[at] = i + 1;
  }
  free(d->slots);
  d->slots = slots;
  d->mask = mask;
  return PX_OK;
}

px_status px_reco_ids_intern(px_reco_ids *d, const char *s, size_t n, uint32_t *index) {
  if (!valid(s, n)) return PX_INVALID;
  uint32_t h = hash_of(s, n);
  uint32_t at = probe(d, s, n, h);
  if (d->slots[at]) {
    *index = d->slots[at] - 1;
    return PX_OK;
  }
  if (d->n >= PX_RECO_MAX_IDS) return PX_TOO_LARGE;
  if ((uint64_t)(d->n + 1) * 2 > (uint64_t)d->mask + 1) { /* keep the table at most half full */
    px_status st = grow_slots(d);
    if (st != PX_OK) return st;
    at = probe(d, s, n, h);
  }
  if (d->n == d->cap_names) {
    uint32_t cap = d->cap_names ? d->cap_names * 2 : 256;
    size_t *off = realloc(d->off, (size_t)cap * sizeof *off);
    if (off) d->off = off;
    uint32_t *hash = realloc(d->hash, (size_t)cap * sizeof *hash);
    if (hash) d->hash = hash;
    if (!off || !hash) return PX_NOMEM;
    d->cap_names = cap;
  }
  if (d->len + n + 1 > d->cap) {
    size_t cap = d->cap ? d->cap : 4096;
    while (d->len + n + 1 > cap) cap *= 2;
    char *b = realloc(d->bytes, cap);
    if (!b) return PX_NOMEM;
    d->bytes = b;
    d->cap = cap;
  }
  memcpy(d->bytes + d->len, s, n);
  d->bytes[d->len + n] = 0;
  d->off[d->n] = d->len;
  d->hash[d->n] = h;
  d->len += n + 1;
  d->slots[at] = d->n + 1;
  *index = d->n++;
  return PX_OK;
}

const char *px_reco_ids_name(const px_reco_ids *d, uint32_t index) {
  return index < d->n ? d->bytes + d->off[index] : NULL;
}

uint32_t px_reco_ids_count(const px_reco_ids *d) { return d->n; }

typedef struct named {
  const char *name;
  uint32_t index;
} named;

static int by_name(const void *a, const void *b) { return strcmp(((const named *)a)->name, ((const named *)b)->name); }

px_status px_reco_ids_sorted(const px_reco_ids *d, px_reco_ids **out, uint32_t *map) {
  *out = NULL;
  named *v = malloc((d->n ? d->n : 1) * sizeof *v);
  px_reco_ids *s = px_reco_ids_new();
  px_status st = v && s ? PX_OK : PX_NOMEM;
  for (uint32_t i = 0; st == PX_OK && i < d->n; i++) v[i] = (named){d->bytes + d->off[i], i};
  if (st == PX_OK) qsort(v, d->n, sizeof *v, by_name); /* names are distinct and hold no NUL */
  for (uint32_t i = 0; st == PX_OK && i < d->n; i++) {
    uint32_t at;
    if ((st = px_reco_ids_intern(s, v[i].name, strlen(v[i].name), &at)) == PX_OK) map[v[i].index] = at;
  }
  free(v);
  if (st != PX_OK) {
    px_reco_ids_free(s);
    return st;
  }
  *out = s;
  return PX_OK;
}
