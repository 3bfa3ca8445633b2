/* match/config, infer, records, link: the matching configuration (parse
 * errors, round trip, inference), standardization for matching, u by random
 * sampling, and linkage end to end with explanations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "match/cluster.h"
#include "match/config.h"
#include "match/em.h"
#include "match/link.h"
#include "match/records.h"
#include "px_test.h"
#include "std/std.h"

static px_status parse(const char *json, px_match_config *c, px_error *err) {
  px_error_clear(err);
  return px_match_config_parse(json, strlen(json), c, err);
}

/* ---- configuration ---- */

static void test_config_errors(void **state) {
  (void)state;
  static const struct {
    const char *json, *field, *reason;
  } cases[] = {
      {"[]", "", "JSON object"},
      {"{}", "fields", "array of 1 to 32"},
      {"{\"fields\":[]}", "fields", "array of 1 to 32"},
      {"{\"fields\":[{\"name\":\"a\"}]}", "fields[0].type", "is required"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"nope\"}]}", "fields[1].type",
       "must be text, name"},
      {"{\"fields\":[{\"type\":\"text\"}]}", "fields[0].name", "is required"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"colour\":1}]}", "fields[0].colour", "not a member"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"thresholds\":[0.8,0.9]}]}", "fields[0].thresholds",
       "decreasing"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"id\",\"thresholds\":[1.5]}]}", "fields[0].thresholds",
       "edit distances"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"compare\":\"exact\",\"thresholds\":[0.9]}]}",
       "fields[0].thresholds", "no thresholds"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"compare\":\"levenshtein\"}]}", "fields[0].thresholds",
       "required"},
      /* Found by fuzzing: no thresholds read as none, but written as none they read as the defaults. */
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"compare\":\"jaro_winkler\",\"thresholds\":[]}]}",
       "fields[0].thresholds", "at least one"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"compare\":\"soundex\"}]}", "fields[0].compare",
       "must be exact"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"a\",\"type\":\"id\"}]}", "fields[1].name",
       "repeats"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"name\",\"swap_with\":\"a\"}]}", "fields[0].swap_with",
       "another field"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"date\",\"date_order\":\"ymd\"}]}", "fields[0].date_order",
       "dmy or mdy"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"phone\",\"country_code\":\"+44\"}]}", "fields[0].country_code",
       "digits"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"blocking\":[[\"b\"]]}", "blocking[0][0]", "names no field"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"blocking\":[[]]}", "blocking[0]", "1 to 4"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"blocking\":[[{\"field\":\"a\",\"prefix\":0}]]}",
       "blocking[0][0].prefix", "1 to 255"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"threshold\":1}", "threshold", "between 0 and 1"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"max_block\":1}", "max_block", "from 2"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"u\":\"guess\"}", "u", "sampled or em"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"extra\":true}", "extra", "not a member"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"}],\"model\":{\"fields\":[]}}", "model.fields",
       "one entry per field"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"id\"}],\"model\":{\"lambda\":0.1,\"fields\":[{\"m\":[1,0,0]}]}}",
       "model.fields[0].m", "one probability per level"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"id\"}],\"model\":{\"lambda\":0.1,\"fields\":[{\"m\":[0.9,0.05,"
       "0.03,0.02]}]}}",
       "model.fields[0].u", "is required"},
      /* Groups of fields that change together. */
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":{}}", "groups",
       "at most 4 groups"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":[[\"a\"]]}",
       "groups[0]", "at least two fields"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":[[\"a\",\"c\"]]}",
       "groups[0][1]", "names no field"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":[[\"a\",\"a\"]]}",
       "groups[0][1]", "already in a group"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"},{\"name\":\"c\",\"type\":"
       "\"text\"}],\"groups\":[[\"a\",\"b\"],{\"name\":\"g\",\"fields\":[\"c\",\"b\"]}]}",
       "groups[1].fields[1]", "already in a group"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":[{\"name\":\"a\","
       "\"fields\":[\"a\",\"b\"]}]}",
       "groups[0].name", "repeats"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":[{\"fields\":[\"a\","
       "\"b\"]}]}",
       "groups[0].name", "is required"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":[{\"name\":\"g\","
       "\"fields\":[\"a\",\"b\"],\"weight\":2}]}",
       "groups[0].weight", "not a member of a group"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"b\",\"type\":\"text\"}],\"groups\":[7]}", "groups[0]",
       "\"name\", \"fields\""},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"compare\":\"exact\"},{\"name\":\"b\",\"type\":\"text\","
       "\"compare\":\"exact\"}],\"groups\":[[\"a\",\"b\"]],\"model\":{\"lambda\":0.1,\"fields\":[{\"m\":[0.9,0.1],"
       "\"u\":[0.1,0.9]},{\"m\":[0.9,0.1],\"u\":[0.1,0.9]}]}}",
       "model.groups", "is required"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"compare\":\"exact\"},{\"name\":\"b\",\"type\":\"text\","
       "\"compare\":\"exact\"}],\"groups\":[[\"a\",\"b\"]],\"model\":{\"lambda\":0.1,\"fields\":[{\"m\":[0.9,0.1],"
       "\"u\":[0.1,0.9]},{\"m\":[0.9,0.1],\"u\":[0.1,0.9]}],\"groups\":[{\"changed\":1}]}}",
       "model.groups[0].changed", "between 0 and 1"},
      {"{\"fields\":[{\"name\":\"a\",\"type\":\"text\",\"compare\":\"exact\"}],\"model\":{\"lambda\":0.1,\"fields\":[{"
       "\"m\":[0.9,0.1],\"u\":[0.1,0.9]}],\"groups\":[{\"changed\":0.1}]}}",
       "model.groups", "one entry per group"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    px_match_config c;
    px_error err;
    px_status s = parse(cases[i].json, &c, &err);
    if (s == PX_OK) fail_msg("case %zu (%s) parsed", i, cases[i].json);
    if (strcmp(err.field, cases[i].field) != 0)
      fail_msg("case %zu (%s): field \"%s\", want \"%s\" (%s)", i, cases[i].json, err.field, cases[i].field, err.reason);
    PX_ASSERT_STR_CONTAINS(err.reason, cases[i].reason);
  }
  px_match_config c;
  px_error err;
  PX_ASSERT_STATUS(parse("{\"fields\":", &c, &err), PX_BAD_JSON);
}

