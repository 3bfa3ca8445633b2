#include "store/dedup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* File layout: a 4096-byte header, then `capacity` slots of 16 bytes. */
#define HEADER_BYTES 4096
#define MAGIC "PXDEDUP1"
#define MAX_SLOTS ((uint64_t)1 << 40)

typedef struct header {
  char magic[8];
  uint64_t capacity; /* slots, a power of two */
  uint64_t count;    /* occupied slots */
} header;

typedef struct slot {
  uint64_t hash; /* 0: empty */
  uint64_t seq;
} slot;

struct px_dedup {
  char *path;
  int fd;
  dev_t dev;
  ino_t ino;
  unsigned char *map;
  size_t len;
  uint64_t cap;
  unsigned bits; /* log2(cap) */
};

static px_status errno_status(int e) {
  switch (e) {
    case ENOSPC:
    case EDQUOT: return PX_DISK_FULL;
    case ENOMEM: return PX_NOMEM;
    default: return PX_IO;
  }
}

static header *hdr(const px_dedup *d) { return (header *)d->map; }
static slot *slots(const px_dedup *d) { return (slot *)(d->map + HEADER_BYTES); }
static size_t file_bytes(uint64_t cap) { return HEADER_BYTES + (size_t)cap * sizeof(slot); }

/* The hash's low bit is always set: the home slot comes from its high bits. */
static uint64_t home(const px_dedup *d, uint64_t hash) { return hash >> (64 - d->bits); }

uint64_t px_dedup_hash(uint32_t source_id, const void *message_id, size_t n) {
  return XXH3_64bits_withSeed(message_id, n, source_id) | 1;
}

static void release(px_dedup *d) {
  if (d->map) munmap(d->map, d->len);
  if (d->fd >= 0) close(d->fd);
  d->map = NULL;
  d->fd = -1;
}

/* Takes fd's file as the mapped table (the old one is released). */
static void adopt(px_dedup *d, int fd, unsigned char *map, uint64_t cap, const struct stat *sb) {
  release(d);
  d->fd = fd;
  d->map = map;
  d->len = file_bytes(cap);
  d->cap = cap;
  d->bits = 0;
  while (((uint64_t)1 << d->bits) < cap) d->bits++;
  d->dev = sb->st_dev;
  d->ino = sb->st_ino;
}

/* Validates and maps an open table file; closes fd on failure. */
static px_status map_existing(px_dedup *d, int fd) {
  struct stat sb;
  header h;
  px_status s = PX_STORE;
  if (fstat(fd, &sb) != 0) {
    s = errno_status(errno);
    goto fail;
  }
  if (sb.st_size < (off_t)file_bytes(PX_DEDUP_INITIAL_SLOTS)) goto fail;
  ssize_t got = pread(fd, &h, sizeof h, 0);
  if (got < 0) {
    s = errno_status(errno);
    goto fail;
  }
  if (got != (ssize_t)sizeof h || memcmp(h.magic, MAGIC, 8) != 0) goto fail;
  if (h.capacity < PX_DEDUP_INITIAL_SLOTS || h.capacity > MAX_SLOTS || (h.capacity & (h.capacity - 1)) != 0 ||
      (uint64_t)sb.st_size != file_bytes(h.capacity) || h.count > h.capacity / 2)
    goto fail;
  void *map = mmap(NULL, file_bytes(h.capacity), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    s = errno_status(errno);
    goto fail;
  }
  adopt(d, fd, map, h.capacity, &sb);
  return PX_OK;
fail:
  close(fd);
  return s;
}

/* A new, empty table of cap slots in a file beside the table (path.tmp),
 * its blocks reserved: writing into a hole of a mapped file on a full disk
 * would kill the process with SIGBUS. */
static px_status create_aside(const px_dedup *d, uint64_t cap, char *tmp, size_t tn, int *fd_out,
                              unsigned char **map_out) {
  if ((size_t)snprintf(tmp, tn, "%s.tmp", d->path) >= tn) return PX_INVALID;
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return errno_status(errno);
  int e = posix_fallocate(fd, 0, (off_t)file_bytes(cap));
  void *map = MAP_FAILED;
  if (e == 0) {
    map = mmap(NULL, file_bytes(cap), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) e = errno;
  }
  if (e != 0) {
    close(fd);
    unlink(tmp);
    return errno_status(e);
  }
  header *h = map;
  memcpy(h->magic, MAGIC, 8);
  h->capacity = cap;
  h->count = 0;
  *fd_out = fd;
  *map_out = map;
  return PX_OK;
}

/* Renames the file made by create_aside over the table and maps it in. */
static px_status install(px_dedup *d, const char *tmp, int fd, unsigned char *map, uint64_t cap) {
  struct stat sb;
  if (fstat(fd, &sb) != 0 || rename(tmp, d->path) != 0) {
    px_status s = errno_status(errno);
    munmap(map, file_bytes(cap));
    close(fd);
    unlink(tmp);
    return s;
  }
  adopt(d, fd, map, cap, &sb);
  return PX_OK;
}

static px_dedup *handle(const char *path) {
  px_dedup *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->fd = -1;
  if (!(d->path = strdup(path))) {
    free(d);
    return NULL;
  }
  return d;
}

