#include "config/config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/key.h"

static const char *default_blocked[] = {"",     "null",      "undefined", "nil",
                                        "none", "-1",        "0",         "anonymous",
                                        "unknown", "n/a",    "na",        "test@test.com"};

static const char *surv_names[] = {"most_recent", "source_priority", "most_frequent", "first"};
static const char *norm_names[] = {"none", "trim", "lower", "email", "phone", "digits"};

const char *px_survivorship_name(px_survivorship s) { return surv_names[s]; }
const char *px_norm_name(px_norm n) { return norm_names[n]; }

static void add_kind(px_config *c, const char *name, uint32_t max, px_norm norm, const char *p1,
                     const char *p2) {
  px_kind *k = &c->kinds[c->nkinds++];
  memset(k, 0, sizeof *k);
  snprintf(k->name, sizeof k->name, "%s", name);
  k->max_per_profile = max;
  k->norm = norm;
  if (p1) snprintf(k->paths[k->npaths++], sizeof k->paths[0], "%s", p1);
  if (p2) snprintf(k->paths[k->npaths++], sizeof k->paths[0], "%s", p2);
}

static void note_blocked_lengths(px_config *c) {
  c->blocked_max_len = 0;
  for (int i = 0; i < c->nblocked; i++)
    if (strlen(c->blocked[i]) > c->blocked_max_len) c->blocked_max_len = strlen(c->blocked[i]);
}

void px_config_default(px_config *c) {
  memset(c, 0, sizeof *c);
  add_kind(c, "user_id", 1, PX_NORM_TRIM, NULL, NULL);
  add_kind(c, "email", 5, PX_NORM_EMAIL, "traits.email", "context.traits.email");
  add_kind(c, "phone", 5, PX_NORM_PHONE, "traits.phone", "context.traits.phone");
  add_kind(c, "anonymous_id", 0, PX_NORM_TRIM, NULL, NULL);
  for (size_t i = 0; i < sizeof default_blocked / sizeof *default_blocked; i++)
    c->blocked[c->nblocked++] = strdup(default_blocked[i]);
  snprintf(c->default_country_code, sizeof c->default_country_code, "1");
  c->default_rule = PX_SURV_MOST_RECENT;
  note_blocked_lengths(c);
}

void px_config_free(px_config *c) {
  if (!c) return;
  for (int i = 0; i < c->nblocked; i++) free(c->blocked[i]);
  c->nblocked = 0;
}

const px_kind *px_config_kind(const px_config *c, const char *name, int *index) {
  for (int i = 0; i < c->nkinds; i++)
    if (strcmp(c->kinds[i].name, name) == 0) {
      if (index) *index = i;
      return &c->kinds[i];
    }
  return NULL;
}

px_survivorship px_config_trait_rule(const px_config *c, const char *trait) {
  for (int i = 0; i < c->ntrait_rules; i++)
    if (strcmp(c->trait_rules[i].name, trait) == 0) return c->trait_rules[i].rule;
  return c->default_rule;
}

static int parse_enum(const char *s, const char **names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

static int valid_kind_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= PX_KIND_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
  return 1;
}