static const char full_config[] =
    "{\"fields\":[{\"name\":\"first\",\"column\":\"First Name\",\"type\":\"name\",\"swap_with\":\"last\"},"
    "{\"name\":\"last\",\"type\":\"name\",\"swap_with\":\"first\",\"term_frequency\":false},"
    "{\"name\":\"dob\",\"type\":\"date\",\"compare\":\"days\",\"thresholds\":[1,31,366],\"date_order\":\"mdy\"},"
    "{\"name\":\"phone\",\"type\":\"phone\",\"country_code\":\"44\"},"
    "{\"name\":\"state\",\"type\":\"text\",\"compare\":\"exact\"}],"
    "\"blocking\":[[\"dob\"],[{\"field\":\"last\",\"prefix\":3},\"first\"]],"
    "\"threshold\":0.95,\"max_block\":500,\"max_cluster\":0,\"u_samples\":5000,\"seed\":7,\"u\":\"em\",\"threads\":2,"
    "\"model\":{\"lambda\":0.001,\"fields\":["
    "{\"m\":[0.7,0.1,0.05,0.05,0.05,0.05],\"u\":[0.01,0.01,0.02,0.06,0.0001,0.8999]},"
    "{\"m\":[0.7,0.1,0.05,0.05,0.05,0.05],\"u\":[0.01,0.01,0.02,0.06,0.0001,0.8999]},"
    "{\"m\":[0.9,0.02,0.03,0.03,0.02],\"u\":[0.0001,0.0002,0.003,0.03,0.9667]},"
    "{\"m\":[0.9,0.05,0.03,0.02],\"u\":[0.0001,0.0001,0.0001,0.9997]},"
    "{\"m\":[0.95,0.05],\"u\":[0.2,0.8]}]}}";

static void test_config_round_trip(void **state) {
  (void)state;
  px_match_config a, b;
  px_error err;
  PX_ASSERT_OK(parse(full_config, &a, &err));
  PX_ASSERT_INT_EQ(a.nfields, 5);
  PX_ASSERT_STR_EQ(a.fields[0].column, "First Name");
  PX_ASSERT_STR_EQ(a.fields[1].column, "last"); /* defaults to the name */
  PX_ASSERT_INT_EQ(a.fields[0].swap_with, 1);
  PX_ASSERT_INT_EQ(a.fields[0].tf, 1);
  PX_ASSERT_INT_EQ(a.fields[1].tf, 0);
  PX_ASSERT_INT_EQ(a.fields[2].cmp.kind, PX_CMP_DATE);
  PX_ASSERT_INT_EQ(a.fields[2].date_order, PX_DATE_MDY);
  PX_ASSERT_INT_EQ(a.fields[3].cmp.kind, PX_CMP_LEVENSHTEIN); /* the type's default */
  PX_ASSERT_INT_EQ(a.nrules, 2);
  PX_ASSERT_INT_EQ(a.rules[1].nparts, 2);
  PX_ASSERT_INT_EQ(a.rules[1].field[0], 1);
  PX_ASSERT_INT_EQ(a.rules[1].prefix[0], 3);
  PX_ASSERT_INT_EQ(a.have_model, 1);
  PX_ASSERT_INT_EQ(a.model.nlevels[0], 7); /* null, exact, 3 thresholds, swapped, different */
  PX_ASSERT_TRUE(a.u_from_em && a.threads == 2 && a.seed == 7 && a.max_cluster == 0);
  px_buf j1, j2;
  px_buf_init(&j1, 0);
  px_buf_init(&j2, 0);
  PX_ASSERT_OK(px_match_config_json(&a, &j1));
  if (parse(j1.data, &b, &err) != PX_OK) fail_msg("%s: %s in\n%s", err.field, err.reason, j1.data);
  PX_ASSERT_OK(px_match_config_json(&b, &j2));
  PX_ASSERT_STR_EQ(j1.data, j2.data);
  PX_ASSERT_TRUE(memcmp(&a.fields, &b.fields, sizeof a.fields) == 0);
  PX_ASSERT_TRUE(memcmp(&a.rules, &b.rules, sizeof a.rules) == 0);
  PX_ASSERT_TRUE(memcmp(&a.model, &b.model, sizeof a.model) == 0);
  PX_ASSERT_TRUE(a.threshold == b.threshold && a.max_block == b.max_block && a.u_samples == b.u_samples);
  px_buf_free(&j1);
  px_buf_free(&j2);
}

/* Groups read, write and read back the same; the shorthand (an array of
 * fields) gets a name; a model carries each group's chance of changing. */
