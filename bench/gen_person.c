#include "gen_person.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const first_names[] = {
    "James", "Mary", "Oliver", "Olivia", "Noah", "Amelia", "Liam", "Emma", "Mohammed", "Aisha",
    "Wei", "Mei", "Carlos", "Sofia", "Lucas", "Isla", "Jack", "Grace", "Ethan", "Chloe",
    "Arjun", "Priya", "Daniel", "Hannah", "Kenji", "Yuki", "Mateo", "Valentina", "Samuel", "Zoe",
    "David", "Sarah", "Thomas", "Emily", "Joseph", "Anna", "Michael", "Laura", "Connor", "Niamh"};

static const char *const last_names[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Taylor", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Khan", "Patel", "Singh",
    "Nguyen", "Chen", "Wang", "Kim", "Tanaka", "Murphy", "O'Brien", "Kowalski", "Novak", "Silva",
    "Okafor", "Mensah", "Cohen", "Muller", "Rossi", "Dubois", "Hughes", "Clarke", "Lewis", "Young"};

static const char *const domains[] = {"gmail.com",   "yahoo.com",   "outlook.com", "hotmail.com",
                                      "icloud.com",  "aol.com",     "proton.me",   "gmx.com",
                                      "hotmail.co.uk", "btinternet.com", "yahoo.co.uk", "mail.com"};

static const char *const us_cities[] = {"New York", "Los Angeles", "Chicago", "Houston", "Phoenix",
                                        "Philadelphia", "San Antonio", "San Diego", "Dallas", "Austin",
                                        "Seattle", "Denver", "Boston", "Portland", "Atlanta", "Miami"};
static const char *const uk_cities[] = {"London", "Manchester", "Birmingham", "Leeds", "Glasgow",
                                        "Liverpool", "Bristol", "Edinburgh", "Cardiff", "Belfast"};

static const char *const plans[] = {"free", "free", "free", "basic", "basic", "pro", "pro", "enterprise"};

static const char *const company_words[] = {"Northwind", "Contoso", "Initech", "Globex", "Umbrella",
                                            "Stark", "Wayne", "Acme", "Hooli", "Vandelay",
                                            "Soylent", "Tyrell", "Wonka", "Cyberdyne", "Gringotts"};
static const char *const company_suffixes[] = {"Ltd", "Inc", "LLC", "Group", "Holdings", "Partners"};
static const char *const industries[] = {"Retail", "Software", "Manufacturing", "Healthcare", "Finance",
                                         "Logistics", "Hospitality", "Education"};

static const char *pick(px_rng *r, const char *const *list, size_t n) { return list[px_rng_below(r, n)]; }

static void lower_letters(char *dst, size_t n, const char *src) {
  size_t o = 0;
  for (; *src && o + 1 < n; src++)
    if (isalpha((unsigned char)*src)) dst[o++] = (char)tolower((unsigned char)*src);
  dst[o] = '\0';
}

void px_person_make(px_person *p, uint64_t seed, uint64_t idx, uint64_t companies) {
  memset(p, 0, sizeof *p);
  px_rng r = {px_mix64(seed ^ px_mix64(idx * 0x2545f4914f6cdd1dULL + 1))};
  p->idx = idx;
  snprintf(p->user_id, sizeof p->user_id, "u%llu", (unsigned long long)idx);
  p->first = pick(&r, first_names, COUNT(first_names));
  p->last = pick(&r, last_names, COUNT(last_names));
  p->uk = px_rng_chance(&r, 0.3);
  p->known = px_rng_chance(&r, 0.7);
  double d = px_rng_unit(&r);
  p->devices = d < 0.5 ? 1 : d < 0.85 ? 2 : 3;
  for (int i = 0; i < p->devices; i++)
    if (px_rng_chance(&r, 0.35)) p->mobile_mask |= 1u << i;
  p->company = companies && px_rng_chance(&r, 0.25) ? (int64_t)px_rng_below(&r, companies) : -1;
  p->city = p->uk ? pick(&r, uk_cities, COUNT(uk_cities)) : pick(&r, us_cities, COUNT(us_cities));
  p->plan = pick(&r, plans, COUNT(plans));
  p->signup_days_ago = (int)px_rng_below(&r, 1500);

  /* E-mails end in the person's index, so no two people share one. */
  char f[32], l[32], dom[64];
  lower_letters(f, sizeof f, p->first);
  lower_letters(l, sizeof l, p->last);
  if (p->company >= 0) {
    char w[32];
    lower_letters(w, sizeof w, company_words[p->company % (int64_t)COUNT(company_words)]);
    snprintf(dom, sizeof dom, "%s%lld.com", w, (long long)p->company);
  } else {
    snprintf(dom, sizeof dom, "%s", pick(&r, domains, COUNT(domains)));
  }
  unsigned long long n = (unsigned long long)idx;
  switch (px_rng_below(&r, 4)) {
  case 0: snprintf(p->email, sizeof p->email, "%s.%s%llu@%s", f, l, n, dom); break;
  case 1: snprintf(p->email, sizeof p->email, "%c%s%llu@%s", f[0], l, n, dom); break;
  case 2: snprintf(p->email, sizeof p->email, "%s_%llu@%s", f, n, dom); break;
  default: snprintf(p->email, sizeof p->email, "%s%s.%llu@%s", f, l, n, dom); break;
  }
  /* Distinct numbers: multiplying by the prime 2654435761 is one-to-one
   * modulo 10^9 and 8 * 10^9, so no two people share a phone. */
  if (px_rng_chance(&r, 0.6))
    p->phone = p->uk ? 7000000000ULL + (idx * 2654435761ULL) % 1000000000ULL
                     : 2000000000ULL + (idx * 2654435761ULL) % 8000000000ULL;
}

