/* source: sources, write keys, admin tokens. */
#include <stdio.h>
#include <stdlib.h>

#include "px_test.h"
#include "source/source.h"

#define FX ((px_test_store *)*state)

static void test_add_and_authenticate(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  px_source src;
  char key[PX_SECRET_MAX];
  px_error e;
  px_error_clear(&e);
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_source_add(txn, st, "web", 5, &src, key, &e));
  PX_ASSERT_UINT_EQ(src.id, 1);
  PX_ASSERT_STR_EQ(src.name, "web");
  PX_ASSERT_INT_EQ(src.priority, 5);
  PX_ASSERT_INT_EQ(strncmp(key, "pkw_", 4), 0);
  PX_ASSERT_INT_EQ(strlen(key), 4 + 32);
  PX_ASSERT_OK(px_store_commit(txn));

  PX_ASSERT_OK(px_store_begin(st, 0, &txn));
  px_principal p;
  PX_ASSERT_OK(px_auth_lookup(txn, st, key, strlen(key), &p));
  PX_ASSERT_INT_EQ(p.kind, PX_KEY_WRITE);
  PX_ASSERT_UINT_EQ(p.source_id, src.id);
  /* One character off, a prefix, empty and over-long secrets are unknown. */
  char wrong[PX_SECRET_MAX];
  snprintf(wrong, sizeof wrong, "%s", key);
  wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
  PX_ASSERT_STATUS(px_auth_lookup(txn, st, wrong, strlen(wrong), &p), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_auth_lookup(txn, st, key, strlen(key) - 1, &p), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_auth_lookup(txn, st, "", 0, &p), PX_NOT_FOUND);
  char huge[200];
  memset(huge, 'a', sizeof huge);
  PX_ASSERT_STATUS(px_auth_lookup(txn, st, huge, sizeof huge, &p), PX_NOT_FOUND);
  px_store_abort(txn);
}

static void test_admin_token(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  char tok[PX_SECRET_MAX], tok2[PX_SECRET_MAX];
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_token_create(txn, st, tok));
  PX_ASSERT_OK(px_token_create(txn, st, tok2));
  PX_ASSERT_INT_EQ(strncmp(tok, "pka_", 4), 0);
  PX_ASSERT_INT_EQ(strlen(tok), 4 + 40);
  PX_ASSERT_INT_NE(strcmp(tok, tok2), 0);
  px_principal p;
  PX_ASSERT_OK(px_auth_lookup(txn, st, tok, strlen(tok), &p));
  PX_ASSERT_INT_EQ(p.kind, PX_KEY_ADMIN);
  PX_ASSERT_OK(px_auth_lookup(txn, st, tok2, strlen(tok2), &p));
  PX_ASSERT_INT_EQ(p.kind, PX_KEY_ADMIN);
  PX_ASSERT_OK(px_store_commit(txn));
}

static void test_names(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  px_source src;
  char key[PX_SECRET_MAX];
  px_error e;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  static const char *bad[] = {"", "has space", "slash/", "quote\"", "caf\xc3\xa9",
                              "0123456789012345678901234567890123456789012345678901234567890123"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    px_error_clear(&e);
    px_status s = px_source_add(txn, st, bad[i], 0, &src, key, &e);
    if (s != PX_INVALID) fail_msg("name \"%s\": %s, want invalid input", bad[i], px_status_str(s));
    PX_ASSERT_STR_EQ(e.field, "name");
  }
  PX_ASSERT_OK(px_source_add(txn, st, "A-z_0.9", 0, &src, key, &e));
  PX_ASSERT_OK(px_source_add(txn, st, "012345678901234567890123456789012345678901234567890123456789012",
                             0, &src, key, &e));
  px_error_clear(&e);
  PX_ASSERT_STATUS(px_source_add(txn, st, "A-z_0.9", 1, &src, key, &e), PX_EXISTS);
  PX_ASSERT_STR_EQ(e.field, "name");
  px_store_abort(txn);
}

static void test_list_get_find(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  px_source src;
  char key[PX_SECRET_MAX];
  px_error e;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  px_source *all;
  size_t n;
  PX_ASSERT_OK(px_source_list(txn, st, &all, &n));
  PX_ASSERT_INT_EQ(n, 0);
  free(all);
  const char *names[] = {"web", "ios", "android", "crm", "backend", "pos", "email", "sms", "ads", "x"};
  for (int i = 0; i < 10; i++) PX_ASSERT_OK(px_source_add(txn, st, names[i], i - 3, &src, key, &e));
  PX_ASSERT_OK(px_source_list(txn, st, &all, &n));
  PX_ASSERT_INT_EQ(n, 10);
  for (size_t i = 0; i < n; i++) {
    PX_ASSERT_UINT_EQ(all[i].id, i + 1);
    PX_ASSERT_STR_EQ(all[i].name, names[i]);
    PX_ASSERT_INT_EQ(all[i].priority, (int)i - 3);
    PX_ASSERT_INT_CMP(all[i].created_ms, >, 0);
  }
  free(all);
  PX_ASSERT_OK(px_source_get(txn, st, 4, &src));
  PX_ASSERT_STR_EQ(src.name, "crm");
  PX_ASSERT_STATUS(px_source_get(txn, st, 99, &src), PX_NOT_FOUND);
  PX_ASSERT_OK(px_source_find(txn, st, "ads", &src));
  PX_ASSERT_UINT_EQ(src.id, 9);
  PX_ASSERT_STATUS(px_source_find(txn, st, "nope", &src), PX_NOT_FOUND);
  px_store_abort(txn);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_add_and_authenticate, px_test_store_setup, px_test_store_teardown),
    cmocka_unit_test_setup_teardown(test_admin_token, px_test_store_setup, px_test_store_teardown),
    cmocka_unit_test_setup_teardown(test_names, px_test_store_setup, px_test_store_teardown),
    cmocka_unit_test_setup_teardown(test_list_get_find, px_test_store_setup, px_test_store_teardown),
};

PX_TEST_MAIN(tests)
