/* std: standardizing the values of customer records. */
#include <stdio.h>
#include <stdlib.h>

#include "px_test.h"
#include "std/std.h"

static void text_is(const char *in, unsigned flags, const char *want) {
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_std_text(in, strlen(in), flags, &b));
  PX_ASSERT_STR_EQ(b.data ? b.data : "", want);
  px_buf_free(&b);
}

static void test_text(void **state) {
  (void)state;
  text_is("  José   GARCÍA-López ", PX_STD_TEXT, "jose garcia lopez");
  text_is("Straße", PX_STD_TEXT, "strasse");
  text_is("Ｆｕｌｌ　ｗｉｄｔｈ", PX_STD_TEXT, "full width"); /* NFKC, and the ideographic space */
  text_is("O'Brien & Sons, Ltd.", PX_STD_TEXT, "o brien sons ltd");
  text_is("O'Brien", PX_STD_FOLD, "o'brien"); /* punctuation kept unless asked */
  text_is("Zoë", PX_STD_FOLD, "zoë");         /* accents kept unless asked */
  text_is("e\xcc\x81t\xc3\xa9", PX_STD_STRIP_ACCENTS, "ete"); /* decomposed and composed */
  text_is("\t\n", PX_STD_TEXT, "");
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_STATUS(px_std_text("a\xff", 2, PX_STD_TEXT, &b), PX_INVALID);
  px_buf_free(&b);
}

/* fn(in) gives want, or (want NULL) rejects in. */
typedef px_status (*std_fn)(const char *, size_t, px_buf *);
static void std_is(std_fn fn, const char *in, const char *want) {
  px_buf b;
  px_buf_init(&b, 0);
  px_status s = fn(in, strlen(in), &b);
  if (!want) {
    PX_ASSERT_STATUS(s, PX_INVALID);
  } else {
    PX_ASSERT_OK(s);
    PX_ASSERT_STR_EQ(b.data, want);
  }
  px_buf_free(&b);
}

#define email_is(in, want) std_is(px_std_email, in, want)
#define postcode_is(in, want) std_is(px_std_postcode, in, want)

static void test_email(void **state) {
  (void)state;
  email_is("  Ann.Lee@Example.COM ", "ann.lee@example.com");
  email_is("a+tag@mail.example.org", "a+tag@mail.example.org");
  email_is("ann@localhost", NULL);
  email_is("@example.com", NULL);
  email_is("ann@", NULL);
  email_is("a@b@c.com", NULL);
  email_is("ann lee@example.com", NULL);
  email_is("ann@example.", NULL);
}

static void date_is(const char *in, px_date_order o, const char *want) {
  char out[11] = "";
  px_status s = px_std_date(in, strlen(in), o, out);
  if (!want) {
    if (s != PX_INVALID) fail_msg("%s was read as %s", in, out);
  } else {
    if (s != PX_OK) fail_msg("%s was not read", in);
    PX_ASSERT_STR_EQ(out, want);
  }
}

static void test_dates(void **state) {
  (void)state;
  date_is("2024-03-05", PX_DATE_DMY, "2024-03-05");
  date_is("2024-03-05T10:00:00Z", PX_DATE_DMY, "2024-03-05");
  date_is("2024-03-05 10:00", PX_DATE_DMY, "2024-03-05");
  date_is("19081209", PX_DATE_DMY, "1908-12-09"); /* Febrl's date_of_birth */
  date_is("05/03/2024", PX_DATE_DMY, "2024-03-05");
  date_is("05/03/2024", PX_DATE_MDY, "2024-05-03");
  date_is("5.3.24", PX_DATE_DMY, "2024-03-05");
  date_is("5.3.61", PX_DATE_DMY, "1961-03-05");
  date_is("5 Mar 2024", PX_DATE_DMY, "2024-03-05");
  date_is("March 5, 2024", PX_DATE_DMY, "2024-03-05");
  date_is("05-sept-2024", PX_DATE_DMY, "2024-09-05");
  date_is("2024 Mar 5", PX_DATE_DMY, "2024-03-05");
  date_is("29/02/2024", PX_DATE_DMY, "2024-02-29");
  date_is("29/02/2023", PX_DATE_DMY, NULL); /* no such day */
  date_is("31/04/2024", PX_DATE_DMY, NULL);
  date_is("13/13/2024", PX_DATE_DMY, NULL);
  date_is("2024-03", PX_DATE_DMY, NULL);
  date_is("5 Foo 2024", PX_DATE_DMY, NULL);
  date_is("", PX_DATE_DMY, NULL);
  date_is("20241305", PX_DATE_DMY, NULL);
  date_is("a5/03/2024", PX_DATE_DMY, NULL);
}

