/* Declarative configuration stored in the data directory (PX_DB_CONFIG):
 * identifier kinds and merge rules, blocked junk values, trait survivorship.
 * Every process reads it from the store, so the server, the CLI and a replay
 * apply the same rules. See docs/CONFIG.md. */
#ifndef PX_CONFIG_CONFIG_H
#define PX_CONFIG_CONFIG_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "store/store.h"

#define PX_MAX_KINDS 32
#define PX_MAX_KIND_PATHS 8
#define PX_MAX_BLOCKED 128
#define PX_MAX_TRAIT_RULES 128
#define PX_KIND_NAME_MAX 32

typedef enum px_norm {
  PX_NORM_NONE,   /* kept as sent */
  PX_NORM_TRIM,   /* surrounding white space removed */
  PX_NORM_LOWER,  /* trimmed and lower-cased (ASCII) */
  PX_NORM_EMAIL,  /* trimmed, lower-cased, must look like local@domain */
  PX_NORM_PHONE,  /* digits with a leading +, default country code applied */
  PX_NORM_DIGITS  /* digits only */
} px_norm;

typedef enum px_survivorship {
  PX_SURV_MOST_RECENT,     /* value observed last (event time) */
  PX_SURV_SOURCE_PRIORITY, /* value from the highest-priority source, then most recent */
  PX_SURV_MOST_FREQUENT,   /* value observed most often, then most recent */
  PX_SURV_FIRST            /* value observed first */
} px_survivorship;

typedef struct px_kind {
  char name[PX_KIND_NAME_MAX]; /* e.g. "email" */
  uint32_t max_per_profile;    /* 0 = unlimited */
  px_norm norm;
  /* Dotted paths in the event read for this kind, e.g. "traits.email".
   * user_id and anonymous_id come from userId / anonymousId. */
  char paths[PX_MAX_KIND_PATHS][64];
  int npaths;
} px_kind;

typedef struct px_trait_rule {
  char name[128];
  px_survivorship rule;
} px_trait_rule;

typedef struct px_config {
  uint64_t version;            /* increases with every `pickaxe config set` */
  px_kind kinds[PX_MAX_KINDS]; /* in priority order: the first decides the best profile */
  int nkinds;
  char *blocked[PX_MAX_BLOCKED]; /* compared after normalization, case-insensitively */
  int nblocked;
  size_t blocked_max_len; /* longest blocked value, to skip the list quickly */
  char default_country_code[8]; /* digits, e.g. "1" or "44" */
  px_survivorship default_rule;
  px_trait_rule trait_rules[PX_MAX_TRAIT_RULES];
  int ntrait_rules;
} px_config;

/* The built-in configuration: user_id (max 1), email (5), phone (5),
 * anonymous_id (unlimited), the standard junk values, most recent wins. */
void px_config_default(px_config *c);
/* Parses a JSON configuration over the defaults. */
px_status px_config_parse(const char *json, size_t n, px_config *c, px_error *err);
void px_config_free(px_config *c);

/* Loads the stored configuration (the default when none was set). */
px_status px_config_load(px_txn *txn, const px_store *st, px_config *c, px_error *err);
/* Validates and stores a configuration; bumps the version. */
px_status px_config_store(px_txn *txn, const px_store *st, const char *json, size_t n,
                          px_error *err);
/* Loads a given stored version (0: the built-in default). Every version
 * ever stored is kept, so a replay applies to each event the configuration
 * it was logged under. */
px_status px_config_load_version(px_txn *txn, const px_store *st, uint64_t version, px_config *c,
                                 px_error *err);
/* The stored configuration's version (0 when none was set). */
px_status px_config_version(px_txn *txn, const px_store *st, uint64_t *out);
/* Renders the effective configuration as JSON (caller frees). */
char *px_config_to_json(const px_config *c);

const px_kind *px_config_kind(const px_config *c, const char *name, int *index);
px_survivorship px_config_trait_rule(const px_config *c, const char *trait);
const char *px_survivorship_name(px_survivorship s);
const char *px_norm_name(px_norm n);

#endif
