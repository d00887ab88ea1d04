/* .npy reading and writing. */
#include "io/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/status.h"
#include "support/strbuf.h"

#define NPY_MAX_FILE (16ull << 30)

static graphc_status_t bad(const char *what) {
  return gc_status(GRAPHC_STATUS_DATA_LOSS, "not a valid .npy file: %s", what);
}

/* Finds `'key':` in the header dict and returns a pointer after the colon. */
static const char *dict_value(const char *h, size_t n, const char *key) {
  size_t k = strlen(key);
  for (size_t i = 0; i + k + 2 < n; i++)
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, k) == 0 && h[i + 1 + k] == h[i]) {
      const char *p = h + i + k + 2;
      while (p < h + n && *p == ' ') p++;
      if (p < h + n && *p == ':') {
        p++;
        while (p < h + n && *p == ' ') p++;
        return p;
      }
    }
  return NULL;
}

graphc_status_t gc_npy_parse(const void *bytes, size_t len, int want, gc_tensor *out) {
  memset(out, 0, sizeof *out);
  const unsigned char *b = bytes;
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return bad("missing \\x93NUMPY magic");
  int major = b[6];
  size_t hlen, off;
  if (major == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    off = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return bad("truncated header");
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    off = 12;
  } else {
    return gc_status(GRAPHC_STATUS_DATA_LOSS, "unsupported .npy format version %d", major);
  }
  if (hlen > len - off) return bad("header length runs past the end of the file");
  const char *h = (const char *)b + off;
  for (size_t i = 0; i < hlen; i++)
    if ((unsigned char)h[i] >= 0x80 && major < 3) return bad("non-ASCII header");
  const char *descr = dict_value(h, hlen, "descr");
  const char *fortran = dict_value(h, hlen, "fortran_order");
  const char *shape = dict_value(h, hlen, "shape");
  if (!descr || !fortran || !shape) return bad("header lacks descr, fortran_order or shape");
  if (strncmp(fortran, "False", 5) != 0)
    return gc_status(GRAPHC_STATUS_UNIMPLEMENTED, ".npy in Fortran order is not supported");
  char q = *descr;
  if (q != '\'' && q != '"') return bad("descr is not a string");
  const char *d = descr + 1, *end = memchr(d, q, (size_t)(h + hlen - d));
  if (!end || end - d > 8) return bad("bad descr");
  char ds[9] = {0};
  memcpy(ds, d, (size_t)(end - d));
  static const struct { const char *descr; graphc_dtype_t dt; } table[] = {
      {"<f4", GRAPHC_F32}, {"<f8", GRAPHC_F64}, {"<f2", GRAPHC_F16}, {"<i4", GRAPHC_I32},
      {"<i8", GRAPHC_I64}, {"|b1", GRAPHC_BOOL}, {"<u2", GRAPHC_BF16}};
  int found = -1;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(ds, table[i].descr) == 0) found = (int)i;
  if (found < 0)
    return gc_status(GRAPHC_STATUS_UNIMPLEMENTED,
                     ".npy dtype '%s' is not supported (little-endian f4 f8 f2 i4 i8 b1)", ds);
  graphc_dtype_t file_dt = table[found].dt;
  if (file_dt == GRAPHC_BF16 && want != GRAPHC_BF16)
    return gc_status(GRAPHC_STATUS_UNIMPLEMENTED, ".npy dtype '<u2' is read only as raw bf16 bits");
  bool f32_to_bf16 = want == GRAPHC_BF16 && file_dt == GRAPHC_F32;
  if (want >= 0 && file_dt != (graphc_dtype_t)want && !f32_to_bf16)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, ".npy holds %s, expected %s",
                     graphc_dtype_name(file_dt), graphc_dtype_name((graphc_dtype_t)want));
  /* shape: "(a, b, )" */
  const char *p = shape;
  if (*p != '(') return bad("shape is not a tuple");
  p++;
  int64_t dims[GRAPHC_MAX_RANK];
  int rank = 0;
  for (;;) {
    while (p < h + hlen && *p == ' ') p++;
    if (p >= h + hlen) return bad("unterminated shape");
    if (*p == ')') break;
    if (*p < '0' || *p > '9') return bad("shape entry is not a non-negative integer");
    int64_t v = 0;
    while (p < h + hlen && *p >= '0' && *p <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
        return bad("shape entry overflows");
      p++;
    }
    if (rank == GRAPHC_MAX_RANK)
      return gc_status(GRAPHC_STATUS_UNIMPLEMENTED, ".npy rank exceeds %d", GRAPHC_MAX_RANK);
    dims[rank++] = v;
    while (p < h + hlen && *p == ' ') p++;
    if (p < h + hlen && *p == ',') p++;
    else if (p < h + hlen && *p != ')') return bad("malformed shape tuple");
  }
  size_t es = graphc_dtype_size(file_dt);
  uint64_t numel = 1, need;
  for (int i = 0; i < rank; i++)
    if (__builtin_mul_overflow(numel, (uint64_t)dims[i], &numel)) return bad("shape too large");
  if (__builtin_mul_overflow(numel, (uint64_t)es, &need) || need > NPY_MAX_FILE)
    return bad("shape too large");
  size_t data_off = off + hlen;
  if (len - data_off != need)
    return gc_status(GRAPHC_STATUS_DATA_LOSS,
                     ".npy data is %zu bytes but its header promises %llu (truncated or lying header)",
                     len - data_off, (unsigned long long)need);
  graphc_dtype_t dt = want >= 0 ? (graphc_dtype_t)want : file_dt;
  GC_TRY(gc_tensor_alloc(out, dt, rank, dims, 0));
  if (f32_to_bf16) {
    for (uint64_t i = 0; i < numel; i++) {
      float f;
      memcpy(&f, b + data_off + i * 4, 4);
      ((uint16_t *)out->data)[i] = gc_f32_to_bf16(f);
    }
  } else if (need) {
    memcpy(out->data, b + data_off, need);
  }
  if (dt == GRAPHC_BOOL)
    for (uint64_t i = 0; i < numel; i++)
      if (((uint8_t *)out->data)[i] > 1) {
        gc_tensor_free(out);
        return bad("bool element is neither 0 nor 1");
      }
  return NULL;
}