void px_uuid_format(uint64_t hi, uint64_t lo, char out[37]) {
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                         /* version 4 */
  lo = (lo & ~(3ULL << 62)) | (2ULL << 62);                   /* RFC 4122 variant */
  snprintf(out, 37, "%08llx-%04llx-%04llx-%04llx-%012llx", (unsigned long long)(hi >> 32),
           (unsigned long long)((hi >> 16) & 0xffff), (unsigned long long)(hi & 0xffff),
           (unsigned long long)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffULL));
}

void px_person_anon_id(const px_person *p, uint64_t seed, int device, char out[37]) {
  uint64_t h = px_mix64(seed ^ 0xa11cef00dULL ^ px_mix64(p->idx * 8 + (uint64_t)device));
  px_uuid_format(h, px_mix64(h), out);
}

void px_person_email_variant(const px_person *p, px_rng *r, char *out, size_t n) {
  char e[192];
  snprintf(e, sizeof e, "%s", p->email);
  double c = px_rng_unit(r);
  char *at = strchr(e, '@');
  if (c < 0.55) {
    /* as is */
  } else if (c < 0.75) { /* Capitalized words: John.Smith12@Gmail.com */
    int start = 1;
    for (char *s = e; *s; s++) {
      if (start && isalpha((unsigned char)*s)) *s = (char)toupper((unsigned char)*s);
      start = !isalpha((unsigned char)*s);
    }
  } else if (c < 0.85) {
    for (char *s = e; *s; s++) *s = (char)toupper((unsigned char)*s);
  } else if (at) { /* upper-case domain only */
    for (char *s = at; *s; s++) *s = (char)toupper((unsigned char)*s);
  }
  double w = px_rng_unit(r);
  const char *pre = w < 0.06 ? " " : w < 0.08 ? "\t" : "";
  const char *post = w > 0.92 ? " " : w > 0.90 ? "  " : "";
  snprintf(out, n, "%s%s%s", pre, e, post);
}

void px_person_phone_variant(const px_person *p, px_rng *r, char *out, size_t n) {
  unsigned long long v = (unsigned long long)p->phone;
  if (p->uk) { /* 7xxx xxxxxx */
    unsigned long long a = v / 1000000, b = v % 1000000;
    switch (px_rng_below(r, 6)) {
    case 0: snprintf(out, n, "+44 %llu %06llu", a, b); break;
    case 1: snprintf(out, n, "0%llu %06llu", a, b); break;
    case 2: snprintf(out, n, "+44%llu", v); break;
    case 3: snprintf(out, n, "0%llu", v); break;
    case 4: snprintf(out, n, "(0%llu) %03llu %03llu", a, b / 1000, b % 1000); break;
    default: snprintf(out, n, "0044 %llu %06llu", a, b); break;
    }
    return;
  }
  unsigned long long area = v / 10000000, ex = v / 10000 % 1000, line = v % 10000;
  switch (px_rng_below(r, 7)) {
  case 0: snprintf(out, n, "+1 %llu %03llu %04llu", area, ex, line); break;
  case 1: snprintf(out, n, "(%llu) %03llu-%04llu", area, ex, line); break;
  case 2: snprintf(out, n, "%llu-%03llu-%04llu", area, ex, line); break;
  case 3: snprintf(out, n, "%llu.%03llu.%04llu", area, ex, line); break;
  case 4: snprintf(out, n, "+1%llu", v); break;
  case 5: snprintf(out, n, "1-%llu-%03llu-%04llu", area, ex, line); break;
  default: snprintf(out, n, "%llu", v); break;
  }
}

void px_company_name(int64_t company, char *out, size_t n) {
  uint64_t c = (uint64_t)company;
  snprintf(out, n, "%s %s %llu", company_words[c % COUNT(company_words)],
           company_suffixes[(c / COUNT(company_words)) % COUNT(company_suffixes)], (unsigned long long)c);
}

const char *px_company_industry(int64_t company) {
  return industries[px_mix64((uint64_t)company) % COUNT(industries)];
}
