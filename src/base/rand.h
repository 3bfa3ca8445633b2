#ifndef PX_BASE_RAND_H
#define PX_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Cryptographically random bytes (libsodium). */
void px_rand_bytes(void *p, size_t n);
/* A random RFC 4122 version-4 UUID, lower-case, 36 chars + NUL. */
void px_rand_uuid(char out[37]);
/* n random characters from [A-Za-z0-9] followed by NUL. */
void px_rand_token(char *out, size_t n);

#endif
