/* One product: reading and checking its JSON, the canonical form, and JSON
 * merge patches (RFC 7396). No store here (catalog.c). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "catalog/catalog.h"

static const char *const stock_names[] = {"in_stock", "out_of_stock", "preorder", "backorder", "discontinued"};
#define NSTOCK (sizeof stock_names / sizeof *stock_names)

const char *px_stock_name(px_stock s) { return (unsigned)s < NSTOCK ? stock_names[s] : NULL; }

px_status px_stock_parse(const char *s, px_stock *out) {
  for (size_t i = 0; s && i < NSTOCK; i++)
    if (strcmp(s, stock_names[i]) == 0) return *out = (px_stock)i, PX_OK;
  return PX_INVALID;
}

void px_product_init(px_product *p) {
  memset(p, 0, sizeof *p);
  px_buf_init(&p->json, PX_PRODUCT_MAX_BYTES);
}

void px_product_free(px_product *p) {
  if (p) px_buf_free(&p->json);
}

/* ---- text ---- */

/* The first control character (C0, DEL, or C1: U+0080-U+009F) of valid
 * UTF-8, or -1. With ws, tab, line feed and carriage return are allowed. */
static long control_at(const char *s, size_t n, int ws) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 && !(ws && (c == '\t' || c == '\n' || c == '\r'))) return (long)i;
    if (c == 0x7f || (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0)) return (long)i;
  }
  return -1;
}

/* A string member of 1 (or 0 with empty_ok) to max bytes of UTF-8 without
 * control characters (ws: but tab and line breaks). */
static px_status text_check(const char *s, size_t n, size_t max, int empty_ok, int ws, const char *field,
                            px_error *err) {
  if (!n && !empty_ok) return px_error_set(err, PX_INVALID, field, "must not be empty");
  if (n > max) return px_error_set(err, PX_INVALID, field, "at most %zu bytes (this one has %zu)", max, n);
  if (px_utf8_invalid_at(s, n) >= 0) return px_error_set(err, PX_INVALID, field, "must be valid UTF-8");
  if (control_at(s, n, ws) >= 0)
    return px_error_set(err, PX_INVALID, field, ws ? "must not contain control characters (but tab and line breaks)"
                                                   : "must not contain control characters");
  return PX_OK;
}

px_status px_product_id_check(const char *id, size_t n, px_error *err) {
  return text_check(id, n, PX_PRODUCT_ID_MAX, 0, 0, "id", err);
}

/* The offset of a \u0000 escape in JSON text, or -1. Backslash pairs are
 * skipped together, so "\\u0000" (an escaped backslash, then text) is not one. */
static long escaped_nul_at(const char *s, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] != '\\') continue;
    if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0) return (long)i;
    i++;
  }
  return -1;
}

px_status px_product_json(const char *text, size_t n, size_t max, cJSON **out, px_error *err) {
  *out = NULL;
  if (n > max) return px_error_set(err, PX_TOO_LARGE, "", "larger than %zu bytes", max);
  const char *nul = memchr(text, 0, n);
  long at;
  px_status s;
  if (nul) {
    at = nul - text;
    s = px_error_set(err, PX_BAD_JSON, "", "NUL byte at byte %ld", at);
  } else if ((at = px_utf8_invalid_at(text, n)) >= 0) {
    s = px_error_set(err, PX_BAD_UTF8, "", "invalid UTF-8 at byte %ld", at);
  } else if ((at = escaped_nul_at(text, n)) >= 0) {
    s = px_error_set(err, PX_BAD_JSON, "", "\\u0000 (NUL) in a string at byte %ld: not allowed", at);
  } else {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    size_t rest = j && end ? (size_t)(end - text) : n;
    while (j && rest < n && (text[rest] == ' ' || text[rest] == '\t' || text[rest] == '\n' || text[rest] == '\r'))
      rest++;
    if (j && rest == n) {
      *out = j;
      return PX_OK;
    }
    /* Where parsing stopped: after the value (text follows it), or where cJSON gave up. */
    at = j ? (long)rest : end && end >= text && end <= text + n ? end - text : 0;
    cJSON_Delete(j);
    s = px_error_set(err, PX_BAD_JSON, "", "malformed JSON at byte %ld", at);
  }
  if (err) err->offset = at;
  return s;
}

/* ---- checking a product ---- */

enum { M_ID, M_NAME, M_CATEGORY, M_PRICE, M_CURRENCY, M_STOCK, M_QUANTITY, M_ATTRIBUTES, M_UPDATED_AT, M__COUNT };
static const char *const member_names[M__COUNT] = {"id",    "name",     "category",   "price",     "currency",
                                                   "stock", "quantity", "attributes", "updated_at"};

