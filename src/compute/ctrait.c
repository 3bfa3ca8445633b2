/* Declared computed traits: the JSON definition, read and printed back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"

static const char *const fn_names[] = {
    [PX_AGG_COUNT] = "count", [PX_AGG_SUM] = "sum",       [PX_AGG_AVG] = "avg",
    [PX_AGG_MIN] = "min",     [PX_AGG_MAX] = "max",       [PX_AGG_FIRST] = "first",
    [PX_AGG_LAST] = "last",   [PX_AGG_DISTINCT] = "distinct", [PX_AGG_MOST_FREQUENT] = "most_frequent",
    [PX_AGG_DECAY] = "decay", [PX_AGG_DAILY] = "daily",   [PX_AGG_ITEMS] = "items",
};

const char *px_agg_fn_name(px_agg_fn fn) {
  return (unsigned)fn < sizeof fn_names / sizeof fn_names[0] ? fn_names[fn] : NULL;
}

px_status px_agg_fn_parse(const char *name, px_agg_fn *out) {
  for (unsigned i = 0; i < sizeof fn_names / sizeof fn_names[0]; i++)
    if (strcmp(name, fn_names[i]) == 0) {
      *out = (px_agg_fn)i;
      return PX_OK;
    }
  return PX_INVALID;
}

static const struct {
  char unit;
  int64_t ms;
} units[] = {{'w', 7 * 86400000LL}, {'d', 86400000LL}, {'h', 3600000LL}, {'m', 60000LL}};

px_status px_agg_window_parse(const char *s, int64_t *out_ms) {
  int64_t n = 0;
  const char *p = s;
  if (!(*p >= '1' && *p <= '9')) return PX_INVALID;
  while (*p >= '0' && *p <= '9') {
    n = n * 10 + (*p++ - '0');
    if (n > PX_AGG_MAX_WINDOW_MS / 60000) return PX_INVALID;
  }
  for (unsigned i = 0; i < sizeof units / sizeof units[0]; i++)
    if (p[0] == units[i].unit && p[1] == 0) {
      if (n > PX_AGG_MAX_WINDOW_MS / units[i].ms) return PX_INVALID;
      *out_ms = n * units[i].ms;
      return PX_OK;
    }
  return PX_INVALID;
}

void px_agg_window_format(int64_t ms, char out[32]) {
  for (unsigned i = 0; i < sizeof units / sizeof units[0]; i++)
    if (ms > 0 && ms % units[i].ms == 0) {
      snprintf(out, 32, "%lld%c", (long long)(ms / units[i].ms), units[i].unit);
      return;
    }
  snprintf(out, 32, "%lldms", (long long)ms); /* not produced by parsing */
}

/* A trait name: a letter or _, then letters, digits, _ . - (at most 255 bytes). */
static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (!n || n >= PX_RULE_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
             (i && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
    if (!ok) return 0;
  }
  return 1;
}

/* A property path: dot-separated non-empty segments. With array set (function
 * items), at most one segment other than the last may end in the array step
 * "[]" after a name of its own ("products[].product_id"), and there is no
 * other [ or ]; without it, no "[]" at all. */
static int valid_path(const char *s, int array) {
  size_t n = strlen(s);
  if (!n || n >= PX_RULE_NAME_MAX || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..")) return 0;
  const char *step = strstr(s, "[]");
  if (!array) return step == NULL;
  if (!step) return strpbrk(s, "[]") == NULL;
  if (step == s || step[-1] == '.' || step[2] != '.') return 0; /* a name before it, a member after */
  return strpbrk(s, "[]") == step && strpbrk(step + 2, "[]") == NULL;
}

static const char *const members[] = {"name", "function", "event", "property", "where", "window", "events"};

/* "events" of a decay: {"Order Completed": {"weight": 10, "half_life": "30d"}, "*": {...}}. */
static px_status parse_decay(const cJSON *events, px_decay_spec **out, px_error *err) {
  if (!cJSON_IsObject(events) || !events->child)
    return px_error_set(err, PX_INVALID, "events",
                        "is required for function decay: {\"EVENT\": {\"weight\": W, \"half_life\": \"7d\"}, ...}");
  px_decay_spec *d = calloc(1, sizeof *d);
  if (!d) return PX_NOMEM;
  for (const cJSON *e = events->child; e; e = e->next) {
    char field[PX_RULE_NAME_MAX + 16];
    snprintf(field, sizeof field, "events.%.255s", e->string);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(e, "weight"), *h = cJSON_GetObjectItemCaseSensitive(e, "half_life");
    px_status st = PX_OK;
    if (d->n == PX_DECAY_MAX_TERMS)
      st = px_error_set(err, PX_INVALID, "events", "at most %d event names", PX_DECAY_MAX_TERMS);
    else if (!e->string[0] || strlen(e->string) >= PX_RULE_NAME_MAX)
      st = px_error_set(err, PX_INVALID, "events", "an event name is 1 to %d bytes (\"*\": any other event)",
                        PX_RULE_NAME_MAX - 1);
    else if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsNumber(w) || !cJSON_IsString(h))
      st = px_error_set(err, PX_INVALID, field, "must be {\"weight\": a number, \"half_life\": \"7d\"}");
    else if (!(w->valuedouble > 0 && w->valuedouble <= 1e6))
      st = px_error_set(err, PX_INVALID, field, "weight must be above 0 and at most 1000000");
    else if (px_agg_window_parse(h->valuestring, &d->t[d->n].half_life_ms) != PX_OK)
      st = px_error_set(err, PX_INVALID, field, "half_life must be a whole number of minutes, hours, days or weeks (\"7d\")");
    for (int k = 0; k < d->n && st == PX_OK; k++)
      if (strcmp(d->t[k].event, e->string) == 0) st = px_error_set(err, PX_INVALID, field, "is given twice");
    if (st != PX_OK) {
      free(d);
      return st;
    }
    snprintf(d->t[d->n].event, sizeof d->t[d->n].event, "%s", e->string);
    d->t[d->n++].weight = w->valuedouble;
  }
  *out = d;
  return PX_OK;
}

