/* Parses one collection request body (a single message, or a batch with
 * batch-level context and integrations) into prepared events and a list of
 * rejected items. Byte-level checks first (size, UTF-8, NUL), then JSON. */
#ifndef PX_INGEST_BATCH_H
#define PX_INGEST_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "event/event.h"

typedef struct px_reject {
  int index;
  char field[128];
  char reason[256];
} px_reject;

typedef struct px_batch {
  px_event *events; /* the valid ones, in order */
  int *index;       /* index[i]: position of events[i] in the request */
  size_t n;
  px_reject *rejects;
  size_t nrejects;
  size_t total;           /* messages in the request */
  char write_key[80];     /* "writeKey" from the body, if any */
  struct px_arena *arena; /* holds the events' JSON trees */
} px_batch;

/* ctx->type PX_EV_NONE means a batch body ({"batch":[...]}); otherwise the
 * body is one message of that type. Returns PX_OK when the request as a
 * whole was well-formed (even if every item was rejected); otherwise the
 * request-level error (PX_TOO_LARGE, PX_BAD_UTF8, PX_BAD_JSON with
 * err->offset, PX_INVALID) and an empty batch. */
px_status px_batch_parse(const char *body, size_t n, const px_config *cfg, const px_event_ctx *ctx,
                         px_batch *out, px_error *err);
void px_batch_free(px_batch *b);

#endif
