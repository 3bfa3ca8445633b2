/* Rendering of Segment-shaped events for px-gen: one visit (session) of a
 * person on one of their devices becomes a short run of page, screen,
 * track, identify, alias and group calls. */
#ifndef PX_BENCH_GEN_EVENT_H
#define PX_BENCH_GEN_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "gen_person.h"

/* Per-person state bits kept by the generator (one byte a person). */
#define PX_ST_LINKED(d) (1u << (d)) /* device d's anonymous id is tied to the user id */
#define PX_ST_SIGNED_UP 0x08u       /* the person's first identify with a userId was rendered */
#define PX_ST_LEAD 0x10u            /* gave an e-mail while still anonymous */
#define PX_ST_EMITTED 0x20u         /* an event with the userId was written out */

enum { PX_EV_IDENTIFY, PX_EV_TRACK, PX_EV_PAGE, PX_EV_SCREEN, PX_EV_GROUP, PX_EV_ALIAS, PX_EV_TYPES };

typedef struct px_gen {
  uint64_t seed;
  px_rng rng;
  uint64_t next_msg;   /* message and order ids are counters run through a bijection */
  uint64_t products;   /* catalog size */
  uint64_t companies;  /* B2B accounts */
  uint64_t rendered[PX_EV_TYPES];
} px_gen;

/* Appends the events of one visit, each a JSON object followed by '\n'.
 * *state is the person's state byte (updated). *uid_at is set to the index
 * of the first event carrying the userId, or -1. Returns the event count. */
size_t px_gen_session(px_gen *g, const px_person *p, int device, uint8_t *state, int64_t t_ms, px_sbuf *out,
                      int *uid_at);

const char *px_gen_type_name(int type);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t px_days_from_civil(int64_t y, unsigned m, unsigned d);
/* "2024-03-01T12:34:56.789Z" */
void px_iso8601(int64_t ms, char out[25]);

#endif
