/* Shared helpers for the cmocka unit tests.
 *
 * Assertions print both operands (values, not only the expressions), status
 * codes by name. px_test_main() runs one named test per process, so ctest
 * registers every test function on its own (see tests/CMakeLists.txt); with
 * no argument it runs them all, with --list it prints their names. */
#ifndef PX_TEST_H
#define PX_TEST_H

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/status.h"

#define PX_ASSERT_STATUS(got, want)                                                        \
  do {                                                                                     \
    px_status got_ = (got), want_ = (want);                                                \
    if (got_ != want_)                                                                     \
      fail_msg("%s: got %d (%s), want %d (%s)", #got, (int)got_, px_status_str(got_),      \
               (int)want_, px_status_str(want_));                                          \
  } while (0)

#define PX_ASSERT_OK(expr) PX_ASSERT_STATUS(expr, PX_OK)

#define PX_ASSERT_INT_EQ(a, b)                                                             \
  do {                                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                                    \
    if (a_ != b_) fail_msg("%s == %s: %lld != %lld", #a, #b, a_, b_);                      \
  } while (0)

#define PX_ASSERT_INT_NE(a, b)                                                             \
  do {                                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                                    \
    if (a_ == b_) fail_msg("%s != %s: both are %lld", #a, #b, a_);                         \
  } while (0)

#define PX_ASSERT_UINT_EQ(a, b)                                                            \
  do {                                                                                     \
    unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);         \
    if (a_ != b_) fail_msg("%s == %s: %llu != %llu", #a, #b, a_, b_);                      \
  } while (0)

#define PX_ASSERT_INT_CMP(a, op, b)                                                        \
  do {                                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                                    \
    if (!(a_ op b_)) fail_msg("%s %s %s: %lld vs %lld", #a, #op, #b, a_, b_);              \
  } while (0)

#define PX_ASSERT_STR_EQ(a, b)                                                             \
  do {                                                                                     \
    const char *a_ = (a), *b_ = (b);                                                       \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                 \
      fail_msg("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
  } while (0)

#define PX_ASSERT_STR_CONTAINS(hay, needle)                                                \
  do {                                                                                     \
    const char *h_ = (hay), *n_ = (needle);                                                \
    if (!h_ || !strstr(h_, n_))                                                            \
      fail_msg("%s contains %s: \"%s\" lacks \"%s\"", #hay, #needle, h_ ? h_ : "(null)", n_); \
  } while (0)

#define PX_ASSERT_NULL(p)                                                                  \
  do {                                                                                     \
    const void *p_ = (const void *)(p);                                                    \
    if (p_) fail_msg("%s is %p, want NULL", #p, p_);                                       \
  } while (0)

#define PX_ASSERT_TRUE(c)                                                                  \
  do {                                                                                     \
    if (!(c)) fail_msg("expected true: %s", #c);                                           \
  } while (0)

/* Runs the test named argv[1] (exactly one), all tests when argc == 1, or
 * prints the names for --list. Returns the process exit status. */
int px_test_main(int argc, char **argv, const char *group, const struct CMUnitTest *tests,
                 size_t n);

#define PX_TEST_MAIN(tests)                                                                \
  int main(int argc, char **argv) {                                                        \
    return px_test_main(argc, argv, __FILE__, tests, sizeof(tests) / sizeof((tests)[0])); \
  }

/* A fresh directory under $TMPDIR (or /tmp), made with mkdtemp; fails the
 * test when it cannot. The returned string is static until the next call. */
const char *px_test_tmpdir(void);
/* Removes a directory tree (what px_test_tmpdir made). */
void px_test_rmtree(const char *dir);

/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
char *px_test_read_file(const char *path, size_t *n);

/* A store in a fresh temporary directory (64 MiB map), for cmocka
 * setup/teardown: *state becomes a px_test_store. */
#include "store/store.h"

typedef struct px_test_store {
  char dir[4096];
  px_store *st;
} px_test_store;

int px_test_store_setup(void **state);
/* Just a fresh temporary directory: *state becomes its path (char *). */
int px_test_dir_setup(void **state);
int px_test_dir_teardown(void **state);
int px_test_store_teardown(void **state);

/* The tests' own random numbers (splitmix64; not the modules'): a
 * reproducible stream from *s, and a double in (0, 1). */
static inline uint64_t px_test_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static inline double px_test_unif(uint64_t *s) { return ((double)(px_test_next(s) >> 11) + 0.5) * 0x1.0p-53; }

#endif
