/* A matching configuration inferred from the data: field types from column
 * names and values, comparison levels by type, and blocking rules chosen
 * from how many pairs each candidate key would give on these very records.
 * See docs/internals/match.md ("Inference"). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "match/config.h"
#include "match/records.h"

#define SAMPLE 20000 /* rows looked at to recognize a column's type */

/* ---- column types ---- */

/* The column name lower-cased with letters and digits only, '_' between words. */
static void simple_name(const char *in, char *out, size_t n) {
  size_t k = 0;
  for (; *in && k + 1 < n; in++) {
    unsigned char c = (unsigned char)*in;
    if (isalnum(c)) out[k++] = (char)tolower(c);
    else if (k && out[k - 1] != '_') out[k++] = '_';
  }
  while (k && out[k - 1] == '_') k--;
  out[k] = 0;
}

/* Whether a word of name (split on '_') or the whole of it is in list. */
static int has_word(const char *name, const char *const *list) {
  for (int i = 0; list[i]; i++) {
    size_t n = strlen(list[i]);
    for (const char *p = name; (p = strstr(p, list[i])); p++) {
      int starts = p == name || p[-1] == '_', ends = p[n] == 0 || p[n] == '_';
      if (starts && ends) return 1;
    }
  }
  return 0;
}

static const char *const given_words[] = {"given", "given_name", "first", "first_name", "firstname", "forename",
                                          "fname", "christian_name", NULL};
static const char *const surname_words[] = {"surname", "last_name", "lastname", "family_name", "lname", "last",
                                            "family", NULL};
/* Parts of an address: they change together when a person moves. */
static const char *const address_words[] = {"address", "addr", "street", "house", "unit", "apt", "apartment",
                                            "flat", "building", "suburb", "city", "town", "locality", "village",
                                            "postcode", "post_code", "zip", "zipcode", "postal", "state", "county",
                                            "province", "region", "country", NULL};
static const char *const key_words[] = {"id", "key", "uuid", "guid", "rec", "row", "record", NULL};

/* What the column's name says, or -1. */
static int type_from_name(const char *n) {
  static const char *const email[] = {"email", "e_mail", "mail", NULL};
  static const char *const phone[] = {"phone", "mobile", "tel", "telephone", "cell", "fax", "msisdn", NULL};
  static const char *const date[] = {"dob", "birth", "birthday", "birthdate", "date", "bday", NULL};
  static const char *const postcode[] = {"postcode", "post_code", "zip", "zipcode", "postal", "postal_code", NULL};
  static const char *const number_id[] = {"street_number", "house_number", "street_no", "house_no", "number", "no",
                                          "num", "nr", NULL};
  static const char *const ids[] = {"ssn", "soc_sec_id", "social", "sec", "id", "nin", "passport", "licence",
                                    "license", "account", "customer", "member", "card", "code", NULL};
  static const char *const names[] = {"name", "middle_name", "middle", NULL};
  if (has_word(n, email)) return PX_MT_EMAIL;
  if (has_word(n, phone)) return PX_MT_PHONE;
  if (has_word(n, date)) return PX_MT_DATE;
  if (has_word(n, postcode)) return PX_MT_POSTCODE;
  if (has_word(n, given_words) || has_word(n, surname_words) || has_word(n, names)) return PX_MT_NAME;
  if (has_word(n, number_id) || has_word(n, ids)) return PX_MT_ID;
  return -1; /* street, address, suburb, city, state...: text, or what the values say */
}

typedef struct column_stats {
  size_t rows, filled, distinct;
  size_t digits, emails, dates, numbers;
} column_stats;

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return (a > b) - (a < b);
}

