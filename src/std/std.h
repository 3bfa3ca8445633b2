/* Standardization of the values customer records carry, for imports (per
 * field in a mapping) and for matching: text folded for comparison, e-mail
 * addresses, phone numbers, dates in the formats exports use, postcodes and the parts of a
 * person's name. Every function writes a value or says PX_INVALID; none
 * guesses silently. See docs/internals/std.md. */
#ifndef PX_STD_STD_H
#define PX_STD_STD_H

#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

/* px_std_text: Unicode NFKC always; then these. */
enum {
  PX_STD_FOLD = 1,          /* case folding */
  PX_STD_STRIP_ACCENTS = 2, /* é -> e, ß stays (folding makes it ss) */
  PX_STD_NO_PUNCT = 4,      /* punctuation and symbols become spaces */
  PX_STD_TEXT = 7,          /* all of them: text for comparison */
};

/* n bytes of UTF-8 to standardized text, white space collapsed to single
 * spaces and trimmed, appended to out. PX_INVALID for invalid UTF-8. */
px_status px_std_text(const char *in, size_t n, unsigned flags, px_buf *out);

/* An e-mail address trimmed and lower-cased; PX_INVALID unless it has one
 * @ with something on each side, a dot in the domain, and no spaces. */
px_status px_std_email(const char *in, size_t n, px_buf *out);

/* Which way round day and month are in all-number dates like 03/04/2001. */
typedef enum px_date_order { PX_DATE_DMY = 0, PX_DATE_MDY = 1 } px_date_order;

/* A date to YYYY-MM-DD (out: 11 bytes). Reads 2024-03-05 (and a time after
 * it), 20240305, 05/03/2024 and 5.3.24 (order picks D/M), 5 Mar 2024,
 * March 5, 2024 and 5-mar-2024. Two-digit years: 00-30 are 20xx, else
 * 19xx. PX_INVALID for anything else or a date that does not exist. */
px_status px_std_date(const char *in, size_t n, px_date_order order, char out[11]);

/* A postcode in capitals without spaces, except that a British one gets its
 * space back before the last three characters (sw1a1aa -> SW1A 1AA). */
px_status px_std_postcode(const char *in, size_t n, px_buf *out);

/* A phone number to E.164 ("+" and 7 to 15 digits), appended to out.
 * Reads spaces, dashes, dots, slashes and brackets between digits, a
 * leading + or 00, and "+44 (0)20 ..."; a national number (one leading 0
 * dropped) gets country_code (digits, e.g. "44"). PX_INVALID for letters
 * or a wrong number of digits. */
px_status px_std_phone(const char *in, size_t n, const char *country_code, px_buf *out);

/* The parts of a person's name, each NUL-terminated (empty when absent). */
#define PX_NAME_PART_MAX 128
typedef struct px_name_parts {
  char title[PX_NAME_PART_MAX], first[PX_NAME_PART_MAX], middle[PX_NAME_PART_MAX], last[PX_NAME_PART_MAX],
      suffix[PX_NAME_PART_MAX];
} px_name_parts;

/* Splits "Dr. Ann B. Smith Jr." or "Smith, Ann B." into its parts. */
px_status px_std_name(const char *in, size_t n, px_name_parts *out);

#endif