static void test_config_groups(void **state) {
  (void)state;
  static const char json[] =
      "{\"fields\":[{\"name\":\"given\",\"type\":\"name\"},{\"name\":\"street\",\"type\":\"text\"},"
      "{\"name\":\"city\",\"type\":\"text\"},{\"name\":\"zip\",\"type\":\"postcode\"},"
      "{\"name\":\"email\",\"type\":\"email\"},{\"name\":\"work_email\",\"type\":\"email\"}],"
      "\"blocking\":[[\"given\"]],\"groups\":[{\"name\":\"address\",\"fields\":[\"street\",\"city\",\"zip\"]},"
      "[\"email\",\"work_email\"]],"
      "\"model\":{\"lambda\":0.001,\"fields\":["
      "{\"m\":[0.7,0.1,0.1,0.05,0.05],\"u\":[0.01,0.01,0.02,0.06,0.9]},"
      "{\"m\":[0.8,0.1,0.05,0.05],\"u\":[0.01,0.02,0.07,0.9]},{\"m\":[0.8,0.1,0.05,0.05],\"u\":[0.01,0.02,0.07,0.9]},"
      "{\"m\":[0.9,0.05,0.03,0.02],\"u\":[0.01,0.01,0.02,0.96]},{\"m\":[0.9,0.05,0.03,0.02],\"u\":[0.01,0.01,0.02,0.96]},"
      "{\"m\":[0.9,0.05,0.03,0.02],\"u\":[0.01,0.01,0.02,0.96]}],"
      "\"groups\":[{\"changed\":0.0625},{\"changed\":0.3}]}}";
  px_match_config a, b;
  px_error err;
  PX_ASSERT_OK(parse(json, &a, &err));
  PX_ASSERT_INT_EQ(a.ngroups, 2);
  PX_ASSERT_STR_EQ(a.groups[0].name, "address");
  PX_ASSERT_INT_EQ(a.groups[0].nmembers, 3);
  PX_ASSERT_INT_EQ(a.groups[0].member[0], 1);
  PX_ASSERT_INT_EQ(a.groups[0].member[2], 3);
  PX_ASSERT_STR_EQ(a.groups[1].name, "group2");
  PX_ASSERT_INT_EQ(a.groups[1].member[1], 5);
  PX_ASSERT_TRUE(a.model.changed[0] == 0.0625 && a.model.changed[1] == 0.3);
  PX_ASSERT_INT_EQ(a.model.group[2], 1);
  PX_ASSERT_INT_EQ(a.model.group[0], 0);
  px_buf j1, j2;
  px_buf_init(&j1, 0);
  px_buf_init(&j2, 0);
  PX_ASSERT_OK(px_match_config_json(&a, &j1));
  PX_ASSERT_STR_CONTAINS(j1.data, "\"groups\": [{\"name\": \"address\", \"fields\": [\"street\", \"city\", \"zip\"]}, "
                                  "{\"name\": \"group2\", \"fields\": [\"email\", \"work_email\"]}]");
  PX_ASSERT_STR_CONTAINS(j1.data, "\"groups\": [{\"changed\": 0.0625}, {\"changed\": 0.3}]");
  if (parse(j1.data, &b, &err) != PX_OK) fail_msg("%s: %s in\n%s", err.field, err.reason, j1.data);
  PX_ASSERT_OK(px_match_config_json(&b, &j2));
  PX_ASSERT_STR_EQ(j1.data, j2.data);
  PX_ASSERT_TRUE(memcmp(&a.groups, &b.groups, sizeof a.groups) == 0 && a.ngroups == b.ngroups);
  PX_ASSERT_TRUE(memcmp(&a.model, &b.model, sizeof a.model) == 0);
  /* Without groups nothing about them is written (earlier configurations read the same). */
  PX_ASSERT_OK(parse(full_config, &a, &err));
  px_buf_reset(&j1);
  PX_ASSERT_OK(px_match_config_json(&a, &j1));
  PX_ASSERT_TRUE(strstr(j1.data, "groups") == NULL);
  px_buf_free(&j1);
  px_buf_free(&j2);
}

/* ---- standardization for matching ---- */

static const char *std_of(px_match_type t, const char *in, px_buf *b) {
  px_match_field f;
  memset(&f, 0, sizeof f);
  px_match_field_defaults(&f, t);
  px_buf_reset(b);
  px_match_standardize(&f, in, strlen(in), b);
  return b->len ? b->data : "";
}

static void test_standardize(void **state) {
  (void)state;
  px_buf b, want;
  px_buf_init(&b, 0);
  px_buf_init(&want, 0);
  /* The ASCII fast path gives what px_std_text gives, byte by byte. */
  for (int c = 1; c < 128; c++) {
    char in[6] = {'a', (char)c, 'B', ' ', (char)c, 0};
    px_buf_reset(&want);
    PX_ASSERT_OK(px_std_text(in, 5, PX_STD_TEXT, &want));
    PX_ASSERT_STR_EQ(std_of(PX_MT_TEXT, in, &b), want.len ? want.data : "");
  }
  PX_ASSERT_STR_EQ(std_of(PX_MT_TEXT, "  Zoë  O'Brien ", &b), "zoe o brien");
  PX_ASSERT_STR_EQ(std_of(PX_MT_NAME, "Dr. Mrs Ann", &b), "ann");
  PX_ASSERT_STR_EQ(std_of(PX_MT_NAME, "Dr", &b), "dr"); /* only a title: kept */
  PX_ASSERT_STR_EQ(std_of(PX_MT_DATE, "19081209", &b), "1908-12-09");
  PX_ASSERT_STR_EQ(std_of(PX_MT_DATE, "19081290", &b), "1908-12-90"); /* no such day: kept as typed */
  PX_ASSERT_STR_EQ(std_of(PX_MT_DATE, "31/02/1990", &b), "1990-02-31");
  PX_ASSERT_STR_EQ(std_of(PX_MT_DATE, "soon", &b), "");
  PX_ASSERT_STR_EQ(std_of(PX_MT_EMAIL, " Ann@Example.COM", &b), "ann@example.com");
  PX_ASSERT_STR_EQ(std_of(PX_MT_EMAIL, "not an address", &b), ""); /* does not standardize: missing */
  PX_ASSERT_STR_EQ(std_of(PX_MT_ID, "AB-12 34", &b), "ab1234");
  PX_ASSERT_STR_EQ(std_of(PX_MT_NUMBER, "12.50", &b), "12.5");
  PX_ASSERT_STR_EQ(std_of(PX_MT_NUMBER, "12,5", &b), "");
  PX_ASSERT_STR_EQ(std_of(PX_MT_POSTCODE, "sw1a1aa", &b), "SW1A 1AA");
  /* Long values are cut, never in the middle of a character. */
  char longv[601];
  for (int i = 0; i < 600; i += 2) longv[i] = (char)0xCE, longv[i + 1] = (char)0xB1; /* α, two bytes */
  longv[600] = 0;
  const char *cut = std_of(PX_MT_TEXT, longv, &b);
  PX_ASSERT_INT_EQ(strlen(cut), PX_MATCH_VALUE_MAX - 1); /* 255 would split the 128th α */
  PX_ASSERT_INT_EQ((unsigned char)cut[252], 0xCE);
  px_buf_free(&b);
  px_buf_free(&want);
}

