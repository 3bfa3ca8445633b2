/* A matching configuration: which attributes of a record are compared and
 * how (standardization, comparison levels), which blocking rules pick the
 * pairs, and the decision limits. Read from JSON (pickaxe resolve --config,
 * pickaxe link --config), written back as JSON (with a learned model, so a
 * run can be repeated), or inferred from the data: field types recognized
 * from column names and values, blocking rules chosen from how selective
 * each field is. See docs/internals/match.md. */
#ifndef PX_MATCH_CONFIG_H
#define PX_MATCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "match/block.h"
#include "match/em.h"
#include "match/levels.h"
#include "std/std.h"

#define PX_MATCH_NAME_MAX 128
#define PX_MATCH_MAX_RULES 16

/* How a field's values are standardized before blocking and comparing. */
typedef enum px_match_type {
  PX_MT_TEXT = 0,  /* px_std_text (folded, no accents or punctuation) */
  PX_MT_NAME,      /* a person's name part: text, and titles dropped */
  PX_MT_EMAIL,     /* px_std_email */
  PX_MT_PHONE,     /* px_std_phone: digits with country code */
  PX_MT_DATE,      /* px_std_date: YYYY-MM-DD */
  PX_MT_POSTCODE,  /* px_std_postcode */
  PX_MT_ID,        /* an identifier such as a number: letters and digits only */
  PX_MT_NUMBER,    /* a number */
} px_match_type;

typedef struct px_match_field {
  char name[PX_MATCH_NAME_MAX];   /* shown in explanations */
  char column[PX_MATCH_NAME_MAX]; /* a file's column, or a profile's trait or identifier kind */
  px_match_type type;
  px_cmp_field cmp;               /* its comparison levels */
  int swap_with;      /* a field whose values this one's may be swapped with
                         (given name and surname), or -1: adds a "swapped" level.
                         Note 0 is field 0: start from px_match_field_defaults. */
  int tf;             /* term frequencies: an exact agreement weighs by how rare the value is */
  px_date_order date_order; /* PX_MT_DATE: how to read 03/04/2001 */
  char country_code[8];     /* PX_MT_PHONE: for national numbers (digits), may be empty */
} px_match_field;

/* Fields that change together (an address: when a person moves, every
 * part of it changes at once). Matching weighs them as one: see em.h. */
typedef struct px_match_group {
  char name[PX_MATCH_NAME_MAX]; /* shown in explanations; no field has it */
  int member[PX_EM_MAX_FIELDS]; /* field indices, at least two, each field in one group at most */
  int nmembers;
} px_match_group;

typedef struct px_match_config {
  px_match_field fields[PX_EM_MAX_FIELDS];
  int nfields;
  px_block_rule rules[PX_MATCH_MAX_RULES]; /* field indices into fields */
  int nrules;
  px_match_group groups[PX_EM_MAX_GROUPS];
  int ngroups;
  double threshold;   /* a pair matches at this match probability or above (default 0.99) */
  size_t max_block;   /* blocks larger than this are skipped (default 2000) */
  size_t max_cluster; /* clusters are not joined past this size (default 50) */
  size_t u_samples;   /* random pairs drawn to estimate u (default 1,000,000) */
  uint64_t seed;      /* for that sampling: equal seeds, equal runs (default 1) */
  int u_from_em;      /* 1: keep EM's u instead (for comparison; default 0) */
  int threads;        /* comparing threads; 0: one per core, at most 8 */
  int have_model;     /* model holds fixed m/u/lambda: no learning */
  px_em_model model;  /* lambda: the chance that two records drawn at random match; changed[g]
                         for each group (its ngroups and group[] follow groups) */
} px_match_config;

/* The defaults: no fields, no rules, limits as documented above. */
void px_match_config_init(px_match_config *c);

/* Default comparison levels for a field of type t (its cmp). */
void px_match_field_defaults(px_match_field *f, px_match_type t);

/* Levels of a field in the model: its comparison's levels, and one more,
 * "swapped" (just before "different"), for a field with a swap partner. */
int px_match_field_levels(const px_match_field *f);
/* A level's name for explanations ("exact", "jaro_winkler>=0.94", "swapped", "different"...). */
const char *px_match_level_name(const px_match_field *f, int level, char *buf, size_t n);

/* Type names as in JSON ("text", "name", ...); -1 when unknown. */
const char *px_match_type_name(px_match_type t);

/* Reads a configuration; err names the offending member
 * ("fields[2].thresholds"). */
px_status px_match_config_parse(const char *json, size_t n, px_match_config *out, px_error *err);

/* The configuration as JSON, readable by px_match_config_parse (the model
 * included when have_model). */
px_status px_match_config_json(const px_match_config *c, px_buf *out);

/* Infers a configuration from named columns and sample records (n rows of
 * ncols NUL-terminated raw values): which columns to compare and as what,
 * the address-like columns as one group, and the blocking rules. Columns that look like record keys (unique per
 * row, no typos possible) or carry nothing are left out, unless skip says
 * so explicitly (skip: a column name to leave out, e.g. the truth column;
 * may be NULL). PX_INVALID (err says why) when nothing can be compared. */
px_status px_match_config_infer(const char *const *names, int ncols, const char *const *values, size_t n,
                                const char *skip, px_match_config *out, px_error *err);

/* Chooses blocking rules for c's fields from n standardized-or-raw records
 * (n x c->nfields values, row by row): several rules on different fields,
 * each expected to yield at most about 4n + 10,000 pairs and at most 5% of
 * all pairs, and for each group of c at least two rules (when there are
 * such) on fields outside it, so that a group changing as a whole (a move)
 * does not hide a pair from every rule. PX_INVALID when no field can block. */
px_status px_match_config_infer_rules(px_match_config *c, const char *const *values, size_t n, px_error *err);

#endif
