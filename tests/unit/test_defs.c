/* segment/def: named definitions in the log (ids, versions, list, delete). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_test.h"
#include "store_env.h"
#include "segment/def.h"

static px_status put(fixture *f, px_def_kind kind, const char *name, const char *body, int64_t now, px_def *d,
                     int *created) {
  return px_def_put(f->txn, f->st, kind, name, body, strlen(body), now, d, created);
}

static void test_versions_and_ids(void **state) {
  fixture *f = *state;
  px_def d;
  int created;
  PX_ASSERT_OK(put(f, PX_DEF_SEGMENT, "vip", "{\"rule\": \"x = 1\"}", 1000, &d, &created));
  PX_ASSERT_INT_EQ(created, 1);
  PX_ASSERT_UINT_EQ(d.id, 1);
  PX_ASSERT_UINT_EQ(d.version, 1);
  PX_ASSERT_STR_EQ(d.body, "{\"rule\":\"x = 1\"}");
  px_def_free(&d);
  /* The same body again: same version, same times. */
  PX_ASSERT_OK(put(f, PX_DEF_SEGMENT, "vip", "{ \"rule\" : \"x = 1\" }", 2000, &d, &created));
  PX_ASSERT_INT_EQ(created, 0);
  PX_ASSERT_UINT_EQ(d.version, 1);
  assert_true(d.updated_ms == 1000);
  px_def_free(&d);
  /* Changed: the next version, the same id, created kept. */
  PX_ASSERT_OK(put(f, PX_DEF_SEGMENT, "vip", "{\"rule\": \"x = 2\"}", 3000, NULL, NULL));
  PX_ASSERT_OK(px_def_get(f->txn, f->st, PX_DEF_SEGMENT, "vip", &d));
  PX_ASSERT_UINT_EQ(d.id, 1);
  PX_ASSERT_UINT_EQ(d.version, 2);
  assert_true(d.created_ms == 1000 && d.updated_ms == 3000);
  PX_ASSERT_STR_EQ(d.name, "vip");
  px_def_free(&d);
  /* Another name: the next id; another kind: its own ids and names. */
  PX_ASSERT_OK(put(f, PX_DEF_SEGMENT, "lapsed", "{}", 4000, &d, NULL));
  PX_ASSERT_UINT_EQ(d.id, 2);
  px_def_free(&d);
  PX_ASSERT_OK(put(f, PX_DEF_CTRAIT, "vip", "{\"function\":\"count\"}", 4000, &d, &created));
  PX_ASSERT_INT_EQ(created, 1);
  PX_ASSERT_UINT_EQ(d.id, 1);
  px_def_free(&d);
  /* Listed in name order, per kind. */
  px_def *all;
  size_t n;
  PX_ASSERT_OK(px_def_list(f->txn, f->st, PX_DEF_SEGMENT, &all, &n));
  PX_ASSERT_INT_EQ(n, 2);
  PX_ASSERT_STR_EQ(all[0].name, "lapsed");
  PX_ASSERT_STR_EQ(all[1].name, "vip");
  PX_ASSERT_STR_EQ(all[1].body, "{\"rule\":\"x = 2\"}");
  for (size_t i = 0; i < n; i++) px_def_free(&all[i]);
  free(all);
  /* Deleted: gone; a new one of that name gets a new id. */
  PX_ASSERT_OK(px_def_del(f->txn, f->st, PX_DEF_SEGMENT, "vip"));
  PX_ASSERT_STATUS(px_def_get(f->txn, f->st, PX_DEF_SEGMENT, "vip", &d), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_def_del(f->txn, f->st, PX_DEF_SEGMENT, "vip"), PX_NOT_FOUND);
  PX_ASSERT_OK(put(f, PX_DEF_SEGMENT, "vip", "{}", 5000, &d, &created));
  PX_ASSERT_INT_EQ(created, 1);
  PX_ASSERT_UINT_EQ(d.id, 3);
  px_def_free(&d);
  PX_ASSERT_OK(px_def_get(f->txn, f->st, PX_DEF_CTRAIT, "vip", &d)); /* the other kind's is untouched */
  px_def_free(&d);
}

static void test_bad_names_and_bodies(void **state) {
  fixture *f = *state;
  const char *bad_names[] = {"", ".hidden", "has space", "slash/no", "ünï"};
  for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
    PX_ASSERT_STATUS(put(f, PX_DEF_SEGMENT, bad_names[i], "{}", 1, NULL, NULL), PX_INVALID);
  char longname[PX_DEF_NAME_MAX + 1];
  memset(longname, 'a', PX_DEF_NAME_MAX);
  longname[PX_DEF_NAME_MAX] = 0;
  PX_ASSERT_STATUS(put(f, PX_DEF_SEGMENT, longname, "{}", 1, NULL, NULL), PX_INVALID);
  longname[PX_DEF_NAME_MAX - 1] = 0;
  PX_ASSERT_OK(put(f, PX_DEF_SEGMENT, longname, "{}", 1, NULL, NULL));
  PX_ASSERT_STATUS(put(f, PX_DEF_SEGMENT, "ok", "[]", 1, NULL, NULL), PX_INVALID);
  PX_ASSERT_STATUS(put(f, PX_DEF_SEGMENT, "ok", "{", 1, NULL, NULL), PX_INVALID);
  assert_true(px_def_name_ok("rfm.champions-2024_q1"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_versions_and_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_names_and_bodies, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
