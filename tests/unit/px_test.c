#include "px_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int px_test_main(int argc, char **argv, const char *group, const struct CMUnitTest *tests,
                 size_t n) {
  if (argc < 2) return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
  if (strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < n; i++) printf("%s\n", tests[i].name);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (strcmp(tests[i].name, argv[1]) == 0) return _cmocka_run_group_tests(group, &tests[i], 1, NULL, NULL);
  /* A filter that matches nothing must not pass silently. */
  fprintf(stderr, "%s: no test named %s (try --list)\n", argv[0], argv[1]);
  return 2;
}

static char tmpdir[4096];

const char *px_test_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  snprintf(tmpdir, sizeof tmpdir, "%s/pickaxe-unit-XXXXXX", base);
  if (!mkdtemp(tmpdir)) fail_msg("mkdtemp(%s) failed", tmpdir);
  return tmpdir;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void px_test_rmtree(const char *dir) {
  if (dir && *dir) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *px_test_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      char *p = realloc(buf, cap * 2 + 1);
      if (!p) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = p;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) return NULL;
  buf[len] = 0;
  if (n) *n = len;
  return buf;
}

int px_test_store_setup(void **state) {
  px_test_store *fx = calloc(1, sizeof *fx);
  if (!fx) return -1;
  snprintf(fx->dir, sizeof fx->dir, "%s", px_test_tmpdir());
  px_store_opts o = {.map_size = (size_t)64 << 20};
  px_status s = px_store_open(fx->dir, &o, &fx->st);
  if (s != PX_OK) {
    print_error("px_store_open(%s): %s\n", fx->dir, px_status_str(s));
    px_test_rmtree(fx->dir);
    free(fx);
    return -1;
  }
  *state = fx;
  return 0;
}

int px_test_store_teardown(void **state) {
  px_test_store *fx = *state;
  if (!fx) return 0;
  px_store_close(fx->st);
  px_test_rmtree(fx->dir);
  free(fx);
  *state = NULL;
  return 0;
}

int px_test_dir_setup(void **state) {
  char *d = strdup(px_test_tmpdir());
  if (!d) return -1;
  *state = d;
  return 0;
}

int px_test_dir_teardown(void **state) {
  px_test_rmtree(*state);
  free(*state);
  *state = NULL;
  return 0;
}
