/* Fuzz target: px_batch_parse, the parser every collection request goes
 * through. Each input is parsed as a batch body ({"batch":[...]}) and as a
 * single message of one type, with the default configuration, and the
 * result's invariants are checked. */
#include <cjson/cJSON.h>

#include "base/timeutil.h"
#include "config/config.h"
#include "event/event.h"
#include "fuzz_common.h"
#include "ingest/batch.h"

static px_config cfg;
static int ready;

static void check_event(const px_event *ev, const px_event_ctx *ctx) {
  FUZZ_CHECK(ev->root && ev->rec, "event without tree or record");
  FUZZ_CHECK(ev->type >= PX_EV_IDENTIFY && ev->type <= PX_EV_ALIAS, "type %d", (int)ev->type);
  FUZZ_CHECK(ctx->type == PX_EV_NONE || ev->type == ctx->type, "type %d on endpoint %d", (int)ev->type,
             (int)ctx->type);
  FUZZ_CHECK(ev->message_id && *ev->message_id, "no messageId");
  FUZZ_CHECK(strlen(ev->message_id) <= PX_MAX_ID_BYTES + 3 + 36, "messageId of %zu bytes", strlen(ev->message_id));
  FUZZ_CHECK(ev->user_id || ev->anonymous_id, "neither userId nor anonymousId");
  FUZZ_CHECK(ev->rec_len > sizeof(px_event_rec) && ev->rec_len <= sizeof(px_event_rec) + PX_MAX_MESSAGE_BYTES,
             "record of %zu bytes", ev->rec_len);
  FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(ev->root, "writeKey") == NULL, "writeKey kept");
  /* The stored record decodes to the same event. */
  px_event d;
  px_status s = px_event_decode(ev->rec, ev->rec_len, 1, &d);
  FUZZ_CHECK(s == PX_OK, "decode: %s", px_status_str(s));
  FUZZ_CHECK(d.type == ev->type && d.timestamp_ms == ev->timestamp_ms && d.received_ms == ev->received_ms,
             "decoded header differs");
  FUZZ_CHECK(d.message_id && strcmp(d.message_id, ev->message_id) == 0, "decoded messageId differs");
  FUZZ_CHECK((d.user_id == NULL) == (ev->user_id == NULL), "decoded userId differs");
  /* The normalized timestamps are well-formed. */
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ev->root, "timestamp");
  int64_t v;
  FUZZ_CHECK(cJSON_IsString(ts) && px_time_parse_iso(ts->valuestring, &v) == PX_OK, "bad timestamp");
  px_event_free(&d);
}

static void run(const char *body, size_t n, px_event_type type) {
  px_event_ctx ctx = {.type = type, .source_id = 1, .received_ms = 1714557600000LL};
  px_batch b;
  px_error err;
  px_status s = px_batch_parse(body, n, &cfg, &ctx, &b, &err);
  if (s != PX_OK) {
    FUZZ_CHECK(b.n == 0 && b.nrejects == 0 && b.events == NULL, "a failed parse left events");
    if (s == PX_BAD_JSON || s == PX_BAD_UTF8)
      FUZZ_CHECK(err.offset >= 0 && (size_t)err.offset <= n, "offset %ld of %zu bytes", err.offset, n);
    FUZZ_CHECK(s == PX_TOO_LARGE || s == PX_BAD_JSON || s == PX_BAD_UTF8 || s == PX_INVALID || s == PX_NOMEM,
               "unexpected status %s", px_status_str(s));
    px_batch_free(&b);
    return;
  }
  FUZZ_CHECK(b.n + b.nrejects == b.total, "%zu events + %zu rejects != %zu", b.n, b.nrejects, b.total);
  FUZZ_CHECK(b.total <= PX_MAX_BATCH_EVENTS, "%zu messages", b.total);
  FUZZ_CHECK(type == PX_EV_NONE || b.total == 1, "single message gave %zu", b.total);
  int last = -1;
  for (size_t i = 0; i < b.n; i++) {
    FUZZ_CHECK(b.index[i] > last && (size_t)b.index[i] < b.total, "index %d", b.index[i]);
    last = b.index[i];
    check_event(&b.events[i], &ctx);
  }
  for (size_t i = 0; i < b.nrejects; i++) {
    FUZZ_CHECK(b.rejects[i].index >= 0 && (size_t)b.rejects[i].index < b.total, "reject index %d",
               b.rejects[i].index);
    FUZZ_CHECK(b.rejects[i].reason[0], "reject without a reason");
    for (size_t j = 0; j < b.n; j++)
      FUZZ_CHECK(b.index[j] != b.rejects[i].index, "item %d both accepted and rejected", b.index[j]);
  }
  px_batch_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) {
    px_config_default(&cfg);
    ready = 1;
  }
  char *body = fuzz_copy(data, size, 0);
  run(body, size, PX_EV_NONE);
  /* The same bytes as the body of one of the single-message endpoints. */
  run(body, size, (px_event_type)(PX_EV_IDENTIFY + size % 6));
  free(body);
  return 0;
}