static int cmp_names(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The object's members sorted by name into a malloc'd *sorted (n of them);
 * PX_INVALID naming prefix.NAME when a name repeats. */
static px_status sorted_members(const cJSON *obj, const char *prefix, const cJSON ***sorted, size_t *n,
                                px_error *err) {
  size_t count = 0;
  for (const cJSON *c = obj->child; c; c = c->next) count++;
  *sorted = NULL;
  *n = 0;
  if (!count) return PX_OK;
  const cJSON **v = malloc(count * sizeof *v);
  if (!v) return PX_NOMEM;
  size_t i = 0;
  for (const cJSON *c = obj->child; c; c = c->next) v[i++] = c;
  qsort(v, count, sizeof *v, cmp_names);
  for (i = 1; i < count; i++) {
    if (strcmp(v[i - 1]->string, v[i]->string) == 0) {
      char field[128];
      snprintf(field, sizeof field, "%s%s%.100s", prefix, *prefix ? "." : "", v[i]->string);
      free(v);
      return px_error_set(err, PX_INVALID, field, "appears twice");
    }
  }
  *sorted = v;
  *n = count;
  return PX_OK;
}

/* Category parts, top level first, as a JSON array into out. */
static px_status put_category_part(px_buf *out, const char *s, size_t n, int first, const char *field, px_error *err) {
  px_status st = text_check(s, n, PX_PRODUCT_CATEGORY_PART_MAX, 0, 0, field, err);
  if (st == PX_OK && !first) st = px_buf_putc(out, ',');
  if (st == PX_OK) st = px_buf_json_str(out, s, n);
  return st;
}

/* "category": an array of levels, or one string split on " > " (each part
 * trimmed of spaces). Nothing written for an empty path. */
static px_status read_category(const cJSON *c, px_buf *out, px_error *err) {
  char field[40];
  px_status s = PX_OK;
  int depth = 0;
  size_t mark = out->len;
  if ((s = px_buf_puts(out, ",\"category\":[")) != PX_OK) return s;
  if (cJSON_IsString(c)) {
    const char *p = c->valuestring, *end = p + strlen(p);
    if (p == end) {
      out->len = mark, out->data[mark] = 0;
      return PX_OK;
    }
    while (s == PX_OK) {
      const char *sep = strstr(p, " > ");
      const char *e = sep ? sep : end, *b = p;
      while (b < e && *b == ' ') b++;
      while (e > b && e[-1] == ' ') e--;
      if (depth == PX_PRODUCT_CATEGORY_DEPTH)
        return px_error_set(err, PX_INVALID, "category", "at most %d levels", PX_PRODUCT_CATEGORY_DEPTH);
      snprintf(field, sizeof field, "category[%d]", depth);
      s = put_category_part(out, b, (size_t)(e - b), depth == 0, field, err);
      depth++;
      if (!sep) break;
      p = sep + 3;
    }
  } else if (cJSON_IsArray(c)) {
    for (const cJSON *e = c->child; e && s == PX_OK; e = e->next) {
      if (depth == PX_PRODUCT_CATEGORY_DEPTH)
        return px_error_set(err, PX_INVALID, "category", "at most %d levels", PX_PRODUCT_CATEGORY_DEPTH);
      snprintf(field, sizeof field, "category[%d]", depth);
      if (!cJSON_IsString(e)) return px_error_set(err, PX_INVALID, field, "must be a string");
      s = put_category_part(out, e->valuestring, strlen(e->valuestring), depth == 0, field, err);
      depth++;
    }
    if (s == PX_OK && !depth) {
      out->len = mark, out->data[mark] = 0;
      return PX_OK;
    }
  } else {
    return px_error_set(err, PX_INVALID, "category",
                        "must be an array of levels, top first ([\"Home\", \"Candles\"]) or a string \"Home > Candles\"");
  }
  return s == PX_OK ? px_buf_putc(out, ']') : s;
}

/* One scalar attribute value (string, finite number, boolean). */
static px_status put_scalar(const cJSON *v, px_buf *out, const char *field, px_error *err) {
  if (cJSON_IsString(v)) {
    size_t n = strlen(v->valuestring);
    px_status s = text_check(v->valuestring, n, PX_PRODUCT_ATTR_STR_MAX, 1, 1, field, err);
    return s == PX_OK ? px_buf_json_str(out, v->valuestring, n) : s;
  }
  if (cJSON_IsNumber(v)) {
    if (!isfinite(v->valuedouble)) return px_error_set(err, PX_INVALID, field, "must be a finite number");
    return px_buf_num(out, v->valuedouble);
  }
  if (cJSON_IsBool(v)) return px_buf_puts(out, cJSON_IsTrue(v) ? "true" : "false");
  return px_error_set(err, PX_INVALID, field, "must be a string, number or boolean");
}

static px_status read_attributes(const cJSON *a, px_buf *out, px_error *err) {
  if (!cJSON_IsObject(a))
    return px_error_set(err, PX_INVALID, "attributes", "must be an object of names to values");
  const cJSON **v;
  size_t n;
  px_status s = sorted_members(a, "attributes", &v, &n, err);
  if (s != PX_OK) return s;
  size_t kept = 0, mark = out->len;
  char field[PX_PRODUCT_ATTR_NAME_MAX + 40];
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    const cJSON *m = v[i];
    snprintf(field, sizeof field, "attributes.%.*s", PX_PRODUCT_ATTR_NAME_MAX, m->string);
    if (cJSON_IsNull(m)) continue; /* null: absent */
    if (++kept > PX_PRODUCT_ATTRS_MAX) {
      s = px_error_set(err, PX_INVALID, "attributes", "at most %d attributes", PX_PRODUCT_ATTRS_MAX);
      break;
    }
    size_t nn = strlen(m->string);
    if ((s = text_check(m->string, nn, PX_PRODUCT_ATTR_NAME_MAX, 0, 0, field, err)) != PX_OK) {
      if (!nn) px_error_set(err, PX_INVALID, "attributes", "an attribute name must not be empty");
      break;
    }
    s = px_buf_puts(out, kept == 1 ? ",\"attributes\":{" : ",");
    if (s == PX_OK) s = px_buf_json_str(out, m->string, nn);
    if (s == PX_OK) s = px_buf_putc(out, ':');
    if (s != PX_OK) break;
    if (cJSON_IsArray(m)) {
      int k = 0;
      s = px_buf_putc(out, '[');
      for (const cJSON *e = m->child; e && s == PX_OK; e = e->next, k++) {
        char ef[PX_PRODUCT_ATTR_NAME_MAX + 60];
        snprintf(ef, sizeof ef, "%s[%d]", field, k);
        if (k == PX_PRODUCT_ATTR_ARRAY_MAX)
          s = px_error_set(err, PX_INVALID, field, "at most %d values in an array", PX_PRODUCT_ATTR_ARRAY_MAX);
        else if (cJSON_IsArray(e) || cJSON_IsObject(e) || cJSON_IsNull(e))
          s = px_error_set(err, PX_INVALID, ef, "an array holds strings, numbers or booleans");
        else if ((!k || (s = px_buf_putc(out, ',')) == PX_OK))
          s = put_scalar(e, out, ef, err);
      }
      if (s == PX_OK) s = px_buf_putc(out, ']');
    } else if (cJSON_IsObject(m)) {
      s = px_error_set(err, PX_INVALID, field, "must be a string, number, boolean or an array of them (not an object)");
    } else {
      s = put_scalar(m, out, field, err);
    }
  }
  if (s == PX_OK && kept) s = px_buf_putc(out, '}');
  if (s == PX_OK && !kept && out->data) { /* only nulls: no attributes */
    out->len = mark;
    out->data[mark] = 0;
  }
  free(v);
  return s;
}

