/* Original person records for px-gen-people: every field a pure function of
 * (seed, index). Ids, phones and e-mails are one-to-one functions of the
 * index, so no two people share one (up to 9,000,000 people for the 7-digit
 * id, 100,000,000 for phones). Values are lower case, as in the Febrl data. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "people.h"

/* Share of originals with the field left empty. */
static const double missing_rate[PX_PF_COUNT] = {
    [PX_PF_GIVEN] = 0.015, [PX_PF_SURNAME] = 0.008, [PX_PF_STREET_NUMBER] = 0.02, [PX_PF_ADDRESS_1] = 0.01,
    [PX_PF_SUBURB] = 0.01, [PX_PF_POSTCODE] = 0.005, [PX_PF_STATE] = 0.005,       [PX_PF_DOB] = 0.02,
    [PX_PF_SSID] = 0.015,  [PX_PF_PHONE] = 0.20,     [PX_PF_EMAIL] = 0.30,
};

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

void px_people_phone_format(uint64_t phone, int style, char *out, size_t n) {
  unsigned long long v = (unsigned long long)phone;
  if (v / 100000000ULL == 4) { /* mobile: 4xx xxx xxx */
    unsigned long long a = v / 1000000, b = v / 1000 % 1000, c = v % 1000;
    switch (style) {
    case 0: snprintf(out, n, "0%llu %03llu %03llu", a, b, c); break;
    case 1: snprintf(out, n, "0%llu", v); break;
    case 2: snprintf(out, n, "0%llu %04llu %04llu", v / 100000000, v / 10000 % 10000, v % 10000); break;
    default: snprintf(out, n, "+61 %llu %03llu %03llu", a, b, c); break;
    }
    return;
  }
  unsigned long long area = v / 100000000, hi = v / 10000 % 10000, lo = v % 10000;
  switch (style) {
  case 0: snprintf(out, n, "(0%llu) %04llu %04llu", area, hi, lo); break;
  case 1: snprintf(out, n, "0%llu", v); break;
  case 2: snprintf(out, n, "0%llu %04llu %04llu", area, hi, lo); break;
  default: snprintf(out, n, "+61 %llu %04llu %04llu", area, hi, lo); break;
  }
}

void px_people_make(px_people_rec *p, uint64_t seed, uint64_t idx, uint64_t originals) {
  memset(p, 0, sizeof *p);
  px_rng r = {px_mix64(seed ^ px_mix64(idx * 0x2545f4914f6cdd1dULL + 1))};
  uint64_t off = px_mix64(seed + 0x51ed) % 900000000ULL; /* small: the sums below never wrap */
  char(*f)[PX_PF_MAX] = p->f;

  snprintf(f[PX_PF_GIVEN], PX_PF_MAX, "%s", px_people_given(&r));
  px_people_surname(&r, f[PX_PF_SURNAME], PX_PF_MAX);

  double u = px_rng_unit(&r);
  snprintf(f[PX_PF_STREET_NUMBER], PX_PF_MAX, "%u", 1 + (unsigned)(300.0 * u * u * sqrt(u)));
  px_people_street(&r, f[PX_PF_ADDRESS_1], PX_PF_MAX);
  px_people_unit(&r, f[PX_PF_ADDRESS_2], PX_PF_MAX);
  p->state = px_people_state(&r);
  unsigned pc = px_people_postcode(p->state, &r);
  snprintf(f[PX_PF_POSTCODE], PX_PF_MAX, "%04u", pc);
  px_people_suburb(pc, &r, f[PX_PF_SUBURB], PX_PF_MAX);
  snprintf(f[PX_PF_STATE], PX_PF_MAX, "%s", px_people_state_code(p->state));

  int y = 1930 + (int)px_rng_below(&r, 78), m = 1 + (int)px_rng_below(&r, 12);
  int d = 1 + (int)px_rng_below(&r, (uint64_t)days_in_month(y, m));
  snprintf(f[PX_PF_DOB], PX_PF_MAX, "%04d%02d%02d", y, m, d);

  /* 2,654,435,761 and 5,039,747 are coprime to 10 and 3, so these are
   * one-to-one below 9,000,000 and 10^8. */
  snprintf(f[PX_PF_SSID], PX_PF_MAX, "%llu", 1000000ULL + (idx * 5039747ULL + off) % 9000000ULL);
  uint64_t line = (idx * 2654435761ULL + off) % 100000000ULL;
  if (px_rng_chance(&r, 0.65)) p->phone = 400000000ULL + line;
  else p->phone = (uint64_t)px_people_area_code(p->state) * 100000000ULL + line;
  double s = px_rng_unit(&r);
  p->phone_style = s < 0.45 ? 0 : s < 0.80 ? 1 : 2;
  px_people_phone_format(p->phone, p->phone_style, f[PX_PF_PHONE], PX_PF_MAX);

  /* The e-mail ends in a number that is one-to-one in idx below the next
   * power of ten at or above the number of originals: unique per person. */
  uint64_t mod = 1000;
  while (mod < originals) mod *= 10;
  unsigned long long num = (idx * 2654435761ULL + off) % mod;
  const char *g = f[PX_PF_GIVEN], *sn = f[PX_PF_SURNAME], *dom = px_people_domain(&r);
  char sn_letters[PX_PF_MAX];
  size_t k = 0;
  for (const char *c = sn; *c; c++)
    if (*c >= 'a' && *c <= 'z') sn_letters[k++] = *c;
  sn_letters[k] = '\0';
  /* Name parts are at most 24 letters here, so the e-mail fits. */
  char *e = f[PX_PF_EMAIL];
  switch (px_rng_below(&r, 5)) {
  case 0: snprintf(e, PX_PF_MAX, "%.24s.%.24s%llu@%.20s", g, sn_letters, num, dom); break;
  case 1: snprintf(e, PX_PF_MAX, "%c%.24s%llu@%.20s", g[0], sn_letters, num, dom); break;
  case 2: snprintf(e, PX_PF_MAX, "%.24s_%.24s%llu@%.20s", g, sn_letters, num, dom); break;
  case 3: snprintf(e, PX_PF_MAX, "%.24s.%.24s%llu@%.20s", sn_letters, g, num, dom); break;
  default: snprintf(e, PX_PF_MAX, "%.24s%llu@%.20s", g, num, dom); break;
  }

  for (int i = 0; i < PX_PF_COUNT; i++)
    if (missing_rate[i] > 0 && px_rng_chance(&r, missing_rate[i])) f[i][0] = '\0';
  if (!f[PX_PF_PHONE][0]) p->phone = 0;
}
