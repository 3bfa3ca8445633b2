/* A process-local cache of the identifier index's 8-byte values, used only
 * in transactions that hold the state's write lock. store.c decides when it
 * can be trusted: it is emptied whenever the state may have changed behind
 * it (another process committed, a transaction aborted, the state was
 * cleared). See docs/internals/store.md. */
#ifndef PX_STORE_CACHE_H
#define PX_STORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct px_cache px_cache;

px_cache *px_cache_create(size_t max_entries);
void px_cache_destroy(px_cache *c);
void px_cache_clear(px_cache *c);
/* The value stored under key, if any. */
int px_cache_get(px_cache *c, const void *key, size_t kn, uint64_t *value);
/* Stores or replaces; past max_entries the cache starts afresh. */
void px_cache_put(px_cache *c, const void *key, size_t kn, uint64_t value);
void px_cache_del(px_cache *c, const void *key, size_t kn);

#endif