static px_status read_members(const cJSON *const *m, const char *id, size_t idn, px_product *p, px_error *err) {
  px_buf *out = &p->json;
  px_status s;
  const cJSON *c = m[M_ID];
  if (c && !cJSON_IsNull(c)) {
    if (!cJSON_IsString(c)) return px_error_set(err, PX_INVALID, "id", "must be a string");
    size_t n = strlen(c->valuestring);
    if ((s = px_product_id_check(c->valuestring, n, err)) != PX_OK) return s;
    if (id && (n != idn || memcmp(id, c->valuestring, n) != 0))
      return px_error_set(err, PX_INVALID, "id", "does not match the id in the path (\"%.*s\")",
                          (int)(idn > 100 ? 100 : idn), id);
    memcpy(p->id, c->valuestring, n + 1);
    p->idn = n;
  } else if (id) {
    if ((s = px_product_id_check(id, idn, err)) != PX_OK) return s;
    memcpy(p->id, id, idn);
    p->id[idn] = 0;
    p->idn = idn;
  } else {
    return px_error_set(err, PX_INVALID, "id", "is required");
  }
  if ((s = px_buf_puts(out, "{\"id\":")) != PX_OK || (s = px_buf_json_str(out, p->id, p->idn)) != PX_OK) return s;

  if ((c = m[M_NAME]) && !cJSON_IsNull(c)) {
    if (!cJSON_IsString(c)) return px_error_set(err, PX_INVALID, "name", "must be a string");
    size_t n = strlen(c->valuestring);
    if ((s = text_check(c->valuestring, n, PX_PRODUCT_NAME_MAX, 0, 0, "name", err)) != PX_OK) return s;
    if ((s = px_buf_puts(out, ",\"name\":")) != PX_OK || (s = px_buf_json_str(out, c->valuestring, n)) != PX_OK)
      return s;
  }
  if ((c = m[M_CATEGORY]) && !cJSON_IsNull(c) && (s = read_category(c, out, err)) != PX_OK) return s;
  if ((c = m[M_PRICE]) && !cJSON_IsNull(c)) {
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || c->valuedouble < 0 || c->valuedouble > PX_PRODUCT_PRICE_MAX)
      return px_error_set(err, PX_INVALID, "price", "must be a number from 0 to %g", PX_PRODUCT_PRICE_MAX);
    if ((s = px_buf_puts(out, ",\"price\":")) != PX_OK || (s = px_buf_num(out, c->valuedouble + 0.0)) != PX_OK)
      return s;
  }
  if ((c = m[M_CURRENCY]) && !cJSON_IsNull(c)) {
    const char *v = cJSON_GetStringValue(c);
    if (!v || strlen(v) != 3 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
      return px_error_set(err, PX_INVALID, "currency", "must be a 3-letter upper-case ISO 4217 code, e.g. \"GBP\"");
    if ((s = px_buf_printf(out, ",\"currency\":\"%s\"", v)) != PX_OK) return s;
  }
  px_stock stock = PX_STOCK_IN_STOCK;
  if ((c = m[M_STOCK]) && !cJSON_IsNull(c) && px_stock_parse(cJSON_GetStringValue(c), &stock) != PX_OK)
    return px_error_set(err, PX_INVALID, "stock", "must be one of in_stock, out_of_stock, preorder, backorder, discontinued");
  if ((s = px_buf_printf(out, ",\"stock\":\"%s\"", stock_names[stock])) != PX_OK) return s;
  int have_qty = 0;
  double qty = 0;
  if ((c = m[M_QUANTITY]) && !cJSON_IsNull(c)) {
    qty = cJSON_IsNumber(c) ? c->valuedouble : -1;
    if (!(qty >= 0 && qty <= PX_PRODUCT_QUANTITY_MAX && qty == floor(qty)))
      return px_error_set(err, PX_INVALID, "quantity", "must be a whole number from 0 to %.0f", PX_PRODUCT_QUANTITY_MAX);
    have_qty = 1;
    if ((s = px_buf_printf(out, ",\"quantity\":%llu", (unsigned long long)qty)) != PX_OK) return s;
  }
  if ((c = m[M_ATTRIBUTES]) && !cJSON_IsNull(c) && (s = read_attributes(c, out, err)) != PX_OK) return s;
  if ((s = px_buf_putc(out, '}')) != PX_OK) return s;
  p->flags = (stock == PX_STOCK_IN_STOCK || stock == PX_STOCK_PREORDER || stock == PX_STOCK_BACKORDER) &&
                     (!have_qty || qty > 0)
                 ? PX_PRODUCT_AVAILABLE
                 : 0;
  return PX_OK;
}

