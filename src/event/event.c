#include "event/event.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/timeutil.h"

static const char *type_names[] = {"none", "identify", "track", "page", "screen", "group", "alias"};

const char *px_event_type_name(px_event_type t) {
  return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "none";
}

px_event_type px_event_type_parse(const char *s) {
  for (int i = 1; i < (int)(sizeof type_names / sizeof *type_names); i++)
    if (strcmp(s, type_names[i]) == 0) return (px_event_type)i;
  return PX_EV_NONE;
}

void px_event_free(px_event *ev) {
  if (!ev) return;
  cJSON_Delete(ev->root);
  free(ev->rec);
  free(ev->idents);
  memset(ev, 0, sizeof *ev);
}

long px_json_escaped_nul_at(const char *s, size_t n) {
  for (size_t i = 0; i + 6 <= n; i++) {
    const char *bs = memchr(s + i, '\\', n - i - 5);
    if (!bs) break;
    i = (size_t)(bs - s);
    if (s[i + 1] != 'u' || memcmp(s + i + 2, "0000", 4) != 0) continue;
    size_t slashes = 0; /* an escape only if preceded by an even run of backslashes */
    while (slashes < i && s[i - 1 - slashes] == '\\') slashes++;
    if (slashes % 2 == 0) return (long)i;
  }
  return -1;
}

/* The walk keeps a chain of frames; the path text is built only on error. */
typedef struct frame {
  const struct frame *parent;
  const cJSON *node;
  int index;
} frame;

static void frame_path(const frame *f, char *out, size_t n) {
  if (!f || !f->parent) {
    if (n) out[0] = 0;
    return;
  }
  frame_path(f->parent, out, n);
  size_t used = strlen(out);
  if (f->node->string)
    snprintf(out + used, n - used, "%s%.40s", used ? "." : "", f->node->string);
  else
    snprintf(out + used, n - used, "[%d]", f->index);
}

static px_status tree_error(const frame *f, px_error *err, const char *fmt, int limit) {
  char path[256];
  frame_path(f, path, sizeof path);
  return px_error_set(err, PX_INVALID, path, fmt, limit);
}

static px_status check_node(const frame *f, int depth, px_error *err) {
  const cJSON *n = f->node;
  int container = cJSON_IsObject(n) || cJSON_IsArray(n);
  if (container && depth > PX_MAX_DEPTH)
    return tree_error(f, err, "nested deeper than %d levels", PX_MAX_DEPTH);
  if (cJSON_IsString(n) && strlen(n->valuestring) > PX_MAX_STRING_BYTES)
    return tree_error(f, err, "string longer than %d bytes", PX_MAX_STRING_BYTES);
  if (cJSON_IsNumber(n) && !isfinite(n->valuedouble))
    return tree_error(f, err, "number out of range (beyond about 1e%d)", 308);
  if (!cJSON_IsObject(n) && !cJSON_IsArray(n)) return PX_OK;
  int object = cJSON_IsObject(n), i = 0;
  for (const cJSON *c = n->child; c; c = c->next, i++) {
    frame child = {f, c, i};
    if (object && strlen(c->string) > PX_MAX_KEY_BYTES)
      return tree_error(&child, err, "object key longer than %d bytes", PX_MAX_KEY_BYTES);
    px_status s = check_node(&child, depth + 1, err);
    if (s != PX_OK) return s;
  }
  return PX_OK;
}

px_status px_event_check_tree(const cJSON *item, px_error *err) {
  frame root = {NULL, item, 0};
  return check_node(&root, 1, err);
}

void px_event_number_str(double d, char out[32]) {
  if (d == floor(d) && fabs(d) < 9007199254740992.0)
    snprintf(out, 32, "%lld", (long long)d);
  else
    snprintf(out, 32, "%.17g", d);
}

