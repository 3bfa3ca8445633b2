/* The profiles one transaction has run, kept between its events: their
 * aggregation states, segment lists and due times stay in memory from one
 * event of a profile to the next and are written once, when the
 * transaction commits (px_txn_defer), instead of being read and written
 * back on every event. An import or a writer transaction holds thousands
 * of events in which the active profiles come back again and again.
 *
 * A cached profile's states live in its own slot buffers, exchanged with
 * the registry's slots (a swap, no copy) while it runs. Anything that reads
 * the states or segment lists from the store in the same transaction
 * writes the cache first: a merge (the two profiles), a backfill and a
 * registry reload (everything). */
#include <stdlib.h>
#include <string.h>

#include "segment/engine_int.h"

#define MAX_ENTRIES 16384 /* written back and emptied past this */
#define MAX_SPARE 2048    /* emptied entries kept for the next transactions, with their buffers */

struct eng_pentry {
  eng_pentry *next_spare;
  uint64_t pid;
  int have_states;      /* states holds every slot's state */
  px_buf *states;       /* nslots */
  unsigned char *dirty; /* per slot: changed since the store has it */
  px_psegs psegs;
  int psegs_dirty;
  int64_t due; /* as stored in the due index */
};

static uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= UINT64_C(0xff51afd7ed558ccd);
  return k ^ (k >> 33);
}

static void entry_free(eng_pentry *p, size_t nslots) {
  if (!p) return;
  for (size_t i = 0; p->states && i < nslots; i++) px_buf_free(&p->states[i]);
  free(p->states);
  free(p->dirty);
  px_psegs_free(&p->psegs);
  free(p);
}

/* Empties the table; up to MAX_SPARE entries are kept for reuse (the next
 * transaction's profiles then allocate nothing). */
static void clear(px_engine *e) {
  eng_pcache *c = &e->cache;
  for (size_t i = 0; c->tab && i <= c->mask; i++) {
    eng_pentry *p = c->tab[i];
    c->tab[i] = NULL;
    if (!p) continue;
    if (c->nspare < MAX_SPARE) {
      p->next_spare = c->spare;
      c->spare = p;
      c->nspare++;
    } else {
      entry_free(p, e->nslots);
    }
  }
  c->n = 0;
}

static void discard(void *arg) {
  px_engine *e = arg;
  clear(e);
  e->cache.txn = NULL;
}

/* Writes one entry's dirty states and segment list. */
static px_status write_entry(px_txn *txn, const px_store *st, px_engine *e, eng_pentry *p) {
  size_t n = 0;
  for (size_t i = 0; p->have_states && i < e->nslots; i++)
    if (p->dirty[i]) {
      e->puts[n++] = (eng_state_put){e->slots[i].key, &p->states[i]};
      p->dirty[i] = 0;
    }
  px_status s = eng_states_write(txn, st, p->pid, e->puts, n, &e->rec);
  if (s == PX_OK && p->psegs_dirty) s = px_psegs_store(txn, st, p->pid, &p->psegs);
  p->psegs_dirty = 0;
  return s;
}

static px_status flush(px_txn *txn, void *arg) {
  px_engine *e = arg;
  eng_pcache *c = &e->cache;
  px_status s = PX_OK;
  for (size_t i = 0; c->tab && i <= c->mask && s == PX_OK; i++)
    if (c->tab[i]) s = write_entry(txn, c->st, e, c->tab[i]);
  clear(e);
  return s;
}

static const px_txn_hook hook = {flush, discard};

px_status eng_cache_flush(px_txn *txn, px_engine *e) {
  return e->cache.txn == txn && e->cache.n ? flush(txn, e) : PX_OK;
}

/* The slot in the table of pid (its entry, or the empty slot for it). */
static size_t find(const eng_pcache *c, uint64_t pid) {
  size_t i = mix(pid) & c->mask;
  while (c->tab[i] && c->tab[i]->pid != pid) i = (i + 1) & c->mask;
  return i;
}

static eng_pentry *lookup(px_txn *txn, px_engine *e, uint64_t pid) {
  eng_pcache *c = &e->cache;
  if (c->txn != txn || !c->n) return NULL;
  return c->tab[find(c, pid)];
}

/* Removes the entry at table slot i, keeping the probe chains whole. */
static void remove_at(eng_pcache *c, size_t i) {
  c->tab[i] = NULL;
  c->n--;
  for (size_t j = (i + 1) & c->mask; c->tab[j]; j = (j + 1) & c->mask) {
    eng_pentry *p = c->tab[j];
    c->tab[j] = NULL;
    c->tab[find(c, p->pid)] = p;
  }
}

px_status eng_cache_evict(px_txn *txn, const px_store *st, px_engine *e, uint64_t pid) {
  eng_pcache *c = &e->cache;
  if (c->txn != txn || !c->n) return PX_OK;
  size_t i = find(c, pid);
  eng_pentry *p = c->tab[i];
  if (!p) return PX_OK;
  px_status s = write_entry(txn, st, e, p);
  remove_at(c, i);
  entry_free(p, e->nslots);
  return s;
}

