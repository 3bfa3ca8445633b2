/* Sources (where events come from, with a priority for survivorship), their
 * write keys, and admin tokens. Secrets are shown once and stored only as
 * BLAKE2b hashes (PX_DB_KEYS). */
#ifndef PX_SOURCE_SOURCE_H
#define PX_SOURCE_SOURCE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "store/store.h"

#define PX_SOURCE_NAME_MAX 64
#define PX_SECRET_MAX 64

typedef enum px_key_kind { PX_KEY_WRITE = 1, PX_KEY_ADMIN = 2 } px_key_kind;

typedef struct px_source {
  uint32_t id;
  char name[PX_SOURCE_NAME_MAX];
  int32_t priority; /* higher wins under the source_priority survivorship rule */
  int64_t created_ms;
} px_source;

typedef struct px_principal {
  px_key_kind kind;
  uint32_t source_id; /* write keys only */
} px_principal;

/* Creates a source and its first write key (written to key_out). PX_EXISTS
 * when the name is taken; PX_INVALID for a bad name. */
px_status px_source_add(px_txn *txn, const px_store *st, const char *name, int32_t priority,
                        px_source *out, char key_out[PX_SECRET_MAX], px_error *err);
px_status px_source_get(px_txn *txn, const px_store *st, uint32_t id, px_source *out);
px_status px_source_find(px_txn *txn, const px_store *st, const char *name, px_source *out);
/* All sources in id order; *out is malloc'd. */
px_status px_source_list(px_txn *txn, const px_store *st, px_source **out, size_t *n);

/* Creates an admin token (written to token_out). */
px_status px_token_create(px_txn *txn, const px_store *st, char token_out[PX_SECRET_MAX]);

/* Who holds this secret? PX_NOT_FOUND when nobody. */
px_status px_auth_lookup(px_txn *txn, const px_store *st, const char *secret, size_t n,
                         px_principal *out);

#endif
