/* Private to the segment engine (registry.c, engine.c, define.c). */
#ifndef PX_SEGMENT_ENGINE_INT_H
#define PX_SEGMENT_ENGINE_INT_H

#include "base/buf.h"
#include "compute/compute.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"
#include "source/source.h"

/* What a segment's rule reads besides its aggregations and segments. */
enum {
  READ_TRAITS = 1,   /* traits, consent, account traits */
  READ_IDENT = 2,    /* identifiers */
  READ_PROFILE = 4,  /* first_seen, last_seen, profile.events */
  READ_COMPUTED = 8, /* computed.NAME */
};

/* One distinct aggregation. While a profile runs, its state is
 * e->states[i] and its flags e->sflags[i] (SL_*). */
typedef struct eng_slot {
  uint64_t key;           /* XXH64 of px_rule_agg_print */
  const px_rule_agg *agg; /* borrowed from the segment rule or computed trait that brought it */
  px_rule_value value;    /* with SL_VALUE: the state's value at the run's now (strings point into the state) */
  int64_t value_until;
  int *readers;           /* the segments reading it, in a rule or as a computed trait */
  int nreaders;
} eng_slot;

typedef struct eng_seg {
  uint32_t id;
  char name[PX_DEF_NAME_MAX];
  px_rule *rule;
  int *slots;   /* rule aggregation i -> slot */
  int *deps;    /* segments it reads (indexes into segs; -1 unknown) */
  int ndeps;
  int *cslots;  /* the slots of the computed traits it reads (defined ones) */
  const char **cnames; /* ... their names as the rule passes them to env_get (its own strings) */
  int ncslots;
  int *dependents; /* segments reading this one (indexes into segs) */
  int ndependents;
  unsigned reads;
  int target;   /* backfill: recomputed; bf_in its result for the current profile */
  int bf_in;
} eng_seg;

typedef struct eng_ctrait {
  uint32_t id;
  px_ctrait t;
  int slot;
} eng_ctrait;

/* The profiles run in the current transaction (pcache.c). */
typedef struct eng_pentry eng_pentry;
typedef struct eng_pcache {
  px_txn *txn;           /* the transaction it belongs to, NULL between transactions */
  const px_store *st;
  eng_pentry **tab;      /* open addressing by profile id */
  size_t n, mask;
  eng_pentry *spare;     /* emptied entries for reuse (sized for the registry's slots) */
  size_t nspare;
} eng_pcache;

/* Names to indexes (open addressing; keys borrowed from the registry). */
typedef struct eng_map {
  const char **keys;
  int *vals;
  size_t mask; /* capacity - 1; no table when keys is NULL */
} eng_map;

/* The slots an event name feeds. */
typedef struct eng_event {
  const char *name;
  int *slots;
  int n;
} eng_event;

enum {
  SL_LOADED = 1, /* states[i] holds the profile's state */
  SL_DIRTY = 2,  /* ... changed by this run */
  SL_TAKEN = 4,  /* ... took the event (its readers run) */
  SL_VALUE = 8,  /* value/value_until are current */
};

typedef struct eng_state_put {
  uint64_t key;
  const px_buf *state; /* empty: the state is deleted */
} eng_state_put;

typedef struct px_engine {
  uint64_t serial; /* the transaction the generation was last checked in */
  uint64_t gen;    /* UINT64_MAX: unknown, reload at the next transaction */
  eng_seg *segs;   /* evaluation order: a segment after those it reads */
  size_t nsegs;
  eng_ctrait *ctraits;
  size_t nctraits;
  eng_slot *slots;
  size_t nslots;
  px_buf *states;         /* nslots: the running profile's states (kept between profiles: no allocation) */
  eng_state_put *puts;    /* nslots: scratch for eng_states_write */
  px_buf rec;             /* ... and its record */
  unsigned char *sflags;  /* nslots: SL_* */
  eng_map seg_names, ctrait_names, event_names; /* -> segs, ctraits, events */
  eng_event *events; /* per event name, the slots of aggregations of that name */
  size_t nevents;
  int *any_slots;    /* slots of aggregations over any event */
  int nany;
  int *always;       /* segments re-evaluated on every event (they read profile fields) */
  int nalways;
  int *ident_readers, nident; /* ... when identifiers were attached */
  int *trait_readers, ntrait; /* ... when traits may have changed */
  int *time_segs, ntime;      /* ... when time passed (they compare with now) */
  int blank_ready;            /* blank_in/blank_const computed (engine.c) */
  unsigned char *blank_in;    /* per segment: its result for a profile with nothing yet */
  unsigned char *blank_const; /* ... and that result holds whatever the time */
  unsigned char *need; /* per segment, for the current event */
  int *slot_index;   /* open addressing over slot keys: slot + 1, 0 empty */
  size_t slot_mask;
  int states_read;   /* every slot holds the current profile's state (as if SL_LOADED) */
  px_source *sources;
  size_t nsources;
  uint64_t sources_serial;
  px_psegs psegs;   /* the profile's segments, while a profile is processed */
  eng_pcache cache; /* profiles run in this transaction (pcache.c) */
  /* Traits read in the current run (emptied by eng_reset_slots): the
   * segments reading the same trait read the store once. */
  struct eng_tmemo {
    uint64_t entity;
    const char *name;
    px_rule_value v; /* a string points into tmemo_buf */
  } tmemo[16];
  int ntmemo;
  char tmemo_buf[1024];
  size_t tmemo_used;
  char arena[4096]; /* strings handed to px_rule_eval during one evaluation */
  size_t arena_used;
  char **spill;     /* ... those that did not fit (freed after the evaluation) */
  size_t nspill, capspill;
} px_engine;

