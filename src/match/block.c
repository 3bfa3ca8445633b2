#include "match/block.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct keyed {
  uint64_t hash;
  uint32_t record;
} keyed;

static int by_hash(const void *x, const void *y) {
  const keyed *a = x, *b = y;
  if (a->hash != b->hash) return a->hash < b->hash ? -1 : 1;
  return (a->record > b->record) - (a->record < b->record);
}

static int by_pair(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return (a > b) - (a < b);
}

/* The record's key under the rule, hashed; 0 when a part is empty. Parts
 * past 512 bytes in all are cut (blocks a little coarser, never wrong). */
static uint64_t key_of(const char *const *rec, const px_block_rule *r) {
  char key[512];
  size_t len = 0;
  for (int p = 0; p < r->nparts; p++) {
    const char *v = rec[r->field[p]];
    size_t n = strlen(v);
    if (!n) return 0;
    if (r->prefix[p] && (size_t)r->prefix[p] < n) n = (size_t)r->prefix[p];
    if (n > sizeof key - 1 - len) n = sizeof key - 1 - len;
    memcpy(key + len, v, n);
    len += n;
    key[len++] = '\x1f';
    if (len == sizeof key) break;
  }
  return XXH3_64bits(key, len) | 1;
}

px_status px_block(const char *const *values, size_t n, int nfields, const px_block_rule *rules, int nrules,
                   size_t max_block, px_block_pairs *out) {
  memset(out, 0, sizeof *out);
  if (n > UINT32_MAX) return PX_INVALID;
  keyed *k = malloc((n ? n : 1) * sizeof *k);
  uint64_t *pairs = NULL; /* a << 32 | b */
  size_t np = 0, cap = 0;
  if (!k) return PX_NOMEM;
  for (int r = 0; r < nrules; r++) {
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t h = key_of(values + i * (size_t)nfields, &rules[r]);
      if (h) k[nk++] = (keyed){h, (uint32_t)i};
    }
    qsort(k, nk, sizeof *k, by_hash);
    for (size_t s = 0, e; s < nk; s = e) {
      for (e = s + 1; e < nk && k[e].hash == k[s].hash; e++) {}
      size_t size = e - s;
      if (size < 2) continue;
      if (size > max_block) {
        out->skipped_blocks++;
        continue;
      }
      size_t add = size * (size - 1) / 2;
      if (np + add > cap) {
        size_t nc = cap ? cap : 1024;
        while (nc < np + add) nc *= 2;
        uint64_t *p = realloc(pairs, nc * sizeof *p);
        if (!p) {
          free(k);
          free(pairs);
          return PX_NOMEM;
        }
        pairs = p;
        cap = nc;
      }
      for (size_t i = s; i < e; i++) /* records are in order within a block */
        for (size_t j = i + 1; j < e; j++) pairs[np++] = (uint64_t)k[i].record << 32 | k[j].record;
    }
  }
  free(k);
  if (np) qsort(pairs, np, sizeof *pairs, by_pair);
  size_t u = 0;
  for (size_t i = 0; i < np; i++)
    if (!u || pairs[i] != pairs[u - 1]) pairs[u++] = pairs[i];
  out->a = malloc((u ? u : 1) * sizeof *out->a);
  out->b = malloc((u ? u : 1) * sizeof *out->b);
  if (!out->a || !out->b) {
    free(pairs);
    px_block_free(out);
    return PX_NOMEM;
  }
  for (size_t i = 0; i < u; i++) out->a[i] = (uint32_t)(pairs[i] >> 32), out->b[i] = (uint32_t)pairs[i];
  out->n = u;
  free(pairs);
  return PX_OK;
}

void px_block_free(px_block_pairs *p) {
  if (!p) return;
  free(p->a);
  free(p->b);
  p->a = p->b = NULL;
  p->n = 0;
}
