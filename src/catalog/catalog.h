/* The product catalog: products with an id, a name, a category path, a
 * price, a stock state and free attributes, kept in the log environment
 * (PX_DB_PRODUCTS: durable, fsynced; products are not derived from events,
 * so a rebuild leaves them alone). Written through the API
 * (/v1/products), `pickaxe product` and `pickaxe import` with a product
 * mapping; read per candidate by the recommendations (px_catalog_available).
 *
 * Record: key the product id's bytes; value one flags byte
 * (PX_PRODUCT_AVAILABLE, other bits zero), then the product's canonical
 * JSON:
 *
 *   {"id":"85123A","name":"...","category":["Home","Candles"],"price":2.55,
 *    "currency":"GBP","stock":"in_stock","quantity":12,"attributes":{...},
 *    "updated_at":"2026-12-05T06:00:00.000Z"}
 *
 * members in that order, absent optional ones left out, attributes sorted
 * by name, numbers in their shortest form. See docs/internals/catalog.md. */
#ifndef PX_CATALOG_CATALOG_H
#define PX_CATALOG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "store/store.h"

/* Limits (docs/LIMITS.md). */
#define PX_PRODUCT_ID_MAX 256          /* bytes of a product id (non-empty UTF-8, no control characters) */
#define PX_PRODUCT_NAME_MAX 1024       /* bytes of a name */
#define PX_PRODUCT_CATEGORY_DEPTH 16   /* levels of a category path */
#define PX_PRODUCT_CATEGORY_PART_MAX 256 /* bytes of one level */
#define PX_PRODUCT_PRICE_MAX 1e15      /* a price is finite, 0 to this */
#define PX_PRODUCT_QUANTITY_MAX 9007199254740991.0 /* 2^53 - 1: every integer up to it is exact in JSON */
#define PX_PRODUCT_ATTRS_MAX 64        /* attributes of a product */
#define PX_PRODUCT_ATTR_NAME_MAX 128   /* bytes of an attribute's name */
#define PX_PRODUCT_ATTR_STR_MAX 1024   /* bytes of one string value of an attribute */
#define PX_PRODUCT_ATTR_ARRAY_MAX 64   /* values of an attribute's array */
#define PX_PRODUCT_MAX_BYTES 16384     /* the canonical JSON of a product, updated_at included */
#define PX_PRODUCT_INPUT_MAX 65536     /* the JSON text of one product (or patch) as given */

/* flag: may be recommended (stock state in_stock, preorder or backorder, and quantity absent or > 0) */
enum { PX_PRODUCT_AVAILABLE = 1 };

typedef enum px_stock {
  PX_STOCK_IN_STOCK = 0, /* the default */
  PX_STOCK_OUT_OF_STOCK,
  PX_STOCK_PREORDER,
  PX_STOCK_BACKORDER,
  PX_STOCK_DISCONTINUED
} px_stock;

/* "in_stock", ...; NULL for a value out of range. */
const char *px_stock_name(px_stock s);
/* The state named s exactly (lower case, as px_stock_name writes it);
 * PX_INVALID otherwise. */
px_status px_stock_parse(const char *s, px_stock *out);

/* ---- one product (product.c; no store) ---- */

/* A checked product: its id and its canonical JSON without updated_at
 * (px_catalog_write adds it), and its flags. Create with px_product_init,
 * free with px_product_free (accepts a product never filled). */
typedef struct px_product {
  char id[PX_PRODUCT_ID_MAX + 1]; /* NUL-terminated: an id holds no NUL */
  size_t idn;
  unsigned flags; /* PX_PRODUCT_AVAILABLE or 0 */
  px_buf json;    /* {"id":...} without updated_at */
} px_product;

void px_product_init(px_product *p);
void px_product_free(px_product *p);

/* Whether id (n bytes) is a usable product id: 1 to PX_PRODUCT_ID_MAX bytes
 * of UTF-8 without control characters (C0, DEL, C1). PX_INVALID naming
 * field "id" otherwise. */
px_status px_product_id_check(const char *id, size_t n, px_error *err);

/* Parses JSON text the way the catalog reads products (and patches): at
 * most max bytes (PX_TOO_LARGE), no NUL byte (PX_BAD_JSON), valid UTF-8
 * (PX_BAD_UTF8), no \u0000 escape (PX_BAD_JSON: cJSON would cut the string
 * there), then one JSON value and nothing after it but white space
 * (PX_BAD_JSON). err's offset is the byte where reading stopped and its
 * reason says as the event parser's do ("malformed JSON at byte N").
 * *out is a cJSON tree to cJSON_Delete. */
