#include "event/event.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/timeutil.h"

static const char *type_names[] = {"none", "identify", "track", "page", "screen", "group", "alias", "merge"};

const char *px_event_type_name(px_event_type t) {
  return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "none";
}

px_event_type px_event_type_parse(const char *s) {
  for (int i = 1; i <= PX_EV_ALIAS; i++) /* merge is pickaxe's own: never read from input */
    if (strcmp(s, type_names[i]) == 0) return (px_event_type)i;
  return PX_EV_NONE;
}

void px_event_free(px_event *ev) {
  if (!ev) return;
  cJSON_Delete(ev->root);
  free(ev->rec);
  cJSON_free(ev->idents); /* allocated like the tree (event.h) */
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

/* strings: whether string values may be longer than the cap (not when the
 * whole message text is shorter than it). */
static px_status check_node(const frame *f, int depth, int strings, px_error *err) {
  const cJSON *n = f->node;
  int object = cJSON_IsObject(n), array = cJSON_IsArray(n);
  if (!object && !array) {
    if (strings && cJSON_IsString(n) && strlen(n->valuestring) > PX_MAX_STRING_BYTES)
      return tree_error(f, err, "string longer than %d bytes", PX_MAX_STRING_BYTES);
    if (cJSON_IsNumber(n) && !isfinite(n->valuedouble))
      return tree_error(f, err, "number out of range (beyond about 1e%d)", 308);
    return PX_OK;
  }
  if (depth > PX_MAX_DEPTH) return tree_error(f, err, "nested deeper than %d levels", PX_MAX_DEPTH);
  int i = 0;
  for (const cJSON *c = n->child; c; c = c->next, i++) {
    frame child = {f, c, i};
    if (object && strlen(c->string) > PX_MAX_KEY_BYTES)
      return tree_error(&child, err, "object key longer than %d bytes", PX_MAX_KEY_BYTES);
    px_status s = check_node(&child, depth + 1, strings, err);
    if (s != PX_OK) return s;
  }
  return PX_OK;
}

px_status px_event_check_tree(const cJSON *item, px_error *err) {
  frame root = {NULL, item, 0};
  return check_node(&root, 1, 1, err);
}

void px_event_number_str(double d, char out[32]) {
  if (d == floor(d) && fabs(d) < 9007199254740992.0)
    snprintf(out, 32, "%lld", (long long)d);
  else
    snprintf(out, 32, "%.17g", d);
}

/* The top-level members the normalizer reads or replaces. One pass over the
 * message finds the first of each (the one cJSON's lookups would return). */
enum {
  F_TYPE, F_MESSAGE_ID, F_USER_ID, F_ANONYMOUS_ID, F_TIMESTAMP, F_SENT_AT, F_ORIGINAL_TS,
  F_CONTEXT, F_INTEGRATIONS, F_TRAITS, F_PROPERTIES, F_EVENT, F_NAME, F_GROUP_ID, F_PREVIOUS_ID,
  F_WRITE_KEY, F_RECEIVED_AT, F__COUNT
};
static const char *const field_names[F__COUNT] = {
    "type",       "messageId",    "userId",     "anonymousId", "timestamp",  "sentAt",
    "originalTimestamp", "context", "integrations", "traits",  "properties", "event",
    "name",       "groupId",      "previousId", "writeKey",    "receivedAt"};

typedef struct fields {
  cJSON *f[F__COUNT];
  int dups;          /* some field occurs more than once */
  int context_dirty; /* context or integrations changed in place (their source text is stale) */
  /* Top-level members the normalizer added: never copied from the source
   * text, even if one took the address of a deleted member. */
  const cJSON *added[F__COUNT];
  int nadded;
} fields;

static void note_added(fields *fs, const cJSON *c) {
  if (c && fs->nadded < F__COUNT) fs->added[fs->nadded++] = c;
}

static int was_added(const fields *fs, const cJSON *c) {
  for (int i = 0; i < fs->nadded; i++)
    if (fs->added[i] == c) return 1;
  return 0;
}

static int field_index(const char *k) {
  for (int i = 0; i < F__COUNT; i++)
    if (k[0] == field_names[i][0] && strcmp(k, field_names[i]) == 0) return i;
  return -1;
}

static void find_fields(const cJSON *root, fields *fs) {
  memset(fs, 0, sizeof *fs);
  for (cJSON *c = root->child; c; c = c->next) {
    int i = field_index(c->string);
    if (i < 0) continue;
    if (fs->f[i]) fs->dups = 1;
    else fs->f[i] = c;
  }
}

/* Removes every member named as field i (cJSON keeps duplicate keys). */
static void drop_field(cJSON *root, fields *fs, int i) {
  if (!fs->f[i]) return;
  cJSON_Delete(cJSON_DetachItemViaPointer(root, fs->f[i]));
  fs->f[i] = NULL;
  if (fs->dups)
    while (cJSON_GetObjectItemCaseSensitive(root, field_names[i]))
      cJSON_DeleteItemFromObjectCaseSensitive(root, field_names[i]);
}

/* Segment ids may arrive as numbers; they are stored as strings. Returns the
 * string, NULL when absent or empty, or sets *bad. */
static const char *id_field(cJSON *root, fields *fs, int i, int *bad, px_error *err) {
  cJSON *v = fs->f[i];
  const char *name = field_names[i];
  if (!v || cJSON_IsNull(v)) return NULL;
  if (cJSON_IsNumber(v)) {
    char num[32];
    px_event_number_str(v->valuedouble, num);
    cJSON *str = cJSON_CreateString(num);
    if (!str) {
      *bad = 1;
      px_error_set(err, PX_NOMEM, name, "out of memory");
      return NULL;
    }
    str->string = v->string; /* the key moves to the new node, shared or not */
    str->type |= v->type & cJSON_StringIsConst;
    v->string = NULL;
    cJSON_ReplaceItemViaPointer(root, v, str);
    fs->f[i] = v = str;
    note_added(fs, str);
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

/* context, integrations, traits, properties: an object, or absent (null
 * counts as absent and is removed). */
static int opt_object(cJSON *root, fields *fs, int i, px_error *err) {
  while (fs->f[i] && cJSON_IsNull(fs->f[i])) {
    cJSON_Delete(cJSON_DetachItemViaPointer(root, fs->f[i]));
    fs->f[i] = fs->dups ? cJSON_GetObjectItemCaseSensitive(root, field_names[i]) : NULL;
  }
  if (!fs->f[i] || cJSON_IsObject(fs->f[i])) return 1;
  px_error_set(err, PX_INVALID, field_names[i], "must be an object");
  return 0;
}

/* Adds the keys of batch-level `from` that the item's own object lacks. */
static px_status merge_batch_object(cJSON *root, fields *fs, int i, const cJSON *from) {
  if (!cJSON_IsObject(from)) return PX_OK;
  cJSON *own = fs->f[i];
  if (!own) {
    cJSON *dup = cJSON_Duplicate(from, 1);
    if (!dup) return PX_NOMEM;
    cJSON_AddItemToObject(root, field_names[i], dup);
    fs->f[i] = dup;
    note_added(fs, dup);
    return PX_OK;
  }
  for (const cJSON *c = from->child; c; c = c->next) {
    if (cJSON_GetObjectItemCaseSensitive(own, c->string)) continue;
    cJSON *dup = cJSON_Duplicate(c, 1);
    if (!dup) return PX_NOMEM;
    cJSON_AddItemToObject(own, c->string, dup);
    fs->context_dirty = 1; /* context or integrations: both are copied only when clean */
  }
  return PX_OK;
}

static px_status time_field(const fields *fs, int i, int64_t *out, int *present, px_error *err) {
  const cJSON *v = fs->f[i];
  *present = 0;
  if (!v || cJSON_IsNull(v)) return PX_OK;
  if (!cJSON_IsString(v) || px_time_parse_iso(v->valuestring, out) != PX_OK)
    return px_error_set(err, PX_INVALID, field_names[i], "must be an ISO 8601 date-time");
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

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

/* Points the event's fields into its (already normalized) tree. */
static void bind(px_event *ev) {
  const cJSON *r = ev->root;
  ev->message_id = str_field(r, "messageId");
  ev->user_id = nonempty(str_field(r, "userId"));
  ev->anonymous_id = nonempty(str_field(r, "anonymousId"));
  ev->name = ev->type == PX_EV_TRACK ? str_field(r, "event")
             : (ev->type == PX_EV_PAGE || ev->type == PX_EV_SCREEN) ? str_field(r, "name")
                                                                    : NULL;
  ev->group_id = ev->type == PX_EV_GROUP ? str_field(r, "groupId") : NULL;
  ev->previous_id = ev->type == PX_EV_ALIAS ? str_field(r, "previousId") : NULL;
  ev->message_traits = obj_field(r, "traits");
  ev->traits = (ev->type == PX_EV_IDENTIFY || ev->type == PX_EV_GROUP) ? ev->message_traits : NULL;
  const cJSON *ctx = obj_field(r, "context");
  ev->context_traits = ctx ? obj_field(ctx, "traits") : NULL;
  ev->properties = obj_field(r, "properties");
}

/* The source span of top-level member c, searched from *from (members keep
 * their order; new ones have none), or NULL. */
static const px_json_span *span_of(const px_json_info *in, const cJSON *c, size_t *from) {
  for (size_t j = *from; j < in->nspans; j++) {
    if (in->spans[j].node == c) {
      *from = j + 1;
      return &in->spans[j];
    }
  }
  return NULL;
}

/* The message as compact JSON; with its source text, members the normalizer
 * left as they were are copied from it rather than written again. */
static px_status write_message(const cJSON *root, const px_event_ctx *ctx, const fields *fs, px_buf *b) {
  const px_json_info *in = ctx->source_info;
  if (!in || !ctx->source_text || in->nspans > in->max_spans) return px_json_write(root, b);
  px_status s = px_buf_putc(b, '{');
  size_t from = 0;
  for (const cJSON *c = root->child; c && s == PX_OK; c = c->next) {
    if (c != root->child && (s = px_buf_putc(b, ',')) != PX_OK) break;
    const px_json_span *sp = was_added(fs, c) ? NULL : span_of(in, c, &from);
    int stale = fs->context_dirty && (!strcmp(c->string, "context") || !strcmp(c->string, "integrations"));
    if (sp && !stale) {
      s = px_buf_append(b, ctx->source_text + sp->start, sp->end - sp->start);
    } else if ((s = px_buf_json_str(b, c->string, strlen(c->string))) == PX_OK &&
               (s = px_buf_putc(b, ':')) == PX_OK) {
      s = px_json_write(c, b);
    }
  }
  return s == PX_OK ? px_buf_putc(b, '}') : s;
}

static px_status encode(px_event *ev, const px_event_ctx *ctx, const fields *fs) {
  px_buf b;
  px_buf_init(&b, sizeof(px_event_rec) + PX_MAX_MESSAGE_BYTES);
  px_event_rec h = {.version = 2,
                    .type = (uint8_t)ev->type,
                    .source_id = ev->source_id,
                    .received_ms = ev->received_ms,
                    .timestamp_ms = ev->timestamp_ms};
  /* One allocation for a typical event: the input's size plus the fields added. */
  px_status s = px_buf_reserve(&b, sizeof h + (ctx->source_bytes ? ctx->source_bytes + 160 : 1024));
  if (s == PX_OK) s = px_buf_append(&b, &h, sizeof h);
  if (s == PX_OK) s = write_message(ev->root, ctx, fs, &b);
  if (s != PX_OK) {
    px_buf_free(&b);
    return s;
  }
  ev->rec = b.data; /* ownership moves to the event */
  ev->rec_len = b.len;
  return PX_OK;
}

static px_status check_type(cJSON *item, fields *fs, px_event *ev, px_error *err) {
  const cJSON *t = fs->f[F_TYPE];
  if (ev->type == PX_EV_NONE) {
    if (!cJSON_IsString(t) || (ev->type = px_event_type_parse(t->valuestring)) == PX_EV_NONE)
      return px_error_set(err, PX_INVALID, "type",
                          "must be one of identify, track, page, screen, group, alias");
  } else if (t && (!cJSON_IsString(t) || px_event_type_parse(t->valuestring) != ev->type)) {
    return px_error_set(err, PX_INVALID, "type", "does not match the endpoint (%s)",
                        px_event_type_name(ev->type));
  }
  drop_field(item, fs, F_WRITE_KEY);
  drop_field(item, fs, F_TYPE);
  note_added(fs, cJSON_AddStringToObject(item, "type", px_event_type_name(ev->type)));
  return PX_OK;
}

/* A merge names the two profiles by an identifier each ("a", "b": {"kind",
 * "value"}) and says why (a "probability" in [0, 1] and the rest free). */
static px_status check_merge(const cJSON *item, px_error *err) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(item, "merge");
  if (!cJSON_IsObject(m)) return px_error_set(err, PX_INVALID, "merge", "must be an object");
  static const char *const sides[] = {"a", "b"};
  for (int i = 0; i < 2; i++) {
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(m, sides[i]);
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(side, "kind"));
    const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(side, "value"));
    if (!kind || !value || !*kind || !*value || strlen(kind) > PX_MAX_ID_BYTES || strlen(value) > PX_MAX_ID_BYTES)
      return px_error_set(err, PX_INVALID, i ? "merge.b" : "merge.a", "must be {\"kind\", \"value\"}: two strings of 1-%d bytes",
                          PX_MAX_ID_BYTES);
  }
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "probability");
  if (!cJSON_IsNumber(p) || !(p->valuedouble >= 0 && p->valuedouble <= 1))
    return px_error_set(err, PX_INVALID, "merge.probability", "must be a number from 0 to 1");
  return PX_OK;
}