static void test_compare_swapped(void **state) {
  (void)state;
  px_match_config c;
  px_error err;
  PX_ASSERT_OK(parse("{\"fields\":[{\"name\":\"given\",\"type\":\"name\",\"swap_with\":\"surname\"},"
                     "{\"name\":\"surname\",\"type\":\"name\",\"swap_with\":\"given\"},{\"name\":\"dob\",\"type\":"
                     "\"date\"}],\"blocking\":[[\"dob\"]]}",
                     &c, &err));
  const char *raw[] = {"Ann", "Walker", "1980-01-02", "walker", "ann", "19800102", "Anne", "Walker", "1980-01-03",
                       "Bob", "Smith", NULL};
  px_match_records r;
  PX_ASSERT_OK(px_match_records_build(&c, raw, 4, &r));
  unsigned char v[3];
  char buf[64];
  px_match_compare(&c, &r, 0, 1, v);
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[0], v[0], buf, sizeof buf), "swapped");
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[1], v[1], buf, sizeof buf), "swapped");
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[2], v[2], buf, sizeof buf), "exact");
  px_match_compare(&c, &r, 0, 2, v);
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[0], v[0], buf, sizeof buf), "jaro_winkler>=0.94");
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[1], v[1], buf, sizeof buf), "exact");
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[2], v[2], buf, sizeof buf), "levenshtein<=1");
  px_match_compare(&c, &r, 0, 3, v);
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[0], v[0], buf, sizeof buf), "different");
  PX_ASSERT_INT_EQ(v[0], px_match_field_levels(&c.fields[0]) - 1);
  PX_ASSERT_STR_EQ(px_match_level_name(&c.fields[2], v[2], buf, sizeof buf), "null");
  px_match_records_free(&r);
}

/* ---- inference ---- */

#define COLS 10
static const char *const infer_names[COLS] = {"rec_id", "First Name", "last_name", "email",   "mobile",
                                              "dob",    "zip",        "city",      "state",   "notes"};

/* 60 people, every third with a duplicate carrying a typo. */
static const char **infer_table(size_t *n) {
  static const char *first[] = {"ann", "bob", "carla", "dmitri", "eve", "farid", "gina", "hugo", "ines", "jack"};
  static const char *last[] = {"walker", "smith", "ng", "okafor", "kowalski", "dubois"};
  static const char *city[] = {"leeds", "york", "bath", "derby", "ripon", "ely", "truro", "wells"};
  static const char *states[] = {"north", "south"};
  static char buf[200][COLS][48];
  static const char *rows[200 * COLS];
  size_t k = 0;
  for (int p = 0; p < 60; p++) {
    for (int copy = 0; copy < (p % 3 == 0 ? 2 : 1); copy++, k++) {
      snprintf(buf[k][0], 48, "r%zu", k);
      snprintf(buf[k][1], 48, "%s", first[p % 10]);
      snprintf(buf[k][2], 48, "%s%s", last[p % 6], copy ? "x" : "");
      snprintf(buf[k][3], 48, "%s.%s%d@mail.example", first[p % 10], last[p % 6], p);
      snprintf(buf[k][4], 48, "07700 9%05d", p * 37);
      snprintf(buf[k][5], 48, "19%02d-%02d-%02d", 40 + p % 50, 1 + p % 12, 1 + p % 28);
      snprintf(buf[k][6], 48, "%s%d %dAB", p % 2 ? "LS" : "YO", p % 9 + 1, p % 7 + 1);
      snprintf(buf[k][7], 48, "%s", city[p % 8]);
      snprintf(buf[k][8], 48, "%s", states[p % 2]);
      snprintf(buf[k][9], 48, "%s", "");
      for (int c = 0; c < COLS; c++) rows[k * COLS + c] = buf[k][c];
    }
  }
  *n = k;
  return rows;
}

static int field_named(const px_match_config *c, const char *name) {
  for (int i = 0; i < c->nfields; i++)
    if (!strcmp(c->fields[i].name, name)) return i;
  return -1;
}

static void test_infer(void **state) {
  (void)state;
  size_t n;
  const char **rows = infer_table(&n);
  px_match_config c;
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_match_config_infer(infer_names, COLS, rows, n, NULL, &c, &err));
  PX_ASSERT_INT_EQ(field_named(&c, "rec_id"), -1); /* a record key */
  PX_ASSERT_INT_EQ(field_named(&c, "notes"), -1);  /* always empty */
  int first = field_named(&c, "First Name"), last = field_named(&c, "last_name");
  PX_ASSERT_TRUE(first >= 0 && last >= 0);
  PX_ASSERT_INT_EQ(c.fields[first].type, PX_MT_NAME);
  PX_ASSERT_INT_EQ(c.fields[first].swap_with, last);
  PX_ASSERT_INT_EQ(c.fields[last].swap_with, first);
  PX_ASSERT_INT_EQ(c.fields[field_named(&c, "email")].type, PX_MT_EMAIL);
  PX_ASSERT_INT_EQ(c.fields[field_named(&c, "mobile")].type, PX_MT_PHONE);
  PX_ASSERT_INT_EQ(c.fields[field_named(&c, "dob")].type, PX_MT_DATE);
  PX_ASSERT_INT_EQ(c.fields[field_named(&c, "zip")].type, PX_MT_POSTCODE);
  PX_ASSERT_INT_EQ(c.fields[field_named(&c, "city")].type, PX_MT_TEXT);
  int st = field_named(&c, "state");
  PX_ASSERT_INT_EQ(c.fields[st].cmp.kind, PX_CMP_EXACT); /* two values */
  /* Several rules, none on the state alone (every pair), none repeating a field more than twice. */
  PX_ASSERT_INT_CMP(c.nrules, >=, 3);
  int uses[PX_EM_MAX_FIELDS] = {0};
  for (int r = 0; r < c.nrules; r++) {
    PX_ASSERT_TRUE(!(c.rules[r].nparts == 1 && c.rules[r].field[0] == st));
    for (int p = 0; p < c.rules[r].nparts; p++) uses[c.rules[r].field[p]]++;
  }
  int distinct = 0;
  for (int f = 0; f < c.nfields; f++) {
    PX_ASSERT_INT_CMP(uses[f], <=, 2);
    distinct += uses[f] > 0;
  }
  PX_ASSERT_INT_CMP(distinct, >=, 3);
  /* skip names a column to leave out, whatever it looks like. */
  PX_ASSERT_OK(px_match_config_infer(infer_names, COLS, rows, n, "email", &c, &err));
  PX_ASSERT_INT_EQ(field_named(&c, "email"), -1);
  /* Nothing to compare. */
  const char *names1[] = {"id"}, *vals1[] = {"1", "2", "3"};
  PX_ASSERT_STATUS(px_match_config_infer(names1, 1, vals1, 3, NULL, &c, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "no column");
}

