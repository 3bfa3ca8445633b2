#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "identity/identity.h"
#include "std/std.h"

void px_profile_id_format(uint64_t id, char out[17]) {
  snprintf(out, 17, "%016llx", (unsigned long long)id);
}

int px_profile_id_parse(const char *s, uint64_t *out) {
  if (strlen(s) != 16) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 16; i++) {
    int c = s[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return 0;
    v = v << 4 | (uint64_t)d;
  }
  *out = v;
  return v != 0;
}

static size_t trim(const char *in, const char **start) {
  while (*in && isspace((unsigned char)*in)) in++;
  size_t n = strlen(in);
  while (n && isspace((unsigned char)in[n - 1])) n--;
  *start = in;
  return n;
}

static px_status phone(const px_config *cfg, const char *s, size_t n, char *out) {
  px_buf b;
  px_buf_init(&b, 0);
  px_status st = px_std_phone(s, n, cfg->default_country_code, &b);
  if (st == PX_OK && b.len > PX_IDENT_VALUE_MAX) st = PX_INVALID;
  if (st == PX_OK) memcpy(out, b.data, b.len + 1);
  px_buf_free(&b);
  return st;
}

static int is_blocked(const px_config *cfg, const char *v) {
  const char *p = v;
  while (*p == '0' || *p == '-' || *p == '+' || *p == ' ') p++;
  if (!*p) return 1; /* empty, all zeros, all dashes, the zero UUID */
  size_t n = (size_t)(p - v) + strlen(p);
  if (n > cfg->blocked_max_len) return 0;
  for (int i = 0; i < cfg->nblocked; i++)
    if (strcasecmp(v, cfg->blocked[i]) == 0) return 1;
  return 0;
}

px_status px_identity_normalize(const px_config *cfg, const px_kind *kind, const char *in,
                                char out[PX_IDENT_VALUE_MAX + 1]) {
  const char *s;
  size_t n = kind->norm == PX_NORM_NONE ? strlen(in) : trim(in, &s);
  if (kind->norm == PX_NORM_NONE) s = in;
  if (n > PX_IDENT_VALUE_MAX) return PX_INVALID;
  /* A raw junk value stays junk whatever normalization would make of it. */
  char raw[PX_IDENT_VALUE_MAX + 1];
  memcpy(raw, s, n);
  raw[n] = 0;
  if (is_blocked(cfg, raw)) return PX_BLOCKED;
  switch (kind->norm) {
    case PX_NORM_NONE:
    case PX_NORM_TRIM: memcpy(out, raw, n + 1); break;
    case PX_NORM_LOWER:
    case PX_NORM_EMAIL:
      for (size_t i = 0; i <= n; i++) out[i] = (char)tolower((unsigned char)raw[i]);
      if (kind->norm == PX_NORM_EMAIL) {
        const char *at = strchr(out, '@');
        if (!at || at == out || !at[1] || strchr(at + 1, '@') || strpbrk(out, " \t<>,;\"")) return PX_INVALID;
      }
      break;
    case PX_NORM_PHONE:
      if (phone(cfg, raw, n, out) != PX_OK) return PX_INVALID;
      break;
    case PX_NORM_DIGITS: {
      size_t k = 0;
      for (size_t i = 0; i < n; i++)
        if (isdigit((unsigned char)raw[i])) out[k++] = raw[i];
      out[k] = 0;
      if (k == 0) return PX_INVALID;
      break;
    }
  }
  return is_blocked(cfg, out) ? PX_BLOCKED : PX_OK;
}

/* Resolves a dotted path such as "context.traits.email" in the event. The
 * usual prefixes start from objects found once per event. */
typedef struct roots {
  const cJSON *root, *traits, *context_traits;
} roots;

static const cJSON *at_path(const roots *r, const char *path) {
  char seg[64];
  const cJSON *cur = r->root;
  if (strncmp(path, "traits.", 7) == 0) {
    cur = r->traits;
    path += 7;
  } else if (strncmp(path, "context.traits.", 15) == 0) {
    cur = r->context_traits;
    path += 15;
  }
  while (cur && *path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (n >= sizeof seg) return NULL;
    memcpy(seg, path, n);
    seg[n] = 0;
    cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, seg) : NULL;
    path += n + (dot ? 1 : 0);
  }
  return cur;
}

static void add(const px_config *cfg, int kind, const char *raw, px_ident *out, int *n, int max,
                int *blocked) {
  if (!raw || *n >= max) return;
  px_ident id = {.kind = kind};
  if (px_identity_normalize(cfg, &cfg->kinds[kind], raw, id.value) != PX_OK) {
    (*blocked)++;
    return;
  }
  for (int i = 0; i < *n; i++)
    if (out[i].kind == kind && strcmp(out[i].value, id.value) == 0) return;
  out[(*n)++] = id;
}

int px_identity_extract(const px_config *cfg, const px_event *ev, px_ident *out, int max,
                        int *blocked) {
  int n = 0;
  *blocked = 0;
  roots r = {ev->root, ev->message_traits, ev->context_traits};
  for (int k = 0; k < cfg->nkinds; k++) {
    const px_kind *kind = &cfg->kinds[k];
    if (strcmp(kind->name, "user_id") == 0) add(cfg, k, ev->user_id, out, &n, max, blocked);
    if (strcmp(kind->name, "anonymous_id") == 0) add(cfg, k, ev->anonymous_id, out, &n, max, blocked);
    for (int p = 0; p < kind->npaths; p++) {
      /* A group's traits describe the account, not the person. */
      if (ev->type == PX_EV_GROUP && strncmp(kind->paths[p], "traits.", 7) == 0) continue;
      const cJSON *v = at_path(&r, kind->paths[p]);
      char num[32];
      if (cJSON_IsNumber(v)) {
        px_event_number_str(v->valuedouble, num);
        add(cfg, k, num, out, &n, max, blocked);
      } else if (cJSON_IsString(v)) {
        add(cfg, k, v->valuestring, out, &n, max, blocked);
      }
    }
  }
  return n;
}
