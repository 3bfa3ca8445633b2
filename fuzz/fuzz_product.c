/* Fuzz target: the product catalog's parsing (src/catalog/product.c) and
 * the product mapping's rows (src/mapping). The input is split at its first
 * 0x0A 0x00 pair, or else its first newline, into a product and a merge
 * patch. Checks:
 *   - a product either parses or is refused with a reason (and a field
 *     within the error's size); an accepted one has a usable id, canonical
 *     JSON within the size limit that reads back as exactly itself, with
 *     the same id and flags; with its own id as the path id it parses the
 *     same; the flag follows the stock state and quantity;
 *   - a merge patch on the accepted product (with an updated_at, as
 *     stored) is refused with a reason or gives a product whose id is the
 *     same and whose canonical form is stable, and the empty patch {}
 *     gives the product back unchanged;
 *   - the whole input, as slices, through a product mapping's row: the
 *     row is a JSON object; when the catalog refuses it, the error field
 *     maps to a column name or is kept as is;
 *   - the first part as a mapping: one that loads as a product mapping
 *     binds to its own columns, and its rows are JSON objects too. */
#include <cjson/cJSON.h>

#include "base/utf8.h"
#include "catalog/catalog.h"
#include "fuzz_common.h"
#include "mapping/mapping.h"

static const char *const mapping_json =
    "{\"type\":\"product\",\"product\":{\"id\":\"id\",\"name\":\"name\",\"category\":{\"column\":\"cat\","
    "\"separator\":\" > \"},\"price\":\"price\",\"currency\":\"cur\",\"stock\":\"stock\",\"quantity\":\"qty\"},"
    "\"attributes\":{\"colour\":\"colour\",\"size\":{\"column\":\"size\",\"type\":\"number\"},"
    "\"gift\":{\"column\":\"gift\",\"type\":\"boolean\"},\"brand\":{\"value\":\"Acme\"}}}";

/* Canonical JSON with an updated_at, as the catalog stores it. */
static char *stored_form(const px_product *p, size_t *n) {
  static const char at[] = ",\"updated_at\":\"2026-12-05T06:00:00.000Z\"}";
  char *s = malloc(p->json.len + sizeof at);
  if (!s) abort();
  memcpy(s, p->json.data, p->json.len - 1);
  memcpy(s + p->json.len - 1, at, sizeof at);
  *n = p->json.len - 1 + sizeof at - 1;
  return s;
}

static int expected_flags(const cJSON *j) {
  const char *stock = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "stock"));
  const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "quantity");
  int ok = stock && (!strcmp(stock, "in_stock") || !strcmp(stock, "preorder") || !strcmp(stock, "backorder"));
  return ok && (!q || q->valuedouble > 0) ? PX_PRODUCT_AVAILABLE : 0;
}

static void check_product(const char *text, size_t n, const char *patch, size_t pn) {
  px_product p, again;
  px_product_init(&p);
  px_product_init(&again);
  px_error err;
  px_error_clear(&err);
  px_status s = px_product_parse(text, n, NULL, 0, &p, &err);
  FUZZ_CHECK(s == PX_OK || s == PX_INVALID || s == PX_BAD_JSON || s == PX_BAD_UTF8 || s == PX_TOO_LARGE, "status %s",
             px_status_str(s));
  if (s != PX_OK) {
    FUZZ_CHECK(err.reason[0], "refused without a reason");
    FUZZ_CHECK(p.json.len == 0, "refused product left JSON behind");
    goto out;
  }
  FUZZ_CHECK(px_product_id_check(p.id, p.idn, NULL) == PX_OK && strlen(p.id) == p.idn, "accepted id unusable");
  FUZZ_CHECK(p.json.len + 41 <= PX_PRODUCT_MAX_BYTES, "canonical form of %zu bytes", p.json.len);
  /* Canonical: reads back as itself, with or without the path id. */
  FUZZ_CHECK(px_product_parse(p.json.data, p.json.len, NULL, 0, &again, &err) == PX_OK, "canonical refused: %s: %s",
             err.field, err.reason);
  FUZZ_CHECK(again.json.len == p.json.len && !memcmp(again.json.data, p.json.data, p.json.len),
             "not stable: %s -> %s", p.json.data, again.json.data);
  FUZZ_CHECK(again.flags == p.flags && again.idn == p.idn && !memcmp(again.id, p.id, p.idn), "id or flags changed");
  FUZZ_CHECK(px_product_parse(text, n, p.id, p.idn, &again, &err) == PX_OK && again.json.len == p.json.len,
             "refused with its own id as the path id: %s: %s", err.field, err.reason);
  cJSON *j = cJSON_ParseWithLength(p.json.data, p.json.len);
  FUZZ_CHECK(j && cJSON_IsObject(j), "canonical is not an object: %s", p.json.data);
  FUZZ_CHECK((int)p.flags == expected_flags(j), "flags %u for %s", p.flags, p.json.data);
  cJSON_Delete(j);
  /* Merge patches on the stored form. */
  size_t sn;
  char *stored = stored_form(&p, &sn);
  FUZZ_CHECK(px_product_merge(stored, sn, "{}", 2, &again, &err) == PX_OK && again.json.len == p.json.len &&
                 !memcmp(again.json.data, p.json.data, p.json.len),
             "empty patch changed %s", p.json.data);
  if (patch) {
    px_error_clear(&err);
    s = px_product_merge(stored, sn, patch, pn, &again, &err);
    FUZZ_CHECK(s == PX_OK || s == PX_INVALID || s == PX_BAD_JSON || s == PX_BAD_UTF8 || s == PX_TOO_LARGE,
               "patch status %s", px_status_str(s));
    if (s == PX_OK) {
      FUZZ_CHECK(again.idn == p.idn && !memcmp(again.id, p.id, p.idn), "a patch changed the id");
      px_product third;
      px_product_init(&third);
      FUZZ_CHECK(px_product_parse(again.json.data, again.json.len, NULL, 0, &third, &err) == PX_OK &&
                     third.json.len == again.json.len && !memcmp(third.json.data, again.json.data, again.json.len),
                 "patched product not stable: %s", again.json.data);
      px_product_free(&third);
    } else {
      FUZZ_CHECK(err.reason[0], "patch refused without a reason");
    }
  }
  free(stored);
out:
  px_product_free(&p);
  px_product_free(&again);
}

