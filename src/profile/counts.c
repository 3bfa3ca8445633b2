/* Event-name counts inside the profile record. Counting a track, page or
 * screen event by name in its own row cost a second B-tree update per event
 * (about a fifth of the writer's time on a bulk import); inside the record
 * it rides along with the update the event makes anyway. Names that do not
 * fit any more spill to PX_DB_COUNTS rows; readers add both. */
#include <string.h>

#include "profile/profile_int.h"

/* An entry: class byte, name length byte, the name, the count (8 bytes). */
#define ENTRY_FIXED 10

size_t px_counts_next(const unsigned char *tail, size_t len, size_t off, px_count *out) {
  if (off + ENTRY_FIXED > len) return 0;
  size_t n = tail[off + 1];
  if (off + ENTRY_FIXED + n > len) return 0; /* damaged: stop */
  out->cls = (char)tail[off];
  out->name = (const char *)tail + off + 2;
  out->n = n;
  memcpy(&out->count, tail + off + 2 + n, 8);
  return off + ENTRY_FIXED + n;
}

int px_counts_add(unsigned char *tail, size_t *len, size_t cap, char cls, const char *name, size_t n,
                  uint64_t by) {
  px_count c;
  for (size_t off = 0, next; (next = px_counts_next(tail, *len, off, &c)) != 0; off = next) {
    if (c.cls == cls && c.n == n && memcmp(c.name, name, n) == 0) {
      c.count += by;
      memcpy(tail + off + 2 + n, &c.count, 8);
      return 1;
    }
  }
  if (n > 255 || *len + ENTRY_FIXED + n > cap) return 0;
  unsigned char *p = tail + *len;
  p[0] = (unsigned char)cls;
  p[1] = (unsigned char)n;
  memcpy(p + 2, name, n);
  memcpy(p + 2 + n, &by, 8);
  *len += ENTRY_FIXED + n;
  return 1;
}