/* ---- u by random sampling ---- */

/* Records whose fields are drawn independently from K equally likely values:
 * two different records agree with probability 1/K, which sampled u must
 * find. A unique id blocks, so EM sees almost no pairs. */
static void test_u_sampled(void **state) {
  (void)state;
  enum { N = 3000 };
  static const int K[3] = {2, 10, 50};
  px_match_config c;
  px_error err;
  PX_ASSERT_OK(parse("{\"fields\":[{\"name\":\"id\",\"type\":\"id\",\"compare\":\"exact\"},"
                     "{\"name\":\"a\",\"type\":\"id\",\"compare\":\"exact\"},{\"name\":\"b\",\"type\":\"id\","
                     "\"compare\":\"exact\"},{\"name\":\"c\",\"type\":\"id\",\"compare\":\"exact\"}],"
                     "\"blocking\":[[\"id\"]],\"u_samples\":200000,\"seed\":42}",
                     &c, &err));
  static char text[N][4][12];
  static const char *vals[N * 4];
  uint64_t x = 12345;
  for (int i = 0; i < N; i++) {
    snprintf(text[i][0], 12, "%d", i);
    for (int f = 0; f < 3; f++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      snprintf(text[i][f + 1], 12, "v%d", (int)((x >> 33) % (uint64_t)K[f]));
    }
    for (int f = 0; f < 4; f++) vals[i * 4 + f] = text[i][f];
  }
  px_link_result r, again;
  PX_ASSERT_OK(px_link_run(&c, vals, N, &r));
  PX_ASSERT_UINT_EQ(r.u_sampled, 200000);
  PX_ASSERT_UINT_EQ(r.pairs_compared, 0);
  for (int f = 0; f < 3; f++) {
    double want = 1.0 / K[f], got = r.model.u[f + 1][1];
    if (fabs(got - want) > 0.1 * want + 0.002) fail_msg("field %d: u(exact) %.4f, want %.4f", f, got, want);
    if (fabs(r.model.u[f + 1][2] - (1 - want)) > 0.1 * want + 0.002) fail_msg("field %d: u(different)", f);
  }
  /* The same seed samples the same pairs. */
  PX_ASSERT_OK(px_link_run(&c, vals, N, &again));
  PX_ASSERT_TRUE(memcmp(r.model.u, again.model.u, sizeof r.model.u) == 0);
  px_link_free(&again);
  c.seed = 43;
  PX_ASSERT_OK(px_link_run(&c, vals, N, &again));
  PX_ASSERT_TRUE(memcmp(r.model.u, again.model.u, sizeof r.model.u) != 0);
  px_link_free(&again);
  px_link_free(&r);
}

/* ---- linkage end to end ---- */

static void test_link_given_model(void **state) {
  (void)state;
  /* Fixed m and u: the weights are known exactly. */
  px_match_config c;
  px_error err;
  PX_ASSERT_OK(parse("{\"fields\":[{\"name\":\"name\",\"type\":\"name\",\"term_frequency\":false},"
                     "{\"name\":\"dob\",\"type\":\"date\"}],\"blocking\":[[\"dob\"],[\"name\"]],\"threshold\":0.9,"
                     "\"max_cluster\":2,"
                     "\"model\":{\"lambda\":0.05,\"fields\":[{\"m\":[0.8,0.1,0.05,0.03,0.02],\"u\":[0.05,0.04,0.1,"
                     "0.2,0.61]},{\"m\":[0.9,0.05,0.03,0.02],\"u\":[0.01,0.02,0.07,0.9]}]}}",
                     &c, &err));
  const char *vals[] = {
      "Ann Walker", "1980-01-02", /* 0 */
      "Ann Walker", "02/01/1980", /* 1: same person, another date format */
      "Bob Smith",  "1975-05-05", /* 2 */
      "Bob Smyth",  "1975-05-05", /* 3: a typo */
      "Cy Young",   "1975-05-05", /* 4: same birthday, someone else */
      "Ann Walker", "",           /* 5: no date */
      "Ann Walker", "1980-01-02", /* 6 */
  };
  px_link_result r;
  PX_ASSERT_OK(px_link_run(&c, vals, 7, &r));
  PX_ASSERT_UINT_EQ(r.n, 7);
  PX_ASSERT_UINT_EQ(r.u_sampled, 0);
  /* Exact name and exact date: log2(0.8/0.05) + log2(0.9/0.01) = 4 + 6.49. */
  PX_ASSERT_TRUE(fabs(r.weight[0] - (4 + log2(90))) < 1e-9);
  PX_ASSERT_UINT_EQ(r.a[0], 0);
  PX_ASSERT_UINT_EQ(r.b[0], 1);
  for (size_t k = 1; k < r.npairs; k++) PX_ASSERT_TRUE(r.weight[k] <= r.weight[k - 1]); /* strongest first */
  /* Clusters: {0,1} (6 refused: the limit is 2), {2,3}, {4}, {5} (no date: not enough), {6}. */
  const uint32_t want[] = {0, 0, 2, 2, 4, 5, 6};
  for (int i = 0; i < 7; i++)
    if (r.clusters.id[i] != want[i]) fail_msg("record %d in cluster %u, want %u", i, r.clusters.id[i], want[i]);
  PX_ASSERT_UINT_EQ(r.clusters.clusters, 5);
  PX_ASSERT_UINT_EQ(r.clusters.refused, 2); /* (0,6) and (1,6) */
  PX_ASSERT_UINT_EQ(r.npairs, 4);
  size_t joined = 0;
  for (size_t k = 0; k < r.npairs; k++) joined += r.joined[k];
  PX_ASSERT_UINT_EQ(joined, 2); /* 7 records, 5 clusters */
  /* Explanation of the pair (2,3). */
  size_t k23 = r.npairs;
  for (size_t k = 0; k < r.npairs; k++)
    if (r.a[k] == 2 && r.b[k] == 3) k23 = k;
  PX_ASSERT_TRUE(k23 < r.npairs);
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_link_explain(&c, &r, k23, &b));
  PX_ASSERT_STR_CONTAINS(b.data, "{\"field\":\"name\",\"level\":\"jaro_winkler>=0.94\",\"weight\":1.32192809489}");
  PX_ASSERT_STR_CONTAINS(b.data, "{\"field\":\"dob\",\"level\":\"exact\",\"weight\":6.49185309633}");
  PX_ASSERT_STR_CONTAINS(b.data, "\"joined\":true");
  PX_ASSERT_STATUS(px_link_explain(&c, &r, r.npairs, &b), PX_NOT_FOUND);
  px_buf_free(&b);
  /* (2,4) shares only the birthday: log2(0.9/0.01) + log2(0.02/0.6) < threshold weight. */
  for (size_t k = 0; k < r.npairs; k++) PX_ASSERT_TRUE(!(r.a[k] == 2 && r.b[k] == 4));
  px_link_free(&r);
  /* No rules: nothing to do. */
  c.nrules = 0;
  PX_ASSERT_STATUS(px_link_run(&c, vals, 7, &r), PX_INVALID);
}

