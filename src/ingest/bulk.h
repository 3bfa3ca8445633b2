/* Bulk loading (pickaxe import): prepared events go through three threads
 * at once. The caller parses into a ring of chunks; a log thread
 * deduplicates and appends each chunk to the event log (PX_TXN_LOG, the
 * durable part); a state thread derives identities and profiles from the
 * same in-memory events (PX_TXN_STATE), so deriving one chunk overlaps
 * logging the next and parsing the one after. The state only ever trails
 * the log; if other writers' events come in between, the state thread stops
 * and the catch-up at the end applies the rest from the log.
 * See docs/internals/ingest.md. */
#ifndef PX_INGEST_BULK_H
#define PX_INGEST_BULK_H

#include <stdint.h>

#include "config/config.h"
#include "event/arena.h"
#include "event/event.h"
#include "store/store.h"

typedef struct px_bulk px_bulk;

typedef struct px_bulk_opts {
  uint64_t min_free_bytes; /* writes stop with PX_DISK_FULL below this free disk space */
  size_t chunk_events;     /* events per chunk (0: 8192, also the most) */
} px_bulk_opts;

/* Starts the threads. cfg must outlive the loader; opts may be NULL. */
px_status px_bulk_start(px_store *st, const px_config *cfg, const px_bulk_opts *opts, px_bulk **out);

/* Where the next event goes, and the arena its JSON tree must be parsed
 * into (enter it while parsing). NULL once the loader has failed. */
px_event *px_bulk_slot(px_bulk *b, px_arena **arena);

/* The slot now holds a prepared event (px_pipeline_prepare). A full chunk
 * is handed on, which may wait for a free one. Returns the loader's status:
 * anything but PX_OK means stop. */
px_status px_bulk_add(px_bulk *b);

/* Events logged so far: stored, and repeated messageIds. */
void px_bulk_counts(px_bulk *b, uint64_t *accepted, uint64_t *duplicates);

/* Hands on the last chunk, waits for both threads, catches the state up if
 * it trails the log, and frees the loader. The first failure, if any. */
px_status px_bulk_finish(px_bulk *b, uint64_t *accepted, uint64_t *duplicates);

#endif
