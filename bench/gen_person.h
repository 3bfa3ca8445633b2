/* Synthetic people for px-gen: every attribute is a pure function of
 * (seed, person index), so nothing per person needs to be stored. */
#ifndef PX_BENCH_GEN_PERSON_H
#define PX_BENCH_GEN_PERSON_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define PX_PERSON_MAX_DEVICES 3

typedef struct px_person {
  uint64_t idx;
  char user_id[24];      /* "u<idx>" */
  const char *first, *last;
  char email[192];       /* canonical form: lower case, no spaces */
  int uk;                /* 1: United Kingdom, 0: United States */
  uint64_t phone;        /* national significant number; 0 when the person gave none */
  int known;             /* 1 if the person ever signs up or logs in */
  int devices;           /* 1..PX_PERSON_MAX_DEVICES browsers or phones */
  unsigned mobile_mask;  /* bit d: device d is a mobile app, not a browser */
  int64_t company;       /* the B2B account (group) index, or -1 */
  const char *city, *plan;
  int signup_days_ago;   /* for created_at */
} px_person;

void px_person_make(px_person *p, uint64_t seed, uint64_t idx, uint64_t companies);

/* The anonymous id of one of the person's devices: a stable UUID. */
void px_person_anon_id(const px_person *p, uint64_t seed, int device, char out[37]);

/* The e-mail as a form might send it: random case and stray whitespace. */
void px_person_email_variant(const px_person *p, px_rng *r, char *out, size_t n);

/* The phone number in one of the formats people type. */
void px_person_phone_variant(const px_person *p, px_rng *r, char *out, size_t n);

/* A company (group) display name and its industry. */
void px_company_name(int64_t company, char *out, size_t n);
const char *px_company_industry(int64_t company);

/* UUID v4 text of a 128-bit value. */
void px_uuid_format(uint64_t hi, uint64_t lo, char out[37]);

#endif