/* A mover: same names and date of birth, every address field different.
 * Weighed field by field, the address counts against the pair three times
 * over and it does not match; with the address as one group that changed,
 * it costs log2(changed) once and it does. */
static void test_link_mover(void **state) {
  (void)state;
  px_match_config c;
  px_error err;
  PX_ASSERT_OK(parse("{\"fields\":[{\"name\":\"given\",\"type\":\"name\",\"compare\":\"exact\",\"term_frequency\":false},"
                     "{\"name\":\"surname\",\"type\":\"name\",\"compare\":\"exact\",\"term_frequency\":false},"
                     "{\"name\":\"dob\",\"type\":\"date\",\"compare\":\"exact\"},"
                     "{\"name\":\"street\",\"type\":\"text\",\"compare\":\"exact\",\"term_frequency\":false},"
                     "{\"name\":\"city\",\"type\":\"text\",\"compare\":\"exact\",\"term_frequency\":false},"
                     "{\"name\":\"zip\",\"type\":\"text\",\"compare\":\"exact\",\"term_frequency\":false}],"
                     "\"blocking\":[[\"dob\"],[\"street\"]],\"groups\":[{\"name\":\"address\",\"fields\":[\"street\","
                     "\"city\",\"zip\"]}],\"model\":{\"lambda\":0.001,\"fields\":["
                     "{\"m\":[0.9,0.1],\"u\":[0.01,0.99]},{\"m\":[0.9,0.1],\"u\":[0.01,0.99]},"
                     "{\"m\":[0.95,0.05],\"u\":[0.001,0.999]},{\"m\":[0.9,0.1],\"u\":[0.001,0.999]},"
                     "{\"m\":[0.95,0.05],\"u\":[0.05,0.95]},{\"m\":[0.95,0.05],\"u\":[0.01,0.99]}],"
                     "\"groups\":[{\"changed\":0.1}]}}",
                     &c, &err));
  const char *vals[] = {
      "Ann",  "Walker", "1980-01-02", "1 high st", "leeds", "ls1", /* 0 */
      "Ann",  "Walker", "1980-01-02", "9 low rd",  "york",  "yo1", /* 1: 0 moved */
      "Ann",  "Walker", "1980-01-02", "1 high st", "leeds", "ls1", /* 2: 0 again */
      "Carl", "Jones",  "1990-03-03", "9 low rd",  "york",  "yo1", /* 3: lives where 1 moved to */
  };
  /* The address's members as m/u say, and the group's part. */
  double s_diff = log2(0.1 / 0.999) + log2(0.05 / 0.95) + log2(0.05 / 0.99);
  double s_same = log2(0.9 / 0.001) + log2(0.95 / 0.05) + log2(0.95 / 0.01);
  double names_dob = 2 * log2(0.9 / 0.01) + log2(0.95 / 0.001);
  px_link_result r;
  PX_ASSERT_OK(px_link_run(&c, vals, 4, &r));
  PX_ASSERT_TRUE(r.clusters.id[0] == 0 && r.clusters.id[1] == 0 && r.clusters.id[2] == 0);
  PX_ASSERT_UINT_EQ(r.clusters.id[3], 3);
  PX_ASSERT_UINT_EQ(r.npairs, 3);
  px_buf b;
  px_buf_init(&b, 0);
  for (size_t k = 0; k < r.npairs; k++) {
    double sum = r.group_parts[k];
    for (int f = 0; f < c.nfields; f++) sum += r.parts[k * (size_t)c.nfields + (size_t)f];
    if (fabs(sum - r.weight[k]) > 1e-9) fail_msg("pair %zu: parts add up to %.12g, weight %.12g", k, sum, r.weight[k]);
    px_buf_reset(&b);
    PX_ASSERT_OK(px_link_explain(&c, &r, k, &b));
    if (r.a[k] == 0 && r.b[k] == 2) { /* same address: the members weigh as usual, the group a little */
      PX_ASSERT_INT_EQ(r.group_levels[k], PX_EM_GROUP_KEPT);
      PX_ASSERT_TRUE(fabs(r.group_parts[k] - log2(0.9 + 0.1 * exp2(-s_same))) < 1e-9);
      PX_ASSERT_TRUE(fabs(r.weight[k] - (names_dob + log2(0.9 * exp2(s_same) + 0.1))) < 1e-9);
      PX_ASSERT_STR_CONTAINS(b.data, "{\"field\":\"address\",\"level\":\"kept\",\"weight\":-0.152");
      PX_ASSERT_STR_CONTAINS(b.data, "{\"field\":\"zip\",\"level\":\"exact\",\"weight\":6.5");
    } else { /* moved: one part for the address, none for its members */
      PX_ASSERT_INT_EQ(r.group_levels[k], PX_EM_GROUP_CHANGED);
      PX_ASSERT_TRUE(fabs(r.weight[k] - (names_dob + log2(0.9 * exp2(s_diff) + 0.1))) < 1e-9);
      PX_ASSERT_STR_CONTAINS(b.data, "{\"field\":\"street\",\"level\":\"different\",\"weight\":0}");
      PX_ASSERT_STR_CONTAINS(b.data, "{\"field\":\"zip\",\"level\":\"different\",\"weight\":0}");
      PX_ASSERT_STR_CONTAINS(b.data, "{\"field\":\"address\",\"level\":\"changed\",\"weight\":-3.31");
    }
  }
  px_buf_free(&b);
  px_link_free(&r);
  /* Without the group: each address field counts on its own, and 1 stays apart. */
  c.ngroups = 0;
  c.model.ngroups = 0;
  memset(c.model.group, 0, sizeof c.model.group);
  PX_ASSERT_OK(px_link_run(&c, vals, 4, &r));
  PX_ASSERT_TRUE(r.clusters.id[0] == 0 && r.clusters.id[2] == 0);
  PX_ASSERT_UINT_EQ(r.clusters.id[1], 1);
  PX_ASSERT_UINT_EQ(r.npairs, 1);
  PX_ASSERT_TRUE(names_dob + s_diff < log2(0.99 / 0.01) - log2(0.001 / 0.999)); /* under the threshold's weight */
  px_link_free(&r);
}