/* Remove every copy of a key (cJSON keeps duplicates; the first would win). */
static void delete_all(cJSON *obj, const char *key) {
  while (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

/* Segment ids may arrive as numbers; they are stored as strings. Returns the
 * string, NULL when absent or empty, or sets *bad. */
static const char *id_field(cJSON *root, const char *name, int *bad, px_error *err) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
  if (!v || cJSON_IsNull(v)) return NULL;
  if (cJSON_IsNumber(v)) {
    char num[32];
    px_event_number_str(v->valuedouble, num);
    cJSON_ReplaceItemInObjectCaseSensitive(root, name, cJSON_CreateString(num));
    v = cJSON_GetObjectItemCaseSensitive(root, name);
  }
  if (!cJSON_IsString(v)) {
    *bad = 1;
    px_error_set(err, PX_INVALID, name, "must be a string");
    return NULL;
  }
  size_t n = strlen(v->valuestring);
  if (n > PX_MAX_ID_BYTES) {
    *bad = 1;
    px_error_set(err, PX_INVALID, name, "longer than %d bytes", PX_MAX_ID_BYTES);
    return NULL;
  }
  return n ? v->valuestring : NULL;
}

static int opt_object(cJSON *root, const char *name, px_error *err) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
  if (!v || cJSON_IsObject(v)) return 1;
  if (cJSON_IsNull(v)) {
    cJSON_DeleteItemFromObjectCaseSensitive(root, name);
    return 1;
  }
  px_error_set(err, PX_INVALID, name, "must be an object");
  return 0;
}

/* Adds the keys of batch-level `from` that the item's own object lacks. */
static px_status merge_batch_object(cJSON *root, const char *name, const cJSON *from, px_error *err) {
  if (!cJSON_IsObject(from)) return PX_OK;
  cJSON *own = cJSON_GetObjectItemCaseSensitive(root, name);
  if (!own) {
    cJSON *dup = cJSON_Duplicate(from, 1);
    if (!dup) return PX_NOMEM;
    cJSON_AddItemToObject(root, name, dup);
    return PX_OK;
  }
  for (const cJSON *c = from->child; c; c = c->next) {
    if (cJSON_GetObjectItemCaseSensitive(own, c->string)) continue;
    cJSON *dup = cJSON_Duplicate(c, 1);
    if (!dup) return PX_NOMEM;
    cJSON_AddItemToObject(own, c->string, dup);
  }
  (void)err;
  return PX_OK;
}

static px_status time_field(const cJSON *root, const char *name, int64_t *out, int *present,
                            px_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
  *present = 0;
  if (!v || cJSON_IsNull(v)) return PX_OK;
  if (!cJSON_IsString(v) || px_time_parse_iso(v->valuestring, out) != PX_OK)
    return px_error_set(err, PX_INVALID, name, "must be an ISO 8601 date-time");
  *present = 1;
  return PX_OK;
}

