#include "ingest/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/utf8.h"
#include "event/arena.h"
#include "ingest/pipeline.h"

void px_batch_free(px_batch *b) {
  if (!b) return;
  int drop = px_arena_enabled(); /* the trees go with the arena */
  for (size_t i = 0; i < b->n; i++) {
    if (drop) b->events[i].root = NULL;
    px_event_free(&b->events[i]);
  }
  px_arena_destroy(b->arena);
  free(b->events);
  free(b->index);
  free(b->rejects);
  memset(b, 0, sizeof *b);
}

static void take_write_key(const cJSON *root, px_batch *out) {
  const cJSON *wk = cJSON_GetObjectItemCaseSensitive(root, "writeKey");
  if (cJSON_IsString(wk)) snprintf(out->write_key, sizeof out->write_key, "%s", wk->valuestring);
}

static void add_item(cJSON *item, int index, const px_config *cfg, const px_event_ctx *ctx,
                     px_batch *out) {
  px_error e;
  px_error_clear(&e);
  px_event ev;
  if (px_pipeline_prepare(cfg, item, ctx, &ev, &e) == PX_OK) {
    out->events[out->n] = ev;
    out->index[out->n++] = index;
  } else {
    px_reject *r = &out->rejects[out->nrejects++];
    r->index = index;
    snprintf(r->field, sizeof r->field, "%s", e.field);
    snprintf(r->reason, sizeof r->reason, "%s", e.reason);
  }
}

static px_status parse_body(const char *body, size_t n, const px_config *cfg, const px_event_ctx *ctx,
                            px_batch *out, px_error *err);

px_status px_batch_parse(const char *body, size_t n, const px_config *cfg, const px_event_ctx *ctx,
                         px_batch *out, px_error *err) {
  memset(out, 0, sizeof *out);
  px_error_clear(err);
  size_t cap = ctx->type == PX_EV_NONE ? PX_MAX_REQUEST_BYTES : PX_MAX_MESSAGE_BYTES;
  if (n > cap) return px_error_set(err, PX_TOO_LARGE, "", "request body larger than %zu bytes", cap);
  long bad = px_utf8_invalid_at(body, n);
  if (bad >= 0) {
    px_error_set(err, PX_BAD_UTF8, "", "invalid UTF-8 at byte %ld", bad);
    if (err) err->offset = bad;
    return PX_BAD_UTF8;
  }
  const char *nul = memchr(body, 0, n);
  if (nul) {
    px_error_set(err, PX_BAD_JSON, "", "NUL byte at byte %ld", (long)(nul - body));
    if (err) err->offset = nul - body;
    return PX_BAD_JSON;
  }
  long esc = px_json_escaped_nul_at(body, n);
  if (esc >= 0) {
    px_error_set(err, PX_BAD_JSON, "", "\\u0000 (NUL) in a string at byte %ld: not allowed", esc);
    if (err) err->offset = esc;
    return PX_BAD_JSON;
  }
  /* Every tree of this request lives in the batch's arena. */
  if (!(out->arena = px_arena_create())) return PX_NOMEM;
  px_arena *prev = px_arena_enter(out->arena);
  px_status s = parse_body(body, n, cfg, ctx, out, err);
  px_arena_enter(prev);
  if (s != PX_OK) px_batch_free(out);
  return s;
}

static px_status parse_body(const char *body, size_t n, const px_config *cfg, const px_event_ctx *ctx,
                            px_batch *out, px_error *err) {
  size_t stop = 0;
  cJSON *root = px_json_parse(body, n, &stop);
  if (!root) {
    long off = (long)stop;
    px_error_set(err, PX_BAD_JSON, "", "malformed JSON at byte %ld", off);
    if (err) err->offset = off;
    return PX_BAD_JSON;
  }
  px_status s = PX_OK;
  if (!cJSON_IsObject(root)) {
    s = px_error_set(err, PX_INVALID, "", "the body must be a JSON object");
    goto out;
  }
  take_write_key(root, out);
  if (ctx->type != PX_EV_NONE) {
    out->total = 1;
    out->events = calloc(1, sizeof *out->events);
    out->index = calloc(1, sizeof *out->index);
    out->rejects = calloc(1, sizeof *out->rejects);
    if (!out->events || !out->index || !out->rejects) {
      s = PX_NOMEM;
      goto out;
    }
    add_item(root, 0, cfg, ctx, out);
    return PX_OK; /* root now belongs to the event (or was freed) */
  }
  cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "batch");
  if (!cJSON_IsArray(items)) {
    s = px_error_set(err, PX_INVALID, "batch", "must be an array of messages");
    goto out;
  }
  int total = cJSON_GetArraySize(items);
  if (total > PX_MAX_BATCH_EVENTS) {
    s = px_error_set(err, PX_INVALID, "batch", "%d messages; at most %d per batch", total,
                     PX_MAX_BATCH_EVENTS);
    goto out;
  }
  px_event_ctx ictx = *ctx;
  const cJSON *bc = cJSON_GetObjectItemCaseSensitive(root, "context");
  const cJSON *bi = cJSON_GetObjectItemCaseSensitive(root, "integrations");
  if (cJSON_IsNull(bc)) bc = NULL;
  if (cJSON_IsNull(bi)) bi = NULL;
  if ((bc && !cJSON_IsObject(bc)) || (bi && !cJSON_IsObject(bi))) {
    s = px_error_set(err, PX_INVALID, bc && !cJSON_IsObject(bc) ? "context" : "integrations",
                     "must be an object");
    goto out;
  }
  const cJSON *bs = cJSON_GetObjectItemCaseSensitive(root, "sentAt");
  int64_t sent_ms;
  if (cJSON_IsString(bs) && px_time_parse_iso(bs->valuestring, &sent_ms) == PX_OK) ictx.batch_sent_ms = sent_ms;
  /* The batch context is copied into every item: keep it small, so a 500 KB
   * request cannot turn into thousands of 32 KB messages. */
  px_buf ctxbuf;
  px_buf_init(&ctxbuf, PX_MAX_BATCH_CONTEXT_BYTES);
  px_status cs = bc ? px_json_write(bc, &ctxbuf) : PX_OK;
  if (cs == PX_OK && bi) cs = px_json_write(bi, &ctxbuf);
  px_buf_free(&ctxbuf);
  if (cs != PX_OK) {
    s = px_error_set(err, PX_INVALID, "context", "batch-level context and integrations exceed %d bytes",
                     PX_MAX_BATCH_CONTEXT_BYTES);
    goto out;
  }
  ictx.batch_context = bc;
  ictx.batch_integrations = bi;
  out->total = (size_t)total;
  size_t alloc = total ? (size_t)total : 1;
  out->events = calloc(alloc, sizeof *out->events);
  out->index = calloc(alloc, sizeof *out->index);
  out->rejects = calloc(alloc, sizeof *out->rejects);
  if (!out->events || !out->index || !out->rejects) {
    s = PX_NOMEM;
    goto out;
  }
  for (int i = 0; i < total; i++) {
    cJSON *item = cJSON_DetachItemFromArray(items, 0);
    add_item(item, i, cfg, &ictx, out);
  }
out:
  cJSON_Delete(root);
  return s;
}
