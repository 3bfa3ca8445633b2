#include "base/rand.h"

#include <sodium.h>
#include <stdio.h>

void px_rand_bytes(void *p, size_t n) { randombytes_buf(p, n); }

void px_rand_uuid(char out[37]) {
  unsigned char b[16];
  px_rand_bytes(b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

void px_rand_token(char *out, size_t n) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (size_t i = 0; i < n; i++) out[i] = al[randombytes_uniform(sizeof al - 1)];
  out[n] = 0;
}