static px_status parse_kinds(const cJSON *arr, px_config *c, px_error *err) {
  if (!cJSON_IsArray(arr))
    return px_error_set(err, PX_INVALID, "identity.kinds", "must be an array of objects");
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    char f[64];
    snprintf(f, sizeof f, "identity.kinds[%d]", i++);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "kind");
    if (!cJSON_IsString(name) || !valid_kind_name(name->valuestring))
      return px_error_set(err, PX_INVALID, f,
                          "\"kind\" must be 1-31 characters of a-z, 0-9 and _");
    int idx;
    px_kind *k = (px_kind *)px_config_kind(c, name->valuestring, &idx);
    if (!k) {
      if (c->nkinds >= PX_MAX_KINDS)
        return px_error_set(err, PX_INVALID, f, "at most %d identifier kinds", PX_MAX_KINDS);
      /* New kinds go before anonymous_id, which stays the weakest evidence. */
      int pos = c->nkinds;
      int anon;
      if (px_config_kind(c, "anonymous_id", &anon)) pos = anon;
      memmove(&c->kinds[pos + 1], &c->kinds[pos], (size_t)(c->nkinds - pos) * sizeof *k);
      c->nkinds++;
      k = &c->kinds[pos];
      memset(k, 0, sizeof *k);
      snprintf(k->name, sizeof k->name, "%s", name->valuestring);
      k->norm = PX_NORM_TRIM;
      char p[64];
      snprintf(p, sizeof p, "traits.%s", name->valuestring);
      snprintf(k->paths[k->npaths++], sizeof k->paths[0], "%s", p);
      snprintf(p, sizeof p, "context.traits.%s", name->valuestring);
      snprintf(k->paths[k->npaths++], sizeof k->paths[0], "%s", p);
    }
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(it, "max_per_profile");
    if (max) {
      if (!cJSON_IsNumber(max) || max->valuedouble < 0 || max->valuedouble > 1e6)
        return px_error_set(err, PX_INVALID, f, "\"max_per_profile\" must be 0 (unlimited) to 1000000");
      k->max_per_profile = (uint32_t)max->valuedouble;
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(it, "normalize");
    if (norm) {
      int n = cJSON_IsString(norm) ? parse_enum(norm->valuestring, norm_names, 6) : -1;
      if (n < 0)
        return px_error_set(err, PX_INVALID, f,
                            "\"normalize\" must be one of none, trim, lower, email, phone, digits");
      k->norm = (px_norm)n;
    }
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(it, "paths");
    if (paths) {
      if (!cJSON_IsArray(paths) || cJSON_GetArraySize(paths) > PX_MAX_KIND_PATHS)
        return px_error_set(err, PX_INVALID, f, "\"paths\" must be an array of at most %d strings",
                            PX_MAX_KIND_PATHS);
      k->npaths = 0;
      const cJSON *p;
      cJSON_ArrayForEach(p, paths) {
        if (!cJSON_IsString(p) || strlen(p->valuestring) == 0 ||
            strlen(p->valuestring) >= sizeof k->paths[0])
          return px_error_set(err, PX_INVALID, f, "each path must be a string of 1-63 bytes");
        snprintf(k->paths[k->npaths++], sizeof k->paths[0], "%s", p->valuestring);
      }
    }
  }
  return PX_OK;
}

px_status px_config_parse(const char *json, size_t n, px_config *c, px_error *err) {
  px_config_default(c);
  cJSON *root = cJSON_ParseWithLength(json, n);
  px_status s = PX_OK;
  if (!cJSON_IsObject(root)) {
    s = px_error_set(err, PX_BAD_JSON, "", "configuration must be a JSON object");
    goto out;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "identity");
  if (id) {
    const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(id, "kinds");
    if (kinds && (s = parse_kinds(kinds, c, err)) != PX_OK) goto out;
    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(id, "blocked_values");
    if (bl) {
      if (!cJSON_IsArray(bl) || cJSON_GetArraySize(bl) > PX_MAX_BLOCKED) {
        s = px_error_set(err, PX_INVALID, "identity.blocked_values",
                         "must be an array of at most %d strings", PX_MAX_BLOCKED);
        goto out;
      }
      for (int i = 0; i < c->nblocked; i++) free(c->blocked[i]);
      c->nblocked = 0;
      const cJSON *v;
      cJSON_ArrayForEach(v, bl) {
        if (!cJSON_IsString(v)) {
          s = px_error_set(err, PX_INVALID, "identity.blocked_values", "must hold strings only");
          goto out;
        }
        c->blocked[c->nblocked++] = strdup(v->valuestring);
      }
    }
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(id, "default_country_code");
    if (cc) {
      const char *d = cJSON_IsString(cc) ? cc->valuestring : "";
      size_t dl = strlen(d);
      int ok = dl >= 1 && dl <= 3;
      for (size_t i = 0; i < dl; i++) ok = ok && d[i] >= '0' && d[i] <= '9';
      if (!ok) {
        s = px_error_set(err, PX_INVALID, "identity.default_country_code",
                         "must be 1-3 digits, e.g. \"44\"");
        goto out;
      }
      snprintf(c->default_country_code, sizeof c->default_country_code, "%s", d);
    }
  }
  const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "traits");
  if (tr) {
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(tr, "default");
    if (def) {
      int r = cJSON_IsString(def) ? parse_enum(def->valuestring, surv_names, 4) : -1;
      if (r < 0) {
        s = px_error_set(err, PX_INVALID, "traits.default",
                         "must be most_recent, source_priority, most_frequent or first");
        goto out;
      }
      c->default_rule = (px_survivorship)r;
    }
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(tr, "rules");
    if (rules) {
      const cJSON *r;
      cJSON_ArrayForEach(r, rules) {
        int v = cJSON_IsString(r) ? parse_enum(r->valuestring, surv_names, 4) : -1;
        if (v < 0 || !r->string || strlen(r->string) >= sizeof c->trait_rules[0].name ||
            c->ntrait_rules >= PX_MAX_TRAIT_RULES) {
          s = px_error_set(err, PX_INVALID, "traits.rules",
                           "each rule maps a trait name (< 128 bytes) to most_recent, "
                           "source_priority, most_frequent or first");
          goto out;
        }
        px_trait_rule *t = &c->trait_rules[c->ntrait_rules++];
        snprintf(t->name, sizeof t->name, "%s", r->string);
        t->rule = (px_survivorship)v;
      }
    }
  }
