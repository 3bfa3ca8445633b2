/* Shared by the fuzz targets: a check that aborts with a message (so both
 * libFuzzer and the corpus replay report it), and an exact-size copy of the
 * input so AddressSanitizer sees any read past its end. */
#ifndef PX_FUZZ_COMMON_H
#define PX_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                          \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                    \
      fputc('\n', stderr);                                             \
      abort();                                                         \
    }                                                                  \
  } while (0)

/* A malloc'd copy of data; with nul, one more byte holding NUL. */
static inline char *fuzz_copy(const uint8_t *data, size_t size, int nul) {
  char *p = malloc(size + (nul ? 1 : 0) + (size == 0 && !nul));
  if (!p) abort();
  if (size) memcpy(p, data, size);
  if (nul) p[size] = 0;
  return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