/* The registry for st, reloaded if definitions changed (once per txn). */
px_status eng_get(px_txn *txn, const px_store *st, px_engine **out);
/* Reloads now, whatever the generation says. */
px_status eng_reload(px_txn *txn, const px_store *st, px_engine *e);
/* Index of a segment / computed trait by name, -1 if none. */
int eng_seg_find(const px_engine *e, const char *name);
int eng_ctrait_find(const px_engine *e, const char *name);
/* The slot of an aggregation key, -1 if none. */
int eng_slot_find(const px_engine *e, uint64_t key);
/* The event names' entry for a track event's name (NULL: no aggregation
 * is of that name). */
const eng_event *eng_event_find(const px_engine *e, const char *name);
/* Orders n segments (names, and for each the names it reads) so that each
 * comes after those it reads; order[] gets indexes. PX_INVALID on a cycle
 * (cycle[] names one of its members). */
px_status eng_order(size_t n, const char *const *names, const char *const *const *reads, const int *nreads,
                    int *order, const char **cycle);

/* Per-profile processing (engine.c). */
typedef struct eng_run {
  px_engine *e;
  px_txn *txn;
  const px_store *st;
  const px_config *cfg;
  uint64_t pid;
  int64_t now;
  int have_rec;
  int64_t first_seen, last_seen;
  uint64_t events;
  const eng_seg *seg; /* being evaluated */
  int backfill;       /* in_segment reads targets' bf_in */
  int64_t due;        /* the profile's scheduled due time (INT64_MAX: none), */
  int due_known;      /* ... once read */
} eng_run;

px_status eng_load_slot(eng_run *r, int i);
/* Writes the dirty states. */
px_status eng_store_slots(eng_run *r);
/* A profile's states as one record (states.c). */
/* The next entry of a record at *p (before end); 0 at its end. */
int eng_states_next(const unsigned char **p, const unsigned char *end, uint64_t *key, MDB_val *state);
/* pid's record (empty when it has none); it points into the store. */
px_status eng_states_get(px_txn *txn, const px_store *st, uint64_t pid, MDB_val *rec);
/* One state of pid (empty when absent). */
px_status eng_state_get(px_txn *txn, const px_store *st, uint64_t pid, uint64_t key, MDB_val *state);
/* Writes n states of pid into its record (one get, one put; puts is
 * sorted by key), keeping the others. */
px_status eng_states_write(px_txn *txn, const px_store *st, uint64_t pid, eng_state_put *puts, size_t n,
                           px_buf *scratch);
/* Removes the states of the nkeys aggregations from every profile's record. */
px_status eng_states_drop(px_txn *txn, const px_store *st, const uint64_t *keys, size_t nkeys, px_buf *scratch);
void eng_reset_slots(px_engine *e);
px_status eng_eval(eng_run *r, const eng_seg *s, int *in, int64_t *until);
px_status eng_history_put(px_txn *txn, const px_store *st, uint64_t pid, int64_t time_ms, px_seg_cause cause,
                          uint64_t seq, uint32_t seg, int entered);
/* The per-transaction profile cache (pcache.c). enter: at the start of a
 * run, the profile's segment list into e->psegs, and its states and due
 * time when cached; leave: at the end, instead of writing them, keeps them
 * (written at commit). flush writes and empties it (before anything reads
 * the states or lists from the store); evict does so for one profile. */
px_status eng_cache_enter(eng_run *r);
px_status eng_cache_leave(eng_run *r, int psegs_changed);
px_status eng_cache_flush(px_txn *txn, px_engine *e);
px_status eng_cache_evict(px_txn *txn, const px_store *st, px_engine *e, uint64_t pid);
/* The cached profile's due time as stored: 1 when cached. */
int eng_cache_due(px_txn *txn, px_engine *e, uint64_t pid, int64_t *due);
void eng_cache_free(px_engine *e);
/* The profile's scheduled due time from the store (INT64_MAX: none). */
px_status eng_due_of(px_txn *txn, const px_store *st, uint64_t pid, int64_t *due);
/* Sets the profile's next due time: exactly `until` when every segment was
 * evaluated (all), else the earlier of it and the one scheduled. */
px_status eng_schedule(px_txn *txn, const px_store *st, uint64_t pid, int64_t until, int all);

#endif
