#ifndef PX_BASE_UTF8_H
#define PX_BASE_UTF8_H

#include <stddef.h>

/* Returns the byte offset of the first invalid UTF-8 sequence (overlong forms,
 * surrogates and code points above U+10FFFF are invalid), or -1 if all valid. */
long px_utf8_invalid_at(const char *s, size_t n);

#endif
