#include "match/records.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* px_std_text for pure ASCII, without the Unicode tables: NFKC leaves
 * ASCII alone, folding lowers it, and every byte that is not a letter or a
 * digit is space, punctuation, a symbol or a control character, all of
 * which become one space between words. Same output, many times faster. */
static void text(const char *in, size_t n, px_buf *out) {
  size_t i = 0;
  while (i < n && !((unsigned char)in[i] & 0x80)) i++;
  if (i < n) {
    px_buf tmp;
    px_buf_init(&tmp, 0);
    if (px_std_text(in, n, PX_STD_TEXT, &tmp) == PX_OK && tmp.len) px_buf_append(out, tmp.data, tmp.len);
    px_buf_free(&tmp);
    return;
  }
  int pending = 0, any = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (!isalnum(c)) {
      pending = any;
      continue;
    }
    if (pending) px_buf_putc(out, ' ');
    px_buf_putc(out, (char)tolower(c));
    pending = 0;
    any = 1;
  }
}

static const char *const titles[] = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", NULL};

/* A name part: text without leading titles ("dr ann" -> "ann"). */
static void name(const char *in, size_t n, px_buf *out) {
  size_t start = out->len;
  text(in, n, out);
  for (;;) {
    char *w = out->data ? out->data + start : NULL;
    size_t len = out->len - start;
    char *sp = w ? memchr(w, ' ', len) : NULL;
    if (!sp) return;
    size_t wn = (size_t)(sp - w);
    int title = 0;
    for (int t = 0; titles[t] && !title; t++) title = strlen(titles[t]) == wn && memcmp(w, titles[t], wn) == 0;
    if (!title) return;
    memmove(w, sp + 1, len - wn - 1);
    out->len -= wn + 1;
    out->data[out->len] = 0;
  }
}

/* A date that does not exist but has the eight digits of one (19081290:
 * a transposition) is kept as typed, in the YYYY-MM-DD layout, so an edit
 * distance still sees how close it is to the real one. */