static const char *str_field(const cJSON *root, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *obj_field(const cJSON *root, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
  return cJSON_IsObject(v) ? v : NULL;
}

/* Points the event's fields into its (already normalized) tree. */
static void bind(px_event *ev) {
  const cJSON *r = ev->root;
  ev->message_id = str_field(r, "messageId");
  ev->user_id = str_field(r, "userId");
  ev->anonymous_id = str_field(r, "anonymousId");
  if (ev->user_id && !*ev->user_id) ev->user_id = NULL;
  if (ev->anonymous_id && !*ev->anonymous_id) ev->anonymous_id = NULL;
  ev->name = ev->type == PX_EV_TRACK ? str_field(r, "event")
             : (ev->type == PX_EV_PAGE || ev->type == PX_EV_SCREEN) ? str_field(r, "name")
                                                                    : NULL;
  ev->group_id = ev->type == PX_EV_GROUP ? str_field(r, "groupId") : NULL;
  ev->previous_id = ev->type == PX_EV_ALIAS ? str_field(r, "previousId") : NULL;
  ev->traits = (ev->type == PX_EV_IDENTIFY || ev->type == PX_EV_GROUP) ? obj_field(r, "traits") : NULL;
  const cJSON *ctx = obj_field(r, "context");
  ev->context_traits = ctx ? obj_field(ctx, "traits") : NULL;
  ev->properties = obj_field(r, "properties");
}

static px_status encode(px_event *ev) {
  px_buf b;
  px_buf_init(&b, sizeof(px_event_rec) + PX_MAX_MESSAGE_BYTES);
  px_event_rec h = {.version = 2,
                    .type = (uint8_t)ev->type,
                    .source_id = ev->source_id,
                    .received_ms = ev->received_ms,
                    .timestamp_ms = ev->timestamp_ms};
  px_status s = px_buf_append(&b, &h, sizeof h);
  if (s == PX_OK) s = px_buf_reserve(&b, 1024); /* a typical event, in one allocation */
  if (s == PX_OK) s = px_json_write(ev->root, &b);
  if (s != PX_OK) {
    px_buf_free(&b);
    return s;
  }
  ev->rec = b.data; /* ownership moves to the event */
  ev->rec_len = b.len;
  return PX_OK;
}

px_status px_event_from_json(cJSON *item, const px_event_ctx *ctx, px_event *ev, px_error *err) {
  memset(ev, 0, sizeof *ev);
  px_status s = PX_INVALID;
  int bad = 0;
  if (!cJSON_IsObject(item)) {
    px_error_set(err, PX_INVALID, "", "an event must be a JSON object");
    goto fail;
  }
  ev->root = item;
  ev->source_id = ctx->source_id;
  ev->received_ms = ctx->received_ms;
  ev->type = ctx->type;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "type");
  if (ev->type == PX_EV_NONE) {
    if (!cJSON_IsString(t) || (ev->type = px_event_type_parse(t->valuestring)) == PX_EV_NONE) {
      px_error_set(err, PX_INVALID, "type",
                   "must be one of identify, track, page, screen, group, alias");
      goto fail;
    }
  } else if (t && (!cJSON_IsString(t) || px_event_type_parse(t->valuestring) != ev->type)) {
    px_error_set(err, PX_INVALID, "type", "does not match the endpoint (%s)",
                 px_event_type_name(ev->type));
    goto fail;
  }
  delete_all(item, "writeKey");
  delete_all(item, "type");
  cJSON_AddStringToObject(item, "type", px_event_type_name(ev->type));

  if (!opt_object(item, "context", err) || !opt_object(item, "integrations", err) ||
      !opt_object(item, "traits", err) || !opt_object(item, "properties", err))
    goto fail;
  if ((s = merge_batch_object(item, "context", ctx->batch_context, err)) != PX_OK ||
      (s = merge_batch_object(item, "integrations", ctx->batch_integrations, err)) != PX_OK)
    goto fail;
  /* Limits apply to the message as stored, batch context included. */
  if ((s = px_event_check_tree(item, err)) != PX_OK) goto fail;
  s = PX_INVALID;
  cJSON *c = cJSON_GetObjectItemCaseSensitive(item, "context");
  if (c && !opt_object(c, "traits", err)) {
    px_error_set(err, PX_INVALID, "context.traits", "must be an object");
    goto fail;
  }

  const char *uid = id_field(item, "userId", &bad, err);
  if (bad) goto fail;
  const char *aid = id_field(item, "anonymousId", &bad, err);
  if (bad) goto fail;
  if (!uid && !aid) {
    px_error_set(err, PX_INVALID, "userId", "userId or anonymousId is required");
    goto fail;
  }
  const char *mid = id_field(item, "messageId", &bad, err);
  if (bad) goto fail;
  if (!mid) {
    char uuid[37], gen[48];
    px_rand_uuid(uuid);
    snprintf(gen, sizeof gen, "px-%s", uuid);
    delete_all(item, "messageId");
    cJSON_AddStringToObject(item, "messageId", gen);
  }

  switch (ev->type) {
    case PX_EV_TRACK: {
      const cJSON *e = cJSON_GetObjectItemCaseSensitive(item, "event");
      if (!cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) > PX_MAX_ID_BYTES) {
        px_error_set(err, PX_INVALID, "event", "track needs an event name of 1-%d bytes",
                     PX_MAX_ID_BYTES);
        goto fail;
      }
      break;
    }
    case PX_EV_PAGE:
    case PX_EV_SCREEN: {
      const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "name");
      if (n && !cJSON_IsNull(n) && (!cJSON_IsString(n) || strlen(n->valuestring) > PX_MAX_ID_BYTES)) {
        px_error_set(err, PX_INVALID, "name", "must be a string of at most %d bytes",
                     PX_MAX_ID_BYTES);
        goto fail;
      }
      break;
    }
    case PX_EV_GROUP:
      if (!id_field(item, "groupId", &bad, err)) {
        if (!bad) px_error_set(err, PX_INVALID, "groupId", "group needs a groupId");
        goto fail;
      }
      break;
    case PX_EV_ALIAS:
      if (!id_field(item, "previousId", &bad, err)) {
        if (!bad) px_error_set(err, PX_INVALID, "previousId", "alias needs a previousId");
        goto fail;
      }
      if (!uid) {
        px_error_set(err, PX_INVALID, "userId", "alias needs a userId");
        goto fail;
      }
      break;
    default: break;
  }

  /* Time: receivedAt is ours; timestamp is corrected for client clock skew
   * when the client says both when it created and when it sent the message. */
  int64_t ts = 0, sent = 0, orig = 0;
  int has_ts, has_sent, has_orig;
  if ((s = time_field(item, "timestamp", &ts, &has_ts, err)) != PX_OK ||
      (s = time_field(item, "sentAt", &sent, &has_sent, err)) != PX_OK ||
      (s = time_field(item, "originalTimestamp", &orig, &has_orig, err)) != PX_OK)
    goto fail;
  s = PX_INVALID;
  if (!has_sent && ctx->batch_sent_ms) {
    sent = ctx->batch_sent_ms;
    has_sent = 1;
  }
  if (has_orig && has_sent)
    ev->timestamp_ms = ev->received_ms - (sent - orig);
  else if (has_ts)
    ev->timestamp_ms = ts;
  else if (has_orig)
    ev->timestamp_ms = orig;
  else
    ev->timestamp_ms = ev->received_ms;
  if (ev->timestamp_ms < PX_TIME_MIN_MS || ev->timestamp_ms > PX_TIME_MAX_MS) {
    px_error_set(err, PX_INVALID, has_orig && has_sent ? "sentAt" : "timestamp",
                 "the event time falls outside years 0000-9999 (clock-skew correction: "
                 "receivedAt - (sentAt - originalTimestamp))");
    goto fail;
  }
  char iso[32];
  px_time_format_iso(ev->received_ms, iso);
  delete_all(item, "receivedAt");
  cJSON_AddStringToObject(item, "receivedAt", iso);
  px_time_format_iso(ev->timestamp_ms, iso);
  delete_all(item, "timestamp");
  cJSON_AddStringToObject(item, "timestamp", iso);

  bind(ev);
  if ((s = encode(ev)) != PX_OK) {
    if (s == PX_TOO_LARGE)
      px_error_set(err, s, "", "message larger than %d bytes", PX_MAX_MESSAGE_BYTES);
    goto fail;
  }
  return PX_OK;
fail:
  if (ev->root == NULL) cJSON_Delete(item);
  px_event_free(ev);
  return s == PX_OK ? PX_INVALID : s;
}

const char *px_event_rec_json(const void *rec, size_t n, size_t *json_len) {
  if (n < sizeof(px_event_rec)) {
    *json_len = 0;
    return "";
  }
  *json_len = n - sizeof(px_event_rec);
  return (const char *)rec + sizeof(px_event_rec);
}

px_status px_event_decode(const void *rec, size_t n, uint64_t seq, px_event *ev) {
  memset(ev, 0, sizeof *ev);
  px_event_rec h;
  if (n < sizeof h) return PX_STORE;
  memcpy(&h, rec, sizeof h);
  if (h.version != 2) return PX_STORE;
  size_t jn;
  const char *json = px_event_rec_json(rec, n, &jn);
  ev->root = cJSON_ParseWithLength(json, jn);
  if (!ev->root) return PX_STORE;
  ev->type = (px_event_type)h.type;
  ev->source_id = h.source_id;
  ev->received_ms = h.received_ms;
  ev->timestamp_ms = h.timestamp_ms;
  ev->config_version = h.config_version;
  ev->seq = seq;
  bind(ev);
  return PX_OK;
}