px_status px_ctrait_parse(const cJSON *def, px_ctrait *out, px_error *err) {
  memset(out, 0, sizeof *out);
  px_error_clear(err);
  px_status st = PX_OK;
  if (!cJSON_IsObject(def)) return px_error_set(err, PX_INVALID, "", "a computed trait must be a JSON object");
  for (const cJSON *m = def->child; m; m = m->next) {
    unsigned i = 0;
    while (i < sizeof members / sizeof members[0] && strcmp(m->string, members[i]) != 0) i++;
    if (i == sizeof members / sizeof members[0])
      return px_error_set(err, PX_INVALID, m->string,
                          "unknown member (expected name, function, event, property, where, window; events for decay)");
  }
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(def, "name");
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(def, "function");
  const cJSON *event = cJSON_GetObjectItemCaseSensitive(def, "event");
  const cJSON *prop = cJSON_GetObjectItemCaseSensitive(def, "property");
  const cJSON *where = cJSON_GetObjectItemCaseSensitive(def, "where");
  const cJSON *window = cJSON_GetObjectItemCaseSensitive(def, "window");

  if (!cJSON_IsString(name) || !valid_name(name->valuestring))
    return px_error_set(err, PX_INVALID, "name",
                        "must be a string of 1-255 letters, digits, _ . - starting with a letter or _");
  snprintf(out->name, sizeof out->name, "%s", name->valuestring);
  if (!cJSON_IsString(fn) || px_agg_fn_parse(fn->valuestring, &out->agg.fn) != PX_OK)
    return px_error_set(err, PX_INVALID, "function",
                        "must be one of count, sum, avg, min, max, first, last, distinct, most_frequent, decay, "
                        "daily, items");
  const cJSON *events = cJSON_GetObjectItemCaseSensitive(def, "events");
  if (out->agg.fn == PX_AGG_DECAY) { /* a decayed score: its terms say which events count */
    static const char *const not_with[] = {"event", "property", "where", "window"};
    for (size_t i = 0; i < sizeof not_with / sizeof *not_with; i++)
      if (cJSON_GetObjectItemCaseSensitive(def, not_with[i]))
        return px_error_set(err, PX_INVALID, not_with[i], "does not go with function decay (events names the events)");
    px_decay_spec *d = NULL;
    px_status st2 = parse_decay(events, &d, err);
    out->agg.decay = d;
    return st2;
  }
  if (events) return px_error_set(err, PX_INVALID, "events", "goes only with function decay");
  if (event && !cJSON_IsNull(event)) {
    if (!cJSON_IsString(event) || strlen(event->valuestring) >= PX_RULE_NAME_MAX)
      return px_error_set(err, PX_INVALID, "event", "must be an event name (a string of at most 255 bytes)");
    snprintf(out->agg.event, sizeof out->agg.event, "%s", event->valuestring);
  }
  int items = out->agg.fn == PX_AGG_ITEMS;
  if (prop && !cJSON_IsNull(prop)) {
    if (!cJSON_IsString(prop) || (prop->valuestring[0] && !valid_path(prop->valuestring, items))) {
      if (!items && cJSON_IsString(prop) && strstr(prop->valuestring, "[]"))
        return px_error_set(err, PX_INVALID, "property", "an array step [] goes only with function items");
      return px_error_set(err, PX_INVALID, "property",
                          items ? "must be a property path such as \"stock_code\" or, with one array step followed "
                                  "by a member, \"products[].product_id\""
                                : "must be a property path such as \"price\" or \"product.category\"");
    }
    snprintf(out->agg.property, sizeof out->agg.property, "%s", prop->valuestring);
  }
  if (!out->agg.property[0] && out->agg.fn != PX_AGG_COUNT && out->agg.fn != PX_AGG_FIRST &&
      out->agg.fn != PX_AGG_LAST)
    return px_error_set(err, PX_INVALID, "property", "is required for function %s", px_agg_fn_name(out->agg.fn));
  if (out->agg.fn == PX_AGG_DAILY && window && !cJSON_IsNull(window))
    return px_error_set(err, PX_INVALID, "window", "does not go with function daily (it keeps every day)");
  if (items && window && !cJSON_IsNull(window))
    return px_error_set(err, PX_INVALID, "window", "does not go with function items (it keeps every item)");
  if (window && !cJSON_IsNull(window)) {
    if (!cJSON_IsString(window) || px_agg_window_parse(window->valuestring, &out->agg.window_ms) != PX_OK)
      return px_error_set(err, PX_INVALID, "window",
                          "must be null (all time) or a whole number of minutes, hours, days or weeks "
                          "(\"45m\", \"12h\", \"30d\", \"2w\") up to 100 years");
  }
  if (where && !cJSON_IsNull(where)) {
    if (!cJSON_IsString(where) || !where->valuestring[0])
      return px_error_set(err, PX_INVALID, "where", "must be an event rule (a non-empty string)");
    px_rule_error rerr = {0, 0, ""};
    px_rule *r = NULL;
    size_t n = strlen(where->valuestring);
    if (n > PX_RULE_MAX_BYTES) return px_error_set(err, PX_INVALID, "where", "is longer than %d bytes", PX_RULE_MAX_BYTES);
    st = px_rule_compile(where->valuestring, n, PX_RULE_EVENT, &r, &rerr);
    if (st != PX_OK) {
      if (st == PX_INVALID)
        return px_error_set(err, PX_INVALID, "where", "line %d, column %d: %s", rerr.line, rerr.column, rerr.message);
      return px_error_set(err, st, "where", "cannot compile: %s", px_status_str(st));
    }
    out->where_src = strdup(where->valuestring);
    if (!out->where_src) {
      px_rule_free(r);
      return PX_NOMEM;
    }
    out->agg.where = r;
  }
  return PX_OK;
}

