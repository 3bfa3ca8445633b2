/* The event model: Segment tracking-API messages, validated and normalized
 * into px_event, and their stored record form. See docs/internals/event.md. */
#ifndef PX_EVENT_EVENT_H
#define PX_EVENT_EVENT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* Limits (documented in docs/LIMITS.md). */
#define PX_MAX_MESSAGE_BYTES (32 * 1024)   /* one stored message */
#define PX_MAX_REQUEST_BYTES (500 * 1024)  /* one HTTP request body */
#define PX_MAX_BATCH_EVENTS 2500
#define PX_MAX_DEPTH 32                    /* nesting of objects/arrays in a message */
#define PX_MAX_STRING_BYTES 8192           /* any string value */
#define PX_MAX_KEY_BYTES 256               /* any object key, hence trait names */
#define PX_MAX_ID_BYTES 256                /* userId, anonymousId, messageId, event, groupId... */
#define PX_MAX_BATCH_CONTEXT_BYTES 8192    /* batch-level context + integrations, copied into every item */

typedef enum px_event_type {
  PX_EV_NONE = 0,
  PX_EV_IDENTIFY = 1,
  PX_EV_TRACK = 2,
  PX_EV_PAGE = 3,
  PX_EV_SCREEN = 4,
  PX_EV_GROUP = 5,
  PX_EV_ALIAS = 6,
  PX_EV_MERGE = 7, /* pickaxe's own: a probabilistic merge decided by `pickaxe link` */
} px_event_type;

const char *px_event_type_name(px_event_type t);
px_event_type px_event_type_parse(const char *s);

typedef struct px_event {
  px_event_type type;
  uint32_t source_id;
  uint64_t seq;          /* position in the event log; set when logged */
  uint64_t config_version; /* decoded records: the configuration they were applied under */
  int64_t received_ms;   /* set by the server */
  int64_t timestamp_ms;  /* when it happened, skew-corrected */
  cJSON *root;           /* the normalized message; owns every pointer below */
  const char *message_id;
  const char *user_id;      /* NULL when absent */
  const char *anonymous_id; /* NULL when absent */
  const char *name;         /* track: event; page/screen: name; else NULL */
  const char *group_id;     /* group */
  const char *previous_id;  /* alias */
  const cJSON *traits;         /* identify/group traits, or NULL */
  const cJSON *context_traits; /* context.traits, or NULL */
  const cJSON *message_traits; /* the message's own traits object whatever the type, or NULL */
  const cJSON *properties;     /* track/page/screen properties, or NULL */
  char *rec;             /* the encoded record (px_event_rec + JSON), owned */
  size_t rec_len;
  void *idents;          /* identifiers extracted by a higher layer (cJSON_malloc'd, so in the tree's arena; owned), or NULL */
  int nidents;
  int nblocked;            /* identifier values dropped as junk while extracting them */
  uint64_t idents_version; /* configuration version they were extracted under */
} px_event;

/* What the collector knows about a message besides its body. */
typedef struct px_event_ctx {
  px_event_type type;          /* forced by the endpoint; PX_EV_NONE: read "type" */
  uint32_t source_id;
  int64_t received_ms;
  const cJSON *batch_context;      /* batch-level context merged into items, or NULL */
  const cJSON *batch_integrations; /* likewise */
  int64_t batch_sent_ms;           /* batch-level sentAt, or 0: used when an item has none */
  size_t source_bytes;             /* size of the message's JSON text, if known: sizes buffers */
  const char *source_text;         /* that text, when parsed by px_json_parse_info ... */
  const struct px_json_info *source_info; /* ... with this: the record copies unchanged members' text */
} px_event_ctx;

/* Validates and normalizes one message. Takes ownership of item (deleted on
 * failure). On success ev->root is the normalized message with messageId,
 * receivedAt and timestamp filled in and writeKey removed, and ev->rec its
 * encoded record (at most PX_MAX_MESSAGE_BYTES of JSON). */
px_status px_event_from_json(cJSON *item, const px_event_ctx *ctx, px_event *ev, px_error *err);
void px_event_free(px_event *ev);

/* A JSON number as identifier text: integers exactly ("42"), others with
 * 17 significant digits. */
void px_event_number_str(double d, char out[32]);

/* Parses JSON text (RFC 8259, strictly; only white space may follow the
 * value) into a cJSON tree allocated with cJSON_malloc, so in the current
 * arena. NULL when malformed or out of memory; *stop (may be NULL) receives
 * the byte offset where parsing stopped, the error's position. */
cJSON *px_json_parse(const char *text, size_t n, size_t *stop);

/* Where a top-level member of an object was in the text: from its key's
 * opening quote to the end of its value. */
typedef struct px_json_span {
  const cJSON *node;
  size_t start, end;
} px_json_span;

/* What px_json_parse_info learns on the way: the spans of the root object's
 * members (the first max_spans; nspans counts them all) and the sizes the
 * message limits are about. */
typedef struct px_json_info {
  px_json_span *spans; /* set by the caller, max_spans entries */
  size_t max_spans, nspans;
  int depth;                   /* deepest nesting of objects and arrays (root = 1) */
  size_t longest_key, longest_string; /* in bytes, decoded */
  int nonfinite;               /* a number beyond the double range */
} px_json_info;

cJSON *px_json_parse_info(const char *text, size_t n, size_t *stop, px_json_info *info);

/* Appends node as compact JSON (faster than cJSON_PrintUnformatted). */
px_status px_json_write(const cJSON *node, px_buf *out);

/* Byte offset of the first \u0000 escape in JSON text (a string with NUL
 * cannot be stored faithfully), or -1. */
long px_json_escaped_nul_at(const char *s, size_t n);

/* Nesting depth and string caps over a whole JSON tree; field names the
 * offending path. */
px_status px_event_check_tree(const cJSON *item, px_error *err);

/* The stored record: a fixed header followed by the message as compact JSON. */
typedef struct px_event_rec {
  uint8_t version; /* 2 */
  uint8_t type;
  uint16_t reserved;
  uint32_t source_id;
  int64_t received_ms;
  int64_t timestamp_ms;
  uint64_t config_version; /* the configuration it was applied under; set when logged */
} px_event_rec;

/* Decodes a stored record into ev (fresh cJSON tree). */
px_status px_event_decode(const void *rec, size_t n, uint64_t seq, px_event *ev);
/* The JSON text of a stored record (borrowed from rec). */
const char *px_event_rec_json(const void *rec, size_t n, size_t *json_len);

#endif
