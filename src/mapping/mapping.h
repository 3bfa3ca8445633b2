/* Mappings: how the columns of a file source (a CRM, POS or loyalty export)
 * become Segment messages, or products of the catalog. A mapping is JSON:
 *
 *   {"type": "identify" | "track" | "product",
 *    "event": "Order Completed" | {"column": "..."},            (track)
 *    "timestamp": {"column": "...", "std": "date" | "iso"},       (optional)
 *    "message_id": {"column": "..."},   (optional; else a hash of the row)
 *    "identifiers": {"user_id": {"column": "..."}, "email": {...}, ...},
 *    "traits": {"name": {"column": "...", "type": ..., "std": ...}, ...},
 *    "properties": {...},                                         (track)
 *    "product": {"id": ..., "name": ..., "category": {"column": "...", "separator": " > "},
 *                "price": ..., "currency": ..., "stock": ..., "quantity": ...},  (product)
 *    "attributes": {"colour": {"column": "..."}, ...},            (product)
 *    "format": "csv" | "jsonl",                                   (csv by default)
 *    "csv": {"delimiter": ",", "header": true, "keep_space": false},
 *    "date_order": "DMY" | "MDY",
 *    "country_code": "44"}      (for std phone: national numbers' country)
 *
 * With format jsonl the source is JSON lines, one flat (or nested) object
 * per record, and a column is a member's name or a dotted path into nested
 * objects ("address.city").
 *
 * A field: "column" (a header name), "type" (string, number or boolean;
 * string by default), "std" (none, trim, text, lower, email, phone,
 * postcode, date), "required" (an empty value rejects the row). Identifier kinds are
 * those of the configuration; the mapping only names columns for them.
 *
 * A product mapping (src/catalog reads its rows): "product" names a column
 * per product member (id required; price and quantity are numbers, stock a
 * state name or a boolean, currency a code upper-cased, category split on
 * its "separator"), "attributes" names free attributes; the fields of
 * either may give a constant "value" instead of a column. Product members
 * are trimmed unless another std is given. A row becomes a product object
 * (px_mapping_row), which the catalog checks and stores.
 * See docs/internals/mapping.md. */
#ifndef PX_MAPPING_MAPPING_H
#define PX_MAPPING_MAPPING_H

#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"
#include "csv/csv.h"
#include "std/std.h"

#define PX_MAPPING_MAX_FIELDS 256
#define PX_MAPPING_NAME_MAX 128

typedef enum px_map_type { PX_MAP_STRING = 0, PX_MAP_NUMBER, PX_MAP_BOOLEAN } px_map_type;
typedef enum px_map_std {
  PX_MAP_STD_NONE = 0, PX_MAP_STD_TRIM, PX_MAP_STD_TEXT, PX_MAP_STD_LOWER, PX_MAP_STD_EMAIL,
  PX_MAP_STD_POSTCODE, PX_MAP_STD_DATE, PX_MAP_STD_ISO, PX_MAP_STD_PHONE
} px_map_std;

/* Where a value goes in the message. */
typedef enum px_map_target { PX_MAP_TRAIT, PX_MAP_PROPERTY, PX_MAP_IDENTIFIER, PX_MAP_EVENT,
                             PX_MAP_TIMESTAMP, PX_MAP_MESSAGE_ID,
                             PX_MAP_PRODUCT,   /* a product member (name: id, name, category, ...) */
                             PX_MAP_ATTRIBUTE  /* a product attribute (name: the attribute's) */
} px_map_target;

#define PX_MAPPING_SEPARATOR_MAX 16

typedef struct px_map_field {
  px_map_target target;
  char name[PX_MAPPING_NAME_MAX];   /* trait/property name, identifier kind; empty otherwise */
  char column[PX_MAPPING_NAME_MAX]; /* the header name */
  int index;                        /* the column's position once bound, else -1 */
  px_map_type type;
  px_map_std std;
  int required;
  char value[PX_MAPPING_NAME_MAX];  /* product mappings: a constant instead of a column (column empty) */
  char separator[PX_MAPPING_SEPARATOR_MAX]; /* product.category: splits a value into levels; empty: one level */
} px_map_field;

typedef struct px_mapping {
  int track;                                /* else identify (or product) */
  int product;                              /* rows are catalog products, not messages */
  char event[PX_MAPPING_NAME_MAX];          /* a fixed event name (track), when no event column */
  px_map_field fields[PX_MAPPING_MAX_FIELDS];
  int nfields;
  px_csv_opts csv;
  px_date_order date_order;
  int jsonl;              /* the source is JSON lines, not CSV */
  char country_code[4];   /* digits, or empty: phone numbers must then be international */
} px_mapping;

/* Reads a mapping; errors name the offending field ("traits.age.type"). */
px_status px_mapping_parse(const char *json, size_t n, px_mapping *out, px_error *err);

/* Finds each field's column among a file's header; PX_INVALID (naming the
 * field and the column) when one is missing. A constant field (value) is
 * left unbound (index -1). */
px_status px_mapping_bind(px_mapping *m, const px_csv_field *columns, size_t ncolumns, px_error *err);

/* A JSON-lines record (an object) as fields for px_mapping_row: one per
 * mapping field, in the mapping's order (binds each field to its position),
 * their text in text (strings as they are, numbers and booleans as JSON
 * writes them, absent and null empty). PX_INVALID when a mapped member is
 * an object or array. fields: room for m->nfields. */
typedef struct cJSON cJSON;
px_status px_mapping_json_record(px_mapping *m, const cJSON *obj, px_csv_field *fields, px_buf *text,
                                 px_error *err);

/* One field's value as the mapping reads it (standardized, empty when
 * absent) into v; PX_INVALID when it does not convert (err says why). */
px_status px_mapping_value(const px_mapping *m, const px_map_field *f, const px_csv_field *raw, px_buf *v,
                           px_error *err);

/* One record to a Segment message (JSON) appended to out, or with a
 * product mapping to a product object ({"id", "name", "category": [...],
 * "price", "currency", "stock", "quantity", "attributes": {...}}, members
 * with no value left out). PX_INVALID when a value cannot be converted or
 * a required one (a product's id) is empty: err names the field (the
 * column) and says why, and the row is to be rejected. */
px_status px_mapping_row(const px_mapping *m, const px_csv_field *fields, size_t nfields, px_buf *out,
                         px_error *err);

/* For errors about a product member ("price", "category[1]",
 * "attributes.colour[2]"): the column (or for a constant, the mapping key
 * "product.currency") it was read from; member itself when the mapping
 * has no field for it. Valid while m is. */
const char *px_mapping_product_column(const px_mapping *m, const char *member);

#endif
