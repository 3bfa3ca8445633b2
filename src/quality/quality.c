#include "quality/quality.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SAMPLE_BYTES 64  /* of a value kept to show it */
#define PATTERN_CHARS 40 /* of a pattern; longer ones end in "..." */

typedef struct entry {
  uint64_t hash; /* 0: empty */
  uint64_t count;
  uint32_t off, len; /* the sample, in the counter's pool */
} entry;

/* Counts of distinct strings, by 64-bit hash, with a sample of each. */
typedef struct counter {
  entry *slots;
  size_t cap, used;
  px_buf pool;
  int capped; /* new values were no longer tracked */
} counter;

typedef struct column {
  char *name;
  uint64_t filled, invalid;
  uint64_t last; /* the record that last filled it: a record with several values counts once */
  counter values, patterns;
  counter keys; /* values trimmed and ASCII-lower-cased, for overlaps between files */
  const px_map_field *rule; /* with a mapping */
} column;

struct px_quality {
  column *cols;
  size_t ncols, colcap;
  uint32_t *index; /* column names by hash: slot -> column + 1 (0: empty) */
  size_t index_cap;
  int columns_capped; /* px_quality_column refused a new column */
  const char *unit;   /* what a record is ("rows", "events"): static */
  int keys; /* keep the key sets (for overlaps between files) */
  uint64_t rows, bad;
  const px_mapping *m;
  px_buf v; /* scratch */
};

static int counter_grow(counter *c) {
  size_t cap = c->cap ? c->cap * 2 : 1024;
  entry *slots = calloc(cap, sizeof *slots);
  if (!slots) return 0;
  for (size_t i = 0; i < c->cap; i++) {
    if (!c->slots[i].hash) continue;
    size_t j = c->slots[i].hash & (cap - 1);
    while (slots[j].hash) j = (j + 1) & (cap - 1);
    slots[j] = c->slots[i];
  }
  free(c->slots);
  c->slots = slots;
  c->cap = cap;
  return 1;
}

static void counter_add(counter *c, const char *s, size_t n) {
  int full = c->used >= PX_QUALITY_MAX_DISTINCT;
  if (!full && c->used * 10 >= c->cap * 7 && !counter_grow(c)) full = 1;
  if (!c->cap) { /* out of memory before the first value */
    c->capped = 1;
    return;
  }
  uint64_t h = XXH3_64bits(s, n) | 1;
  size_t i = h & (c->cap - 1);
  for (; c->slots[i].hash; i = (i + 1) & (c->cap - 1))
    if (c->slots[i].hash == h) {
      c->slots[i].count++;
      return;
    }
  if (full) { /* only values already seen are counted: distinct is a lower bound */
    c->capped = 1;
    return;
  }
  size_t keep = n < SAMPLE_BYTES ? n : SAMPLE_BYTES;
  while (keep < n && keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80) keep--; /* whole characters */
  c->slots[i] = (entry){h, 1, (uint32_t)c->pool.len, (uint32_t)keep};
  px_buf_append(&c->pool, s, keep);
  c->used++;
}

/* "John Smith 42" -> "Aaaa Aaaaa 99": letters by case, digits as 9, the
 * rest as it is; a non-ASCII character counts as a letter. */
static size_t pattern(const char *s, size_t n, char *out) {
  size_t k = 0;
  for (size_t i = 0; i < n && k < PATTERN_CHARS; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x80) {
      if ((ch & 0xc0) != 0x80) out[k++] = 'a';
      continue;
    }
    out[k++] = isupper(ch) ? 'A' : islower(ch) ? 'a' : isdigit(ch) ? '9' : (char)ch;
  }
  if (k == PATTERN_CHARS) memcpy(out + k, "...", 3), k += 3;
  return k;
}

/* ---- columns, by name ---- */

static uint64_t name_hash(const char *s, size_t n) { return XXH3_64bits(s, n); }

/* The index slot of name: its column's, or the empty one it would take. */
static size_t index_slot(const px_quality *q, const char *s, size_t n) {
  size_t i = name_hash(s, n) & (q->index_cap - 1);
  for (; q->index[i]; i = (i + 1) & (q->index_cap - 1)) {
    const char *name = q->cols[q->index[i] - 1].name;
    if (strlen(name) == n && memcmp(name, s, n) == 0) break;
  }
  return i;
}

/* Indexes every column (the first of equal names wins), in a table at
 * most half full for the columns there can be. */
