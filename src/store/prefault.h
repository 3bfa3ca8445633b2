#ifndef PX_STORE_PREFAULT_H
#define PX_STORE_PREFAULT_H

/* A thread that faults the pages of an LMDB environment opened with
 * MDB_WRITEMAP in ahead of the writer: a page LMDB takes from the end of
 * the file is otherwise faulted in by the writer itself, one page at a
 * time (12 us a page on the 2-core VM: a read of the file's hole, the
 * block's allocation, the VM's shadow paging), while a populate in bulk
 * and one read costs the thread about 6 us and the writer nothing. It
 * keeps four times the last growth (2 MB to 64 MB, and never the disk's
 * last 256 MB) faulted in past the writer, open transactions included
 * (docs/internals/store.md). Internal to the store. */

#include <lmdb.h>

typedef struct px_prefault px_prefault;

/* NULL when the map cannot be found or the thread not started: the store
 * works the same, only slower to grow. */
px_prefault *px_prefault_start(MDB_env *env);
/* A write transaction begins or ends: while one is open the thread looks
 * every 5 ms how far LMDB has got, committed or not. */
void px_prefault_begin(px_prefault *p);
void px_prefault_end(px_prefault *p);
void px_prefault_stop(px_prefault *p);

#endif