/* Slices of the input as the columns of a product mapping's row. */
static void check_mapping_row(px_mapping *m, const char *text, size_t size) {
  px_error err;
  px_csv_field cols[PX_MAPPING_MAX_FIELDS] = {{NULL, 0}}, vals[PX_MAPPING_MAX_FIELDS] = {{NULL, 0}};
  size_t nc = 0;
  for (int i = 0; i < m->nfields; i++)
    if (!m->fields[i].value[0]) cols[nc++] = (px_csv_field){m->fields[i].column, strlen(m->fields[i].column)};
  FUZZ_CHECK(px_mapping_bind(m, cols, nc, &err) == PX_OK, "does not bind: %s", err.reason);
  /* Values: the input cut at '|' (or 16-byte slices once it runs out). */
  size_t at = 0;
  for (size_t i = 0; i < nc; i++) {
    const char *bar = at < size ? memchr(text + at, '|', size - at) : NULL;
    size_t n = bar ? (size_t)(bar - (text + at)) : size - at < 16 ? size - at : 16;
    vals[i] = (px_csv_field){text + at, n};
    at += n + (bar != NULL);
  }
  px_buf row;
  px_buf_init(&row, 0);
  px_status s = px_mapping_row(m, vals, nc, &row, &err);
  FUZZ_CHECK(s == PX_OK || s == PX_INVALID, "row status %s", px_status_str(s));
  if (s == PX_OK) {
    cJSON *j = cJSON_ParseWithLength(row.data, row.len);
    FUZZ_CHECK(cJSON_IsObject(j) || px_utf8_invalid_at(row.data, row.len) >= 0, "row is not a JSON object: %s",
               row.data);
    cJSON_Delete(j);
    px_product p;
    px_product_init(&p);
    px_error_clear(&err);
    if (px_product_parse(row.data, row.len, NULL, 0, &p, &err) != PX_OK) {
      const char *col = px_mapping_product_column(m, err.field);
      FUZZ_CHECK(col && err.reason[0], "no column or reason for %s", err.field);
    }
    px_product_free(&p);
  }
  px_buf_free(&row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_copy(data, size, 0);
  const char *split = NULL;
  for (size_t i = 0; i + 1 < size && !split; i++)
    if (text[i] == '\n' && text[i + 1] == 0) split = text + i;
  if (!split) split = memchr(text, '\n', size);
  size_t pn = split ? (size_t)(split - text) : size;
  const char *patch = split ? split + 1 + (split + 1 < text + size && split[1] == 0) : NULL;
  size_t patchn = patch ? size - (size_t)(patch - text) : 0;
  char *first = fuzz_copy(data, pn, 0);     /* exact size: reads past it are caught */
  char *second = patch ? fuzz_copy((const uint8_t *)patch, patchn, 0) : NULL;
  check_product(first, pn, second, patchn);
  static px_mapping *fixed;
  px_error err;
  if (!fixed) {
    fixed = malloc(sizeof *fixed);
    if (!fixed || px_mapping_parse(mapping_json, strlen(mapping_json), fixed, &err) != PX_OK) abort();
  }
  check_mapping_row(fixed, text, size);
  px_mapping *own = malloc(sizeof *own);
  if (!own) abort();
  if (px_mapping_parse(first, pn, own, &err) == PX_OK && own->product) check_mapping_row(own, second ? second : "", patchn);
  free(own);
  free(first);
  free(second);
  free(text);
  return 0;
}
