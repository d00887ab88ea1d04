/* support/ and io/: status objects, strings, half floats, .npy files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp/tensor.h"
#include "io/npy.h"
#include "support/status.h"
#include "support/strbuf.h"

Test(status, null_is_ok) {
  cr_assert_eq(graphc_status_code(NULL), GRAPHC_STATUS_OK);
  cr_assert_str_eq(graphc_status_message(NULL), "OK");
  graphc_status_free(NULL);
}

Test(status, message_and_wrap) {
  graphc_status_t st = gc_status(GRAPHC_STATUS_NOT_FOUND, "op '%s' unknown", "foo");
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_NOT_FOUND);
  st = gc_status_wrap(st, "while parsing %s", "m.gc");
  cr_assert_str_eq(graphc_status_message(st), "while parsing m.gc: op 'foo' unknown");
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_NOT_FOUND);
  cr_assert_str_eq(graphc_status_code_name(graphc_status_code(st)), "NOT_FOUND");
  graphc_status_free(st);
}

Test(strbuf, doubles_read_back_exactly) {
  double vals[] = {0.0, 1.0, -2.5, 0.1, 1e-5, 1.0 / 3.0, 6.02214076e23, 5e-324, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    gc_strbuf sb = {0};
    gc_sb_double(&sb, vals[i]);
    char *s = gc_sb_take(&sb);
    cr_assert(strpbrk(s, ".eni") != NULL, "'%s' does not look like a float", s);
    cr_assert_eq(strtod(s, NULL), vals[i], "%s", s);
    free(s);
  }
}

Test(half, f16_round_trips_every_finite_value) {
  int bad = 0;
  for (unsigned h = 0; h < 65536; h++) {
    float f = gc_f16_to_f32((uint16_t)h);
    if (isnan(f)) continue;
    bad += gc_f32_to_f16(f) != h;
  }
  cr_assert_eq(bad, 0);
  cr_assert_eq(gc_f32_to_f16(65520.0f), 0x7c00); /* rounds to inf like numpy */
  cr_assert_eq(gc_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
  cr_assert_eq(gc_f32_to_f16(5.96e-8f), 0x0001);
}

Test(half, bf16_rounds_to_nearest_even) {
  cr_assert_eq(gc_f32_to_bf16(1.0f), 0x3f80);
  cr_assert_eq(gc_bf16_to_f32(gc_f32_to_bf16(3.140625f)), 3.140625f);
  /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even mantissa wins. */
  cr_assert_eq(gc_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  cr_assert(isnan(gc_bf16_to_f32(gc_f32_to_bf16(NAN))));
}

static char tmpdir[64];
static void mk(void) {
  strcpy(tmpdir, "/tmp/graphc_npyXXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}
static void rm(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  cr_assert_eq(system(cmd), 0);
}

Test(npy, write_read_round_trip_each_dtype, .init = mk, .fini = rm) {
  for (int dt = 0; dt < GRAPHC_DTYPE_COUNT; dt++) {
    gc_tensor t, u;
    int64_t shape[3] = {2, 3, 5};
    cr_assert_null(gc_tensor_alloc(&t, (graphc_dtype_t)dt, 3, shape, 0));
    for (int64_t i = 0; i < t.numel; i++) gc_tensor_setf(&t, i, (double)((i * 7) % 5) - 1.5 * (dt < 4));
    char path[128];
    snprintf(path, sizeof path, "%s/t%d.npy", tmpdir, dt);
    cr_assert_null(gc_npy_write(path, &t));
    graphc_status_t st = gc_npy_read(path, dt, &u);
    cr_assert_null(st, "%s", graphc_status_message(st));
    cr_assert_eq(u.rank, 3);
    for (int64_t i = 0; i < t.numel; i++)
      cr_assert_eq(gc_tensor_getf(&u, i), gc_tensor_getf(&t, i), "dtype %d elem %ld", dt, (long)i);
    gc_tensor_free(&t);
    gc_tensor_free(&u);
  }
}

static graphc_status_t parse_str(const char *hdr, size_t data_bytes, gc_tensor *out) {
  unsigned char buf[512] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  size_t h = strlen(hdr);
  buf[8] = (unsigned char)h;
  buf[9] = 0;
  memcpy(buf + 10, hdr, h);
  return gc_npy_parse(buf, 10 + h + data_bytes, -1, out);
}

Test(npy, rejects_lying_and_odd_headers) {
  struct { const char *hdr; size_t data; graphc_status_code_t code; } cases[] = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 8, GRAPHC_STATUS_DATA_LOSS},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 20, GRAPHC_STATUS_DATA_LOSS},
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4, GRAPHC_STATUS_UNIMPLEMENTED},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", 4, GRAPHC_STATUS_UNIMPLEMENTED},
      {"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8, GRAPHC_STATUS_UNIMPLEMENTED},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4, GRAPHC_STATUS_DATA_LOSS},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,), }", 4, GRAPHC_STATUS_UNIMPLEMENTED},
      {"{'descr': '<f4', 'fortran_order': False }", 4, GRAPHC_STATUS_DATA_LOSS},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4, GRAPHC_STATUS_DATA_LOSS},
      {"garbage", 0, GRAPHC_STATUS_DATA_LOSS},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gc_tensor t;
    graphc_status_t st = parse_str(cases[i].hdr, cases[i].data, &t);
    cr_assert_not_null(st, "case %zu accepted", i);
    cr_assert_eq(graphc_status_code(st), cases[i].code, "case %zu: %s", i, graphc_status_message(st));
    graphc_status_free(st);
  }
  gc_tensor t;
  graphc_status_t st = gc_npy_parse("\x93NUMPY\x01\x00\xff\xff", 10, -1, &t);
  cr_assert_not_null(st);
  graphc_status_free(st);
  st = gc_npy_read("/nonexistent/x.npy", -1, &t);
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_IO_ERROR);
  cr_assert(strstr(graphc_status_message(st), "/nonexistent/x.npy"));
  graphc_status_free(st);
}

Test(npy, every_truncation_is_an_error, .init = mk, .fini = rm) {
  gc_tensor t;
  int64_t shape[2] = {3, 4};
  cr_assert_null(gc_tensor_alloc(&t, GRAPHC_F32, 2, shape, 0));
  char path[128];
  snprintf(path, sizeof path, "%s/t.npy", tmpdir);
  cr_assert_null(gc_npy_write(path, &t));
  gc_tensor_free(&t);
  FILE *f = fopen(path, "rb");
  unsigned char buf[256];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  for (size_t cut = 0; cut < n; cut++) {
    graphc_status_t st = gc_npy_parse(buf, cut, -1, &t);
    cr_assert_not_null(st, "truncated at %zu accepted", cut);
    graphc_status_free(st);
  }
  cr_assert_null(gc_npy_parse(buf, n, -1, &t));
  gc_tensor_free(&t);
}