/* The checks each type adds. */
static px_status check_by_type(cJSON *item, fields *fs, px_event *ev, const char *uid, px_error *err) {
  int bad = 0;
  switch (ev->type) {
    case PX_EV_TRACK: {
      const cJSON *e = fs->f[F_EVENT];
      if (!cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) > PX_MAX_ID_BYTES)
        return px_error_set(err, PX_INVALID, "event", "track needs an event name of 1-%d bytes",
                            PX_MAX_ID_BYTES);
      ev->name = e->valuestring;
      break;
    }
    case PX_EV_PAGE:
    case PX_EV_SCREEN: {
      const cJSON *n = fs->f[F_NAME];
      if (n && !cJSON_IsNull(n) && (!cJSON_IsString(n) || strlen(n->valuestring) > PX_MAX_ID_BYTES))
        return px_error_set(err, PX_INVALID, "name", "must be a string of at most %d bytes",
                            PX_MAX_ID_BYTES);
      ev->name = cJSON_IsString(n) ? n->valuestring : NULL;
      break;
    }
    case PX_EV_GROUP:
      if (!(ev->group_id = id_field(item, fs, F_GROUP_ID, &bad, err)))
        return bad ? PX_INVALID : px_error_set(err, PX_INVALID, "groupId", "group needs a groupId");
      break;
    case PX_EV_ALIAS:
      if (!(ev->previous_id = id_field(item, fs, F_PREVIOUS_ID, &bad, err)))
        return bad ? PX_INVALID : px_error_set(err, PX_INVALID, "previousId", "alias needs a previousId");
      if (!uid) return px_error_set(err, PX_INVALID, "userId", "alias needs a userId");
      break;
    case PX_EV_MERGE: return check_merge(item, err);
    default: break;
  }
  return PX_OK;
}