px_status px_dedup_open(const char *path, px_dedup **out) {
  *out = NULL;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? PX_NOT_FOUND : errno_status(errno);
  px_dedup *d = handle(path);
  if (!d) {
    close(fd);
    return PX_NOMEM;
  }
  px_status s = map_existing(d, fd);
  if (s != PX_OK) {
    px_dedup_close(d);
    return s;
  }
  *out = d;
  return PX_OK;
}

px_status px_dedup_create(const char *path, px_dedup **out) {
  *out = NULL;
  px_dedup *d = handle(path);
  if (!d) return PX_NOMEM;
  char tmp[4200];
  int fd;
  unsigned char *map;
  px_status s = create_aside(d, PX_DEDUP_INITIAL_SLOTS, tmp, sizeof tmp, &fd, &map);
  if (s == PX_OK) s = install(d, tmp, fd, map, PX_DEDUP_INITIAL_SLOTS);
  if (s != PX_OK) {
    px_dedup_close(d);
    return s;
  }
  *out = d;
  return PX_OK;
}

void px_dedup_close(px_dedup *d) {
  if (!d) return;
  release(d);
  free(d->path);
  free(d);
}

px_status px_dedup_refresh(px_dedup *d) {
  struct stat sb;
  if (stat(d->path, &sb) != 0) return errno == ENOENT ? PX_OK : errno_status(errno);
  if (sb.st_dev == d->dev && sb.st_ino == d->ino) return PX_OK;
  int fd = open(d->path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno_status(errno);
  return map_existing(d, fd); /* keeps the old mapping on failure */
}

/* Writes (hash, seq) into an empty slot: seq first, the hash (which marks
 * the slot used) last. (A process killed in between leaves an empty slot;
 * had it left a hash with a wrong seq, verification would skip it.) */
static void fill(px_dedup *d, slot *x, uint64_t hash, uint64_t seq) {
  x->seq = seq;
  __atomic_store_n(&x->hash, hash, __ATOMIC_RELEASE);
  hdr(d)->count++;
}

/* The first empty slot of hash's probe sequence. The table is never more
 * than half full, so there is one. */
static slot *first_empty(const px_dedup *d, uint64_t hash) {
  slot *s = slots(d);
  uint64_t mask = d->cap - 1;
  for (uint64_t i = home(d, hash), n = 0; n < d->cap; n++, i = (i + 1) & mask)
    if (s[i].hash == 0) return &s[i];
  return NULL;
}

/* Doubles the table: a new file with every slot rehashed, renamed over the
 * old one. Other processes notice the new inode (px_dedup_refresh). */
static px_status grow(px_dedup *d) {
  uint64_t cap = d->cap * 2;
  if (cap > MAX_SLOTS) return PX_STORE_FULL;
  char tmp[4200];
  int fd;
  unsigned char *map;
  px_status s = create_aside(d, cap, tmp, sizeof tmp, &fd, &map);
  if (s != PX_OK) return s;
  px_dedup next = {.map = map, .cap = cap, .bits = d->bits + 1};
  const slot *old = slots(d);
  for (uint64_t i = 0; i < d->cap; i++)
    if (old[i].hash) fill(&next, first_empty(&next, old[i].hash), old[i].hash, old[i].seq);
  return install(d, tmp, fd, map, cap);
}

/* Inserts into the empty slot `x` found by probing, growing first when the
 * table would then be more than half full (x is then found again). */
static px_status put(px_dedup *d, slot *x, uint64_t hash, uint64_t seq) {
  if (hdr(d)->count + 1 > d->cap / 2) {
    px_status s = grow(d);
    if (s != PX_OK) return s;
    x = first_empty(d, hash);
  }
  if (!x) return PX_STORE_FULL;
  fill(d, x, hash, seq);
  return PX_OK;
}

px_status px_dedup_check_insert(px_dedup *d, uint64_t hash, uint64_t seq, px_dedup_verify_fn verify,
                                void *arg, uint64_t *existing) {
  *existing = 0;
  slot *s = slots(d);
  uint64_t mask = d->cap - 1;
  int have = 0; /* (hash, seq) is there already, left by a transaction that did not commit */
  for (uint64_t i = home(d, hash), n = 0; n < d->cap; n++, i = (i + 1) & mask) {
    slot *x = &s[i];
    if (x->hash == 0) return have ? PX_OK : put(d, x, hash, seq);
    if (x->hash != hash) continue;
    if (x->seq == seq) {
      have = 1;
      continue;
    }
    int same = 0;
    px_status st = verify(arg, x->seq, &same);
    if (st != PX_OK) return st;
    if (same) {
      *existing = x->seq;
      return PX_OK;
    }
  }
  return have ? PX_OK : PX_STORE_FULL;
}

px_status px_dedup_insert(px_dedup *d, uint64_t hash, uint64_t seq) {
  slot *s = slots(d);
  uint64_t mask = d->cap - 1;
  for (uint64_t i = home(d, hash), n = 0; n < d->cap; n++, i = (i + 1) & mask) {
    slot *x = &s[i];
    if (x->hash == 0) return put(d, x, hash, seq);
    if (x->hash == hash && x->seq == seq) return PX_OK;
  }
  return PX_STORE_FULL;
}

void px_dedup_clear(px_dedup *d) {
  memset(slots(d), 0, (size_t)d->cap * sizeof(slot));
  hdr(d)->count = 0;
}

uint64_t px_dedup_count(const px_dedup *d) { return hdr(d)->count; }

uint64_t px_dedup_capacity(const px_dedup *d) { return d->cap; }
