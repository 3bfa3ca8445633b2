#include "segment/sweep.h"

#include "base/timeutil.h"
#include "segment/engine.h"

#define SLICE 256 /* profiles between two looks at the clock */

static int over_time(uint64_t t0, uint64_t max_ns) { return max_ns && px_time_mono_ns() - t0 >= max_ns; }

/* Whether anything is due at now_ms (a read transaction: no lock). */
static px_status anything_due(px_store *st, int64_t now_ms, int *due) {
  px_txn *txn;
  int64_t next = INT64_MAX;
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s != PX_OK) return s;
  s = px_segment_next_due(txn, st, &next);
  px_store_abort(txn);
  *due = s == PX_OK && next <= now_ms;
  return s;
}

/* One transaction: up to room profiles, in slices, until nothing is due or
 * time is up. *done gets how many; *drained says nothing was left due. */
static px_status sweep_txn(px_store *st, const px_config *cfg, int64_t now_ms, uint64_t room, uint64_t t0,
                           uint64_t max_ns, uint64_t *done, int *drained) {
  px_txn *txn;
  *done = 0;
  *drained = 0;
  px_status s = px_store_begin(st, PX_TXN_STATE, &txn);
  if (s != PX_OK) return s;
  while (*done < room) {
    uint64_t slice = room - *done < SLICE ? room - *done : SLICE, got = 0;
    if ((s = px_segment_sweep(txn, st, cfg, now_ms, slice, &got)) != PX_OK) break;
    *done += got;
    if (got < slice) {
      *drained = 1;
      break;
    }
    if (over_time(t0, max_ns)) break;
  }
  if (s == PX_OK && *done) return px_store_commit(txn);
  px_store_abort(txn);
  if (s != PX_OK) *done = 0;
  return s;
}

px_status px_segment_sweep_run(px_store *st, const px_config *cfg, int64_t now_ms, const px_sweep_limits *lim,
                               px_sweep_result *out) {
  px_sweep_limits l = lim ? *lim : (px_sweep_limits){0};
  if (!l.per_txn) l.per_txn = PX_SWEEP_PER_TXN;
  uint64_t t0 = px_time_mono_ns(), total = 0;
  int more = 0, due = 0, drained = 0;
  px_status s;
  while ((s = anything_due(st, now_ms, &due)) == PX_OK && due) {
    if ((l.max && total >= l.max) || (total && over_time(t0, l.max_ns))) {
      more = 1; /* a bound stopped us (after one slice at least): the caller comes back */
      break;
    }
    uint64_t room = l.per_txn, done = 0;
    if (l.max && l.max - total < room) room = l.max - total;
    s = sweep_txn(st, cfg, now_ms, room, t0, l.max_ns, &done, &drained);
    total += done;
    if (s != PX_OK || drained) break;
  }
  if (out) *out = (px_sweep_result){.done = total, .more = more};
  return s;
}
