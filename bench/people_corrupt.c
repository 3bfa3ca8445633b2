/* Duplicates for px-gen-people: a copy of the original with one to four
 * corruptions, each on fields no earlier corruption of this duplicate
 * touched (so every change is of exactly one declared kind). A kind that
 * does not apply (no nickname for the name, no field left to change) is
 * drawn again. Rates are documented in bench/README.md. */
#include <stdio.h>
#include <string.h>

#include "people.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const kind_names[PX_PK_COUNT] = {
    "typo", "insert", "delete", "transpose", "nickname", "missing",
    "swap", "moved", "digits", "day_month", "abbrev", "format",
};

static const char *const field_names[PX_PF_COUNT] = {
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
    "postcode", "state", "date_of_birth", "soc_sec_id", "phone", "email",
};

const char *px_people_kind_name(px_pk k) { return kind_names[k]; }
const char *px_people_field_name(int f) { return field_names[f]; }

/* Relative weights of the kinds, and of the fields each kind picks from. */
static const double kind_weight[PX_PK_COUNT] = {
    [PX_PK_TYPO] = 18, [PX_PK_INSERT] = 6,  [PX_PK_DELETE] = 6,    [PX_PK_TRANSPOSE] = 9,
    [PX_PK_NICKNAME] = 10, [PX_PK_MISSING] = 16, [PX_PK_SWAP] = 4,  [PX_PK_MOVED] = 6,
    [PX_PK_DIGITS] = 9, [PX_PK_DAY_MONTH] = 4, [PX_PK_ABBREV] = 8, [PX_PK_FORMAT] = 3,
};

static const double typo_fields[PX_PF_COUNT] = {
    [PX_PF_GIVEN] = 28, [PX_PF_SURNAME] = 28, [PX_PF_ADDRESS_1] = 12, [PX_PF_SUBURB] = 12,
    [PX_PF_ADDRESS_2] = 4, [PX_PF_EMAIL] = 8, [PX_PF_SSID] = 8,
};
static const double edit_fields[PX_PF_COUNT] = {
    [PX_PF_GIVEN] = 30, [PX_PF_SURNAME] = 30, [PX_PF_ADDRESS_1] = 15, [PX_PF_SUBURB] = 15, [PX_PF_EMAIL] = 10,
};
static const double missing_fields[PX_PF_COUNT] = {
    [PX_PF_GIVEN] = 8,      [PX_PF_SURNAME] = 5, [PX_PF_STREET_NUMBER] = 10, [PX_PF_ADDRESS_1] = 6,
    [PX_PF_ADDRESS_2] = 15, [PX_PF_SUBURB] = 6,  [PX_PF_POSTCODE] = 6,       [PX_PF_STATE] = 4,
    [PX_PF_DOB] = 8,        [PX_PF_SSID] = 10,   [PX_PF_PHONE] = 12,         [PX_PF_EMAIL] = 12,
};
static const double digit_fields[PX_PF_COUNT] = {[PX_PF_DOB] = 40, [PX_PF_SSID] = 35, [PX_PF_PHONE] = 25};
static const double abbrev_fields[PX_PF_COUNT] = {[PX_PF_ADDRESS_1] = 80, [PX_PF_SUBURB] = 20};

#define ADDRESS_MASK                                                                                        \
  ((1u << PX_PF_STREET_NUMBER) | (1u << PX_PF_ADDRESS_1) | (1u << PX_PF_ADDRESS_2) | (1u << PX_PF_SUBURB) | \
   (1u << PX_PF_POSTCODE) | (1u << PX_PF_STATE))

static int pick_weighted(px_rng *r, const double *w, int n) {
  double t = 0;
  for (int i = 0; i < n; i++) t += w[i];
  double u = px_rng_unit(r) * t;
  for (int i = 0; i < n; i++) {
    if (u < w[i]) return i;
    u -= w[i];
  }
  return n - 1;
}

static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* The editable part of a field: an e-mail's local part, else all of it. */
static size_t editable_len(const char *s, int field) {
  if (field == PX_PF_EMAIL) {
    const char *at = strchr(s, '@');
    if (at) return (size_t)(at - s);
  }
  return strlen(s);
}

static int typo(char *s, int field, px_rng *r) {
  size_t n = editable_len(s, field), cand[PX_PF_MAX], k = 0;
  for (size_t i = 0; i < n; i++)
    if (is_alnum(s[i])) cand[k++] = i;
  if (!k) return 0;
  size_t at = cand[px_rng_below(r, k)];
  char c = px_people_key_neighbour(s[at], r);
  if (c == s[at]) return 0;
  s[at] = c;
  return 1;
}