static int index_build(px_quality *q) {
  size_t want = 64, most = q->ncols > PX_QUALITY_MAX_COLUMNS ? q->ncols : PX_QUALITY_MAX_COLUMNS;
  while (want < 2 * most) want *= 2;
  uint32_t *index = calloc(want, sizeof *index);
  if (!index) return 0;
  free(q->index);
  q->index = index;
  q->index_cap = want;
  for (size_t c = 0; c < q->ncols; c++) {
    size_t i = index_slot(q, q->cols[c].name, strlen(q->cols[c].name));
    if (!q->index[i]) q->index[i] = (uint32_t)c + 1;
  }
  return 1;
}

/* Appends a column (no values yet); 0 when out of memory. */
static int column_append(px_quality *q, const char *s, size_t n) {
  if (q->ncols == q->colcap) {
    size_t cap = q->colcap ? q->colcap * 2 : 16;
    column *cols = realloc(q->cols, cap * sizeof *cols);
    if (!cols) return 0;
    q->cols = cols;
    q->colcap = cap;
  }
  column *c = &q->cols[q->ncols];
  memset(c, 0, sizeof *c);
  if (!(c->name = malloc(n + 1))) return 0;
  memcpy(c->name, s, n);
  c->name[n] = 0;
  px_buf_init(&c->values.pool, 0);
  px_buf_init(&c->patterns.pool, 0);
  px_buf_init(&c->keys.pool, 0);
  q->ncols++;
  return 1;
}

px_quality *px_quality_create(const px_csv_field *columns, size_t ncolumns, const px_mapping *m, int keys) {
  px_quality *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->keys = keys;
  q->m = m;
  q->unit = "rows";
  px_buf_init(&q->v, 0);
  for (size_t i = 0; i < ncolumns; i++) {
    if (!column_append(q, columns[i].s, columns[i].n)) goto fail;
    column *c = &q->cols[i];
    if (!counter_grow(&c->values) || !counter_grow(&c->patterns) || (keys && !counter_grow(&c->keys))) goto fail;
  }
  if (!index_build(q)) goto fail;
  for (int i = 0; m && i < m->nfields; i++)
    if (m->fields[i].index >= 0 && (size_t)m->fields[i].index < ncolumns && !q->cols[m->fields[i].index].rule)
      q->cols[m->fields[i].index].rule = &m->fields[i];
  return q;
fail:
  px_quality_destroy(q);
  return NULL;
}

void px_quality_destroy(px_quality *q) {
  if (!q) return;
  for (size_t i = 0; i < q->ncols; i++) {
    free(q->cols[i].name);
    free(q->cols[i].values.slots);
    free(q->cols[i].patterns.slots);
    free(q->cols[i].keys.slots);
    px_buf_free(&q->cols[i].values.pool);
    px_buf_free(&q->cols[i].patterns.pool);
    px_buf_free(&q->cols[i].keys.pool);
  }
  free(q->cols);
  free(q->index);
  px_buf_free(&q->v);
  free(q);
}

void px_quality_set_unit(px_quality *q, const char *unit) { q->unit = unit; }

long px_quality_column(px_quality *q, const char *name, size_t n) {
  size_t i = index_slot(q, name, n);
  if (q->index[i]) return (long)q->index[i] - 1;
  if (q->ncols >= PX_QUALITY_MAX_COLUMNS || !column_append(q, name, n)) {
    q->columns_capped = 1;
    return -1;
  }
  q->index[i] = (uint32_t)q->ncols;
  return (long)q->ncols - 1;
}

static int by_name(const void *x, const void *y) {
  return strcmp(((const column *)x)->name, ((const column *)y)->name);
}

px_status px_quality_sort_columns(px_quality *q, size_t from) {
  if (from < q->ncols) qsort(q->cols + from, q->ncols - from, sizeof *q->cols, by_name);
  return index_build(q) ? PX_OK : PX_NOMEM;
}

void px_quality_bad_record(px_quality *q) { q->bad++; }

void px_quality_begin(px_quality *q) { q->rows++; }

/* Counts one value of column c of the current record; 0 when it is blank. */
static int count_value(px_quality *q, column *c, const char *s, size_t len) {
  while (len && isspace((unsigned char)*s)) s++, len--;
  while (len && isspace((unsigned char)s[len - 1])) len--;
  if (!len) return 0;
  if (c->last != q->rows) c->filled++, c->last = q->rows;
  counter_add(&c->values, s, len);
  char pat[PATTERN_CHARS + 3];
  counter_add(&c->patterns, pat, pattern(s, len, pat));
  if (q->keys) {
    char key[256];
    size_t kn = len < sizeof key ? len : sizeof key;
    for (size_t k = 0; k < kn; k++) key[k] = (char)tolower((unsigned char)s[k]);
    counter_add(&c->keys, key, kn);
  }
  return 1;
}

