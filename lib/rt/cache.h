/* The content-addressed on-disk compile cache.
 *
 * An entry is named by a SHA-256 key over everything that decides the
 * compiled code: the canonical text of the graph, the compile options, the
 * target CPU and features, and the libgraphc version. It holds the object
 * code and the model description, behind a header with the key, the two
 * lengths and a SHA-256 of the payload. Entries are written to a temporary
 * file in the cache directory and renamed into place, so readers and
 * concurrent writers never see a torn file; a reader that finds a corrupt
 * or truncated entry anyway (disk trouble, a hand edit) reports it on
 * stderr, deletes it and answers "corrupt", and the caller rebuilds.
 */
#ifndef GC_RT_CACHE_H
#define GC_RT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "graphc/status.h"

typedef struct gc_cache_key {
  uint8_t digest[32];
  char hex[65];
} gc_cache_key;

/* Key over `nparts` NUL-terminated strings (each length-prefixed into the
 * hash, so ("ab","c") and ("a","bc") differ). */
void gc_cache_key_make(const char *const *parts, int nparts, gc_cache_key *out);

typedef struct gc_cache_entry {
  uint8_t *object; /* malloc'd */
  size_t object_len;
  uint8_t *desc; /* malloc'd */
  size_t desc_len;
} gc_cache_entry;

void gc_cache_entry_free(gc_cache_entry *e);

typedef enum gc_cache_result {
  GC_CACHE_RESULT_MISS,
  GC_CACHE_RESULT_HIT,
  GC_CACHE_RESULT_CORRUPT, /* reported, removed: rebuild and store again */
} gc_cache_result;

/* Looks `key` up under `dir`. I/O errors other than "no such entry" are
 * statuses; a damaged entry is not (result CORRUPT). */
graphc_status_t gc_cache_lookup(const char *dir, const gc_cache_key *key, gc_cache_entry *out,
                                gc_cache_result *result);
/* Stores an entry atomically, creating `dir` (and parents) if needed. */
graphc_status_t gc_cache_store(const char *dir, const gc_cache_key *key, const gc_cache_entry *e);
/* Path of the entry file (into buf). */
void gc_cache_entry_path(const char *dir, const gc_cache_key *key, char *buf, size_t cap);

/* The default directory: $GRAPHC_CACHE_DIR, $XDG_CACHE_HOME/graphc,
 * $HOME/.cache/graphc; NULL when none is set. Borrowed from the
 * environment or `buf`. */
const char *gc_cache_default_dir(char *buf, size_t cap);

#endif