int eng_cache_due(px_txn *txn, px_engine *e, uint64_t pid, int64_t *due) {
  const eng_pentry *p = lookup(txn, e, pid);
  if (!p) return 0;
  *due = p->due;
  return 1;
}

px_status eng_cache_enter(eng_run *r) {
  px_engine *e = r->e;
  eng_pentry *p = lookup(r->txn, e, r->pid);
  if (!p) return px_psegs_load(r->txn, r->st, r->pid, &e->psegs);
  px_psegs t = e->psegs; /* the entry's list becomes the engine's for the run */
  e->psegs = p->psegs;
  p->psegs = t;
  if (!r->due_known) r->due = p->due, r->due_known = 1;
  if (p->have_states) { /* the entry's states become the running ones */
    px_buf *t = e->states;
    e->states = p->states;
    p->states = t;
    e->states_read = 1;
  }
  return PX_OK;
}

/* The entry for r->pid, created if new (NULL: out of memory). */
static eng_pentry *entry_for(eng_run *r) {
  px_engine *e = r->e;
  eng_pcache *c = &e->cache;
  if (c->txn != r->txn) {
    clear(e); /* left from a transaction that ended without hook (never: defensive) */
    if (px_txn_defer(r->txn, &hook, e) != PX_OK) return NULL;
    c->txn = r->txn;
    c->st = r->st;
  }
  if (!c->tab || 2 * (c->n + 1) > c->mask + 1) {
    size_t cap = c->tab ? 2 * (c->mask + 1) : 1024;
    eng_pentry **tab = calloc(cap, sizeof *tab);
    if (!tab) return NULL;
    eng_pcache old = *c;
    c->tab = tab;
    c->mask = cap - 1;
    for (size_t i = 0; old.tab && i <= old.mask; i++)
      if (old.tab[i]) c->tab[find(c, old.tab[i]->pid)] = old.tab[i];
    free(old.tab);
  }
  size_t i = find(c, r->pid);
  if (c->tab[i]) return c->tab[i];
  eng_pentry *p = c->spare;
  if (p) {
    c->spare = p->next_spare;
    c->nspare--;
    p->have_states = p->psegs_dirty = 0;
    p->psegs.n = 0;
    memset(p->dirty, 0, e->nslots ? e->nslots : 1);
  } else {
    p = calloc(1, sizeof *p);
    if (p) p->states = calloc(e->nslots ? e->nslots : 1, sizeof *p->states);
    if (p && p->states) p->dirty = calloc(e->nslots ? e->nslots : 1, 1);
    if (!p || !p->states || !p->dirty) {
      entry_free(p, e->nslots);
      return NULL;
    }
    for (size_t k = 0; k < e->nslots; k++) px_buf_init(&p->states[k], 0);
  }
  p->pid = r->pid;
  c->tab[i] = p;
  c->n++;
  return p;
}

px_status eng_cache_leave(eng_run *r, int psegs_changed) {
  px_engine *e = r->e;
  eng_pcache *c = &e->cache;
  if (c->txn == r->txn && c->n >= MAX_ENTRIES) {
    px_status s = flush(r->txn, e); /* bounded memory: write what is held and start again */
    if (s != PX_OK) return s;
  }
  eng_pentry *p = entry_for(r);
  if (!p) { /* no room: write through, as without a cache */
    px_status s = eng_store_slots(r);
    return s == PX_OK && psegs_changed ? px_psegs_store(r->txn, r->st, r->pid, &e->psegs) : s;
  }
  if (e->states_read) { /* every slot is loaded: the entry holds them all from now on */
    px_buf *t = p->states;
    p->states = e->states;
    e->states = t;
    for (size_t i = 0; i < e->nslots; i++) p->dirty[i] |= e->sflags[i] & SL_DIRTY;
    p->have_states = 1;
  } else { /* no state was read (none needed): what changed was written already */
    px_status s = eng_store_slots(r);
    if (s != PX_OK) return s;
  }
  px_psegs t = p->psegs;
  p->psegs = e->psegs;
  e->psegs = t;
  p->psegs_dirty |= psegs_changed;
  p->due = r->due_known ? r->due : p->due;
  if (!r->due_known) { /* not read in this run: read it now, the entry must know it */
    int64_t due;
    px_status s = eng_due_of(r->txn, r->st, r->pid, &due);
    if (s != PX_OK) return s;
    p->due = due;
  }
  return PX_OK;
}

void eng_cache_free(px_engine *e) {
  eng_pcache *c = &e->cache;
  for (size_t i = 0; c->tab && i <= c->mask; i++) entry_free(c->tab[i], e->nslots);
  while (c->spare) {
    eng_pentry *p = c->spare;
    c->spare = p->next_spare;
    entry_free(p, e->nslots);
  }
  free(c->tab);
  memset(c, 0, sizeof *c);
}
