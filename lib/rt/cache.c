/* The on-disk compile cache (see cache.h).
 *
 * Entry file <dir>/<key hex>.gce:
 *   "GCCACHE\0"  u32 format  u32 0  key[32]  u64 object_len  u64 desc_len
 *   sha256(object || desc)[32]  object  desc
 */
#include "rt/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt/sha256.h"
#include "support/status.h"

#define CACHE_MAGIC "GCCACHE"
#define CACHE_FORMAT 1u
#define CACHE_HEADER 96
#define CACHE_MAX_BYTES (1ull << 32) /* refuse to read absurd files */

void gc_cache_key_make(const char *const *parts, int nparts, gc_cache_key *out) {
  gc_sha256 s;
  gc_sha256_init(&s);
  for (int i = 0; i < nparts; i++) {
    const char *p = parts[i] ? parts[i] : "";
    uint64_t n = strlen(p);
    uint8_t len[8];
    for (int k = 0; k < 8; k++) len[k] = (uint8_t)(n >> (8 * k));
    gc_sha256_update(&s, len, 8);
    gc_sha256_update(&s, p, n);
  }
  gc_sha256_final(&s, out->digest);
  gc_sha256_hex(out->digest, out->hex);
}

void gc_cache_entry_free(gc_cache_entry *e) {
  if (!e) return;
  free(e->object);
  free(e->desc);
  memset(e, 0, sizeof *e);
}

void gc_cache_entry_path(const char *dir, const gc_cache_key *key, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.gce", dir, key->hex);
}

const char *gc_cache_default_dir(char *buf, size_t cap) {
  const char *d = getenv("GRAPHC_CACHE_DIR");
  if (d && *d) return d;
  d = getenv("XDG_CACHE_HOME");
  if (d && *d) {
    snprintf(buf, cap, "%s/graphc", d);
    return buf;
  }
  d = getenv("HOME");
  if (d && *d) {
    snprintf(buf, cap, "%s/.cache/graphc", d);
    return buf;
  }
  return NULL;
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void payload_digest(const uint8_t *obj, size_t olen, const uint8_t *desc, size_t dlen,
                           uint8_t out[32]) {
  gc_sha256 s;
  gc_sha256_init(&s);
  gc_sha256_update(&s, obj, olen);
  gc_sha256_update(&s, desc, dlen);
  gc_sha256_final(&s, out);
}

/* Reports a damaged entry and removes it so the rebuild can replace it. */
static void corrupt(const char *path, const char *why, gc_cache_result *result) {
  fprintf(stderr, "graphc: compile cache entry %s is %s; removing it and recompiling\n", path, why);
  unlink(path);
  *result = GC_CACHE_RESULT_CORRUPT;
}

static graphc_status_t read_all(int fd, uint8_t *buf, size_t n, size_t *got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = read(fd, buf + *got, n - *got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return gc_status(GRAPHC_STATUS_IO_ERROR, "reading a cache entry: %s", strerror(errno));
    if (r == 0) break;
    *got += (size_t)r;
  }
  return NULL;
}

graphc_status_t gc_cache_lookup(const char *dir, const gc_cache_key *key, gc_cache_entry *out,
                                gc_cache_result *result) {
  memset(out, 0, sizeof *out);
  *result = GC_CACHE_RESULT_MISS;
  char path[4096];
  gc_cache_entry_path(dir, key, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NULL;
    return gc_status(GRAPHC_STATUS_IO_ERROR, "%s: %s", path, strerror(errno));
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size > CACHE_MAX_BYTES) {
    close(fd);
    corrupt(path, "unreadable or implausibly large", result);
    return NULL;
  }
  size_t size = (size_t)sb.st_size;
  uint8_t *bytes = malloc(size ? size : 1);
  if (!bytes) {
    close(fd);
    return GC_OOM();
  }
  size_t got;
  graphc_status_t st = read_all(fd, bytes, size, &got);
  close(fd);
  if (st) {
    free(bytes);
    return st;
  }
  const char *why = NULL;
  uint64_t olen = 0, dlen = 0;
  if (got < CACHE_HEADER) why = "truncated (shorter than its header)";
  else if (memcmp(bytes, CACHE_MAGIC, 8) != 0 || bytes[8] != CACHE_FORMAT || bytes[9] || bytes[10] || bytes[11])
    why = "not a cache entry of this format";
  else if (memcmp(bytes + 16, key->digest, 32) != 0) why = "filed under the wrong key";
  else {
    olen = get_u64(bytes + 48);
    dlen = get_u64(bytes + 56);
    if (olen > got || dlen > got || CACHE_HEADER + olen + dlen != got)
      why = CACHE_HEADER + olen + dlen > got ? "truncated" : "longer than its header says";
  }
  uint8_t digest[32];
  if (!why) {
    payload_digest(bytes + CACHE_HEADER, olen, bytes + CACHE_HEADER + olen, dlen, digest);
    if (memcmp(digest, bytes + 64, 32) != 0) why = "corrupt (checksum mismatch)";
  }
  if (why) {
    free(bytes);
    corrupt(path, why, result);
    return NULL;
  }
  out->object = malloc(olen ? olen : 1);
  out->desc = malloc(dlen ? dlen : 1);
  if (!out->object || !out->desc) {
    free(bytes);
    gc_cache_entry_free(out);
    return GC_OOM();
  }
  memcpy(out->object, bytes + CACHE_HEADER, olen);
  memcpy(out->desc, bytes + CACHE_HEADER + olen, dlen);
  out->object_len = olen;
  out->desc_len = dlen;
  free(bytes);
  *result = GC_CACHE_RESULT_HIT;
  return NULL;
}

/* mkdir -p */
static graphc_status_t make_dirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "bad cache directory '%s'", dir);
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != 0) continue;
    char c = path[i];
    path[i] = 0;
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      return gc_status(GRAPHC_STATUS_IO_ERROR, "cannot create cache directory %s: %s", path,
                       strerror(errno));
    path[i] = c;
  }
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return gc_status(GRAPHC_STATUS_IO_ERROR, "cache directory %s is not a directory", dir);
  return NULL;
}

static bool write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    b += w;
    n -= (size_t)w;
  }
  return true;
}

graphc_status_t gc_cache_store(const char *dir, const gc_cache_key *key, const gc_cache_entry *e) {
  GC_TRY(make_dirs(dir));
  char path[4096], tmp[4200];
  gc_cache_entry_path(dir, key, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, key->hex);
  int fd = mkstemp(tmp);
  if (fd < 0) return gc_status(GRAPHC_STATUS_IO_ERROR, "cannot create a file in %s: %s", dir, strerror(errno));
  uint8_t h[CACHE_HEADER] = {0};
  memcpy(h, CACHE_MAGIC, 8);
  h[8] = CACHE_FORMAT;
  memcpy(h + 16, key->digest, 32);
  put_u64(h + 48, e->object_len);
  put_u64(h + 56, e->desc_len);
  payload_digest(e->object, e->object_len, e->desc, e->desc_len, h + 64);
  bool ok = write_all(fd, h, sizeof h) && write_all(fd, e->object, e->object_len) &&
            write_all(fd, e->desc, e->desc_len);
  int saved = errno;
  /* 0644 like any other cache file (mkstemp makes 0600). */
  ok = ok && fchmod(fd, 0644) == 0;
  if (close(fd) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) {
    saved = errno;
    ok = false;
  }
  if (!ok) {
    unlink(tmp);
    return gc_status(GRAPHC_STATUS_IO_ERROR, "cannot write cache entry %s: %s", path,
                     strerror(saved ? saved : EIO));
  }
  return NULL;
}