/* The bytes ,"updated_at":"YYYY-MM-DDTHH:MM:SS.sssZ" add to a product. */
#define UPDATED_AT_BYTES 41

px_status px_product_read(const cJSON *obj, const char *id, size_t idn, px_product *p, px_error *err) {
  px_buf_reset(&p->json);
  p->id[0] = 0;
  p->idn = 0;
  p->flags = 0;
  if (!cJSON_IsObject(obj)) return px_error_set(err, PX_INVALID, "", "a product is a JSON object");
  const cJSON *m[M__COUNT] = {0};
  for (const cJSON *c = obj->child; c; c = c->next) {
    int k = 0;
    while (k < M__COUNT && strcmp(c->string, member_names[k])) k++;
    if (k == M__COUNT)
      return px_error_set(err, PX_INVALID, c->string,
                          "unknown member (a product has id, name, category, price, currency, stock, quantity, "
                          "attributes; updated_at is set by the server)");
    if (m[k]) return px_error_set(err, PX_INVALID, c->string, "appears twice");
    m[k] = c;
  }
  px_status s = read_members(m, id, idn, p, err);
  if (s == PX_OK && p->json.len + UPDATED_AT_BYTES > PX_PRODUCT_MAX_BYTES) s = PX_TOO_LARGE;
  if (s == PX_TOO_LARGE)
    s = px_error_set(err, PX_INVALID, "", "larger than %d bytes as canonical JSON", PX_PRODUCT_MAX_BYTES);
  if (s != PX_OK) px_buf_reset(&p->json);
  return s;
}