void px_quality_value(px_quality *q, size_t col, const char *s, size_t n) {
  if (col < q->ncols && q->rows) count_value(q, &q->cols[col], s, n);
}

px_status px_quality_add(px_quality *q, const px_csv_field *fields, size_t n) {
  q->rows++;
  for (size_t i = 0; i < n && i < q->ncols; i++) {
    column *c = &q->cols[i];
    if (!count_value(q, c, fields[i].s, fields[i].n)) continue;
    px_error err;
    if (c->rule && px_mapping_value(q->m, c->rule, &fields[i], &q->v, &err) == PX_INVALID) c->invalid++;
  }
  return PX_OK;
}

/* The k most frequent entries (ties: first seen), into top (k slots). */
static size_t top(const counter *c, const entry **out, size_t k) {
  size_t n = 0;
  for (size_t i = 0; i < c->cap; i++) {
    const entry *e = &c->slots[i];
    if (!e->hash) continue;
    size_t j = n < k ? n++ : k;
    if (j == k && e->count <= out[k - 1]->count) continue;
    if (j == k) j = k - 1;
    while (j > 0 && out[j - 1]->count < e->count) out[j] = out[j - 1], j--;
    out[j] = e;
  }
  return n;
}

static void json_list(px_buf *o, const counter *c, const char *key) {
  const entry *t[PX_QUALITY_TOP];
  size_t n = top(c, t, PX_QUALITY_TOP);
  px_buf_puts(o, "[");
  for (size_t i = 0; i < n; i++) {
    px_buf_printf(o, "%s{\"%s\":", i ? "," : "", key);
    px_buf_json_str(o, c->pool.data + t[i]->off, t[i]->len);
    px_buf_printf(o, ",\"count\":%llu}", (unsigned long long)t[i]->count);
  }
  px_buf_puts(o, "]");
}

static const char *rule_name(const px_map_field *f) {
  static const char *const std[] = {"none", "trim", "text", "lower", "email", "postcode", "date", "iso"};
  return f->type == PX_MAP_NUMBER ? "number" : f->type == PX_MAP_BOOLEAN ? "boolean" : std[f->std];
}

px_status px_quality_json(const px_quality *q, px_buf *o) {
  px_buf_printf(o, "{\"%s\":%llu,\"bad_records\":%llu,\"columns_capped\":%s,\"columns\":[", q->unit,
                (unsigned long long)q->rows, (unsigned long long)q->bad, q->columns_capped ? "true" : "false");
  for (size_t i = 0; i < q->ncols; i++) {
    const column *c = &q->cols[i];
    px_buf_puts(o, i ? ",{\"name\":" : "{\"name\":");
    px_buf_json_str(o, c->name, strlen(c->name));
    px_buf_printf(o, ",\"filled\":%llu,\"fill_rate\":%.4f,\"distinct\":%zu,\"distinct_capped\":%s,\"top\":",
                  (unsigned long long)c->filled, q->rows ? (double)c->filled / (double)q->rows : 0.0,
                  c->values.used, c->values.capped ? "true" : "false");
    json_list(o, &c->values, "value");
    px_buf_puts(o, ",\"patterns\":");
    json_list(o, &c->patterns, "pattern");
    px_buf_puts(o, ",\"invalid\":[");
    if (c->rule)
      px_buf_printf(o, "{\"rule\":\"%s\",\"count\":%llu}", rule_name(c->rule), (unsigned long long)c->invalid);
    px_buf_puts(o, "]}");
  }
  return px_buf_puts(o, "]}");
}

static void text_list(px_buf *o, const counter *c) {
  const entry *t[3];
  size_t n = top(c, t, 3);
  for (size_t i = 0; i < n; i++)
    px_buf_printf(o, "%s%.*s (%llu)", i ? ", " : "", (int)(t[i]->len > 20 ? 20 : t[i]->len), c->pool.data + t[i]->off,
                  (unsigned long long)t[i]->count);
}

