/* Named definitions kept in the log environment (durable, backed up with
 * the events): segments, computed traits, mappings, RFM, CLV, engagement,
 * journeys. Each has a stable id,
 * a version that grows when its body changes, and created/updated times.
 * Bodies are JSON objects whose meaning belongs to the caller (a segment's
 * {"rule": ...}); this module only stores them. See
 * docs/internals/segment.md. */
#ifndef PX_SEGMENT_DEF_H
#define PX_SEGMENT_DEF_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "store/store.h"

#define PX_DEF_NAME_MAX 128
#define PX_DEF_BODY_MAX 65536
#define PX_DEF_MAX_ID 0x7fffffffu /* ids above are reserved (PX_MEMBERS_LIVE) */

typedef enum px_def_kind {
  PX_DEF_SEGMENT = 1,
  PX_DEF_CTRAIT = 2,
  PX_DEF_MAPPING = 3,
  PX_DEF_RFM = 4, /* one, named "rfm": the computed traits RFM reads (segment/rfm_refresh.h) */
  PX_DEF_CLV = 5, /* one, named "clv": the purchases CLV is fitted on (segment/clv_refresh.h) */
  PX_DEF_ENGAGEMENT = 6, /* one, named "engagement": its events and tiers (segment/engagement.h) */
  PX_DEF_JOURNEY = 7, /* journey stage models by name: their stages (segment/journey.h) */
  PX_DEF_RECS = 8, /* one, named "recommendations": interactions and model options (recs/recs.h) */
} px_def_kind;

typedef struct px_def {
  px_def_kind kind;
  uint32_t id;      /* stable for the name's life; never reused within a kind */
  uint64_t version; /* 1 when created, +1 on every change of body */
  char name[PX_DEF_NAME_MAX];
  int64_t created_ms, updated_ms;
  char *body;       /* the definition as compact JSON (malloc'd; px_def_free) */
} px_def;

/* 1 for a usable name: 1-127 bytes of A-Z a-z 0-9 _ - . (no leading dot). */
int px_def_name_ok(const char *name);

/* Creates or replaces kind/name with body (a JSON object, n bytes). An
 * unchanged body keeps the version. out (may be NULL) gets the result;
 * *created (may be NULL) says it is new. PX_INVALID for a bad name or a
 * body that is not a JSON object of at most PX_DEF_BODY_MAX bytes. */
px_status px_def_put(px_txn *txn, const px_store *st, px_def_kind kind, const char *name, const char *body, size_t n,
                     int64_t now_ms, px_def *out, int *created);

/* PX_NOT_FOUND when there is none. */
px_status px_def_get(px_txn *txn, const px_store *st, px_def_kind kind, const char *name, px_def *out);
/* The same in a read transaction of its own (for a command that reads one). */
px_status px_def_read(px_store *st, px_def_kind kind, const char *name, px_def *out);
px_status px_def_del(px_txn *txn, const px_store *st, px_def_kind kind, const char *name);

/* Every definition of a kind in name order; *out is malloc'd (free each
 * with px_def_free, then the array). */
px_status px_def_list(px_txn *txn, const px_store *st, px_def_kind kind, px_def **out, size_t *n);

void px_def_free(px_def *d);

/* A counter in the log's meta raised by every change of any definition
 * (px_def_put that changed something, px_def_del that removed one), so a
 * per-process cache of definitions knows when to reload. */
px_status px_def_generation(px_txn *txn, const px_store *st, uint64_t *out);

#endif
