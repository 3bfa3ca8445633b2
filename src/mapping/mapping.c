#include "mapping/mapping.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

/* ---- reading a mapping ---- */

static const char *const type_names[] = {"string", "number", "boolean", NULL};
static const char *const std_names[] = {"none", "trim", "text", "lower", "email", "postcode", "date", "iso", "phone", NULL};

static int lookup(const char *s, const char *const *names) {
  for (int i = 0; names[i]; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

static px_status copy_name(char *dst, const char *src, const char *path, px_error *err) {
  size_t n = strlen(src);
  if (n == 0 || n >= PX_MAPPING_NAME_MAX)
    return px_error_set(err, PX_INVALID, path, "must be 1-%d bytes", PX_MAPPING_NAME_MAX - 1);
  memcpy(dst, src, n + 1);
  return PX_OK;
}

/* The members a product mapping may name, in the order a row writes them. */
static const char *const product_members[] = {"id", "name", "category", "price", "currency", "stock", "quantity", NULL};

/* A product member's type and std: price and quantity are numbers, stock
 * a state name or a boolean, the others text; trimmed unless a std is given. */
static px_status product_field(px_map_field *f, const cJSON *spec, const char *path, px_error *err) {
  const cJSON *type = cJSON_IsObject(spec) ? cJSON_GetObjectItemCaseSensitive(spec, "type") : NULL;
  const cJSON *std = cJSON_IsObject(spec) ? cJSON_GetObjectItemCaseSensitive(spec, "std") : NULL;
  int number = !strcmp(f->name, "price") || !strcmp(f->name, "quantity");
  if (number) {
    if (type && f->type != PX_MAP_NUMBER) return px_error_set(err, PX_INVALID, path, "is a number (type number)");
    f->type = PX_MAP_NUMBER;
  } else if (f->type == PX_MAP_NUMBER || (f->type == PX_MAP_BOOLEAN && strcmp(f->name, "stock"))) {
    return px_error_set(err, PX_INVALID, path,
                        strcmp(f->name, "stock") ? "is text (type string)" : "is a state name (string) or a boolean");
  }
  if (!std) f->std = PX_MAP_STD_TRIM;
  if (!strcmp(f->name, "id")) f->required = 1;
  return PX_OK;
}

/* A field spec: {"column": ..., "type": ..., "std": ..., "required": ...}, or
 * just the column's name. */
static px_status read_field(px_mapping *m, const cJSON *spec, px_map_target target, const char *name,
                            const char *path, px_error *err) {
  if (m->nfields == PX_MAPPING_MAX_FIELDS)
    return px_error_set(err, PX_INVALID, path, "more than %d fields", PX_MAPPING_MAX_FIELDS);
  px_map_field *f = &m->fields[m->nfields];
  memset(f, 0, sizeof *f);
  f->target = target;
  f->index = -1;
  px_status s;
  if (name && (s = copy_name(f->name, name, path, err)) != PX_OK) return s;
  if (target == PX_MAP_TIMESTAMP) f->std = PX_MAP_STD_ISO;
  if (cJSON_IsString(spec)) {
    if ((s = copy_name(f->column, spec->valuestring, path, err)) != PX_OK) return s;
    if (target == PX_MAP_PRODUCT && (s = product_field(f, spec, path, err)) != PX_OK) return s;
    m->nfields++;
    return PX_OK;
  }
  if (!cJSON_IsObject(spec)) return px_error_set(err, PX_INVALID, path, "must be a column name or an object");
  char sub[256];
  for (const cJSON *c = spec->child; c; c = c->next) {
    snprintf(sub, sizeof sub, "%s.%s", path, c->string);
    if (strcmp(c->string, "column") == 0) {
      if (!cJSON_IsString(c)) return px_error_set(err, PX_INVALID, sub, "must be a column name");
      if ((s = copy_name(f->column, c->valuestring, sub, err)) != PX_OK) return s;
    } else if (strcmp(c->string, "type") == 0) {
      int t = cJSON_IsString(c) ? lookup(c->valuestring, type_names) : -1;
      if (t < 0) return px_error_set(err, PX_INVALID, sub, "must be string, number or boolean");
      f->type = (px_map_type)t;
    } else if (strcmp(c->string, "std") == 0) {
      int t = cJSON_IsString(c) ? lookup(c->valuestring, std_names) : -1;
      if (t < 0) return px_error_set(err, PX_INVALID, sub, "must be none, trim, text, lower, email, postcode, date or iso");
      f->std = (px_map_std)t;
    } else if (strcmp(c->string, "required") == 0) {
      if (!cJSON_IsBool(c)) return px_error_set(err, PX_INVALID, sub, "must be true or false");
      f->required = cJSON_IsTrue(c);
    } else if (strcmp(c->string, "value") == 0) {
      if (target != PX_MAP_PRODUCT && target != PX_MAP_ATTRIBUTE)
        return px_error_set(err, PX_INVALID, sub, "only the fields of a product mapping may be constant values");
      if (!cJSON_IsString(c)) return px_error_set(err, PX_INVALID, sub, "must be a string (the value for every row)");
      if ((s = copy_name(f->value, c->valuestring, sub, err)) != PX_OK) return s;
    } else if (strcmp(c->string, "separator") == 0) {
      if (target != PX_MAP_PRODUCT || strcmp(f->name, "category"))
        return px_error_set(err, PX_INVALID, sub, "only product.category takes a separator");
      const char *sep = cJSON_GetStringValue(c);
      if (!sep || !*sep || strlen(sep) >= PX_MAPPING_SEPARATOR_MAX)
        return px_error_set(err, PX_INVALID, sub, "must be 1-%d bytes, e.g. \" > \"", PX_MAPPING_SEPARATOR_MAX - 1);
      memcpy(f->separator, sep, strlen(sep) + 1);
    } else {
      return px_error_set(err, PX_INVALID, sub,
                          target == PX_MAP_PRODUCT || target == PX_MAP_ATTRIBUTE
                              ? "unknown (column, value, type, std, required, separator)"
                              : "unknown (column, type, std, required)");
    }
  }
  if (f->value[0] && f->column[0])
    return px_error_set(err, PX_INVALID, path, "a column or a value, not both");
  if (!f->column[0] && !f->value[0]) {
    snprintf(sub, sizeof sub, "%s.column", path);
    return px_error_set(err, PX_INVALID, sub, "is required");
  }
  if (target == PX_MAP_PRODUCT && (s = product_field(f, spec, path, err)) != PX_OK) return s;
  if (f->type != PX_MAP_STRING && f->std != PX_MAP_STD_NONE && f->std != PX_MAP_STD_TRIM)
    return px_error_set(err, PX_INVALID, path, "a number or boolean takes no std but trim");
  m->nfields++;
  return PX_OK;
}

static px_status read_group(px_mapping *m, const cJSON *obj, px_map_target target, const char *key, px_error *err) {
  if (!cJSON_IsObject(obj)) return px_error_set(err, PX_INVALID, key, "must be an object");
  char path[256];
  for (const cJSON *c = obj->child; c; c = c->next) {
    snprintf(path, sizeof path, "%s.%s", key, c->string);
    if (target == PX_MAP_PRODUCT || target == PX_MAP_ATTRIBUTE) {
      if (target == PX_MAP_PRODUCT && lookup(c->string, product_members) < 0)
        return px_error_set(err, PX_INVALID, path, "unknown (id, name, category, price, currency, stock, quantity)");
      for (int i = 0; i < m->nfields; i++)
        if (m->fields[i].target == target && !strcmp(m->fields[i].name, c->string))
          return px_error_set(err, PX_INVALID, path, "appears twice");
    }
    px_status s = read_field(m, c, target, c->string, path, err);
    if (s != PX_OK) return s;
  }
  return PX_OK;
}

static px_status read_csv_opts(px_mapping *m, const cJSON *obj, px_error *err) {
  if (!cJSON_IsObject(obj)) return px_error_set(err, PX_INVALID, "csv", "must be an object");
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (strcmp(c->string, "delimiter") == 0) {
      const char *d = cJSON_GetStringValue(c);
      if (!d || strlen(d) != 1 || d[0] == '"' || d[0] == '\n' || d[0] == '\r')
        return px_error_set(err, PX_INVALID, "csv.delimiter", "must be one character (not a quote or line break)");
      m->csv.delimiter = d[0];
    } else if (strcmp(c->string, "header") == 0 && cJSON_IsBool(c)) {
      m->csv.no_header = !cJSON_IsTrue(c);
    } else if (strcmp(c->string, "keep_space") == 0 && cJSON_IsBool(c)) {
      m->csv.keep_space = cJSON_IsTrue(c);
    } else {
      return px_error_set(err, PX_INVALID, "csv", "unknown or invalid: %.60s", c->string);
    }
  }
  return PX_OK;
}

/* What a product mapping may not have, and a check of its constants. */
static px_status check_product_mapping(const px_mapping *m, const cJSON *event, px_error *err) {
  if (event) return px_error_set(err, PX_INVALID, "event", "a product mapping has no event");
  static const char *const groups[] = {"traits", "properties", "identifiers", "event", "timestamp", "message_id"};
  int id = 0;
  px_buf v;
  px_buf_init(&v, 0);
  px_status s = PX_OK;
  for (int i = 0; i < m->nfields && s == PX_OK; i++) {
    const px_map_field *f = &m->fields[i];
    if (f->target != PX_MAP_PRODUCT && f->target != PX_MAP_ATTRIBUTE) {
      s = px_error_set(err, PX_INVALID, groups[f->target], "a product mapping has only product and attributes");
      break;
    }
    id |= f->target == PX_MAP_PRODUCT && !strcmp(f->name, "id");
    if (f->value[0]) { /* a constant: converted once here, so a bad one fails the mapping, not every row */
      char path[PX_MAPPING_NAME_MAX + 24];
      snprintf(path, sizeof path, "%s.%s.value", f->target == PX_MAP_PRODUCT ? "product" : "attributes", f->name);
      px_csv_field raw = {f->value, strlen(f->value)};
      s = px_mapping_value(m, f, &raw, &v, err);
      if (s == PX_INVALID && err) snprintf(err->field, sizeof err->field, "%.120s", path);
    }
  }
  px_buf_free(&v);
  if (s == PX_OK && !id) s = px_error_set(err, PX_INVALID, "product.id", "is required: the column of the product id");
  return s;
}

static px_status read_mapping(const cJSON *root, px_mapping *m, px_error *err) {
  if (!cJSON_IsObject(root)) return px_error_set(err, PX_INVALID, "", "a mapping is a JSON object");
  px_status s = PX_OK;
  const cJSON *event = NULL;
  for (const cJSON *c = root->child; c && s == PX_OK; c = c->next) {
    const char *k = c->string;
    if (strcmp(k, "type") == 0) {
      const char *t = cJSON_GetStringValue(c);
      if (!t || (strcmp(t, "identify") && strcmp(t, "track") && strcmp(t, "product")))
        return px_error_set(err, PX_INVALID, "type", "must be identify, track or product");
      m->track = strcmp(t, "track") == 0;
      m->product = strcmp(t, "product") == 0;
    } else if (strcmp(k, "event") == 0) {
      event = c;
    } else if (strcmp(k, "timestamp") == 0) {
      s = read_field(m, c, PX_MAP_TIMESTAMP, NULL, "timestamp", err);
    } else if (strcmp(k, "message_id") == 0) {
      s = read_field(m, c, PX_MAP_MESSAGE_ID, NULL, "message_id", err);
    } else if (strcmp(k, "identifiers") == 0) {
      s = read_group(m, c, PX_MAP_IDENTIFIER, "identifiers", err);
    } else if (strcmp(k, "traits") == 0) {
      s = read_group(m, c, PX_MAP_TRAIT, "traits", err);
    } else if (strcmp(k, "properties") == 0) {
      s = read_group(m, c, PX_MAP_PROPERTY, "properties", err);
    } else if (strcmp(k, "product") == 0) {
      s = read_group(m, c, PX_MAP_PRODUCT, "product", err);
    } else if (strcmp(k, "attributes") == 0) {
      s = read_group(m, c, PX_MAP_ATTRIBUTE, "attributes", err);
    } else if (strcmp(k, "csv") == 0) {
      s = read_csv_opts(m, c, err);
    } else if (strcmp(k, "country_code") == 0) {
      const char *cc = cJSON_GetStringValue(c);
      size_t n = cc ? strlen(cc) : 0;
      if (!n || n > 3 || strspn(cc, "0123456789") != n)
        return px_error_set(err, PX_INVALID, "country_code", "must be 1 to 3 digits, e.g. \"44\"");
      memcpy(m->country_code, cc, n + 1);
    } else if (strcmp(k, "format") == 0) {
      const char *fm = cJSON_GetStringValue(c);
      if (!fm || (strcmp(fm, "csv") && strcmp(fm, "jsonl")))
        return px_error_set(err, PX_INVALID, "format", "must be csv or jsonl");
      m->jsonl = strcmp(fm, "jsonl") == 0;
    } else if (strcmp(k, "date_order") == 0) {
      const char *o = cJSON_GetStringValue(c);
      if (!o || (strcmp(o, "DMY") && strcmp(o, "MDY")))
        return px_error_set(err, PX_INVALID, "date_order", "must be DMY or MDY");
      m->date_order = strcmp(o, "MDY") == 0 ? PX_DATE_MDY : PX_DATE_DMY;
    } else {
      return px_error_set(err, PX_INVALID, k, "unknown (type, format, event, timestamp, message_id, identifiers, "
                                              "traits, properties, product, attributes, csv, date_order, country_code)");
    }
  }
  if (s != PX_OK) return s;
  if (m->product) return check_product_mapping(m, event, err);
  if (event) {
    if (!m->track) return px_error_set(err, PX_INVALID, "event", "only a track mapping has an event");
    if (cJSON_IsString(event)) {
      if ((s = copy_name(m->event, event->valuestring, "event", err)) != PX_OK) return s;
    } else if ((s = read_field(m, event, PX_MAP_EVENT, NULL, "event", err)) != PX_OK) {
      return s;
    }
  } else if (m->track) {
    return px_error_set(err, PX_INVALID, "event", "a track mapping needs an event name or column");
  }
  int ids = 0;
  for (int i = 0; i < m->nfields; i++) {
    ids += m->fields[i].target == PX_MAP_IDENTIFIER;
    if (m->fields[i].target == PX_MAP_PROPERTY && !m->track)
      return px_error_set(err, PX_INVALID, "properties", "only a track mapping has properties");
    if (m->fields[i].target == PX_MAP_PRODUCT || m->fields[i].target == PX_MAP_ATTRIBUTE)
      return px_error_set(err, PX_INVALID, m->fields[i].target == PX_MAP_PRODUCT ? "product" : "attributes",
                          "only a product mapping (\"type\": \"product\") has products");
  }
  if (!ids) return px_error_set(err, PX_INVALID, "identifiers", "name at least one identifier column");
  return PX_OK;
}

px_status px_mapping_parse(const char *json, size_t n, px_mapping *out, px_error *err) {
  memset(out, 0, sizeof *out);
  cJSON *root = cJSON_ParseWithLength(json, n);
  if (!root) return px_error_set(err, PX_INVALID, "", "malformed JSON");
  px_status s = read_mapping(root, out, err);
  cJSON_Delete(root);
  return s;
}

px_status px_mapping_bind(px_mapping *m, const px_csv_field *columns, size_t ncolumns, px_error *err) {
  for (int i = 0; i < m->nfields; i++) {
    px_map_field *f = &m->fields[i];
    f->index = -1;
    if (f->value[0]) continue; /* a constant */
    for (size_t c = 0; c < ncolumns && f->index < 0; c++)
      if (columns[c].n == strlen(f->column) && memcmp(columns[c].s, f->column, columns[c].n) == 0) f->index = (int)c;
    if (f->index < 0) return px_error_set(err, PX_INVALID, f->name[0] ? f->name : "", "no column named %.100s", f->column);
  }
  return PX_OK;
}

/* A finite double as JSON: an integer as such, else the shortest of %.15g
 * and %.17g that reads back as the same double (0.1, not 0.10000000000000001). */
static const char *number_text(double d, char num[32]) {
  if (d == floor(d) && fabs(d) < 1e15) snprintf(num, 32, "%lld", (long long)d);
  else if (snprintf(num, 32, "%.15g", d), strtod(num, NULL) != d) snprintf(num, 32, "%.17g", d);
  return num;
}

/* The member at a dotted path ("address.city") of a JSON object, or NULL. */
static const cJSON *member_at(const cJSON *obj, const char *path) {
  char part[PX_MAPPING_NAME_MAX];
  while (obj && *path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof part) return NULL;
    memcpy(part, path, n);
    part[n] = 0;
    obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, part) : NULL;
    path += n + (path[n] == '.');
  }
  return obj;
}