px_status px_product_parse(const char *text, size_t n, const char *id, size_t idn, px_product *p, px_error *err) {
  cJSON *j;
  px_status s = px_product_json(text, n, PX_PRODUCT_INPUT_MAX, &j, err);
  if (s != PX_OK) return s;
  s = px_product_read(j, id, idn, p, err);
  cJSON_Delete(j);
  return s;
}

/* ---- merge patch ---- */

/* RFC 7396 on trees: patch's members into target (both objects); null
 * removes, an object merges into an object (or replaces anything else),
 * anything else replaces. */
static px_status merge(cJSON *target, const cJSON *patch) {
  for (const cJSON *m = patch->child; m; m = m->next) {
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(target, m->string);
    if (cJSON_IsNull(m)) {
      cJSON_DeleteItemFromObjectCaseSensitive(target, m->string);
      continue;
    }
    if (cJSON_IsObject(m) && cJSON_IsObject(cur)) {
      px_status s = merge(cur, m);
      if (s != PX_OK) return s;
      continue;
    }
    cJSON *v;
    if (cJSON_IsObject(m)) { /* onto a non-object: the patch with its nulls taken out */
      if (!(v = cJSON_CreateObject())) return PX_NOMEM;
      px_status s = merge(v, m);
      if (s != PX_OK) return cJSON_Delete(v), s;
    } else if (!(v = cJSON_Duplicate(m, 1))) {
      return PX_NOMEM;
    }
    if (cur ? !cJSON_ReplaceItemInObjectCaseSensitive(target, m->string, v)
            : !cJSON_AddItemToObject(target, m->string, v)) {
      cJSON_Delete(v);
      return PX_NOMEM;
    }
  }
  return PX_OK;
}

/* PX_INVALID when an object of the patch names a member twice (which one
 * would win is not said anywhere). */
static px_status patch_unique(const cJSON *obj, const char *path, int depth, px_error *err) {
  if (depth > 8) return PX_OK; /* deeper objects are refused by px_product_read anyway */
  const cJSON **v;
  size_t n;
  px_status s = sorted_members(obj, path, &v, &n, err);
  free(v);
  for (const cJSON *c = obj->child; c && s == PX_OK; c = c->next) {
    if (!cJSON_IsObject(c)) continue;
    char sub[128];
    snprintf(sub, sizeof sub, "%s%s%.100s", path, *path ? "." : "", c->string);
    s = patch_unique(c, sub, depth + 1, err);
  }
  return s;
}

px_status px_product_merge(const char *stored, size_t sn, const char *patch, size_t pn, px_product *p,
                           px_error *err) {
  cJSON *base = NULL, *pt = NULL;
  px_status s = px_product_json(stored, sn, (size_t)PX_PRODUCT_MAX_BYTES * 4, &base, NULL);
  const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(base, "id"));
  if (s != PX_OK || !id) {
    s = px_error_set(err, PX_STORE, "", "the stored product does not read back");
    goto out;
  }
  if ((s = px_product_json(patch, pn, PX_PRODUCT_INPUT_MAX, &pt, err)) != PX_OK) goto out;
  if (!cJSON_IsObject(pt)) {
    s = px_error_set(err, PX_INVALID, "", "a merge patch of a product is a JSON object");
    goto out;
  }
  if ((s = patch_unique(pt, "", 0, err)) != PX_OK) goto out;
  const cJSON *pid = cJSON_GetObjectItemCaseSensitive(pt, "id");
  if (pid && (!cJSON_IsString(pid) || strcmp(pid->valuestring, id) != 0)) {
    s = px_error_set(err, PX_INVALID, "id", "cannot be changed by a patch (it is the product's key)");
    goto out;
  }
  char idcopy[PX_PRODUCT_ID_MAX + 1];
  size_t idn = strlen(id);
  if (idn > PX_PRODUCT_ID_MAX) {
    s = px_error_set(err, PX_STORE, "", "the stored product's id is too long");
    goto out;
  }
  memcpy(idcopy, id, idn + 1);
  if ((s = merge(base, pt)) == PX_OK) s = px_product_read(base, idcopy, idn, p, err);
out:
  cJSON_Delete(base);
  cJSON_Delete(pt);
  return s;
}