static void stats_of(const char *const *values, int ncols, size_t n, int col, column_stats *st, uint64_t *hashes) {
  memset(st, 0, sizeof *st);
  size_t step = n > SAMPLE ? n / SAMPLE : 1, nh = 0;
  px_buf b;
  px_buf_init(&b, 0);
  for (size_t i = 0; i < n; i += step) {
    st->rows++;
    const char *v = values[i * (size_t)ncols + col];
    size_t len = v ? strlen(v) : 0;
    while (len && isspace((unsigned char)*v)) v++, len--;
    while (len && isspace((unsigned char)v[len - 1])) len--;
    if (!len) continue;
    st->filled++;
    hashes[nh++] = XXH3_64bits(v, len);
    size_t d = 0;
    while (d < len && (isdigit((unsigned char)v[d]))) d++;
    st->digits += d == len;
    char *end, tmp[64];
    if (len < sizeof tmp) {
      memcpy(tmp, v, len);
      tmp[len] = 0;
      (void)strtod(tmp, &end);
      st->numbers += end != tmp && !*end;
    }
    px_buf_reset(&b);
    st->emails += memchr(v, '@', len) && px_std_email(v, len, &b) == PX_OK;
    char iso[11];
    st->dates += px_std_date(v, len, PX_DATE_DMY, iso) == PX_OK;
  }
  px_buf_free(&b);
  qsort(hashes, nh, sizeof *hashes, cmp_u64);
  for (size_t i = 0; i < nh; i++) st->distinct += !i || hashes[i] != hashes[i - 1];
}

/* ---- blocking rules ---- */

typedef struct candidate {
  int field[2], nparts;
  double pairs;   /* pairs its blocks give (blocks under the size limit) */
  size_t skipped; /* records in blocks over the limit */
} candidate;

/* Pairs a key gives: keys[i] for each record, 0 when it has none. Counts in
 * an open-addressing table; a block adds c(c-1)/2 pairs, or its records to
 * skipped when over max_block. */
static px_status count_pairs(const uint64_t *keys, size_t n, size_t max_block, candidate *c) {
  size_t cap = 16;
  while (cap < n * 2) cap *= 2;
  struct kc {
    uint64_t key;
    size_t count;
  } *t = calloc(cap, sizeof *t);
  if (!t) return PX_NOMEM;
  for (size_t i = 0; i < n; i++) {
    if (!keys[i]) continue;
    size_t k = keys[i] & (cap - 1);
    while (t[k].key && t[k].key != keys[i]) k = (k + 1) & (cap - 1);
    t[k].key = keys[i];
    t[k].count++;
  }
  c->pairs = 0;
  c->skipped = 0;
  for (size_t k = 0; k < cap; k++) {
    if (t[k].count > max_block) c->skipped += t[k].count;
    else c->pairs += (double)t[k].count * (double)(t[k].count - 1) / 2;
  }
  free(t);
  return PX_OK;
}

static int by_preference(const void *x, const void *y) {
  const candidate *a = x, *b = y;
  if (a->nparts != b->nparts) return a->nparts - b->nparts; /* fewer parts: fewer ways for a typo to hide a pair */
  return (a->pairs > b->pairs) - (a->pairs < b->pairs);
}

#define MAX_RULES 8
#define MAX_USES 2 /* rules a field takes part in */

/* Counting on a sample: a pair of records is in a uniform sample of s of
 * the n records with chance about (s/n)^2, so pairs counted there times
 * (n/s)^2 estimate the pairs of the whole, duplicates and coincidences
 * alike; a block of c records holds about c s/n of the sample. */
#define RULE_SAMPLE 200000

static uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Whether a rule has a field marked in in. */
static int rule_touches(const px_block_rule *r, const int *in) {
  for (int p = 0; p < r->nparts; p++)
    if (in[r->field[p]]) return 1;
  return 0;
}

/* Whether a chosen rule's fields are all in the candidate (the candidate
 * would add nothing), or the candidate's all in the rule (nothing new). */