px_status px_mapping_json_record(px_mapping *m, const cJSON *obj, px_csv_field *fields, px_buf *text,
                                 px_error *err) {
  if (!cJSON_IsObject(obj)) return px_error_set(err, PX_INVALID, "", "a record is a JSON object");
  /* Offsets first: text may move while it grows. */
  size_t at[PX_MAPPING_MAX_FIELDS];
  px_buf_reset(text);
  for (int i = 0; i < m->nfields; i++) {
    px_map_field *f = &m->fields[i];
    const cJSON *v = f->value[0] ? NULL : member_at(obj, f->column); /* a constant reads no member */
    f->index = i;
    at[i] = text->len;
    px_status st = PX_OK;
    if (!v || cJSON_IsNull(v)) {
    } else if (cJSON_IsString(v)) {
      st = px_buf_puts(text, v->valuestring);
    } else if (cJSON_IsBool(v)) {
      st = px_buf_puts(text, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
      char num[32];
      st = px_buf_puts(text, number_text(v->valuedouble, num));
    } else {
      return px_error_set(err, PX_INVALID, f->column, "must be a string, number, boolean or null");
    }
    if (st == PX_OK) st = px_buf_append(text, "", 1); /* each value NUL-terminated */
    if (st != PX_OK) return st;
  }
  for (int i = 0; i < m->nfields; i++) {
    fields[i].s = text->data + at[i];
    fields[i].n = strlen(fields[i].s);
  }
  return PX_OK;
}

/* ---- a record to a message ---- */

/* The field's value, standardized, into v (empty: absent). */
static px_status value_of(const px_mapping *m, const px_map_field *f, const px_csv_field *raw, px_buf *v,
                          px_error *err) {
  const char *s = raw->s;
  size_t n = raw->n;
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  px_buf_reset(v);
  if (!n) return PX_OK;
  if (memchr(raw->s, 0, raw->n)) return px_error_set(err, PX_INVALID, f->column, "a NUL byte in the value");
  px_status st = PX_OK;
  char date[11];
  switch (f->std) {
    case PX_MAP_STD_NONE: st = px_buf_append(v, raw->s, raw->n); break;
    case PX_MAP_STD_TRIM:
    case PX_MAP_STD_ISO: st = px_buf_append(v, s, n); break;
    case PX_MAP_STD_TEXT: st = px_std_text(s, n, PX_STD_TEXT, v); break;
    case PX_MAP_STD_LOWER: st = px_std_text(s, n, PX_STD_FOLD, v); break;
    case PX_MAP_STD_EMAIL: st = px_std_email(s, n, v); break;
    case PX_MAP_STD_POSTCODE: st = px_std_postcode(s, n, v); break;
    case PX_MAP_STD_PHONE: st = px_std_phone(s, n, m->country_code, v); break;
    case PX_MAP_STD_DATE:
      if ((st = px_std_date(s, n, m->date_order, date)) == PX_OK) {
        st = px_buf_append(v, date, 10);
        if (st == PX_OK && f->target == PX_MAP_TIMESTAMP) st = px_buf_puts(v, "T00:00:00.000Z");
      }
      break;
  }
  if (st == PX_INVALID) return px_error_set(err, PX_INVALID, f->column, "not a valid %s: %.60s", std_names[f->std], raw->s);
  return st;
}

static int boolean_word(const char *s, int *value) {
  static const char *const yes[] = {"true", "yes", "y", "1", NULL}, *const no[] = {"false", "no", "n", "0", NULL};
  for (int i = 0; yes[i]; i++)
    if (strcasecmp(s, yes[i]) == 0) return *value = 1, 1;
  for (int i = 0; no[i]; i++)
    if (strcasecmp(s, no[i]) == 0) return *value = 0, 1;
  return 0;
}


/* Writes "name":value for a field whose (non-empty) text is v. */
static px_status put_member(px_buf *out, const char *name, const px_map_field *f, const px_buf *v, int *first,
                            px_error *err) {
  px_status s = *first ? PX_OK : px_buf_putc(out, ',');
  *first = 0;
  if (s == PX_OK) s = px_buf_json_str(out, name, strlen(name));
  if (s == PX_OK) s = px_buf_putc(out, ':');
  if (s != PX_OK) return s;
  if (f->type == PX_MAP_NUMBER) {
    char *end;
    double d = strtod(v->data, &end);
    if (*end || end == v->data || !isfinite(d))
      return px_error_set(err, PX_INVALID, f->column, "not a number: %.60s", v->data);
    char num[32]; /* JSON's form, whatever the file's ("+3", ".5", "1E3") */
    return px_buf_puts(out, number_text(d, num));
  }
  if (f->type == PX_MAP_BOOLEAN) {
    int b;
    if (!boolean_word(v->data, &b)) return px_error_set(err, PX_INVALID, f->column, "not true or false: %.60s", v->data);
    return px_buf_puts(out, b ? "true" : "false");
  }
  return px_buf_json_str(out, v->data, v->len);
}

/* ---- products ---- */

static const char *const stock_states[] = {"in_stock", "out_of_stock", "preorder", "backorder", "discontinued", NULL};

/* The field's name for errors: its column, or for a constant its key. */
static const char *field_label(const px_map_field *f) { return f->column[0] ? f->column : f->name; }

/* The next level of a category value (from *p, up to sep or the end),
 * trimmed of spaces; *p moves past it and its separator (NULL after the
 * last). */
static void next_level(const char **p, const char *end, const char *sep, const char **b, size_t *n) {
  size_t sl = strlen(sep);
  const char *at = NULL;
  for (const char *q = *p; sl && q + sl <= end; q++)
    if (memcmp(q, sep, sl) == 0) {
      at = q;
      break;
    }
  const char *e = at ? at : end, *s = *p;
  while (s < e && isspace((unsigned char)*s)) s++;
  while (e > s && isspace((unsigned char)e[-1])) e--;
  *b = s;
  *n = (size_t)(e - s);
  *p = at ? at + sl : NULL;
}

/* A product member's (non-empty) value checked and, in place, converted:
 * a stock state's name ("In Stock", "out-of-stock", or a boolean: in_stock
 * or out_of_stock), a currency upper-cased, a price or quantity of 0 or
 * more (a quantity whole), a category without empty levels. */
static px_status product_value(const px_map_field *f, px_buf *v, px_error *err) {
  const char *col = field_label(f);
  if (!strcmp(f->name, "stock")) {
    int b;
    const char *state = NULL;
    if (f->type == PX_MAP_BOOLEAN && boolean_word(v->data, &b)) {
      state = b ? "in_stock" : "out_of_stock";
    } else {
      char norm[24];
      size_t n = v->len < sizeof norm ? v->len : sizeof norm - 1;
      for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)v->data[i]);
        norm[i] = c == ' ' || c == '-' ? '_' : c;
      }
      norm[n] = 0;
      int k = v->len < sizeof norm ? lookup(norm, stock_states) : -1;
      if (k < 0)
        return px_error_set(err, PX_INVALID, col,
                            "not a stock state (in_stock, out_of_stock, preorder, backorder, discontinued): %.60s",
                            v->data);
      state = stock_states[k];
    }
    px_buf_reset(v);
    return px_buf_puts(v, state);
  }
  if (!strcmp(f->name, "currency")) {
    for (size_t i = 0; i < v->len; i++) v->data[i] = (char)toupper((unsigned char)v->data[i]);
    if (v->len != 3 || strspn(v->data, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
      return px_error_set(err, PX_INVALID, col, "not a 3-letter currency code (ISO 4217): %.60s", v->data);
    return PX_OK;
  }
  if (!strcmp(f->name, "price") || !strcmp(f->name, "quantity")) {
    double d = strtod(v->data, NULL); /* a number: px_mapping_value checked */
    if (d < 0) return px_error_set(err, PX_INVALID, col, "must not be negative: %.60s", v->data);
    if (f->name[0] == 'q' && (d != floor(d) || d > 9007199254740991.0))
      return px_error_set(err, PX_INVALID, col, "not a whole number: %.60s", v->data);
    return PX_OK;
  }
  if (!strcmp(f->name, "category") && f->separator[0]) {
    const char *p = v->data, *b;
    size_t n;
    while (p) {
      next_level(&p, v->data + v->len, f->separator, &b, &n);
      if (!n) return px_error_set(err, PX_INVALID, col, "an empty level in the category path: %.60s", v->data);
    }
  }
  return PX_OK;
}

/* A product member as "name":value into out (v: its value, converted,
 * non-empty): numbers as JSON writes them, the category as an array of
 * levels. */
static px_status put_product_member(px_buf *out, const px_map_field *f, const px_buf *v, int *first) {
  px_status s = *first ? PX_OK : px_buf_putc(out, ',');
  *first = 0;
  if (s == PX_OK) s = px_buf_json_str(out, f->name, strlen(f->name));
  if (s == PX_OK) s = px_buf_putc(out, ':');
  if (s != PX_OK) return s;
  if (f->type == PX_MAP_NUMBER) {
    char num[32];
    return px_buf_puts(out, number_text(strtod(v->data, NULL), num));
  }
  if (strcmp(f->name, "category")) return px_buf_json_str(out, v->data, v->len);
  const char *p = v->data, *b = v->data;
  size_t n = v->len;
  s = px_buf_putc(out, '[');
  for (int i = 0; p && s == PX_OK; i++) {
    if (f->separator[0]) next_level(&p, v->data + v->len, f->separator, &b, &n);
    else p = NULL; /* one level */
    if (i) s = px_buf_putc(out, ',');
    if (s == PX_OK) s = px_buf_json_str(out, b, n);
  }
  return s == PX_OK ? px_buf_putc(out, ']') : s;
}

/* One field of a product row: its value (a constant's, or the bound
 * column's) converted into v; empty when there is none (PX_INVALID when
 * it is required). */
static px_status product_field_value(const px_mapping *m, const px_map_field *f, const px_csv_field *fields,
                                     size_t nfields, px_buf *v, px_error *err) {
  px_csv_field raw = {f->value, strlen(f->value)};
  if (!f->value[0]) {
    if (f->index < 0 || (size_t)f->index >= nfields)
      return px_error_set(err, PX_INVALID, f->column, "the mapping is not bound to this file");
    raw = fields[f->index];
  }
  px_status s = px_mapping_value(m, f, &raw, v, err);
  if (s == PX_OK && !v->len && f->required) s = px_error_set(err, PX_INVALID, field_label(f), "is empty but required");
  return s;
}

static px_status product_row(const px_mapping *m, const px_csv_field *fields, size_t nfields, px_buf *out,
                             px_error *err) {
  px_buf v;
  px_buf_init(&v, PX_CSV_MAX_FIELD_BYTES * 2);
  px_status s = px_buf_putc(out, '{');
  int first = 1;
  /* The members in the catalog's order, then the attributes in the mapping's. */
  for (int k = 0; product_members[k] && s == PX_OK; k++) {
    for (int i = 0; i < m->nfields && s == PX_OK; i++) {
      const px_map_field *f = &m->fields[i];
      if (f->target != PX_MAP_PRODUCT || strcmp(f->name, product_members[k])) continue;
      if ((s = product_field_value(m, f, fields, nfields, &v, err)) == PX_OK && v.len)
        s = put_product_member(out, f, &v, &first);
    }
  }
  size_t mark = out->len;
  int none = 1;
  if (s == PX_OK) s = px_buf_puts(out, first ? "\"attributes\":{" : ",\"attributes\":{");
  for (int i = 0; i < m->nfields && s == PX_OK; i++) {
    const px_map_field *f = &m->fields[i];
    if (f->target != PX_MAP_ATTRIBUTE) continue;
    if ((s = product_field_value(m, f, fields, nfields, &v, err)) == PX_OK && v.len)
      s = put_member(out, f->name, f, &v, &none, err);
  }
  if (s == PX_OK && none) out->len = mark, out->data[mark] = 0;
  else if (s == PX_OK) s = px_buf_putc(out, '}');
  if (s == PX_OK) s = px_buf_putc(out, '}');
  px_buf_free(&v);
  return s;
}

const char *px_mapping_product_column(const px_mapping *m, const char *member) {
  size_t n = strcspn(member, ".[");
  int attr = n == 10 && !strncmp(member, "attributes", 10) && member[n] == '.';
  const char *name = attr ? member + 11 : member;
  size_t nn = attr ? strcspn(name, "[") : n;
  for (int i = 0; i < m->nfields; i++) {
    const px_map_field *f = &m->fields[i];
    if (f->target == (attr ? PX_MAP_ATTRIBUTE : PX_MAP_PRODUCT) && strlen(f->name) == nn &&
        !strncmp(f->name, name, nn))
      return field_label(f);
  }
  return member;
}

px_status px_mapping_value(const px_mapping *m, const px_map_field *f, const px_csv_field *raw, px_buf *v,
                           px_error *err) {
  px_status s = value_of(m, f, raw, v, err);
  if (s != PX_OK || !v->len) return s;
  int b;
  char *end;
  if (f->type == PX_MAP_NUMBER && (!isfinite(strtod(v->data, &end)) || *end || end == v->data))
    return px_error_set(err, PX_INVALID, f->column, "not a number: %.60s", v->data);
  if (f->type == PX_MAP_BOOLEAN && !boolean_word(v->data, &b))
    return px_error_set(err, PX_INVALID, f->column, "not true or false: %.60s", v->data);
  return f->target == PX_MAP_PRODUCT ? product_value(f, v, err) : PX_OK;
}

/* One object member ("traits", "properties", "context":{"traits"}) holding
 * the fields of one target, or nothing if none has a value. */
static px_status put_group(const px_mapping *m, const px_csv_field *fields, px_map_target target, px_buf *out,
                           px_buf *v, int *any, px_error *err) {
  int first = 1;
  px_status s = PX_OK;
  for (int i = 0; i < m->nfields && s == PX_OK; i++) {
    const px_map_field *f = &m->fields[i];
    int id_here = f->target == PX_MAP_IDENTIFIER && target == PX_MAP_TRAIT && strcmp(f->name, "user_id") &&
                  strcmp(f->name, "anonymous_id");
    if (f->target != target && !id_here) continue;
    if ((s = value_of(m, f, &fields[f->index], v, err)) != PX_OK) break;
    if (!v->len) {
      if (f->required) s = px_error_set(err, PX_INVALID, f->column, "is empty but required");
      continue;
    }
    if (first) s = px_buf_putc(out, '{');
    if (s == PX_OK) s = put_member(out, f->name, f, v, &first, err);
  }
  if (s == PX_OK && !first) s = px_buf_putc(out, '}');
  *any = !first;
  return s;
}

px_status px_mapping_row(const px_mapping *m, const px_csv_field *fields, size_t nfields, px_buf *out,
                         px_error *err) {
  if (m->product) return product_row(m, fields, nfields, out, err);
  px_buf v;
  px_buf_init(&v, PX_CSV_MAX_FIELD_BYTES * 2);
  px_status s = px_buf_puts(out, m->track ? "{\"type\":\"track\"" : "{\"type\":\"identify\"");
  int has_mid = 0;
  for (int i = 0; i < m->nfields && s == PX_OK; i++) {
    const px_map_field *f = &m->fields[i];
    if (f->index < 0 || (size_t)f->index >= nfields) {
      s = px_error_set(err, PX_INVALID, f->column, "the mapping is not bound to this file");
      break;
    }
    const char *key = f->target == PX_MAP_TIMESTAMP    ? "timestamp"
                      : f->target == PX_MAP_MESSAGE_ID ? "messageId"
                      : f->target == PX_MAP_EVENT      ? "event"
                      : f->target == PX_MAP_IDENTIFIER && !strcmp(f->name, "user_id")      ? "userId"
                      : f->target == PX_MAP_IDENTIFIER && !strcmp(f->name, "anonymous_id") ? "anonymousId"
                                                                                             : NULL;
    if (!key) continue; /* traits, properties and other identifiers: read once, in put_group */
    if ((s = value_of(m, f, &fields[f->index], &v, err)) != PX_OK) break;
    if (!v.len) {
      if (f->required) s = px_error_set(err, PX_INVALID, f->column, "is empty but required");
      continue;
    }
    int first = 0;
    has_mid |= f->target == PX_MAP_MESSAGE_ID;
    s = put_member(out, key, f, &v, &first, err);
  }
  if (s == PX_OK && m->track && m->event[0]) {
    s = px_buf_puts(out, ",\"event\":");
    if (s == PX_OK) s = px_buf_json_str(out, m->event, strlen(m->event));
  }
  if (s == PX_OK && !has_mid) { /* the same row gives the same id: importing again stores nothing twice */
    XXH3_state_t *h = XXH3_createState();
    XXH3_128bits_reset(h);
    for (size_t i = 0; i < nfields; i++) {
      XXH3_128bits_update(h, fields[i].s, fields[i].n);
      XXH3_128bits_update(h, "\x1f", 1);
    }
    XXH128_hash_t d = XXH3_128bits_digest(h);
    XXH3_freeState(h);
    char id[64];
    snprintf(id, sizeof id, ",\"messageId\":\"row-%016llx%016llx\"", (unsigned long long)d.high64,
             (unsigned long long)d.low64);
    s = px_buf_puts(out, id);
  }
  /* Traits (and identifiers other than user_id/anonymous_id, where the
   * identity configuration reads them): an identify's traits, a track's
   * context.traits. */
  size_t mark = out->len;
  int any = 0;
  if (s == PX_OK) s = px_buf_puts(out, m->track ? ",\"context\":{\"traits\":" : ",\"traits\":");
  if (s == PX_OK) s = put_group(m, fields, PX_MAP_TRAIT, out, &v, &any, err);
  if (s == PX_OK && any && m->track) s = px_buf_putc(out, '}');
  if (s == PX_OK && !any) out->len = mark, out->data[mark] = 0;
  if (s == PX_OK && m->track) {
    mark = out->len;
    s = px_buf_puts(out, ",\"properties\":");
    if (s == PX_OK) s = put_group(m, fields, PX_MAP_PROPERTY, out, &v, &any, err);
    if (s == PX_OK && !any) out->len = mark, out->data[mark] = 0;
  }
  if (s == PX_OK) s = px_buf_putc(out, '}');
  px_buf_free(&v);
  return s;
}