/* Time: receivedAt is ours; timestamp is corrected for client clock skew
 * when the client says both when it created and when it sent the message. */
static px_status check_time(cJSON *item, fields *fs, px_event *ev, const px_event_ctx *ctx,
                            px_error *err) {
  int64_t ts = 0, sent = 0, orig = 0;
  int has_ts, has_sent, has_orig;
  px_status s;
  if ((s = time_field(fs, F_TIMESTAMP, &ts, &has_ts, err)) != PX_OK ||
      (s = time_field(fs, F_SENT_AT, &sent, &has_sent, err)) != PX_OK ||
      (s = time_field(fs, F_ORIGINAL_TS, &orig, &has_orig, err)) != PX_OK)
    return s;
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
  if (ev->timestamp_ms < PX_TIME_MIN_MS || ev->timestamp_ms > PX_TIME_MAX_MS)
    return px_error_set(err, PX_INVALID, has_orig && has_sent ? "sentAt" : "timestamp",
                        "the event time falls outside years 0000-9999 (clock-skew correction: "
                        "receivedAt - (sentAt - originalTimestamp))");
  /* Events of one request or import chunk mostly share a receivedAt. */
  static _Thread_local int64_t last_received = INT64_MIN;
  static _Thread_local char received_iso[32];
  if (ev->received_ms != last_received) {
    px_time_format_iso(ev->received_ms, received_iso);
    last_received = ev->received_ms;
  }
  char iso[32];
  memcpy(iso, received_iso, sizeof iso);
  drop_field(item, fs, F_RECEIVED_AT);
  note_added(fs, cJSON_AddStringToObject(item, "receivedAt", iso));
  px_time_format_iso(ev->timestamp_ms, iso);
  drop_field(item, fs, F_TIMESTAMP);
  note_added(fs, cJSON_AddStringToObject(item, "timestamp", iso));
  return PX_OK;
}

