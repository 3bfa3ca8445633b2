/* Reading CSV files (RFC 4180) as they come out of CRM, POS and loyalty
 * exports: quoted fields with doubled quotes and line breaks, LF or CRLF,
 * a UTF-8 byte order mark, a header line, a delimiter that is given or
 * detected, and optionally the ", " of hand-made exports. A bad record is
 * reported with its line number and reason, and reading goes on at the next
 * line, so every good record still comes. See docs/internals/csv.md. */
#ifndef PX_CSV_CSV_H
#define PX_CSV_CSV_H

#include <stddef.h>

#include "base/status.h"

/* Limits (docs/LIMITS.md). */
#define PX_CSV_MAX_FIELD_BYTES (64 * 1024)
#define PX_CSV_MAX_FIELDS 1024

typedef struct px_csv_opts {
  char delimiter;  /* 0: detected from the first line among , ; TAB | */
  int no_header;   /* the first record is data, not column names */
  int keep_space;  /* keep spaces around unquoted fields (by default "a, b" is a and b) */
} px_csv_opts;

typedef struct px_csv_field {
  const char *s; /* not NUL-terminated; valid until the next px_csv_next */
  size_t n;
} px_csv_field;

typedef struct px_csv px_csv;

/* Reads the n bytes at data, which must stay valid and unchanged until
 * px_csv_close. opts may be NULL. With a header, its fields become the column
 * names (PX_INVALID when the header itself is bad, with err). */
px_status px_csv_open(const char *data, size_t n, const px_csv_opts *opts, px_csv **out, px_error *err);
void px_csv_close(px_csv *c);

/* The next record: PX_OK with its fields; PX_NOT_FOUND at the end;
 * PX_INVALID for a bad record (err->reason says why, *line says where: the
 * line it starts on, 1-based, as for good records). After PX_INVALID the next
 * call goes on with the following line. */
px_status px_csv_next(px_csv *c, const px_csv_field **fields, size_t *nfields, long *line, px_error *err);

/* The header's column names (0 without a header); valid until close. */
size_t px_csv_columns(const px_csv *c, const px_csv_field **names);
/* The delimiter in use (given or detected). */
char px_csv_delimiter(const px_csv *c);
/* Bytes read so far, for progress. */
size_t px_csv_offset(const px_csv *c);

#endif