px_status px_quality_text(const px_quality *q, px_buf *o) {
  px_buf_printf(o, "%llu %s, %llu bad records\n", (unsigned long long)q->rows, q->unit, (unsigned long long)q->bad);
  if (q->columns_capped)
    px_buf_printf(o, "more than %d fields: only the first %zu found are listed\n", PX_QUALITY_MAX_COLUMNS, q->ncols);
  px_buf_putc(o, '\n');
  for (size_t i = 0; i < q->ncols; i++) {
    const column *c = &q->cols[i];
    px_buf_printf(o, "%s\n  filled   %llu (%.1f%%)   distinct %s%zu", c->name, (unsigned long long)c->filled,
                  q->rows ? 100.0 * (double)c->filled / (double)q->rows : 0.0, c->values.capped ? ">" : "",
                  c->values.used);
    if (c->rule) px_buf_printf(o, "   invalid (%s) %llu", rule_name(c->rule), (unsigned long long)c->invalid);
    px_buf_puts(o, "\n  top      ");
    text_list(o, &c->values);
    px_buf_puts(o, "\n  patterns ");
    text_list(o, &c->patterns);
    px_buf_puts(o, "\n");
  }
  return PX_OK;
}

/* ---- overlaps between files ---- */

static int has(const counter *c, uint64_t h) {
  for (size_t i = h & (c->cap - 1); c->slots[i].hash; i = (i + 1) & (c->cap - 1))
    if (c->slots[i].hash == h) return 1;
  return 0;
}

typedef struct overlap {
  size_t fa, ca, fb, cb;
  size_t shared, na, nb;
  double containment, jaccard;
} overlap;

static int by_containment(const void *x, const void *y) {
  const overlap *a = x, *b = y;
  if (a->containment != b->containment) return a->containment < b->containment ? 1 : -1;
  return (a->shared < b->shared) - (a->shared > b->shared);
}

px_status px_quality_overlaps(const px_quality *const *qs, const char *const *files, size_t nfiles, int text,
                              px_buf *o) {
  overlap *list = NULL;
  size_t n = 0, cap = 0;
  for (size_t fa = 0; fa < nfiles; fa++)
    for (size_t fb = fa + 1; fb < nfiles; fb++)
      for (size_t ca = 0; ca < qs[fa]->ncols; ca++)
        for (size_t cb = 0; cb < qs[fb]->ncols; cb++) {
          const counter *a = &qs[fa]->cols[ca].keys, *b = &qs[fb]->cols[cb].keys;
          if (!a->cap || !b->cap || a->used < PX_QUALITY_MIN_KEYS || b->used < PX_QUALITY_MIN_KEYS) continue;
          const counter *small = a->used <= b->used ? a : b, *large = small == a ? b : a;
          size_t shared = 0;
          for (size_t i = 0; i < small->cap; i++) shared += small->slots[i].hash && has(large, small->slots[i].hash);
          double containment = (double)shared / (double)small->used;
          if (shared < PX_QUALITY_MIN_KEYS || containment < 0.2) continue;
          if (n == cap) {
            overlap *l = realloc(list, (cap = cap ? cap * 2 : 16) * sizeof *l);
            if (!l) {
              free(list);
              return PX_NOMEM;
            }
            list = l;
          }
          list[n++] = (overlap){fa, ca, fb, cb, shared, a->used, b->used, containment,
                                (double)shared / (double)(a->used + b->used - shared)};
        }
  if (n) qsort(list, n, sizeof *list, by_containment);
  if (text) {
    for (size_t i = 0; i < n && i < 20; i++) {
      const overlap *v = &list[i];
      px_buf_printf(o, "  %s:%s ~ %s:%s  %zu shared, %.0f%% of the smaller\n", files[v->fa],
                    qs[v->fa]->cols[v->ca].name, files[v->fb], qs[v->fb]->cols[v->cb].name, v->shared,
                    100.0 * v->containment);
    }
    free(list);
    return n ? PX_OK : px_buf_puts(o, "  none\n");
  }
  px_buf_puts(o, "[");
  for (size_t i = 0; i < n && i < 20; i++) {
    const overlap *v = &list[i];
    px_buf_puts(o, i ? ",{\"a\":{\"file\":" : "{\"a\":{\"file\":");
    px_buf_json_str(o, files[v->fa], strlen(files[v->fa]));
    px_buf_puts(o, ",\"column\":");
    px_buf_json_str(o, qs[v->fa]->cols[v->ca].name, strlen(qs[v->fa]->cols[v->ca].name));
    px_buf_printf(o, ",\"distinct\":%zu},\"b\":{\"file\":", v->na);
    px_buf_json_str(o, files[v->fb], strlen(files[v->fb]));
    px_buf_puts(o, ",\"column\":");
    px_buf_json_str(o, qs[v->fb]->cols[v->cb].name, strlen(qs[v->fb]->cols[v->cb].name));
    px_buf_printf(o, ",\"distinct\":%zu},\"shared\":%zu,\"containment\":%.4f,\"jaccard\":%.4f}", v->nb, v->shared,
                  v->containment, v->jaccard);
  }
  free(list);
  return px_buf_puts(o, "]");
}