graphc_status_t gc_npy_read(const char *path, int want, gc_tensor *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return gc_status(GRAPHC_STATUS_IO_ERROR, "%s: %s", path, strerror(errno));
  graphc_status_t st = NULL;
  char *buf = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
    st = gc_status(GRAPHC_STATUS_IO_ERROR, "%s: cannot determine size", path);
  else if ((unsigned long)n > NPY_MAX_FILE)
    st = gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED, "%s: file larger than 16 GiB", path);
  else if (!(buf = malloc((size_t)n + 1)))
    st = GC_OOM();
  else if (fread(buf, 1, (size_t)n, f) != (size_t)n)
    st = gc_status(GRAPHC_STATUS_IO_ERROR, "%s: short read", path);
  fclose(f);
  if (!st) st = gc_npy_parse(buf, (size_t)n, want, out);
  free(buf);
  return st ? gc_status_wrap(st, "%s", path) : NULL;
}

graphc_status_t gc_npy_write(const char *path, const gc_tensor *t) {
  static const char *const descr[] = {"<f4", "<f8", "<f2", "<f4", "<i4", "<i8", "|b1"};
  gc_strbuf h = {0};
  gc_sb_printf(&h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr[t->dtype]);
  for (int i = 0; i < t->rank; i++) gc_sb_printf(&h, "%lld,%s", (long long)t->shape[i], i + 1 < t->rank ? " " : "");
  gc_sb_append(&h, "), }");
  if (h.oom) return GC_OOM();
  /* Pad so the data starts at a multiple of 64 bytes; newline last. */
  size_t pre = 10;
  size_t total = pre + h.len + 1;
  size_t pad = (64 - total % 64) % 64;
  for (size_t i = 0; i < pad; i++) gc_sb_append(&h, " ");
  gc_sb_append(&h, "\n");
  if (h.oom) return GC_OOM();
  if (h.len > 65535) {
    gc_sb_free(&h);
    return gc_status(GRAPHC_STATUS_INTERNAL, "npy header too long");
  }
  gc_strbuf tmp = {0};
  gc_sb_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
  char *tmpath = gc_sb_take(&tmp);
  if (!tmpath) {
    gc_sb_free(&h);
    return GC_OOM();
  }
  graphc_status_t st = NULL;
  FILE *f = fopen(tmpath, "wb");
  if (!f) {
    st = gc_status(GRAPHC_STATUS_IO_ERROR, "%s: %s", tmpath, strerror(errno));
  } else {
    unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              (unsigned char)(h.len & 0xff), (unsigned char)(h.len >> 8)};
    bool ok = fwrite(head, 1, 10, f) == 10 && fwrite(h.data, 1, h.len, f) == h.len;
    if (ok && t->dtype == GRAPHC_BF16) {
      for (int64_t i = 0; ok && i < t->numel; i++) {
        float v = (float)gc_tensor_getf(t, i);
        ok = fwrite(&v, 4, 1, f) == 1;
      }
    } else if (ok && t->numel) {
      size_t bytes = (size_t)t->numel * graphc_dtype_size(t->dtype);
      ok = fwrite(t->data, 1, bytes, f) == bytes;
    }
    if (fflush(f) != 0) ok = false;
    if (fclose(f) != 0) ok = false;
    if (!ok) st = gc_status(GRAPHC_STATUS_IO_ERROR, "%s: write failed: %s", tmpath, strerror(errno));
    else if (rename(tmpath, path) != 0)
      st = gc_status(GRAPHC_STATUS_IO_ERROR, "rename %s -> %s: %s", tmpath, path, strerror(errno));
    if (st) unlink(tmpath);
  }
  free(tmpath);
  gc_sb_free(&h);
  return st;
}