typedef struct cJSON cJSON;
px_status px_product_json(const char *text, size_t n, size_t max, cJSON **out, px_error *err);

/* Checks a product (a JSON object) and fills p (px_product_init first; a
 * product filled before is overwritten). id (idn bytes), when not NULL, is
 * the id the caller addresses (a URL's): the object's "id" may then be left
 * out, and must equal it when present. PX_INVALID with err naming the field
 * ("price", "category[2]", "attributes.colour") and the reason; unknown
 * members and duplicate names are errors; null is the same as absent for
 * optional members and attributes; "updated_at" is accepted and ignored
 * (the catalog sets it). */
px_status px_product_read(const cJSON *obj, const char *id, size_t idn, px_product *p, px_error *err);

/* px_product_json (PX_PRODUCT_INPUT_MAX) and px_product_read in one. */
px_status px_product_parse(const char *text, size_t n, const char *id, size_t idn, px_product *p, px_error *err);

/* A JSON merge patch (RFC 7396) applied to a stored product's JSON (its
 * canonical form), the result checked like px_product_read into p. The
 * patch must be an object; it cannot change the id (an "id" equal to the
 * stored one is allowed). */
px_status px_product_merge(const char *stored, size_t sn, const char *patch, size_t pn, px_product *p,
                           px_error *err);

/* ---- the catalog (catalog.c) ---- */

/* The product's canonical JSON; out points into the transaction (valid until it ends or the next write). PX_NOT_FOUND when absent. */
px_status px_catalog_get(px_txn *txn, const px_store *st, const char *id, size_t n, MDB_val *json);

/* Whether the product may be recommended: *available 1/0; PX_NOT_FOUND when the catalog does not have it. Reads the flags byte only (called per candidate at query time: must be cheap, one LMDB get). */
px_status px_catalog_available(px_txn *txn, const px_store *st, const char *id, size_t n, int *available);

/* Every product in id order: fn gets id, flags, canonical JSON; a non-PX_OK return stops the walk and is returned.
 * The pointers are valid during the call; fn must not write to the catalog. */
typedef px_status (*px_catalog_fn)(void *arg, const char *id, size_t idn, unsigned flags, const char *json, size_t jn);
px_status px_catalog_each(px_txn *txn, const px_store *st, px_catalog_fn fn, void *arg);

/* One page: up to limit products whose ids come after `after` (an bytes;
 * NULL or an = 0: from the first), in id order, through fn as for
 * px_catalog_each; *more says whether another product follows the page. */
px_status px_catalog_page(px_txn *txn, const px_store *st, const char *after, size_t an, size_t limit,
                          px_catalog_fn fn, void *arg, int *more);

/* Number of products. */
px_status px_catalog_count(px_txn *txn, const px_store *st, uint64_t *out);

/* What a write did. */
typedef enum px_catalog_outcome {
  PX_CATALOG_CREATED = 1,
  PX_CATALOG_REPLACED,
  PX_CATALOG_UNCHANGED /* equal to the stored product but for updated_at: nothing written */
} px_catalog_outcome;

/* Stores a checked product (write transaction: PX_TXN_WRITE or PX_TXN_LOG)
 * with updated_at now_ms, unless the stored one is the same but for
 * updated_at. outcome may be NULL. */
px_status px_catalog_write(px_txn *txn, const px_store *st, const px_product *p, int64_t now_ms,
                           px_catalog_outcome *outcome);

/* Creates or replaces the product given as JSON text (px_product_parse,
 * no path id): PX_INVALID (and friends) with err as there. */
px_status px_catalog_put(px_txn *txn, const px_store *st, const char *json, size_t n, int64_t now_ms, px_error *err,
                         px_catalog_outcome *outcome);

/* Applies a JSON merge patch to the stored product id (px_product_merge)
 * and stores the result; PX_NOT_FOUND when there is no such product. When
 * out is not NULL it receives the product as stored (canonical JSON). */
px_status px_catalog_patch(px_txn *txn, const px_store *st, const char *id, size_t n, const char *patch, size_t pn,
                           int64_t now_ms, px_error *err, px_catalog_outcome *outcome, px_buf *out);

/* Removes a product; PX_NOT_FOUND when there is none. */
px_status px_catalog_del(px_txn *txn, const px_store *st, const char *id, size_t n);

#endif
