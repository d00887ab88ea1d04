/* SHA-256 (FIPS 180-4): cache keys and entry checksums. */
#ifndef GC_RT_SHA256_H
#define GC_RT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct gc_sha256 {
  uint32_t h[8];
  uint64_t len; /* bytes hashed so far */
  uint8_t block[64];
  size_t fill;
} gc_sha256;

void gc_sha256_init(gc_sha256 *s);
void gc_sha256_update(gc_sha256 *s, const void *data, size_t len);
void gc_sha256_final(gc_sha256 *s, uint8_t out[32]);
/* One-shot digest. */
void gc_sha256_digest(const void *data, size_t len, uint8_t out[32]);
/* 64 lowercase hex digits + NUL. */
void gc_sha256_hex(const uint8_t digest[32], char out[65]);

#endif
