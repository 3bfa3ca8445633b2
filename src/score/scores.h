/* Per-profile scores kept in the state store (PX_DB_SCORES): named values
 * (a number or a string) that a refresh computes over all customers (RFM,
 * later CLV...) and rules read as score.NAME. Derived state: emptied with
 * the rest of the state (px_store_clear_derived) and written again by the
 * next refresh. See docs/internals/score.md.
 *
 * Key: profile id u64be + name (no terminator). Value: type u8 ('n' or
 * 's'), since i64be (ms, sign bit flipped: when the value was last set),
 * then 8 bytes of IEEE-754 double big-endian ('n') or the string's bytes
 * ('s'). Profile id 0 is never a profile (ids start at 1): it holds what a
 * refresh says about itself (PX_SCORE_GLOBAL). */
#ifndef PX_SCORE_SCORES_H
#define PX_SCORE_SCORES_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "rule/rule.h"
#include "store/store.h"

#define PX_SCORE_NAME_MAX 128      /* a name is 1-127 bytes */
#define PX_SCORE_STR_MAX 65536     /* a string value's bytes */
#define PX_SCORE_GLOBAL UINT64_C(0) /* the "profile" of refresh summaries */

typedef enum px_score_type { PX_SCORE_NUM = 'n', PX_SCORE_STR = 's' } px_score_type;

typedef struct px_score {
  px_score_type type;
  double n;        /* PX_SCORE_NUM */
  const char *s;   /* PX_SCORE_STR: len bytes, not NUL-terminated */
  size_t len;
  int64_t since_ms; /* when the value was set (kept while a put leaves it equal) */
} px_score;

/* Sets pid's score name to v. A value equal to the stored one (same type,
 * same number or bytes) is left alone, with its since: *changed (may be
 * NULL) says whether anything was written. PX_INVALID for an empty or too
 * long name, a string over PX_SCORE_STR_MAX or a non-finite number. */
px_status px_score_put(px_txn *txn, const px_store *st, uint64_t pid, const char *name, const px_score *v,
                       int *changed);

/* pid's score name. PX_NOT_FOUND when there is none. A string points into
 * the store: valid until the transaction ends or its next write. */
px_status px_score_read(px_txn *txn, const px_store *st, uint64_t pid, const char *name, px_score *out);

/* Removes one score; PX_NOT_FOUND when there was none. */
px_status px_score_del(px_txn *txn, const px_store *st, uint64_t pid, const char *name);

/* Every score of pid in name order (name NUL-terminated, v's string as
 * for px_score_read, both valid during the call); fn returns non-zero to
 * stop. */
typedef int (*px_score_fn)(void *arg, const char *name, const px_score *v);
px_status px_score_each(px_txn *txn, const px_store *st, uint64_t pid, px_score_fn fn, void *arg);

/* The profiles (PX_SCORE_GLOBAL left out) holding a score whose name
 * (len bytes, not NUL-terminated) match(arg, name, len) accepts, other
 * than the nexcept ones in except (ascending; a refresh's scored
 * customers), ascending, each once: *pids is malloc'd (NULL when *n is 0),
 * the caller frees it. One pass over every score: what a refresh removes. */
typedef int (*px_score_match_fn)(void *arg, const char *name, size_t len);
px_status px_score_holders(px_txn *txn, const px_store *st, px_score_match_fn match, void *arg, const uint64_t *except,
                           size_t nexcept, uint64_t **pids, size_t *n);

/* The score as a rule value (score.NAME): a number, or a string copied
 * into scratch (valid until scratch changes) or, with scratch NULL,
 * pointing into the store (as px_score_read). An absent score is
 * PX_RV_NULL with PX_OK. */
px_status px_score_get(px_txn *txn, const px_store *st, uint64_t pid, const char *name, px_rule_value *out,
                       px_buf *scratch);

#endif