/* Pairs of records clustered together that are different people (wrong),
 * and pairs of the same person left apart (missed). */
static void count_pairs(const px_link_result *r, const int *entity, int n, int *wrong, int *missed) {
  *wrong = *missed = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      int same = r->clusters.id[i] == r->clusters.id[j];
      *wrong += same && entity[i] != entity[j];
      *missed += !same && entity[i] == entity[j];
    }
}

/* Learned: one duplicate in eight moved. The address-like columns are
 * inferred as a group, blocking keeps rules off the address, EM finds the
 * share of moves, and the movers are found with no one else joined. */
static void test_link_learns_movers(void **state) {
  (void)state;
  enum { PEOPLE = 400, N = 600, C = 8 };
  static char text[N][C][40];
  static const char *vals[N * C], *names[C] = {"given_name", "surname", "date_of_birth", "street_number",
                                               "street",     "city",    "postcode",      "state"};
  static const char *g[] = {"ann", "bob", "carla", "dmitri", "eve", "farid", "gina", "hugo", "ines", "jack", "kim",
                            "lena", "moss", "nora", "olaf", "pia"};
  static const char *s1[] = {"wal", "smi", "ngu", "oka", "kow", "dub", "ros", "tan", "sil", "mur",
                             "fis", "had", "lin", "mor", "nov", "par", "qui", "rey", "sat", "ued"};
  static const char *s2[] = {"ker", "th", "yen", "for", "ski", "ois", "si", "aka", "va", "phy",
                             "cher", "dad", "qvist", "eau", "ak", "k", "nn", "es", "to", "da"};
  static const char *streets[] = {"high", "low", "mill", "church", "station", "park", "green", "north", "king",
                                  "queen", "bridge", "castle"};
  static const char *cities[] = {"leeds", "york", "bath", "derby", "ripon", "ely", "truro", "wells", "hull",
                                 "bury", "sale", "wick"};
  static const char *states[] = {"nsw", "vic", "qld", "wa"};
  uint64_t x = 7;
  int entity[N], moved = 0;
  for (int i = 0; i < N; i++) {
    int p = i < PEOPLE ? i : (i * 7) % PEOPLE;
    entity[i] = p;
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    snprintf(text[i][0], 40, "%s", g[(p * 7) % 16]);
    snprintf(text[i][1], 40, "%s%s", s1[p % 20], s2[(p / 20) % 20]);
    snprintf(text[i][2], 40, "19%02d%02d%02d", 30 + p % 60, 1 + (p / 3) % 12, 1 + (p * 5) % 28);
    snprintf(text[i][3], 40, "%d", 1 + p * 13 % 97);
    snprintf(text[i][4], 40, "%s road", streets[p % 12]);
    snprintf(text[i][5], 40, "%s", cities[(p / 12) % 12]);
    snprintf(text[i][6], 40, "%04d", 1000 + p * 37 % 9000);
    snprintf(text[i][7], 40, "%s", states[(p / 3) % 4]);
    if (i >= PEOPLE) {
      int kind = (int)((x >> 40) % 8);
      if (kind == 0) text[i][1][1] = 'x'; /* typos */
      if (kind == 2) text[i][0][1] = 'x';
      if (kind == 1) { /* moved: every part of the address new */
        int q = (int)((x >> 20) % 1000);
        snprintf(text[i][3], 40, "%d", 100 + q % 97);
        snprintf(text[i][4], 40, "%s lane", streets[(p + 1 + q % 11) % 12]);
        snprintf(text[i][5], 40, "%s", cities[((p / 12) + 1 + q % 11) % 12]);
        snprintf(text[i][6], 40, "%04d", 1000 + (p * 37 + 1 + q) % 9000);
        snprintf(text[i][7], 40, "%s", states[((p / 3) + 1 + q % 3) % 4]);
        moved++;
      }
    }
    for (int f = 0; f < C; f++) vals[i * C + f] = text[i][f];
  }
  PX_ASSERT_INT_CMP(moved, >, 15);
  px_match_config c;
  px_error err;
  PX_ASSERT_OK(px_match_config_infer(names, C, vals, N, NULL, &c, &err));
  PX_ASSERT_INT_EQ(c.ngroups, 1);
  PX_ASSERT_STR_EQ(c.groups[0].name, "address");
  PX_ASSERT_INT_EQ(c.groups[0].nmembers, 5);
  int off_address = 0;
  for (int q = 0; q < c.nrules; q++) {
    int touches = 0;
    for (int p = 0; p < c.rules[q].nparts; p++) touches |= c.rules[q].field[p] >= 3;
    off_address += !touches;
  }
  PX_ASSERT_INT_CMP(off_address, >=, 1);
  px_link_result r;
  PX_ASSERT_OK(px_link_run(&c, vals, N, &r));
  int wrong, missed;
  count_pairs(&r, entity, N, &wrong, &missed);
  double ch = r.model.changed[0], share = (double)moved / (N - PEOPLE);
  if (fabs(ch - share) > 0.03) fail_msg("changed %.3f, want %.3f (the share of duplicates that moved)", ch, share);
  if (wrong || missed > 4) fail_msg("%d pairs joined wrongly, %d of 200 missed", wrong, missed);
  px_link_free(&r);
}