static void test_postcodes(void **state) {
  (void)state;
  postcode_is("sw1a1aa", "SW1A 1AA");
  postcode_is(" SW1A  1AA", "SW1A 1AA");
  postcode_is("m1 1ae", "M1 1AE");
  postcode_is("ec1a 1bb", "EC1A 1BB");
  postcode_is("4011", "4011");             /* Australian, as in Febrl */
  postcode_is("12345-6789", "12345-6789"); /* US ZIP+4 */
  postcode_is("75008", "75008");
  postcode_is("sw1a_1aa", NULL);
  postcode_is("   ", NULL);
}

static void phone_is(const char *in, const char *cc, const char *want) {
  px_buf b;
  px_buf_init(&b, 0);
  px_status s = px_std_phone(in, strlen(in), cc, &b);
  if (!want) {
    PX_ASSERT_STATUS(s, PX_INVALID);
  } else {
    PX_ASSERT_OK(s);
    PX_ASSERT_STR_EQ(b.data, want);
  }
  px_buf_free(&b);
}

static void test_phones(void **state) {
  (void)state;
  phone_is("+44 (0)20 7946 0018", "1", "+442079460018");
  phone_is("020 7946 0018", "44", "+442079460018");
  phone_is("0044 20 7946 0018", "1", "+442079460018");
  phone_is("1-555-010-9999", "1", "+15550109999");    /* international without the + */
  phone_is("(555) 010.9999", "1", "+15550109999");
  phone_is("07 3210 9876", "61", "+61732109876");     /* Australian, trunk 0 dropped */
  phone_is("555-CALL", "1", NULL);
  phone_is("12345", "1", NULL);                        /* too short */
  phone_is("+1234567890123456", "1", NULL);            /* too long */
  phone_is("", "1", NULL);
}

static void name_is(const char *in, const char *title, const char *first, const char *middle, const char *last,
                    const char *suffix) {
  px_name_parts p;
  PX_ASSERT_OK(px_std_name(in, strlen(in), &p));
  PX_ASSERT_STR_EQ(p.title, title);
  PX_ASSERT_STR_EQ(p.first, first);
  PX_ASSERT_STR_EQ(p.middle, middle);
  PX_ASSERT_STR_EQ(p.last, last);
  PX_ASSERT_STR_EQ(p.suffix, suffix);
}

static void test_names(void **state) {
  (void)state;
  name_is("Ann Smith", "", "Ann", "", "Smith", "");
  name_is("Dr. Ann B. Smith Jr.", "Dr", "Ann", "B", "Smith", "Jr");
  name_is("Smith, Ann B.", "", "Ann", "B", "Smith", "");
  name_is("Mrs Mary Ann de la Cruz", "Mrs", "Mary", "Ann de la", "Cruz", "");
  name_is("Smith", "", "", "", "Smith", "");
  name_is("van Dyke, Jo", "", "Jo", "", "van Dyke", "");
  px_name_parts p;
  PX_ASSERT_STATUS(px_std_name("  ", 2, &p), PX_INVALID);
  PX_ASSERT_STATUS(px_std_name("Dr.", 3, &p), PX_INVALID);
  PX_ASSERT_STATUS(px_std_name("An\0n", 4, &p), PX_INVALID); /* a NUL would cut a part short */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),      cmocka_unit_test(test_email), cmocka_unit_test(test_dates),
      cmocka_unit_test(test_postcodes), cmocka_unit_test(test_names),  cmocka_unit_test(test_phones),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