static px_status normalize(cJSON *item, const px_event_ctx *ctx, px_event *ev, fields *out,
                           px_error *err) {
  fields fs;
  find_fields(item, &fs);
  px_status s;
  int bad = 0;
  if ((s = check_type(item, &fs, ev, err)) != PX_OK) return s;
  if (!opt_object(item, &fs, F_CONTEXT, err) || !opt_object(item, &fs, F_INTEGRATIONS, err) ||
      !opt_object(item, &fs, F_TRAITS, err) || !opt_object(item, &fs, F_PROPERTIES, err))
    return PX_INVALID;
  if ((s = merge_batch_object(item, &fs, F_CONTEXT, ctx->batch_context)) != PX_OK ||
      (s = merge_batch_object(item, &fs, F_INTEGRATIONS, ctx->batch_integrations)) != PX_OK)
    return s;
  /* Limits apply to the message as stored, batch context included; the
   * parser may already know the message is within them. */
  const px_json_info *in = ctx->source_info;
  int merged = ctx->batch_context || ctx->batch_integrations;
  int within = in && !merged && in->depth <= PX_MAX_DEPTH && in->longest_key <= PX_MAX_KEY_BYTES &&
               in->longest_string <= PX_MAX_STRING_BYTES && !in->nonfinite;
  int strings = !ctx->source_bytes || ctx->source_bytes > PX_MAX_STRING_BYTES || merged;
  frame top = {NULL, item, 0};
  if (!within && (s = check_node(&top, 1, strings, err)) != PX_OK) return s;
  const cJSON *c = fs.f[F_CONTEXT];
  const cJSON *ct = c ? cJSON_GetObjectItemCaseSensitive(c, "traits") : NULL;
  if (ct && !cJSON_IsNull(ct) && !cJSON_IsObject(ct))
    return px_error_set(err, PX_INVALID, "context.traits", "must be an object");
  if (ct && cJSON_IsNull(ct)) {
    cJSON_DeleteItemFromObjectCaseSensitive(fs.f[F_CONTEXT], "traits");
    fs.context_dirty = 1;
  }
  ev->context_traits = cJSON_IsObject(ct) ? ct : NULL;

  const char *uid = id_field(item, &fs, F_USER_ID, &bad, err);
  if (bad) return PX_INVALID;
  const char *aid = id_field(item, &fs, F_ANONYMOUS_ID, &bad, err);
  if (bad) return PX_INVALID;
  if (!uid && !aid && ev->type != PX_EV_MERGE)
    return px_error_set(err, PX_INVALID, "userId", "userId or anonymousId is required");
  ev->user_id = uid;
  ev->anonymous_id = aid;
  const char *mid = id_field(item, &fs, F_MESSAGE_ID, &bad, err);
  if (bad) return PX_INVALID;
  if (!mid) {
    char uuid[37], gen[48];
    px_rand_uuid(uuid);
    snprintf(gen, sizeof gen, "px-%s", uuid);
    drop_field(item, &fs, F_MESSAGE_ID);
    cJSON *gm = cJSON_AddStringToObject(item, "messageId", gen);
    if (!(mid = cJSON_GetStringValue(gm))) return PX_NOMEM;
    note_added(&fs, gm);
  }
  ev->message_id = mid;
  if ((s = check_by_type(item, &fs, ev, uid, err)) != PX_OK) return s;
  if ((s = check_time(item, &fs, ev, ctx, err)) != PX_OK) return s;
  ev->message_traits = fs.f[F_TRAITS];
  ev->traits = ev->type == PX_EV_IDENTIFY || ev->type == PX_EV_GROUP ? fs.f[F_TRAITS] : NULL;
  ev->properties = fs.f[F_PROPERTIES];
  *out = fs;
  return PX_OK;
}

px_status px_event_from_json(cJSON *item, const px_event_ctx *ctx, px_event *ev, px_error *err) {
  memset(ev, 0, sizeof *ev);
  if (!cJSON_IsObject(item)) {
    cJSON_Delete(item);
    return px_error_set(err, PX_INVALID, "", "an event must be a JSON object");
  }
  ev->root = item;
  ev->source_id = ctx->source_id;
  ev->received_ms = ctx->received_ms;
  ev->type = ctx->type;
  fields fs = {0};
  px_status s = normalize(item, ctx, ev, &fs, err);
  if (s == PX_OK && (s = encode(ev, ctx, &fs)) == PX_TOO_LARGE)
    px_error_set(err, s, "", "message larger than %d bytes", PX_MAX_MESSAGE_BYTES);
  if (s != PX_OK) px_event_free(ev);
  return s;
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
  ev->root = px_json_parse(json, jn, NULL);
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
