/* Synthetic person records for px-gen-people: originals drawn from
 * frequency-weighted lists (people_lists.c, people_make.c), and duplicates
 * made from an original by a few realistic corruptions (people_corrupt.c).
 * Every record is a pure function of (seed, original index, duplicate
 * number), so nothing per record needs to be stored. */
#ifndef PX_BENCH_PEOPLE_H
#define PX_BENCH_PEOPLE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* The output columns after rec_id, in order (Febrl's, then phone, email). */
typedef enum px_pf {
  PX_PF_GIVEN = 0,
  PX_PF_SURNAME,
  PX_PF_STREET_NUMBER,
  PX_PF_ADDRESS_1,
  PX_PF_ADDRESS_2,
  PX_PF_SUBURB,
  PX_PF_POSTCODE,
  PX_PF_STATE,
  PX_PF_DOB,
  PX_PF_SSID,
  PX_PF_PHONE,
  PX_PF_EMAIL,
  PX_PF_COUNT
} px_pf;

#define PX_PF_MAX 96 /* bytes per field, NUL included */

/* What kinds of corruption a duplicate can carry (see bench/README.md). */
typedef enum px_pk {
  PX_PK_TYPO = 0,  /* one character replaced by a keyboard neighbour */
  PX_PK_INSERT,    /* one character inserted (doubled, or a neighbour) */
  PX_PK_DELETE,    /* one character dropped */
  PX_PK_TRANSPOSE, /* two adjacent characters swapped */
  PX_PK_NICKNAME,  /* given name replaced by a nickname */
  PX_PK_MISSING,   /* field left empty */
  PX_PK_SWAP,      /* given name and surname swapped */
  PX_PK_MOVED,     /* a new address (number, street, unit, suburb, postcode, state) */
  PX_PK_DIGITS,    /* two adjacent digits swapped (date of birth, id, phone) */
  PX_PK_DAY_MONTH, /* day and month of the date of birth swapped */
  PX_PK_ABBREV,    /* a word abbreviated (street -> st, mount -> mt) */
  PX_PK_FORMAT,    /* phone written in another format */
  PX_PK_COUNT
} px_pk;

typedef struct px_people_rec {
  char f[PX_PF_COUNT][PX_PF_MAX];
  /* What the values were made from (originals only; used by corruptions). */
  int state;          /* index into the state table */
  uint64_t phone;     /* national number without the leading 0, or 0 */
  int phone_style;    /* which format the phone is written in */
} px_people_rec;

#define PX_PEOPLE_MAX_EDITS 4
typedef struct px_people_edit {
  px_pk kind;
  int field; /* px_pf; for SWAP the given name, for MOVED the street */
} px_people_edit;

/* people_lists.c: weighted word lists. Call px_people_lists_init once. */
void px_people_lists_init(void);
const char *px_people_given(px_rng *r);   /* a given name */
void px_people_surname(px_rng *r, char *out, size_t n);
const char *px_people_nickname(const char *given, px_rng *r); /* NULL: none known */
void px_people_street(px_rng *r, char *out, size_t n);        /* "wattle street" */
void px_people_unit(px_rng *r, char *out, size_t n);          /* address_2, maybe "" */
int px_people_state(px_rng *r);                                /* index */
const char *px_people_state_code(int state);                   /* "nsw" */
int px_people_state_count(void);
unsigned px_people_postcode(int state, px_rng *r);
void px_people_suburb(unsigned postcode, px_rng *r, char *out, size_t n);
const char *px_people_domain(px_rng *r);
int px_people_area_code(int state); /* 2, 3, 7 or 8 */
/* Replaces the first abbreviable word of s (street types, mount, north...)
 * by its abbreviation; 0 when s has none. */
int px_people_abbreviate(char *s, size_t n);
/* A QWERTY neighbour of c (letters and digits), or c when it has none. */
char px_people_key_neighbour(char c, px_rng *r);

/* people_make.c: original number idx (0-based) of a data set of about
 * originals people (sizes the unique ids). */
void px_people_make(px_people_rec *p, uint64_t seed, uint64_t idx, uint64_t originals);
/* Writes the phone of p in style (0..PX_PEOPLE_PHONE_STYLES-1) into out. */
#define PX_PEOPLE_PHONE_STYLES 4
void px_people_phone_format(uint64_t phone, int style, char *out, size_t n);

/* people_corrupt.c: duplicate dup of org; fills edits (1..PX_PEOPLE_MAX_EDITS
 * of them) and returns how many. */
int px_people_corrupt(const px_people_rec *org, uint64_t seed, uint64_t idx, uint64_t dup,
                      px_people_rec *out, px_people_edit edits[PX_PEOPLE_MAX_EDITS]);
const char *px_people_kind_name(px_pk k);
const char *px_people_field_name(int f);

#endif
