/* Profiles: what an event changes on the profile identity resolution chose
 * (traits with their full history, counts, timeline, account links), lossless
 * merges, and the single customer view as JSON. It owns PX_DB_PROFILES,
 * PX_DB_TRAITS, PX_DB_TIMELINE, PX_DB_COUNTS, PX_DB_ACCOUNTS and PX_DB_LINKS.
 * See docs/internals/profile.md. */
#ifndef PX_PROFILE_PROFILE_H
#define PX_PROFILE_PROFILE_H

#include <lmdb.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "config/config.h"
#include "event/event.h"
#include "source/source.h"
#include "store/store.h"

#define PX_ACCOUNT_BIT (1ull << 63) /* account entity ids share the trait tables */
#define PX_TRAIT_HISTORY_MAX 100    /* values per trait shown in trait_history (most recent) */

typedef struct px_profile_rec {
  uint8_t version; /* 1 */
  uint8_t reserved[7];
  uint64_t merged_into; /* 0 while the profile is live */
  int64_t created_ms;   /* receivedAt of the event that created it */
  int64_t first_seen;   /* earliest event timestamp */
  int64_t last_seen;    /* latest event timestamp */
  uint64_t events;
  uint64_t by_type[8]; /* events per px_event_type (index 0 unused) */
} px_profile_rec;

px_status px_profile_get(px_txn *txn, const px_store *st, uint64_t pid, px_profile_rec *out);
/* Follows merges to the live profile that holds pid's data now. */
px_status px_profile_live(px_txn *txn, const px_store *st, uint64_t pid, uint64_t *live);

/* Calls fn for every live profile (not merged into another), in id order,
 * with its record (valid during the call). fn returns non-zero to stop;
 * the walk then returns PX_OK. */
typedef int (*px_profile_fn)(void *arg, uint64_t pid, const px_profile_rec *rec);
px_status px_profile_each_live(px_txn *txn, const px_store *st, px_profile_fn fn, void *arg);

/* Finds the live profile a reference names: a profile id (16 hex digits) or
 * kind:value (value normalized like the identifier). PX_NOT_FOUND if none. */
px_status px_profile_find(px_txn *txn, const px_store *st, const px_config *cfg, const char *ref,
                          uint64_t *pid);

/* Applies an event to the profile it resolved to. */
px_status px_profile_apply(px_txn *txn, const px_store *st, uint64_t pid, const px_event *ev);

/* Moves everything of loser onto survivor (traits, timeline, counts, account
 * links) and marks loser as merged into survivor. Nothing is lost. */
px_status px_profile_merge(px_txn *txn, const px_store *st, uint64_t survivor, uint64_t loser);

/* The golden value (as JSON) of one trait of a profile or account entity,
 * chosen by the trait's survivorship rule as the single customer view
 * shows it; sources (nsources of them, from px_source_list) give the
 * priorities. *json is valid until the transaction ends or its next write.
 * PX_NOT_FOUND when the entity has no such trait. Allocates nothing. */
px_status px_profile_trait(px_txn *txn, const px_store *st, const px_config *cfg, const px_source *sources,
                           size_t nsources, uint64_t entity, const char *name, const char **json, size_t *n);

/* The account (group) entity the profile was most recently seen with;
 * PX_NOT_FOUND when none. */
px_status px_profile_account(px_txn *txn, const px_store *st, uint64_t pid, uint64_t *account);

typedef struct px_render_opts {
  int with_timeline; /* add "timeline": [seq...] oldest first (exports, replay checks) */
} px_render_opts;

/* Appends the profile as JSON (the single customer view). */
px_status px_profile_render(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t pid,
                            const px_render_opts *opts, px_buf *out);

/* The profile's events (its timeline, which holds those of the profiles
 * merged into it), newest first by (timestamp, seq): fn gets each one's
 * time and seq until it returns non-zero. With below NULL from the newest;
 * else from the newest before (below->time_ms, below->seq), or at it too
 * when inclusive. */
typedef struct px_timeline_pos {
  int64_t time_ms;
  uint64_t seq;
} px_timeline_pos;
typedef int (*px_timeline_fn)(void *arg, int64_t time_ms, uint64_t seq);
px_status px_profile_events_before(px_txn *txn, const px_store *st, uint64_t pid, const px_timeline_pos *below,
                                   int inclusive, px_timeline_fn fn, void *arg);

/* The profile's events from time from_ms on, oldest first: fn gets each
 * one's row until it returns anything but PX_OK (which is then returned).
 * A row carries the event's type and a hash of its name, so that a walk can
 * pass over events by name without reading them from the log. With w not
 * NULL, the walk goes through w's cursor, opened at the first call and left
 * open for the next (px_timeline_walk_end closes it): walks of profiles in
 * increasing id order then go on from where the last one ended, without a
 * seek when the next profile's rows follow (or it has none). */
typedef struct px_timeline_row {
  int64_t time_ms;
  uint64_t seq;
  px_event_type type;
  uint64_t name_hash; /* px_profile_name_hash of the event's name; 0 without one */
} px_timeline_row;
typedef px_status (*px_timeline_row_fn)(void *arg, const px_timeline_row *row);
typedef struct px_timeline_walk {
  MDB_cursor *cur;
  uint64_t pid; /* the last walk's profile, when */
  int at_next;  /* ... the cursor is on the first row after its rows (or past the end: 2) */
} px_timeline_walk;
px_status px_profile_events_since(px_txn *txn, const px_store *st, uint64_t pid, int64_t from_ms,
                                  px_timeline_walk *w, px_timeline_row_fn fn, void *arg);
void px_timeline_walk_end(px_timeline_walk *w);
/* The hash the timeline keeps of an event name (never 0). */
uint64_t px_profile_name_hash(const char *name);

#endif
