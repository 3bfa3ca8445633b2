/* csv: RFC 4180 records from exports, bad records reported by line while
 * the good ones still come. */
#include <stdio.h>
#include <stdlib.h>

#include "csv/csv.h"
#include "px_test.h"

/* Reads all of text; writes each record as "line:f1|f2|..." or
 * "line:!reason" into out (one per line). */
static void read_all(const char *text, const px_csv_opts *o, char *out, size_t cap) {
  px_csv *c;
  px_error err;
  px_error_clear(&err);
  out[0] = 0;
  PX_ASSERT_OK(px_csv_open(text, strlen(text), o, &c, &err));
  const px_csv_field *f;
  size_t n;
  long line;
  px_status s;
  size_t used = 0;
  while ((s = px_csv_next(c, &f, &n, &line, &err)) != PX_NOT_FOUND) {
    used += (size_t)snprintf(out + used, cap - used, "%ld:", line);
    if (s != PX_OK) {
      used += (size_t)snprintf(out + used, cap - used, "!%s\n", err.reason);
      continue;
    }
    for (size_t i = 0; i < n; i++)
      used += (size_t)snprintf(out + used, cap - used, "%s%.*s", i ? "|" : "", (int)f[i].n, f[i].s);
    used += (size_t)snprintf(out + used, cap - used, "\n");
  }
  px_csv_close(c);
}

static void expect(const char *text, const px_csv_opts *o, const char *want) {
  char got[4096];
  read_all(text, o, got, sizeof got);
  if (strcmp(got, want) != 0) fail_msg("input:\n%s\ngot:\n%s\nwant:\n%s", text, got, want);
}

static void test_plain_and_quoted(void **state) {
  (void)state;
  expect("a,b,c\n1,2,3\n4,,6\n", NULL, "2:1|2|3\n3:4||6\n");
  expect("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n", NULL, "2:x, y|say \"hi\"\n");
  /* A line break inside quotes; CRLF; no final line break; the next record's
   * line number counts the lines inside the quotes. */
  expect("a,b\r\n\"two\nlines\",z\r\nlast,one", NULL, "2:two\nlines|z\n4:last|one\n");
  /* Empty lines and lines of blanks are skipped; a byte order mark too. */
  expect("\xef\xbb\xbf" "a,b\n\n1,2\n   \n3,4\n", NULL, "3:1|2\n5:3|4\n");
}

static void test_header_and_delimiters(void **state) {
  (void)state;
  const char *febrl = "rec_id, given_name, surname\nrec-1-org, , waller\nrec-2-dup-0, lachlan , berry\n";
  px_csv *c;
  px_error err;
  PX_ASSERT_OK(px_csv_open(febrl, strlen(febrl), NULL, &c, &err));
  const px_csv_field *cols;
  PX_ASSERT_INT_EQ(px_csv_columns(c, &cols), 3);
  PX_ASSERT_INT_EQ(cols[1].n, 10);
  PX_ASSERT_INT_EQ(memcmp(cols[1].s, "given_name", 10), 0);
  PX_ASSERT_INT_EQ(px_csv_delimiter(c), ',');
  px_csv_close(c);
  expect(febrl, NULL, "2:rec-1-org||waller\n3:rec-2-dup-0|lachlan|berry\n");
  px_csv_opts keep = {.keep_space = 1};
  expect(febrl, &keep, "2:rec-1-org| | waller\n3:rec-2-dup-0| lachlan | berry\n");
  /* Detected: ; and TAB (a comma inside quotes does not count). */
  expect("a;b\n\"1,5\";2\n", NULL, "2:1,5|2\n");
  expect("a\tb\n x \ty\n", NULL, "2:x|y\n");
  px_csv_opts pipe = {.delimiter = '|', .no_header = 1};
  expect("1|2\n3|4\n", &pipe, "1:1|2\n2:3|4\n");
}

static void test_bad_records_do_not_stop_the_rest(void **state) {
  (void)state;
  expect("a,b\n1,2\n1,2,3\n\"x\"y,2\n5,6\n", NULL,
         "2:1|2\n3:!3 fields where the header has 2\n4:!text after a closing quote\n5:5|6\n");
  expect("a,b\n1,\xff\n7,8\n", NULL, "2:!invalid UTF-8 or a NUL byte\n3:7|8\n");
  expect("a,b\n1,2\n\"open,3\n", NULL, "2:1|2\n3:!a quoted field is not closed\n");
  /* A quote inside an unquoted field is kept as it is. */
  expect("a,b\n5\"7,x\n", NULL, "2:5\"7|x\n");
}

static void test_limits(void **state) {
  (void)state;
  size_t big = PX_CSV_MAX_FIELD_BYTES + 10;
  char *text = malloc(big + 32);
  strcpy(text, "a,b\n");
  memset(text + 4, 'x', big);
  strcpy(text + 4 + big, ",1\n2,3\n");
  char out[256];
  px_csv_opts o = {0};
  read_all(text, &o, out, sizeof out);
  PX_ASSERT_STR_EQ(out, "2:!a field longer than 65536 bytes\n3:2|3\n");
  free(text);
  char *many = malloc(3 * 2000 + 8);
  size_t n = 0;
  for (int i = 0; i < 2000; i++) n += (size_t)sprintf(many + n, "%s1", i ? "," : "");
  strcpy(many + n, "\n1\n");
  px_csv_opts raw = {.no_header = 1};
  read_all(many, &raw, out, sizeof out);
  PX_ASSERT_STR_EQ(out, "1:!more than 1024 fields\n2:1\n");
  free(many);
}

static void test_empty_input(void **state) {
  (void)state;
  expect("", NULL, "");
  expect("a,b\n", NULL, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_and_quoted), cmocka_unit_test(test_header_and_delimiters),
      cmocka_unit_test(test_bad_records_do_not_stop_the_rest), cmocka_unit_test(test_limits),
      cmocka_unit_test(test_empty_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
