/* Data quality of a file source (or of stored events), column by column: how full each column
 * is, how many distinct values, the most common values and value patterns
 * ("Aaaa 999"), and with a mapping how many values fail its rules. Feeds
 * `pickaxe quality`. See docs/internals/quality.md. */
#ifndef PX_QUALITY_QUALITY_H
#define PX_QUALITY_QUALITY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "csv/csv.h"
#include "mapping/mapping.h"

#define PX_QUALITY_TOP 5             /* values and patterns listed per column */
#define PX_QUALITY_MAX_DISTINCT 200000 /* values tracked per column; past it, distinct is a lower bound */
#define PX_QUALITY_MAX_COLUMNS 256    /* columns px_quality_column adds; past it, columns_capped */

typedef struct px_quality px_quality;

/* For the columns named; m (may be NULL, else bound to these columns) adds
 * the count of values that fail each mapped field's type or standardization;
 * keys keeps what px_quality_overlaps needs (only worth it for several files). */
px_quality *px_quality_create(const px_csv_field *columns, size_t ncolumns, const px_mapping *m, int keys);
void px_quality_destroy(px_quality *q);

/* One record (as many fields as columns). */
px_status px_quality_add(px_quality *q, const px_csv_field *fields, size_t n);
/* A record the file could not give (bad quoting, wrong field count...). */
void px_quality_bad_record(px_quality *q);

/* Records without a header (stored events): columns are found on the way.
 * The column named (n bytes), added when new (empty in the records before,
 * so its fill rate stays relative to all records); -1 when the report has
 * PX_QUALITY_MAX_COLUMNS columns already (the value is dropped and the
 * report says columns_capped). Indexes stay valid until px_quality_sort_columns. */
long px_quality_column(px_quality *q, const char *name, size_t n);
/* Starts a record given value by value, then px_quality_value for each value
 * of column col (a column may get several in one record, an array's items:
 * each is counted as a value, the record once in filled). Blank values are
 * not values. */
void px_quality_begin(px_quality *q);
void px_quality_value(px_quality *q, size_t col, const char *s, size_t n);
/* Adds the scalars under node to the current record, each to the column of
 * its path: an object member is prefix.key, an array's items prefix[]
 * ("properties.products[].sku"); strings as they are, numbers as JSON text
 * (integers exactly), booleans true/false; null, {} and [] are no value. */
px_status px_quality_add_json(px_quality *q, const char *prefix, const cJSON *node);
/* Orders the columns from index from on by name (found ones, for a stable report). */
px_status px_quality_sort_columns(px_quality *q, size_t from);
/* What a record is called in the report ("rows" by default, "events"); static. */
void px_quality_set_unit(px_quality *q, const char *unit);

/* The report as JSON: {"rows" (or the unit), "bad_records", "columns_capped", "columns": [{"name", "filled",
 * "fill_rate", "distinct", "distinct_capped", "top": [{"value","count"}],
 * "patterns": [{"pattern","count"}], "invalid": [{"rule","count"}]}]}. */
px_status px_quality_json(const px_quality *q, px_buf *out);
/* The same as a table for a terminal. */
px_status px_quality_text(const px_quality *q, px_buf *out);

/* Candidate join keys between files (each created with keys; files[i] names qs[i]): pairs of
 * columns of different files whose values (trimmed, ASCII case ignored)
 * overlap, as a JSON array (or, with text, one line each), most
 * contained first (at most 20): [{"a":{"file","column","distinct"}, "b":{...},
 * "shared", "containment" (shared / the smaller distinct count), "jaccard"}].
 * Columns with fewer than PX_QUALITY_MIN_KEYS distinct values (flags, codes)
 * and pairs sharing fewer, or under 20% contained, are left out. */
#define PX_QUALITY_MIN_KEYS 10
px_status px_quality_overlaps(const px_quality *const *qs, const char *const *files, size_t nfiles, int text,
                              px_buf *out);

#endif
