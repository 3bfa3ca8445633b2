/* The deduplication table: which (source, messageId) pairs the event log
 * holds, as a persistent open-addressing hash table in one memory-mapped
 * file (DIR/state/dedup.px). Each slot holds the pair's 64-bit hash and the
 * seq of the event in the log.
 *
 * The table is not transactional. It stays correct by verification: a slot
 * whose hash matches counts only when the caller's callback confirms that the
 * event at the slot's seq is the same message, so slots left by a transaction
 * that did not commit (their seq names another event or none) are skipped.
 * Every use must happen inside a state write transaction (the LMDB write lock
 * is what serializes processes); px_dedup_refresh first, because another
 * process may have replaced the file (grown it) since this one mapped it.
 * See docs/internals/store.md. */
#ifndef PX_STORE_DEDUP_H
#define PX_STORE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct px_dedup px_dedup;

#define PX_DEDUP_FILE "dedup.px"
#define PX_DEDUP_INITIAL_SLOTS ((uint64_t)1 << 16)

/* The hash stored for a pair: XXH3-64 of the messageId seeded with the
 * source id, low bit set (0 marks an empty slot). */
uint64_t px_dedup_hash(uint32_t source_id, const void *message_id, size_t n);

/* Maps the table file at path. PX_NOT_FOUND when there is none, PX_STORE
 * when it is not a valid table (wrong magic, size or header). */
px_status px_dedup_open(const char *path, px_dedup **out);
/* Creates an empty table (PX_DEDUP_INITIAL_SLOTS) at path, replacing any
 * file there (written aside, then renamed over it), and maps it. */
px_status px_dedup_create(const char *path, px_dedup **out);
/* Unmaps; accepts NULL. */
void px_dedup_close(px_dedup *d);

/* Remaps when path now names another file than the mapped one (another
 * process grew the table). A missing path keeps the current mapping. */
px_status px_dedup_refresh(px_dedup *d);

/* Says whether the logged event at seq is the message being looked up
 * (*same = 1) or not (*same = 0, also when there is no such event). */
typedef px_status (*px_dedup_verify_fn)(void *arg, uint64_t seq, int *same);

/* Check and insert in one probe: when a slot with this hash passes verify,
 * *existing is its seq and nothing is written; otherwise (hash, seq) is
 * recorded and *existing is 0. seq is the position the new event will get;
 * a slot already holding exactly (hash, seq) is reused. */
px_status px_dedup_check_insert(px_dedup *d, uint64_t hash, uint64_t seq, px_dedup_verify_fn verify,
                                void *arg, uint64_t *existing);

/* Records an event already in the log (catch-up, replay): nothing to do when
 * the slot (hash, seq) exists; no verification. */
px_status px_dedup_insert(px_dedup *d, uint64_t hash, uint64_t seq);

/* Empties the table in place (same file, same capacity). */
void px_dedup_clear(px_dedup *d);

/* Occupied slots (stale ones included) and slots in all. */
uint64_t px_dedup_count(const px_dedup *d);
uint64_t px_dedup_capacity(const px_dedup *d);

#endif
