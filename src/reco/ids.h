/* Dense indexes for string ids (users, items): the first id interned gets
 * 0, the next new one 1, and so on, so an index is the order of first
 * appearance. The model and the queries work on indexes only; the names
 * come back for display. */
#ifndef PX_RECO_IDS_H
#define PX_RECO_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* Limits (docs/internals/reco.md). */
#define PX_RECO_MAX_ID_BYTES 1024
#define PX_RECO_MAX_IDS ((uint32_t)1 << 30)

typedef struct px_reco_ids px_reco_ids;

px_reco_ids *px_reco_ids_new(void);
void px_reco_ids_free(px_reco_ids *d); /* NULL is fine */

/* The index of the id s (n bytes), added when new. PX_INVALID for an
 * empty id, one holding a NUL byte or longer than PX_RECO_MAX_ID_BYTES;
 * PX_TOO_LARGE past PX_RECO_MAX_IDS ids. */
px_status px_reco_ids_intern(px_reco_ids *d, const char *s, size_t n, uint32_t *index);
/* The index of s without adding it: PX_NOT_FOUND when it is not there. */
px_status px_reco_ids_find(const px_reco_ids *d, const char *s, size_t n, uint32_t *index);
/* The id of an index (NUL-terminated), NULL when out of range; valid until
 * the next intern or the free. */
const char *px_reco_ids_name(const px_reco_ids *d, uint32_t index);
uint32_t px_reco_ids_count(const px_reco_ids *d);

/* The same ids numbered in byte order (*out, a new dictionary), and
 * map[old index] = new index (map: room for px_reco_ids_count). Numbering
 * by the ids themselves makes results independent of the order the data
 * came in: ties between equal scores go to the lower index. */
px_status px_reco_ids_sorted(const px_reco_ids *d, px_reco_ids **out, uint32_t *map);

#endif
