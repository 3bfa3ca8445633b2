/* Open addressing with linear probing; keys are copied into one growing
 * byte buffer. A deleted entry stays as a tombstone (not live), so probing
 * stays correct without moving entries. */
#include "store/cache.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct slot {
  uint64_t hash; /* 0: empty */
  uint64_t value;
  uint32_t off; /* of the key in keys */
  uint16_t len;
  uint16_t live; /* 0: a tombstone */
} slot;

struct px_cache {
  slot *slots;
  size_t cap, used, max;
  unsigned char *keys;
  size_t klen, kcap;
};

px_cache *px_cache_create(size_t max_entries) {
  px_cache *c = calloc(1, sizeof *c);
  if (c) c->max = max_entries;
  return c;
}

void px_cache_destroy(px_cache *c) {
  if (!c) return;
  free(c->slots);
  free(c->keys);
  free(c);
}

void px_cache_clear(px_cache *c) {
  if (c->used) memset(c->slots, 0, c->cap * sizeof *c->slots);
  c->used = 0;
  c->klen = 0;
}

static uint64_t hash_of(const void *key, size_t kn) { return XXH3_64bits(key, kn) | 1; }

/* The slot holding key, or the empty one where it would go. */
static slot *find(const px_cache *c, const void *key, size_t kn, uint64_t h) {
  size_t mask = c->cap - 1;
  for (size_t i = (size_t)(h >> 20) & mask;; i = (i + 1) & mask) {
    slot *s = &c->slots[i];
    if (!s->hash || (s->hash == h && s->len == kn && memcmp(c->keys + s->off, key, kn) == 0)) return s;
  }
}

int px_cache_get(px_cache *c, const void *key, size_t kn, uint64_t *value) {
  if (!c->cap) return 0;
  const slot *s = find(c, key, kn, hash_of(key, kn));
  if (!s->hash || !s->live) return 0;
  *value = s->value;
  return 1;
}

void px_cache_del(px_cache *c, const void *key, size_t kn) {
  if (!c->cap) return;
  slot *s = find(c, key, kn, hash_of(key, kn));
  if (s->hash) s->live = 0;
}

/* Empty, with room for max entries at half load at most; 0 when out of
 * memory (the cache then stays empty). */
static int start_afresh(px_cache *c) {
  if (!c->cap) {
    size_t cap = 1024;
    while (cap < c->max * 2) cap *= 2;
    if (!(c->slots = calloc(cap, sizeof *c->slots))) return 0;
    c->cap = cap;
  }
  px_cache_clear(c);
  return 1;
}

void px_cache_put(px_cache *c, const void *key, size_t kn, uint64_t value) {
  if (kn > UINT16_MAX) return;
  if ((!c->cap || c->used >= c->max) && !start_afresh(c)) return;
  uint64_t h = hash_of(key, kn);
  slot *s = find(c, key, kn, h);
  if (s->hash) {
    s->value = value;
    s->live = 1;
    return;
  }
  if (c->klen + kn > c->kcap) {
    size_t nc = c->kcap ? c->kcap * 2 : (size_t)1 << 20;
    while (nc < c->klen + kn) nc *= 2;
    unsigned char *k = nc <= UINT32_MAX ? realloc(c->keys, nc) : NULL;
    if (!k) { /* no room for the key: forget everything rather than fail */
      px_cache_clear(c);
      return;
    }
    c->keys = k;
    c->kcap = nc;
  }
  memcpy(c->keys + c->klen, key, kn);
  *s = (slot){h, value, (uint32_t)c->klen, (uint16_t)kn, 1};
  c->klen += kn;
  c->used++;
}