static void date(const px_match_field *f, const char *in, size_t n, px_buf *out) {
  char iso[11], d[8];
  if (px_std_date(in, n, f->date_order, iso) == PX_OK) {
    px_buf_append(out, iso, 10);
    return;
  }
  size_t nd = 0;
  for (size_t i = 0; i < n; i++) {
    if (isdigit((unsigned char)in[i])) {
      if (nd == 8) return;
      d[nd++] = in[i];
    } else if (!strchr(" -/.", in[i])) {
      return;
    }
  }
  if (nd != 8) return;
  int ymd = (d[0] == '1' && d[1] == '9') || (d[0] == '2' && d[1] == '0');
  if (ymd) snprintf(iso, sizeof iso, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
  else if (f->date_order == PX_DATE_MDY) snprintf(iso, sizeof iso, "%.4s-%.2s-%.2s", d + 4, d, d + 2);
  else snprintf(iso, sizeof iso, "%.4s-%.2s-%.2s", d + 4, d + 2, d);
  px_buf_append(out, iso, 10);
}

void px_match_standardize(const px_match_field *f, const char *in, size_t n, px_buf *out) {
  if (!in || !n) return;
  size_t start = out->len;
  switch (f->type) {
    case PX_MT_NAME: name(in, n, out); break;
    case PX_MT_EMAIL:
      if (px_std_email(in, n, out) != PX_OK) out->len = start;
      break;
    case PX_MT_PHONE:
      if (px_std_phone(in, n, f->country_code, out) != PX_OK) out->len = start;
      break;
    case PX_MT_DATE: date(f, in, n, out); break;
    case PX_MT_POSTCODE:
      if (px_std_postcode(in, n, out) != PX_OK) out->len = start;
      break;
    case PX_MT_ID:
      for (size_t i = 0; i < n; i++)
        if (isalnum((unsigned char)in[i])) px_buf_putc(out, (char)tolower((unsigned char)in[i]));
      break;
    case PX_MT_NUMBER: {
      char buf[64], *end;
      if (n >= sizeof buf) break;
      memcpy(buf, in, n);
      buf[n] = 0;
      double x = strtod(buf, &end);
      while (*end == ' ') end++;
      if (end != buf && !*end && isfinite(x)) px_buf_printf(out, "%.15g", x);
      break;
    }
    default: text(in, n, out); break;
  }
  if (out->len - start > PX_MATCH_VALUE_MAX) {
    size_t cut = start + PX_MATCH_VALUE_MAX;
    while (cut > start && ((unsigned char)out->data[cut] & 0xC0) == 0x80) cut--;
    out->len = cut;
  }
  if (out->data) out->data[out->len] = 0;
}

/* ---- term frequencies: value counts in an open-addressing table ---- */

typedef struct slot {
  uint64_t hash; /* 0: empty */
  uint32_t count;
} slot;

static px_status count_values(px_match_records *r, int f) {
  size_t cap = 16;
  while (cap < r->n * 2) cap *= 2;
  slot *t = calloc(cap, sizeof *t);
  if (!t) return PX_NOMEM;
  uint64_t *h = malloc((r->n ? r->n : 1) * sizeof *h);
  if (!h) {
    free(t);
    return PX_NOMEM;
  }
  size_t F = (size_t)r->nfields;
  for (size_t i = 0; i < r->n; i++) {
    h[i] = 0;
    if (!r->len[i * F + f]) continue;
    h[i] = XXH3_64bits(r->v[i * F + f], r->len[i * F + f]) | 1;
    size_t k = h[i] & (cap - 1);
    while (t[k].hash && t[k].hash != h[i]) k = (k + 1) & (cap - 1);
    t[k].hash = h[i];
    t[k].count++;
    r->filled[f]++;
  }
  for (size_t i = 0; i < r->n; i++) {
    if (!h[i]) continue;
    size_t k = h[i] & (cap - 1);
    while (t[k].hash != h[i]) k = (k + 1) & (cap - 1);
    r->count[i * F + f] = t[k].count;
  }
  free(h);
  free(t);
  return PX_OK;
}

px_status px_match_records_build(const px_match_config *cfg, const char *const *raw, size_t n,
                                 px_match_records *out) {
  memset(out, 0, sizeof *out);
  size_t F = (size_t)cfg->nfields, cells = n * F;
  px_buf buf;
  px_buf_init(&buf, 0);
  out->n = n;
  out->nfields = cfg->nfields;
  out->v = malloc((cells ? cells : 1) * sizeof *out->v);
  out->len = malloc(cells ? cells : 1);
  int tf = 0;
  for (size_t f = 0; f < F; f++) tf |= cfg->fields[f].tf;
  if (tf) out->count = calloc(cells ? cells : 1, sizeof *out->count);
  px_status s = PX_NOMEM;
  if (!out->v || !out->len || (tf && !out->count) || px_buf_putc(&buf, 0) != PX_OK) goto out;
  for (size_t i = 0; i < n; i++) {
    for (size_t f = 0; f < F; f++) {
      const char *x = raw[i * F + f];
      size_t start = buf.len;
      px_match_standardize(&cfg->fields[f], x, x ? strlen(x) : 0, &buf);
      size_t len = buf.len - start;
      out->v[i * F + f] = (const char *)(uintptr_t)(len ? start : 0); /* an offset until the text stops moving */
      out->len[i * F + f] = (uint8_t)len;
      if (len && px_buf_putc(&buf, 0) != PX_OK) goto out;
    }
  }
  for (size_t c = 0; c < cells; c++) out->v[c] = buf.data + (uintptr_t)out->v[c];
  out->text = buf.data;
  buf.data = NULL;
  for (size_t f = 0; f < F; f++)
    if (cfg->fields[f].tf && (s = count_values(out, (int)f)) != PX_OK) goto out;
  s = PX_OK;
out:
  px_buf_free(&buf);
  if (s != PX_OK) px_match_records_free(out);
  return s;
}

void px_match_records_free(px_match_records *r) {
  if (!r) return;
  free(r->v);
  free(r->len);
  free(r->text);
  free(r->count);
  memset(r, 0, sizeof *r);
}

int px_match_field_levels(const px_match_field *f) { return px_cmp_levels(&f->cmp) + (f->swap_with >= 0); }

const char *px_match_level_name(const px_match_field *f, int level, char *buf, size_t n) {
  int swapped = 2 + f->cmp.nthresholds;
  if (f->swap_with >= 0 && level == swapped) return "swapped";
  if (f->swap_with >= 0 && level > swapped) return "different";
  return px_cmp_level_name(&f->cmp, level, buf, n);
}

/* Close enough to count as the same value: exact or within the first threshold. */
static int close_level(const px_cmp_field *c, int level) { return level == 1 || (level == 2 && c->nthresholds); }

void px_match_compare(const px_match_config *cfg, const px_match_records *r, size_t a, size_t b,
                      unsigned char *vec) {
  size_t F = (size_t)cfg->nfields;
  const char *const *va = r->v + a * F, *const *vb = r->v + b * F;
  const uint8_t *la = r->len + a * F, *lb = r->len + b * F;
  for (size_t f = 0; f < F; f++) {
    const px_match_field *fd = &cfg->fields[f];
    int level = px_cmp_level(&fd->cmp, va[f], la[f], vb[f], lb[f]);
    int g = fd->swap_with;
    if (g >= 0 && level > 1 + (fd->cmp.nthresholds > 0)) {
      int c1 = px_cmp_level(&fd->cmp, va[f], la[f], vb[g], lb[g]);
      int c2 = px_cmp_level(&fd->cmp, va[g], la[g], vb[f], lb[f]);
      int swapped = (close_level(&fd->cmp, c1) && (c2 == 0 || close_level(&fd->cmp, c2))) ||
                    (c1 == 0 && close_level(&fd->cmp, c2));
      int different = 2 + fd->cmp.nthresholds;
      if (swapped) level = different;
      else if (level == different) level = different + 1;
    }
    vec[f] = (unsigned char)level;
  }
}
