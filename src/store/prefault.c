/* Faults the state map's pages in ahead of LMDB (see prefault.h). */
#include "store/prefault.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels say EINVAL and the thread stops */
#endif

#define AHEAD_MIN ((size_t)2 << 20)
#define AHEAD_MAX ((size_t)64 << 20)
#define STEP ((size_t)4 << 20)
#define POLL_NS 5000000L /* 5 ms */
#define IDLE 20
#define MIN_FREE ((size_t)256 << 20) /* disk left free: the store's own reserve is below */

struct px_prefault {
  MDB_env *env;
  char *map;
  size_t map_size;
  size_t psize;
  size_t frontier; /* bytes from the map's start already faulted in */
  size_t last_used; /* the used size at the last advance */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int kicked;   /* atomic */
  int watching; /* atomic: the thread is looking every POLL */
  int writers;  /* atomic: write transactions open (px_prefault_begin) */
  int stop;
};

/* The map's address: the writable mapping of the environment's data file,
 * found in /proc/self/maps by its inode (LMDB gives the address only with
 * MDB_FIXEDMAP). */
static char *find_map(MDB_env *env, size_t *size) {
  int fd;
  struct stat sb;
  if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &sb) != 0) return NULL;
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return NULL;
  char line[4608];
  char *found = NULL;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, ino;
    unsigned maj, min;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &off, &maj, &min, &ino) != 7) continue;
    if (ino != (unsigned long)sb.st_ino || makedev(maj, min) != sb.st_dev || off != 0 || perms[1] != 'w') continue;
    found = (char *)lo;
    *size = hi - lo;
  }
  fclose(f);
  return found;
}

/* How far the writer has got: the end of the last committed page, or past
 * it the last page an open transaction has taken from the end of the file
 * (LMDB writes a new page's number into its header when it takes it; the
 * pages past the last committed one are taken in order, and the thread's
 * own are zeros). A page is looked at with the next 7, so that one inside
 * a multi-page value does not end the search. */
static int taken(px_prefault *p, size_t pg) {
  for (size_t i = pg; i < pg + 8 && (i + 1) * p->psize <= p->frontier; i++)
    if (__atomic_load_n((uint64_t *)(p->map + i * p->psize), __ATOMIC_RELAXED) == i) return 1;
  return 0;
}

static size_t used_size(px_prefault *p) {
  MDB_envinfo info;
  return mdb_env_info(p->env, &info) == 0 ? ((size_t)info.me_last_pgno + 1) * p->psize : 0;
}

static size_t writer_at(px_prefault *p) {
  size_t lo = used_size(p) / p->psize, hi = p->frontier / p->psize; /* taken: below lo */
  if (lo >= hi || !taken(p, lo)) return lo * p->psize;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (taken(p, mid)) lo = mid;
    else hi = mid;
  }
  return (lo + 1) * p->psize;
}

/* Brings [frontier, to) in, STEP bytes at a time (so that a stop waits
 * for one step at most): MADV_POPULATE_WRITE gives the file its blocks and
 * the pages their page-cache entries, then one read per page maps it for
 * this process (under the VM's shadow paging the first access to a page
 * costs a hypervisor exit even after the populate). Returns 0 when the
 * kernel refused (the thread then stops); nothing when the disk is short
 * of space (the next look tries again). */
static int bring_in(px_prefault *p, size_t to) {
  struct statvfs vfs;
  int fd;
  if (mdb_env_get_fd(p->env, &fd) != 0 || fstatvfs(fd, &vfs) != 0 ||
      (size_t)vfs.f_bavail * vfs.f_frsize < to - p->frontier + MIN_FREE)
    return 1;
  while (p->frontier < to && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
    size_t n = to - p->frontier < STEP ? to - p->frontier : STEP;
    if (madvise(p->map + p->frontier, n, MADV_POPULATE_WRITE) != 0) return 0;
    for (size_t at = 0; at < n; at += p->psize) (void)*(volatile char *)(p->map + p->frontier + at);
    p->frontier += n;
  }
  return 1;
}

/* Keeps the frontier four times the growth since the last look (2 MB to
 * 64 MB) past the writer. Returns -1 when the kernel refused, 1 when the
 * writer had moved, 0 when not. */
static int advance(px_prefault *p) {
  size_t at = writer_at(p);
  int moved = at > p->last_used;
  size_t ahead = moved ? 4 * (at - p->last_used) : 0;
  if (moved) p->last_used = at;
  if (ahead < AHEAD_MIN) ahead = AHEAD_MIN;
  if (ahead > AHEAD_MAX) ahead = AHEAD_MAX;
  ahead -= ahead % p->psize;
  if (p->frontier < at) p->frontier = at;
  size_t to = at + ahead < p->map_size ? at + ahead : p->map_size;
  if (to > p->frontier + ahead / 2 && !bring_in(p, to)) return -1;
  return moved;
}

/* Asleep until a write transaction begins; then it looks every POLL while
 * one is open, and sleeps again after IDLE looks without one or growth. */
static void *run(void *arg) {
  px_prefault *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && !__atomic_load_n(&p->kicked, __ATOMIC_SEQ_CST)) pthread_cond_wait(&p->cv, &p->mu);
    if (p->stop) break;
    __atomic_store_n(&p->watching, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->kicked, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&p->mu);
    int r = 0;
    for (int idle = 0; idle < IDLE && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED);) {
      if ((r = advance(p)) < 0) break;
      idle = r || __atomic_load_n(&p->writers, __ATOMIC_SEQ_CST) ? 0 : idle + 1;
      struct timespec ts = {0, POLL_NS};
      nanosleep(&ts, NULL);
    }
    __atomic_store_n(&p->watching, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&p->mu);
    if (r < 0) break;
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

px_prefault *px_prefault_start(MDB_env *env) {
  px_prefault *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  MDB_stat ms;
  p->env = env;
  p->kicked = 1;
  if (mdb_env_stat(env, &ms) != 0 || !(p->map = find_map(env, &p->map_size))) {
    free(p);
    return NULL;
  }
  p->psize = ms.ms_psize;
  p->last_used = used_size(p);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  if (pthread_create(&p->thread, NULL, run, p) != 0) {
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
  }
  return p;
}

void px_prefault_end(px_prefault *p) {
  if (p) __atomic_sub_fetch(&p->writers, 1, __ATOMIC_SEQ_CST);
}

void px_prefault_begin(px_prefault *p) {
  if (!p) return;
  __atomic_add_fetch(&p->writers, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&p->kicked, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&p->watching, __ATOMIC_SEQ_CST)) return;
  pthread_mutex_lock(&p->mu);
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void px_prefault_stop(px_prefault *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->thread, NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}