static int overlaps(const px_block_rule *r, const candidate *cd) {
  int rule_in_cand = 1, cand_in_rule = 1;
  for (int p = 0; p < r->nparts; p++)
    rule_in_cand = rule_in_cand && (r->field[p] == cd->field[0] || r->field[p] == cd->field[1]);
  for (int p = 0; p < cd->nparts; p++) {
    int found = 0;
    for (int q = 0; q < r->nparts; q++) found = found || r->field[q] == cd->field[p];
    cand_in_rule = cand_in_rule && found;
  }
  return rule_in_cand || cand_in_rule;
}

px_status px_match_config_infer_rules(px_match_config *c, const char *const *values, size_t n, px_error *err) {
  int F = c->nfields;
  size_t full = n;
  const char **sampled = NULL;
  if (n > RULE_SAMPLE) { /* records picked by a hash of their index: spread, and the same every run */
    if (!(sampled = malloc(((size_t)RULE_SAMPLE + RULE_SAMPLE / 8) * (size_t)F * sizeof *sampled))) return PX_NOMEM;
    size_t s = 0;
    for (size_t i = 0; i < full && s < (size_t)RULE_SAMPLE + RULE_SAMPLE / 8; i++)
      if (mix(i) % full < RULE_SAMPLE) memcpy(sampled + s++ * (size_t)F, values + i * (size_t)F, (size_t)F * sizeof *sampled);
    values = sampled;
    n = s;
  }
  double scale = n ? (double)full / (double)n : 1;
  px_match_records r;
  px_status s = px_match_records_build(c, values, n, &r);
  if (s != PX_OK) {
    free(sampled);
    return s;
  }
  uint64_t *h = malloc((n ? n : 1) * (size_t)F * sizeof *h), *keys = malloc((n ? n : 1) * sizeof *keys);
  candidate *cand = malloc(((size_t)F * (size_t)(F + 1) / 2 + 1) * sizeof *cand);
  size_t ncand = 0;
  /* A rule may give about 4 pairs a record (plus a little, for small inputs),
   * and must leave out at least 95% of all pairs to count as blocking. */
  double all = (double)full * (double)(full > 0 ? full - 1 : 0) / 2, budget = 4.0 * (double)full + 10000;
  if (budget > 0.05 * all) budget = 0.05 * all;
  s = PX_NOMEM;
  if (!h || !keys || !cand) goto out;
  for (size_t i = 0; i < n; i++)
    for (int f = 0; f < F; f++) {
      size_t at = i * (size_t)F + (size_t)f;
      h[at] = r.len[at] ? XXH3_64bits_withSeed(r.v[at], r.len[at], (uint64_t)f) | 1 : 0;
    }
  for (int f = 0; f < F; f++)
    for (int g = f; g < F; g++) {
      candidate *cd = &cand[ncand];
      *cd = (candidate){{f, g}, f == g ? 1 : 2, 0, 0};
      for (size_t i = 0; i < n; i++) {
        uint64_t a = h[i * (size_t)F + (size_t)f], b = h[i * (size_t)F + (size_t)g];
        keys[i] = !a || !b ? 0 : f == g ? a : (a * 0x9E3779B97F4A7C15ull ^ b) | 1;
      }
      if ((s = count_pairs(keys, n, (size_t)((double)c->max_block / scale), cd)) != PX_OK) goto out;
      cd->pairs *= scale * scale;
      if (cd->pairs <= budget && (double)cd->skipped <= 0.01 * (double)n) ncand++;
    }
  qsort(cand, ncand, sizeof *cand, by_preference);
  int uses[PX_EM_MAX_FIELDS] = {0};
  c->nrules = 0;
  for (size_t k = 0; k < ncand && c->nrules < MAX_RULES; k++) {
    candidate *cd = &cand[k];
    int ok = 1;
    for (int p = 0; p < cd->nparts; p++) ok = ok && uses[cd->field[p]] < MAX_USES;
    for (int q = 0; q < c->nrules && ok; q++) { /* a rule containing a chosen one adds nothing */
      int contained = 1;
      for (int p = 0; p < c->rules[q].nparts; p++)
        contained = contained && (c->rules[q].field[p] == cd->field[0] || c->rules[q].field[p] == cd->field[1]);
      ok = !contained;
    }
    if (!ok) continue;
    px_block_rule *rule = &c->rules[c->nrules++];
    memset(rule, 0, sizeof *rule);
    rule->nparts = cd->nparts;
    for (int p = 0; p < cd->nparts; p++) rule->field[p] = cd->field[p], uses[cd->field[p]]++;
  }
  /* A group changes as a whole (a move): at least two rules must not
   * depend on it, or such a pair meets no rule at all. Taken from the
   * candidates in the same order, past the limit of uses if need be. */
  for (int g = 0; g < c->ngroups; g++) {
    int in[PX_EM_MAX_FIELDS] = {0}, free_rules = 0;
    for (int k = 0; k < c->groups[g].nmembers; k++) in[c->groups[g].member[k]] = 1;
    for (int q = 0; q < c->nrules; q++) free_rules += !rule_touches(&c->rules[q], in);
    for (size_t k = 0; k < ncand && free_rules < 2 && c->nrules < PX_MATCH_MAX_RULES; k++) {
      candidate *cd = &cand[k];
      int ok = !in[cd->field[0]] && !in[cd->field[1]];
      for (int q = 0; q < c->nrules && ok; q++) ok = !overlaps(&c->rules[q], cd);
      if (!ok) continue;
      px_block_rule *rule = &c->rules[c->nrules++];
      memset(rule, 0, sizeof *rule);
      rule->nparts = cd->nparts;
      for (int p = 0; p < cd->nparts; p++) rule->field[p] = cd->field[p];
      free_rules++;
    }
  }
  s = c->nrules ? PX_OK : px_error_set(err, PX_INVALID, "blocking", "no field or pair of fields is selective enough to block on");
out:
  free(h);
  free(keys);
  free(cand);
  free(sampled);
  px_match_records_free(&r);
  return s;
}