static int insert(char *s, int field, px_rng *r) {
  size_t n = editable_len(s, field), len = strlen(s);
  if (n < 2 || len + 2 > PX_PF_MAX) return 0;
  size_t at = (size_t)px_rng_below(r, n + 1); /* insert before s[at] */
  char next = at < n ? s[at] : s[at - 1], prev = at > 0 ? s[at - 1] : s[at];
  char c = px_rng_chance(r, 0.5) ? prev : px_people_key_neighbour(next, r); /* doubled, or a slip */
  if (!is_alnum(c)) return 0;
  memmove(s + at + 1, s + at, len - at + 1);
  s[at] = c;
  return 1;
}

static int delete(char *s, int field, px_rng *r) {
  size_t n = editable_len(s, field), len = strlen(s);
  if (n < 3) return 0;
  size_t at = (size_t)px_rng_below(r, n);
  memmove(s + at, s + at + 1, len - at);
  return 1;
}

static int transpose(char *s, int field, px_rng *r) {
  size_t n = editable_len(s, field), cand[PX_PF_MAX], k = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (is_alnum(s[i]) && is_alnum(s[i + 1]) && s[i] != s[i + 1]) cand[k++] = i;
  if (!k) return 0;
  size_t at = cand[px_rng_below(r, k)];
  char t = s[at];
  s[at] = s[at + 1];
  s[at + 1] = t;
  return 1;
}

static int valid_date(const char *s) {
  if (strlen(s) != 8) return 0;
  int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int m = (s[4] - '0') * 10 + (s[5] - '0'), d = (s[6] - '0') * 10 + (s[7] - '0');
  static const int dim[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || y > 2025 || m < 1 || m > 12 || d < 1 || d > dim[m - 1]) return 0;
  return !(m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

/* Two adjacent differing digits swapped; a date must stay a valid date. */
static int digits(char *s, int field, px_rng *r) {
  size_t n = strlen(s), cand[PX_PF_MAX], k = 0, first = strcspn(s, "0123456789");
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] < '0' || s[i] > '9' || s[i + 1] < '0' || s[i + 1] > '9' || s[i] == s[i + 1]) continue;
    if (field == PX_PF_DOB) {
      char t[PX_PF_MAX];
      memcpy(t, s, n + 1);
      t[i] = s[i + 1];
      t[i + 1] = s[i];
      if (!valid_date(t)) continue;
    }
    if (field == PX_PF_PHONE && i == first) continue; /* keep the trunk prefix 0 */
    cand[k++] = i;
  }
  if (!k) return 0;
  size_t at = cand[px_rng_below(r, k)];
  char t = s[at];
  s[at] = s[at + 1];
  s[at + 1] = t;
  return 1;
}

static int day_month(char *s) {
  if (strlen(s) != 8) return 0;
  char t[9];
  memcpy(t, s, 9);
  t[4] = s[6], t[5] = s[7], t[6] = s[4], t[7] = s[5];
  if (!strcmp(t, s) || !valid_date(t)) return 0;
  memcpy(s, t, 9);
  return 1;
}

/* A new address, different from the old street or suburb. */
static void moved(px_people_rec *p, px_rng *r) {
  char(*f)[PX_PF_MAX] = p->f;
  char old_street[PX_PF_MAX], old_suburb[PX_PF_MAX];
  memcpy(old_street, f[PX_PF_ADDRESS_1], PX_PF_MAX);
  memcpy(old_suburb, f[PX_PF_SUBURB], PX_PF_MAX);
  for (int tries = 0; tries < 16; tries++) {
    double u = px_rng_unit(r);
    snprintf(f[PX_PF_STREET_NUMBER], PX_PF_MAX, "%u", 1 + (unsigned)(300.0 * u * u * u));
    px_people_street(r, f[PX_PF_ADDRESS_1], PX_PF_MAX);
    px_people_unit(r, f[PX_PF_ADDRESS_2], PX_PF_MAX);
    int state = px_rng_chance(r, 0.75) ? p->state : px_people_state(r);
    unsigned pc = px_people_postcode(state, r);
    snprintf(f[PX_PF_POSTCODE], PX_PF_MAX, "%04u", pc);
    px_people_suburb(pc, r, f[PX_PF_SUBURB], PX_PF_MAX);
    snprintf(f[PX_PF_STATE], PX_PF_MAX, "%s", px_people_state_code(state));
    if (strcmp(old_street, f[PX_PF_ADDRESS_1]) != 0 && strcmp(old_suburb, f[PX_PF_SUBURB]) != 0) return;
  }
}

/* Tries kind k on p; returns the field it changed (the given name for a
 * swap, the street for a move), or -1 when it does not apply. */
