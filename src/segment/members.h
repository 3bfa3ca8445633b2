/* Segment membership as compressed bitmaps in the state store. A segment's
 * members are split by profile id into chunks of 65,536 ids; each chunk is
 * one LMDB value holding a roaring bitmap of the ids' low 16 bits, so a
 * membership change rewrites one small value, a membership test reads one,
 * and a count is one counter. Set algebra (union, intersection,
 * difference) runs chunk by chunk. Profile ids must be below 2^48 - 65536.
 * See docs/internals/segment.md. */
#ifndef PX_SEGMENT_MEMBERS_H
#define PX_SEGMENT_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "store/store.h"

#define PX_MEMBERS_MAX_PID ((UINT64_C(0xffffffff) << 16) - 1) /* chunk 0xffffffff keys the count */

/* The set of every live profile (created, not merged into another), kept
 * by the engine whatever is defined: what a backfill walks. Segment ids
 * stay below it (PX_DEF_MAX_ID). */
#define PX_MEMBERS_LIVE UINT32_MAX

/* Puts pid in (in = 1) or out of (in = 0) segment seg; *changed (may be
 * NULL) says whether that was news. PX_INVALID for a pid past the maximum.
 * The changed chunk and count are written once per transaction, at commit
 * (px_txn_defer) or before another function here reads the store in the
 * same transaction; they are lost with it if it aborts. */
px_status px_members_set(px_txn *txn, const px_store *st, uint32_t seg, uint64_t pid, int in, int *changed);

/* Whether pid is in seg. */
px_status px_members_has(px_txn *txn, const px_store *st, uint32_t seg, uint64_t pid, int *in);

/* How many members seg has (0 for an unknown segment). */
px_status px_members_count(px_txn *txn, const px_store *st, uint32_t seg, uint64_t *n);

/* Up to max member ids greater than after, ascending, into out; *n says how
 * many. Start with after = 0 (profile ids start at 1). */
px_status px_members_page(px_txn *txn, const px_store *st, uint32_t seg, uint64_t after, uint64_t *out, size_t max,
                          size_t *n);

/* The segments one profile is in, ascending ids: the same memberships as
 * the bitmaps, kept per profile as well (PX_DB_PSEGS) so that the engine
 * reads all of a profile's memberships with one lookup and writes only
 * when one changes. The engine keeps both forms in step: a change goes
 * through px_members_change; bulk writers (px_members_replace,
 * px_members_clear) leave the lists to their caller. */
typedef struct px_psegs {
  uint32_t *ids;
  size_t n, cap;
} px_psegs;

/* Loads pid's list into p (replacing what p held; p starts zeroed). */
px_status px_psegs_load(px_txn *txn, const px_store *st, uint64_t pid, px_psegs *p);
/* Writes pid's list (deletes the record when empty). */
px_status px_psegs_store(px_txn *txn, const px_store *st, uint64_t pid, const px_psegs *p);
int px_psegs_has(const px_psegs *p, uint32_t seg);
/* Puts seg in (in = 1) or out of the list in memory. */
px_status px_psegs_set(px_psegs *p, uint32_t seg, int in);
void px_psegs_free(px_psegs *p);

/* A membership change in both forms: the bitmap in the store, p (pid's
 * list, loaded) in memory; the caller stores p. *changed (may be NULL) says
 * whether it was news (by the list). */
px_status px_members_change(px_txn *txn, const px_store *st, px_psegs *p, uint32_t seg, uint64_t pid, int in,
                            int *changed);

/* Removes every member of seg (a segment deleted or about to be refilled). */
px_status px_members_clear(px_txn *txn, const px_store *st, uint32_t seg);

/* Replaces seg's members by the n ids in pids (ascending, no repeats): a
 * backfill writes each chunk once. */
px_status px_members_replace(px_txn *txn, const px_store *st, uint32_t seg, const uint64_t *pids, size_t n);

/* Set algebra over segments, left to right: ((segs[0] ops[0] segs[1])
 * ops[1] segs[2]) ... */
typedef enum px_set_op { PX_SET_UNION = 0, PX_SET_INTERSECT, PX_SET_MINUS } px_set_op;

/* Calls fn with the ids of the result in ascending order, a chunk at a
 * time (stop early by returning non-zero), and sets *count to how many
 * (those given to fn, when it stopped early). n segments, n - 1 ops. */
typedef int (*px_members_fn)(void *arg, const uint64_t *pids, size_t n);
px_status px_members_combine(px_txn *txn, const px_store *st, const uint32_t *segs, const px_set_op *ops, int n,
                             px_members_fn fn, void *arg, uint64_t *count);

#endif