/* ---- the configuration ---- */

px_status px_match_config_infer(const char *const *names, int ncols, const char *const *values, size_t n,
                                const char *skip, px_match_config *out, px_error *err) {
  px_match_config_init(out);
  if (ncols <= 0) return px_error_set(err, PX_INVALID, "columns", "no columns");
  size_t sample = n < SAMPLE ? n : SAMPLE;
  uint64_t *hashes = malloc((sample + 1) * sizeof *hashes);
  int *col_of = malloc((size_t)ncols * sizeof *col_of);
  const char **vals = NULL;
  px_status s = PX_NOMEM;
  if (!hashes || !col_of) goto out;
  for (int c = 0; c < ncols && out->nfields < PX_EM_MAX_FIELDS; c++) {
    char sn[PX_MATCH_NAME_MAX];
    simple_name(names[c], sn, sizeof sn);
    if (!sn[0] || strlen(names[c]) >= PX_MATCH_NAME_MAX || (skip && strcmp(names[c], skip) == 0)) continue;
    column_stats st;
    stats_of(values, ncols, n, c, &st, hashes);
    if (st.filled < 2 || st.filled * 100 < st.rows || st.distinct < 2) continue; /* carries nothing */
    int t = type_from_name(sn);
    double filled = (double)st.filled;
    /* The values have the last word: a "date" column without dates is not one. */
    if (t == PX_MT_DATE && st.dates < 0.5 * filled) t = -1;
    if (t == PX_MT_EMAIL && st.emails < 0.5 * filled) t = -1;
    if (t < 0) {
      if (st.emails >= 0.9 * filled) t = PX_MT_EMAIL;
      else if (st.dates >= 0.9 * filled && st.digits < 0.9 * filled) t = PX_MT_DATE;
      else if (st.digits >= 0.9 * filled) t = PX_MT_ID;
      else if (st.numbers >= 0.9 * filled) t = PX_MT_NUMBER;
      else t = PX_MT_TEXT;
    }
    int unique = st.distinct == st.rows && st.filled == st.rows;
    if (unique && (has_word(sn, key_words) || t == PX_MT_ID || t == PX_MT_NUMBER)) continue; /* a record key */
    px_match_field *f = &out->fields[out->nfields];
    memset(f, 0, sizeof *f);
    strcpy(f->name, names[c]);
    strcpy(f->column, names[c]);
    px_match_field_defaults(f, (px_match_type)t);
    if (t == PX_MT_TEXT && (st.distinct <= 30 || (double)st.distinct < 0.01 * filled)) {
      f->cmp = (px_cmp_field){PX_CMP_EXACT, {0}, 0}; /* a few categories (a state, a gender): equal or not */
      f->tf = 0;
    }
    col_of[out->nfields++] = c;
  }
  if (!out->nfields) {
    s = px_error_set(err, PX_INVALID, "columns", "no column looks comparable");
    goto out;
  }
  /* Fields that trade values: given name and surname; address_1 and address_2. */
  int given = -1, surname = -1;
  for (int i = 0; i < out->nfields; i++) {
    char sn[PX_MATCH_NAME_MAX];
    simple_name(out->fields[i].name, sn, sizeof sn);
    if (out->fields[i].type != PX_MT_NAME) continue;
    if (given < 0 && has_word(sn, given_words)) given = i;
    else if (surname < 0 && has_word(sn, surname_words)) surname = i;
  }
  if (given >= 0 && surname >= 0) out->fields[given].swap_with = surname, out->fields[surname].swap_with = given;
  for (int i = 0; i < out->nfields; i++)
    for (int j = i + 1; j < out->nfields; j++) {
      px_match_field *a = &out->fields[i], *b = &out->fields[j];
      if (a->swap_with >= 0 || b->swap_with >= 0 || a->type != PX_MT_TEXT || b->type != PX_MT_TEXT ||
          a->cmp.kind != b->cmp.kind)
        continue;
      size_t la = strcspn(a->name, "0123456789"), lb = strcspn(b->name, "0123456789");
      if (la && la == lb && la < strlen(a->name) && strncmp(a->name, b->name, la) == 0)
        a->swap_with = j, b->swap_with = i;
    }
  /* The address-like fields as one group: a move changes them all. */
  px_match_group *g = &out->groups[0];
  memset(g, 0, sizeof *g);
  for (int i = 0; i < out->nfields; i++) {
    char sn[PX_MATCH_NAME_MAX];
    simple_name(out->fields[i].name, sn, sizeof sn);
    int t = out->fields[i].type;
    if ((t == PX_MT_TEXT || t == PX_MT_ID || t == PX_MT_POSTCODE || t == PX_MT_NUMBER) && has_word(sn, address_words))
      g->member[g->nmembers++] = i;
  }
  if (g->nmembers >= 2) { /* named "address" unless a field is, then "address_group" unless a field is */
    int taken[2] = {0, 0};
    for (int i = 0; i < out->nfields; i++)
      taken[0] |= !strcmp(out->fields[i].name, "address"), taken[1] |= !strcmp(out->fields[i].name, "address_group");
    if (!taken[0] || !taken[1]) strcpy(g->name, taken[0] ? "address_group" : "address"), out->ngroups = 1;
  }
  vals = malloc((n ? n : 1) * (size_t)out->nfields * sizeof *vals);
  if (!vals) goto out;
  for (size_t i = 0; i < n; i++)
    for (int f = 0; f < out->nfields; f++) vals[i * (size_t)out->nfields + f] = values[i * (size_t)ncols + col_of[f]];
  s = px_match_config_infer_rules(out, vals, n, err);
out:
  free(hashes);
  free(col_of);
  free(vals);
  return s;
}
