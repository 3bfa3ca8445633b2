/* Identity resolution: maps an event's identifiers to one profile id,
 * creating profiles and merging them under the configured rules (per-kind
 * maximum per profile, blocked junk values), and records every merge and
 * refusal. It owns PX_DB_IDENT, PX_DB_PIDENTS, PX_DB_MERGES and
 * PX_DB_PMERGES; moving a merged profile's other data is the profile
 * module's job. See docs/internals/identity.md. */
#ifndef PX_IDENTITY_IDENTITY_H
#define PX_IDENTITY_IDENTITY_H

#include <lmdb.h>
#include <stdint.h>

#include "base/status.h"
#include "config/config.h"
#include "event/event.h"
#include "store/store.h"

#define PX_IDENT_VALUE_MAX 256
#define PX_MAX_EVENT_IDENTS 32
#define PX_MAX_EVENT_MERGES 16

typedef struct px_ident {
  int kind; /* index into px_config.kinds */
  char value[PX_IDENT_VALUE_MAX + 1];
} px_ident;

/* Profile ids are opaque 64-bit values, shown as 16 hex digits. */
void px_profile_id_format(uint64_t id, char out[17]);
/* 1 when s is a well-formed profile id (and writes it), else 0. */
int px_profile_id_parse(const char *s, uint64_t *out);

/* Normalizes a raw value for a kind. PX_INVALID when it cannot be one (an
 * e-mail without @, a phone with letters), PX_BLOCKED for junk values. */
px_status px_identity_normalize(const px_config *cfg, const px_kind *kind, const char *in,
                                char out[PX_IDENT_VALUE_MAX + 1]);

/* The usable identifiers of an event, in the configured priority order,
 * without duplicates. *blocked counts values dropped as junk or invalid. */
int px_identity_extract(const px_config *cfg, const px_event *ev, px_ident *out, int max,
                        int *blocked);

typedef struct px_resolution {
  uint64_t profile_id; /* where the event lands */
  int created;         /* the profile is new */
  struct {
    uint64_t survivor, loser;
  } merges[PX_MAX_EVENT_MERGES]; /* in the order they happened */
  int nmerges;
  int refused; /* merges or attachments a rule refused */
  int attached; /* identifiers new to the profile */
} px_resolution;

/* Resolves ev's identifiers (from px_identity_extract) within a write txn. */
px_status px_identity_resolve(px_txn *txn, const px_store *st, const px_config *cfg,
                              const px_event *ev, const px_ident *ids, int n, px_resolution *out);

/* A probabilistic merge (ev: a PX_EV_MERGE event): the profiles holding
 * ids[0] and ids[1] become one (the older survives) unless a per-kind
 * maximum forbids it; either way audited with cause "probabilistic" and the
 * event's "merge" member (score, explanation) as "match". PX_NOT_FOUND when
 * an identifier is held by no profile; nothing happens when one holds both. */
px_status px_identity_merge_pair(px_txn *txn, const px_store *st, const px_config *cfg, const px_event *ev,
                                 const px_ident ids[2], px_resolution *out);

/* Finds the profile holding kind:value (value normalized for the kind). */
px_status px_identity_lookup(px_txn *txn, const px_store *st, const px_config *cfg,
                             const char *kind, const char *value, uint64_t *pid);

/* Calls fn for each identifier of a profile, in key order (through the
 * transaction's cursor on the index: fn must not write identifiers). */
typedef int (*px_ident_fn)(void *arg, const char *kind, const char *value, int64_t first_seen,
                           uint32_t source_id);
px_status px_identity_each(px_txn *txn, const px_store *st, uint64_t pid, px_ident_fn fn,
                           void *arg);

/* Calls fn with each merge audit record (JSON) touching a profile, newest first. */
typedef int (*px_merge_fn)(void *arg, uint64_t merge_id, const char *json, size_t n);
px_status px_identity_merges(px_txn *txn, const px_store *st, uint64_t pid, px_merge_fn fn,
                             void *arg);

#endif