static int apply(px_pk k, px_people_rec *p, unsigned touched, px_rng *r) {
  char(*f)[PX_PF_MAX] = p->f;
  const double *w = NULL;
  switch (k) {
  case PX_PK_TYPO: w = typo_fields; break;
  case PX_PK_INSERT:
  case PX_PK_DELETE:
  case PX_PK_TRANSPOSE: w = edit_fields; break;
  case PX_PK_MISSING: w = missing_fields; break;
  case PX_PK_DIGITS: w = digit_fields; break;
  case PX_PK_ABBREV: w = abbrev_fields; break;
  case PX_PK_NICKNAME: {
    if (touched & (1u << PX_PF_GIVEN) || !f[PX_PF_GIVEN][0]) return -1;
    const char *nick = px_people_nickname(f[PX_PF_GIVEN], r);
    if (!nick) return -1;
    snprintf(f[PX_PF_GIVEN], PX_PF_MAX, "%s", nick);
    return PX_PF_GIVEN;
  }
  case PX_PK_SWAP: {
    if (touched & ((1u << PX_PF_GIVEN) | (1u << PX_PF_SURNAME))) return -1;
    if (!f[PX_PF_GIVEN][0] || !f[PX_PF_SURNAME][0] || !strcmp(f[PX_PF_GIVEN], f[PX_PF_SURNAME])) return -1;
    char t[PX_PF_MAX];
    memcpy(t, f[PX_PF_GIVEN], PX_PF_MAX);
    memcpy(f[PX_PF_GIVEN], f[PX_PF_SURNAME], PX_PF_MAX);
    memcpy(f[PX_PF_SURNAME], t, PX_PF_MAX);
    return PX_PF_GIVEN;
  }
  case PX_PK_MOVED:
    if (touched & ADDRESS_MASK) return -1;
    moved(p, r);
    return PX_PF_ADDRESS_1;
  case PX_PK_DAY_MONTH:
    if (touched & (1u << PX_PF_DOB) || !day_month(f[PX_PF_DOB])) return -1;
    return PX_PF_DOB;
  case PX_PK_FORMAT: {
    if (touched & (1u << PX_PF_PHONE) || !f[PX_PF_PHONE][0]) return -1;
    int style = (p->phone_style + 1 + (int)px_rng_below(r, PX_PEOPLE_PHONE_STYLES - 1)) % PX_PEOPLE_PHONE_STYLES;
    px_people_phone_format(p->phone, style, f[PX_PF_PHONE], PX_PF_MAX);
    return PX_PF_PHONE;
  }
  case PX_PK_COUNT: return -1;
  }
  int field = pick_weighted(r, w, PX_PF_COUNT);
  if (touched & (1u << field) || !f[field][0]) return -1;
  int ok = 0;
  switch (k) {
  case PX_PK_TYPO: ok = typo(f[field], field, r); break;
  case PX_PK_INSERT: ok = insert(f[field], field, r); break;
  case PX_PK_DELETE: ok = delete(f[field], field, r); break;
  case PX_PK_TRANSPOSE: ok = transpose(f[field], field, r); break;
  case PX_PK_MISSING: f[field][0] = '\0', ok = 1; break;
  case PX_PK_DIGITS: ok = digits(f[field], field, r); break;
  case PX_PK_ABBREV: ok = px_people_abbreviate(f[field], PX_PF_MAX); break;
  default: break;
  }
  return ok ? field : -1;
}

static unsigned touch_mask(px_pk k, int field) {
  if (k == PX_PK_SWAP) return (1u << PX_PF_GIVEN) | (1u << PX_PF_SURNAME);
  if (k == PX_PK_MOVED) return ADDRESS_MASK;
  return 1u << field;
}

int px_people_corrupt(const px_people_rec *org, uint64_t seed, uint64_t idx, uint64_t dup,
                      px_people_rec *out, px_people_edit edits[PX_PEOPLE_MAX_EDITS]) {
  static const double edits_weight[PX_PEOPLE_MAX_EDITS] = {40, 35, 18, 7}; /* 1, 2, 3 or 4 */
  *out = *org;
  px_rng r = {px_mix64(px_mix64(seed ^ 0xd0b1e5ULL ^ px_mix64(idx * 0x9e3779b97f4a7c15ULL)) + dup)};
  int want = 1 + pick_weighted(&r, edits_weight, PX_PEOPLE_MAX_EDITS), n = 0;
  unsigned touched = 0;
  for (int tries = 0; n < want && tries < 64; tries++) {
    px_pk k = (px_pk)pick_weighted(&r, kind_weight, PX_PK_COUNT);
    int field = apply(k, out, touched, &r);
    if (field < 0) continue;
    touched |= touch_mask(k, field);
    edits[n++] = (px_people_edit){k, field};
  }
  return n;
}
