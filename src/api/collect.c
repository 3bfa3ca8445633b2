/* POST /v1/{identify,track,page,screen,group,alias,batch,import} */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "ingest/batch.h"

static void rejects_json(px_buf *b, const px_batch *batch) {
  px_buf_puts(b, "\"rejected\":[");
  for (size_t i = 0; i < batch->nrejects; i++) {
    const px_reject *r = &batch->rejects[i];
    px_buf_printf(b, "%s{\"index\":%d,\"field\":", i ? "," : "", r->index);
    px_buf_json_str(b, r->field, strlen(r->field));
    px_buf_puts(b, ",\"reason\":");
    px_buf_json_str(b, r->reason, strlen(r->reason));
    px_buf_putc(b, '}');
  }
  px_buf_putc(b, ']');
}

void px_api_collect(px_api *api, const px_http_req *req, const char *what, px_http_resp *resp) {
  px_event_ctx ctx = {.received_ms = px_time_now_ms()};
  int batch_mode = strcmp(what, "batch") == 0 || strcmp(what, "import") == 0;
  ctx.type = batch_mode ? PX_EV_NONE : px_event_type_parse(what);
  px_error err;
  px_error_clear(&err);
  if (req->body_too_large) {
    px_error_set(&err, PX_TOO_LARGE, "", "request body larger than %d bytes", PX_MAX_REQUEST_BYTES);
    px_api_error(resp, 413, "payload too large", &err);
    return;
  }
  if (req->body_bad_encoding == PX_HTTP_ENC_UNSUPPORTED) {
    px_error_set(&err, PX_INVALID, "Content-Encoding", "only gzip and identity are supported");
    px_api_error(resp, 415, "unsupported content encoding", &err);
    return;
  }
  if (req->body_bad_encoding == PX_HTTP_ENC_CORRUPT) {
    px_error_set(&err, PX_INVALID, "Content-Encoding", "the body is not valid gzip");
    px_api_error(resp, 400, "corrupt gzip body", &err);
    return;
  }
  px_txn *txn;
  if (px_store_begin(api->st, 0, &txn) != PX_OK) {
    px_api_error(resp, 500, "store unavailable", NULL);
    return;
  }
  char key[128];
  size_t kn = px_api_credential(req->authorization, key, sizeof key);
  px_principal who;
  if (kn && !px_api_auth(api, txn, key, kn, PX_KEY_WRITE, resp, &who)) {
    px_store_abort(txn);
    return;
  }
  /* No header and no writeKey anywhere in the body: 401 before any parsing. */
  if (!kn && !memmem(req->body, req->body_len, "\"writeKey\"", 10)) {
    px_api_auth(api, txn, NULL, 0, PX_KEY_WRITE, resp, &who);
    px_store_abort(txn);
    return;
  }
  const px_config *cfg = px_api_config_acquire(api, txn);
  px_batch batch;
  ctx.source_id = kn ? who.source_id : 0;
  px_status s = px_batch_parse(req->body, req->body_len, cfg, &ctx, &batch, &err);
  px_api_config_release(api);
  if (s != PX_OK) {
    px_store_abort(txn);
    px_api_error(resp, s == PX_TOO_LARGE ? 413 : 400,
                 s == PX_TOO_LARGE  ? "payload too large"
                 : s == PX_BAD_JSON ? "malformed JSON"
                 : s == PX_BAD_UTF8 ? "invalid UTF-8"
                                    : "invalid request",
                 &err);
    return;
  }
  if (!kn) {
    /* No header: the body's writeKey authenticates. */
    if (!px_api_auth(api, txn, batch.write_key, strlen(batch.write_key), PX_KEY_WRITE, resp, &who)) {
      px_store_abort(txn);
      px_batch_free(&batch);
      return;
    }
    for (size_t i = 0; i < batch.n; i++) {
      batch.events[i].source_id = who.source_id;
      /* The record header carries the source too. */
      memcpy(batch.events[i].rec + offsetof(px_event_rec, source_id), &who.source_id,
             sizeof who.source_id);
    }
  }
  px_store_abort(txn);
  if (api->metrics) {
    atomic_fetch_add(&api->metrics->events_received, batch.total);
    atomic_fetch_add(&api->metrics->events_rejected, batch.nrejects);
  }
  if (batch.n == 0) {
    if (!batch_mode && batch.nrejects) {
      px_error_set(&err, PX_INVALID, batch.rejects[0].field, "%s", batch.rejects[0].reason);
      px_api_error(resp, 400, "invalid message", &err);
    } else {
      resp->status = 400;
      px_buf_puts(&resp->body, "{\"success\":false,\"error\":\"no valid messages\",\"accepted\":0,\"duplicates\":0,");
      rejects_json(&resp->body, &batch);
      px_buf_putc(&resp->body, '}');
    }
    px_batch_free(&batch);
    return;
  }
  uint8_t *dup = calloc(batch.n, 1);
  s = dup ? px_writer_submit(api->writer, batch.events, batch.n, dup) : PX_NOMEM;
  if (s == PX_OK) {
    size_t dups = 0;
    for (size_t i = 0; i < batch.n; i++) dups += dup[i];
    resp->status = 200;
    px_buf_printf(&resp->body, "{\"success\":true,\"accepted\":%zu,\"duplicates\":%zu,", batch.n - dups, dups);
    rejects_json(&resp->body, &batch);
    px_buf_putc(&resp->body, '}');
  } else if (s == PX_DISK_FULL || s == PX_STORE_FULL) {
    px_api_error(resp, 507, "insufficient storage: the server cannot store events now", NULL);
    resp->retry_after = 30;
  } else if (s == PX_OVERLOADED || s == PX_SHUTDOWN) {
    px_api_error(resp, 503, s == PX_OVERLOADED ? "overloaded: retry later" : "shutting down", NULL);
    resp->retry_after = 1;
  } else {
    px_api_error(resp, 500, px_status_str(s), NULL);
  }
  free(dup);
  px_batch_free(&batch);
}
