/* Builders and readers for the composite, byte-sortable keys of the store. */
#ifndef PX_STORE_KEY_H
#define PX_STORE_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PX_KEY_MAX 511 /* LMDB's default maximum key size */

typedef struct px_key {
  unsigned char b[PX_KEY_MAX];
  size_t n;
  int overflow; /* set when something did not fit; such a key must not be used */
} px_key;

static inline void px_key_init(px_key *k) {
  k->n = 0;
  k->overflow = 0;
}

static inline void px_key_bytes(px_key *k, const void *p, size_t n) {
  if (k->overflow || n > PX_KEY_MAX - k->n) {
    k->overflow = 1;
    return;
  }
  memcpy(k->b + k->n, p, n);
  k->n += n;
}

static inline void px_key_u8(px_key *k, uint8_t v) { px_key_bytes(k, &v, 1); }

static inline void px_key_u32(px_key *k, uint32_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  px_key_bytes(k, b, 4);
}

/* Big-endian 64-bit values (keys sort by them): one byte swap on this
 * little-endian machine, not a loop the compiler may leave as one. */
static inline uint64_t px_key_be64(uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return __builtin_bswap64(v);
#else
  return v;
#endif
}

static inline void px_key_u64(px_key *k, uint64_t v) {
  v = px_key_be64(v);
  px_key_bytes(k, &v, 8);
}

/* Signed times sort correctly once the sign bit is flipped. */
static inline void px_key_i64(px_key *k, int64_t v) { px_key_u64(k, (uint64_t)v ^ (1ull << 63)); }

/* A string followed by a NUL separator. */
static inline void px_key_str(px_key *k, const char *s, size_t n) {
  px_key_bytes(k, s, n);
  px_key_u8(k, 0);
}

static inline uint64_t px_get_u64(const void *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return px_key_be64(v);
}

static inline uint32_t px_get_u32(const void *p) {
  const unsigned char *b = p;
  return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline int64_t px_get_i64(const void *p) { return (int64_t)(px_get_u64(p) ^ (1ull << 63)); }

#endif