void px_ctrait_free(px_ctrait *t) {
  if (!t) return;
  free((px_decay_spec *)t->agg.decay);
  t->agg.decay = NULL;
  px_rule_free((px_rule *)t->agg.where);
  t->agg.where = NULL;
  free(t->where_src);
  t->where_src = NULL;
}

px_status px_ctrait_print(const px_ctrait *t, px_buf *out) {
  px_status st = px_buf_puts(out, "{\"name\":");
  if (st == PX_OK) st = px_buf_json_str(out, t->name, strlen(t->name));
  if (st == PX_OK) st = px_buf_printf(out, ",\"function\":\"%s\"", px_agg_fn_name(t->agg.fn));
  if (st == PX_OK && t->agg.decay) {
    const px_decay_spec *d = t->agg.decay;
    st = px_buf_puts(out, ",\"events\":{");
    for (int k = 0; k < d->n && st == PX_OK; k++) {
      char h[32], w[40];
      px_agg_window_format(d->t[k].half_life_ms, h);
      px_num_shortest(d->t[k].weight, w);
      if (k) st = px_buf_putc(out, ',');
      if (st == PX_OK) st = px_buf_json_str(out, d->t[k].event, strlen(d->t[k].event));
      if (st == PX_OK) st = px_buf_printf(out, ":{\"weight\":%s,\"half_life\":\"%s\"}", w, h);
    }
    if (st == PX_OK) st = px_buf_puts(out, "}}");
    return st;
  }
  if (st == PX_OK && t->agg.event[0]) {
    st = px_buf_puts(out, ",\"event\":");
    if (st == PX_OK) st = px_buf_json_str(out, t->agg.event, strlen(t->agg.event));
  }
  if (st == PX_OK && t->agg.property[0]) {
    st = px_buf_puts(out, ",\"property\":");
    if (st == PX_OK) st = px_buf_json_str(out, t->agg.property, strlen(t->agg.property));
  }
  if (st == PX_OK && t->where_src) {
    st = px_buf_puts(out, ",\"where\":");
    if (st == PX_OK) st = px_buf_json_str(out, t->where_src, strlen(t->where_src));
  }
  if (st == PX_OK) {
    char w[32];
    px_agg_window_format(t->agg.window_ms, w);
    st = t->agg.window_ms > 0 ? px_buf_printf(out, ",\"window\":\"%s\"}", w) : px_buf_puts(out, ",\"window\":null}");
  }
  return st;
}
