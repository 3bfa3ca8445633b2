#include "event/arena.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#define BLOCK_BYTES (64 * 1024)
#define HEADER 16 /* keeps the 16-byte alignment malloc gives */

enum { TAG_HEAP = 0x48454150, TAG_ARENA = 0x4152454e };

typedef struct block {
  struct block *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
} block;

struct px_arena {
  block *head;
  block *spare; /* standard-size blocks kept by px_arena_reset */
  size_t handed_out;
};

/* The calling thread's current arena: an allocator hook's context. */
static _Thread_local px_arena *current;
static int enabled;

static void *from_arena(px_arena *a, size_t n) {
  size_t need = (n + HEADER + 15) & ~(size_t)15;
  block *b = a->head;
  if (!b || b->size - b->used < need) {
    size_t size = need > BLOCK_BYTES / 4 ? need : BLOCK_BYTES;
    block *nb;
    if (size == BLOCK_BYTES && a->spare) {
      nb = a->spare;
      a->spare = nb->next;
    } else if (!(nb = malloc(sizeof *nb + size))) {
      return NULL;
    }
    nb->used = 0;
    nb->size = size;
    if (size == need && b) { /* a large one-off: keep filling the current block after it */
      nb->next = b->next;
      b->next = nb;
      b = nb;
    } else {
      nb->next = b;
      a->head = b = nb;
    }
  }
  unsigned char *p = b->data + b->used;
  b->used += need;
  a->handed_out += need;
  *(uint32_t *)p = TAG_ARENA;
  return p + HEADER;
}

static void *hook_malloc(size_t n) {
  if (current) return from_arena(current, n);
  unsigned char *p = malloc(n + HEADER);
  if (!p) return NULL;
  *(uint32_t *)p = TAG_HEAP;
  return p + HEADER;
}

static void hook_free(void *ptr) {
  if (!ptr) return;
  unsigned char *p = (unsigned char *)ptr - HEADER;
  if (*(uint32_t *)p == TAG_HEAP) free(p);
}

void px_arena_install(void) {
  /* Under AddressSanitizer every node stays a separate heap block, so
   * overflows inside trees are caught; the arena is then never used. */
#if defined(__SANITIZE_ADDRESS__)
  const int use_arena = 0;
#else
  const int use_arena = 1;
#endif
  if (!use_arena) return;
  cJSON_Hooks h = {hook_malloc, hook_free};
  cJSON_InitHooks(&h);
  enabled = 1;
}

int px_arena_enabled(void) { return enabled; }

void *px_arena_alloc(size_t n) {
  if (enabled && current) return from_arena(current, n);
  return cJSON_malloc(n);
}

px_arena *px_arena_create(void) { return calloc(1, sizeof(px_arena)); }

static void free_blocks(block *b) {
  for (block *next; b; b = next) {
    next = b->next;
    free(b);
  }
}

void px_arena_destroy(px_arena *a) {
  if (!a) return;
  if (current == a) current = NULL;
  free_blocks(a->head);
  free_blocks(a->spare);
  free(a);
}

void px_arena_reset(px_arena *a) {
  for (block *b = a->head, *next; b; b = next) {
    next = b->next;
    if (b->size == BLOCK_BYTES) {
      b->used = 0;
      b->next = a->spare;
      a->spare = b;
    } else {
      free(b);
    }
  }
  a->head = NULL;
  a->handed_out = 0;
}

px_arena *px_arena_enter(px_arena *a) {
  px_arena *prev = current;
  current = a;
  return prev;
}

size_t px_arena_used(const px_arena *a) { return a ? a->handed_out : 0; }
