/* A store in a temp directory with one write transaction open, for tests
 * of modules that work inside a transaction (test_defs.c, test_members.c).
 * Header only, static functions: each test file includes it once. */
#ifndef PX_STORE_ENV_H
#define PX_STORE_ENV_H

#include <stdio.h>
#include <stdlib.h>

#include "px_test.h"
#include "store/store.h"

typedef struct fixture {
  char dir[4096];
  px_store *st;
  px_txn *txn;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "%s", px_test_tmpdir());
  px_store_opts o = {.map_size = (size_t)256 << 20};
  if (px_store_open(f->dir, &o, &f->st) != PX_OK || px_store_begin(f->st, 1, &f->txn) != PX_OK) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  px_store_abort(f->txn);
  px_store_close(f->st);
  px_test_rmtree(f->dir);
  free(f);
  return 0;
}

#endif