/* People with typos, learned without labels: every duplicate found, no one else joined. */
static void test_link_learns(void **state) {
  (void)state;
  enum { PEOPLE = 400, N = 600 };
  static char text[N][4][32];
  static const char *vals[N * 4], *names[4] = {"given_name", "surname", "date_of_birth", "ssn"};
  static const char *g[] = {"ann", "bob", "carla", "dmitri", "eve", "farid", "gina", "hugo", "ines", "jack", "kim",
                            "lena", "moss", "nora", "olaf", "pia"};
  static const char *s[] = {"walker", "smith", "nguyen", "okafor", "kowalski", "dubois", "rossi", "tanaka",
                            "silva", "murphy", "fischer", "haddad", "lindqvist", "moreau", "novak", "park",
                            "quinn", "reyes", "sato", "ueda"};
  uint64_t x = 99;
  int entity[N];
  for (int i = 0; i < N; i++) {
    int p = i < PEOPLE ? i : (i * 7) % PEOPLE;
    entity[i] = p;
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    snprintf(text[i][0], 32, "%s", g[(p * 7) % 16]);
    snprintf(text[i][1], 32, "%s", s[(p * 11) % 20]);
    snprintf(text[i][2], 32, "19%02d%02d%02d", 30 + p % 60, 1 + (p / 3) % 12, 1 + (p * 5) % 28);
    snprintf(text[i][3], 32, "%07d", p * 7919 % 10000000);
    if (i >= PEOPLE) { /* a duplicate: one corruption */
      int kind = (int)((x >> 40) % 4);
      if (kind == 0) text[i][1][1] = 'x';                                         /* typo */
      if (kind == 1) text[i][2][0] = 0;                                           /* date missing */
      if (kind == 2) { char t = text[i][3][2]; text[i][3][2] = text[i][3][3]; text[i][3][3] = t; } /* digits */
      if (kind == 3) { char t[32]; strcpy(t, text[i][0]); strcpy(text[i][0], text[i][1]); strcpy(text[i][1], t); }
    }
    for (int f = 0; f < 4; f++) vals[i * 4 + f] = text[i][f];
  }
  px_match_config c;
  px_error err;
  PX_ASSERT_OK(px_match_config_infer(names, 4, vals, N, NULL, &c, &err));
  px_link_result r;
  PX_ASSERT_OK(px_link_run(&c, vals, N, &r));
  PX_ASSERT_INT_CMP(r.em_iterations, >, 0);
  PX_ASSERT_INT_CMP(r.pairs_compared, <, (size_t)N * (N - 1) / 20); /* blocking: far fewer than all pairs */
  int wrong, missed;
  count_pairs(&r, entity, N, &wrong, &missed);
  if (wrong || missed > 4) fail_msg("%d pairs joined wrongly, %d of 200 missed", wrong, missed);
  px_link_free(&r);
}

/* ---- pieces added for linkage ---- */

static void test_em_counts(void **state) {
  (void)state;
  /* EM over distinct vectors with counts is EM over the vectors repeated. */
  const unsigned char distinct[] = {1, 1, 1, 3, 3, 3, 1, 3, 2, 3, 1, 3, 2, 2, 0};
  const double counts[] = {50, 900, 20, 30, 10};
  unsigned char *all = malloc(1010 * 3);
  size_t n = 0;
  for (int v = 0; v < 5; v++)
    for (int k = 0; k < (int)counts[v]; k++, n++) memcpy(all + n * 3, distinct + v * 3, 3);
  int levels[3] = {4, 4, 4};
  px_em_model a, b;
  px_em_init(&a, 3, levels, 0.1);
  px_em_init(&b, 3, levels, 0.1);
  px_em_fit(&a, all, n, 20, 0, NULL); /* 20 rounds each, no early stop */
  px_em_fit_counts(&b, distinct, counts, 5, 20, 0, NULL);
  PX_ASSERT_TRUE(fabs(a.lambda - b.lambda) < 1e-9);
  for (int f = 0; f < 3; f++)
    for (int l = 1; l < 4; l++) PX_ASSERT_TRUE(fabs(a.m[f][l] - b.m[f][l]) < 1e-9 && fabs(a.u[f][l] - b.u[f][l]) < 1e-9);
  free(all);
}

static void test_cluster_joined(void **state) {
  (void)state;
  const uint32_t a[] = {0, 1, 0, 3}, b[] = {1, 2, 2, 4};
  const double w[] = {9, 8, 7, 1};
  unsigned char joined[4];
  px_clusters c;
  PX_ASSERT_OK(px_cluster_joined(5, a, b, w, 4, 0, joined, &c));
  PX_ASSERT_TRUE(joined[0] && joined[1] && !joined[2] && joined[3]); /* (0,2): already together */
  px_clusters_free(&c);
  PX_ASSERT_OK(px_cluster_joined(5, a, b, w, 4, 2, joined, &c));
  PX_ASSERT_TRUE(joined[0] && !joined[1] && !joined[2] && joined[3]); /* (1,2): over the limit */
  PX_ASSERT_UINT_EQ(c.refused, 2);
  px_clusters_free(&c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_config_errors),    cmocka_unit_test(test_config_round_trip),
    cmocka_unit_test(test_config_groups),    cmocka_unit_test(test_link_mover),
    cmocka_unit_test(test_link_learns_movers),
    cmocka_unit_test(test_standardize),      cmocka_unit_test(test_compare_swapped),
    cmocka_unit_test(test_infer),            cmocka_unit_test(test_u_sampled),
    cmocka_unit_test(test_link_given_model), cmocka_unit_test(test_link_learns),
    cmocka_unit_test(test_em_counts),        cmocka_unit_test(test_cluster_joined),
};

PX_TEST_MAIN(tests)
