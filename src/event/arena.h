/* An arena for cJSON trees. Parsing a request allocates one node (and often
 * a string) per JSON value; with malloc that was about a quarter of all the
 * instructions spent on an event. px_arena_install() points cJSON's
 * allocation hooks here: while a thread has an arena current
 * (px_arena_enter), cJSON allocates from it by bumping a pointer; otherwise
 * from the heap. Every block carries a tag, so cJSON_Delete works on any tree
 * from any thread, and frees of arena memory cost nothing. The arena's owner
 * (a request batch, an import chunk) releases it after the trees it holds. */
#ifndef PX_EVENT_ARENA_H
#define PX_EVENT_ARENA_H

#include <stddef.h>

typedef struct px_arena px_arena;

/* Installs the hooks; call once at start-up, before any cJSON use. Without
 * it, arenas are simply not used (everything comes from the heap). */
void px_arena_install(void);

px_arena *px_arena_create(void);
/* Frees every block. Trees allocated in it must be gone (or never used). */
void px_arena_destroy(px_arena *a);
/* Forgets everything handed out but keeps the standard-size blocks for
 * reuse (fresh blocks cost page faults). Same precondition as destroy. */
void px_arena_reset(px_arena *a);
/* Makes a the calling thread's current arena (NULL: none); returns the previous one. */
px_arena *px_arena_enter(px_arena *a);
/* Whether the hooks are installed (not under AddressSanitizer): then trees
 * parsed with an arena current live wholly in it, and its owner may drop
 * them with the arena instead of walking them with cJSON_Delete. */
int px_arena_enabled(void);
/* What cJSON_malloc would return (arena memory while one is current), for
 * code that builds cJSON trees itself: without cJSON's hook indirection. */
void *px_arena_alloc(size_t n);
/* Bytes handed out, for tests and metrics. */
size_t px_arena_used(const px_arena *a);

#endif