out:
  note_blocked_lengths(c);
  cJSON_Delete(root);
  if (s != PX_OK) px_config_free(c); /* the caller gets nothing to free on failure */
  return s;
}

char *px_config_to_json(const px_config *c) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "version", (double)c->version);
  cJSON *id = cJSON_AddObjectToObject(root, "identity");
  cJSON_AddStringToObject(id, "default_country_code", c->default_country_code);
  cJSON *kinds = cJSON_AddArrayToObject(id, "kinds");
  for (int i = 0; i < c->nkinds; i++) {
    cJSON *k = cJSON_CreateObject();
    cJSON_AddStringToObject(k, "kind", c->kinds[i].name);
    cJSON_AddNumberToObject(k, "max_per_profile", c->kinds[i].max_per_profile);
    cJSON_AddStringToObject(k, "normalize", norm_names[c->kinds[i].norm]);
    cJSON *paths = cJSON_AddArrayToObject(k, "paths");
    for (int p = 0; p < c->kinds[i].npaths; p++)
      cJSON_AddItemToArray(paths, cJSON_CreateString(c->kinds[i].paths[p]));
    cJSON_AddItemToArray(kinds, k);
  }
  cJSON *bl = cJSON_AddArrayToObject(id, "blocked_values");
  for (int i = 0; i < c->nblocked; i++) cJSON_AddItemToArray(bl, cJSON_CreateString(c->blocked[i]));
  cJSON *tr = cJSON_AddObjectToObject(root, "traits");
  cJSON_AddStringToObject(tr, "default", surv_names[c->default_rule]);
  cJSON *rules = cJSON_AddObjectToObject(tr, "rules");
  for (int i = 0; i < c->ntrait_rules; i++)
    cJSON_AddStringToObject(rules, c->trait_rules[i].name, surv_names[c->trait_rules[i].rule]);
  char *printed = cJSON_Print(root);
  char *out = printed ? strdup(printed) : NULL; /* plain heap memory for the caller's free() */
  cJSON_free(printed);
  cJSON_Delete(root);
  return out;
}

static void version_key(px_key *k, uint64_t v) {
  px_key_init(k);
  px_key_u8(k, 'v');
  px_key_u64(k, v);
}

px_status px_config_load_version(px_txn *txn, const px_store *st, uint64_t version, px_config *c,
                                 px_error *err) {
  if (version == 0) {
    px_config_default(c);
    return PX_OK;
  }
  px_key k;
  version_key(&k, version);
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_CONFIG, k.b, k.n, &v);
  if (s != PX_OK) return s;
  if ((s = px_config_parse(v.mv_data, v.mv_size, c, err)) != PX_OK) return s;
  c->version = version;
  return PX_OK;
}

px_status px_config_version(px_txn *txn, const px_store *st, uint64_t *out) {
  return px_store_counter(txn, st, "config", out);
}

px_status px_config_load(px_txn *txn, const px_store *st, px_config *c, px_error *err) {
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_CONFIG, "current", 7, &v);
  if (s == PX_NOT_FOUND) {
    px_config_default(c);
    return PX_OK;
  }
  if (s != PX_OK) return s;
  if ((s = px_config_parse(v.mv_data, v.mv_size, c, err)) != PX_OK) return s;
  return px_config_version(txn, st, &c->version);
}

px_status px_config_store(px_txn *txn, const px_store *st, const char *json, size_t n,
                          px_error *err) {
  px_config c;
  px_status s = px_config_parse(json, n, &c, err);
  px_config_free(&c);
  if (s != PX_OK) return s;
  if ((s = px_store_put(txn, st, PX_DB_CONFIG, "current", 7, json, n, 0)) != PX_OK) return s;
  uint64_t v;
  if ((s = px_store_next_id(txn, st, "config", &v)) != PX_OK) return s;
  px_key k;
  version_key(&k, v);
  return px_store_put(txn, st, PX_DB_CONFIG, k.b, k.n, json, n, 0);
}
