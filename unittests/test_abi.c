/* The public C ABI, used only through include/graphc: handles, builder,
 * queries, DLPack in and out, and every misuse returning a status. */
#include <criterion/criterion.h>
#include <graphc/graphc.h>
#include <math.h>
#include <string.h>

#include "test_common.h"

static graphc_context_t *ctx;
static void setup(void) { OK(graphc_context_create(NULL, &ctx)); }
static void teardown(void) { graphc_context_release(ctx); }
TestSuite(abi, .init = setup, .fini = teardown);

Test(abi, version) {
  cr_assert_eq(graphc_abi_version(), GRAPHC_ABI_VERSION);
  cr_assert_str_eq(graphc_version(), "0.1.0");
  cr_assert_str_eq(graphc_dtype_name(GRAPHC_BF16), "bf16");
  cr_assert_eq(graphc_dtype_size(GRAPHC_F16), 2);
  cr_assert_null(graphc_dtype_name((graphc_dtype_t)99));
}

Test(abi, null_handles_and_outputs) {
  graphc_graph_t *g = (graphc_graph_t *)1;
  FAILS(graphc_graph_create(NULL, "g", &g), GRAPHC_STATUS_INVALID_ARGUMENT, "context");
  cr_assert_null(g);
  FAILS(graphc_graph_create(ctx, "g", NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  FAILS(graphc_context_create(NULL, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  graphc_value_t v;
  FAILS(graphc_graph_add_input(NULL, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 0, NULL, &v),
        GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  FAILS(graphc_graph_verify(NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  FAILS(graphc_interp_run(NULL, NULL, NULL, 0, NULL, 0), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  char *text;
  FAILS(graphc_graph_print(NULL, &text, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  cr_assert_eq(graphc_graph_num_nodes(NULL), -1);
  cr_assert_null(graphc_graph_name(NULL));
  graphc_graph_release(NULL);
  graphc_context_release(NULL);
  graphc_status_free(NULL);
}

Test(abi, options_struct_size_is_checked) {
  graphc_context_options_t o;
  graphc_context_options_init(&o);
  o.struct_size = 3;
  graphc_context_t *c2;
  FAILS(graphc_context_create(&o, &c2), GRAPHC_STATUS_INVALID_ARGUMENT, "struct_size");
  graphc_context_options_init(&o);
  o.num_threads = 2;
  OK(graphc_context_create(&o, &c2));
  graphc_context_release(c2);
}

Test(abi, released_graph_is_detected) {
  graphc_graph_t *g;
  OK(graphc_graph_create(ctx, "g", &g));
  graphc_graph_release(g);
  graphc_value_t v;
  FAILS(graphc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 0, NULL, &v),
        GRAPHC_STATUS_INVALID_ARGUMENT, "released");
  FAILS(graphc_graph_verify(g), GRAPHC_STATUS_INVALID_ARGUMENT, "released");
  cr_assert_eq(graphc_graph_num_inputs(g), -1);
  graphc_graph_release(g); /* twice: ignored */
}

/* y = relu(x * w + b) over [N, 3] with N symbolic. */
static graphc_graph_t *build_affine(void) {
  graphc_graph_t *g;
  OK(graphc_graph_create(ctx, "affine", &g));
  graphc_dim_t n, three;
  OK(graphc_graph_dim_parse(g, "N", &n));
  OK(graphc_graph_dim_const(g, 3, &three));
  graphc_dim_t xd[2] = {n, three};
  graphc_value_t x, w, b, m, a, r;
  OK(graphc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 2, xd, &x));
  OK(graphc_graph_add_input(g, "w", GRAPHC_ROLE_PARAM, GRAPHC_F32, 1, &three, &w));
  OK(graphc_graph_add_input(g, "b", GRAPHC_ROLE_PARAM, GRAPHC_F32, 1, &three, &b));
  graphc_value_t xw[2] = {x, w};
  OK(graphc_graph_add_node(g, "mul", xw, 2, NULL, 0, NULL, 0, NULL, &m, 1, NULL));
  graphc_value_t mb[2] = {m, b};
  const char *names[1] = {"pre"};
  OK(graphc_graph_add_node(g, "add", mb, 2, NULL, 0, NULL, 0, names, &a, 1, NULL));
  OK(graphc_graph_add_node(g, "relu", &a, 1, NULL, 0, NULL, 0, NULL, &r, 1, NULL));
  OK(graphc_graph_set_outputs(g, &r, 1));
  return g;
}

Test(abi, build_and_query) {
  graphc_graph_t *g = build_affine();
  OK(graphc_graph_verify(g));
  cr_assert_eq(graphc_graph_num_inputs(g), 3);
  cr_assert_eq(graphc_graph_num_nodes(g), 3);
  cr_assert_str_eq(graphc_node_op(g, 1), "add");
  graphc_value_t pre = graphc_node_result(g, 1, 0);
  cr_assert_str_eq(graphc_value_name(g, pre), "pre");
  cr_assert_eq(graphc_value_producer(g, pre), 1);
  cr_assert_eq(graphc_value_role(g, pre), -1);
  cr_assert_eq(graphc_value_role(g, graphc_graph_input(g, 1)), GRAPHC_ROLE_PARAM);
  int users[4];
  cr_assert_eq(graphc_value_users(g, pre, users, 4), 1);
  cr_assert_eq(users[0], 2);
  graphc_dtype_t dt;
  int rank;
  graphc_dim_t dims[8];
  OK(graphc_value_type(g, graphc_graph_output(g, 0), &dt, &rank, dims));
  cr_assert_eq(dt, GRAPHC_F32);
  cr_assert_eq(rank, 2);
  char buf[32];
  size_t len;
  OK(graphc_graph_dim_print(g, dims[0], buf, sizeof buf, &len));
  cr_assert_str_eq(buf, "N");
  int64_t c;
  cr_assert(graphc_graph_dim_is_const(g, dims[1], &c) && c == 3);
  cr_assert(!graphc_graph_dim_is_const(g, dims[0], &c));
  /* Equal expressions are equal ids. */
  graphc_dim_t e1, e2;
  OK(graphc_graph_dim_parse(g, "2*N + 2", &e1));
  OK(graphc_graph_dim_parse(g, "(N + 1) * 2", &e2));
  cr_assert_eq(e1, e2);
}

Test(abi, node_errors_name_op_and_operand) {
  graphc_graph_t *g = build_affine();
  graphc_value_t x = graphc_graph_input(g, 0), out;
  graphc_value_t two[2] = {x, x};
  FAILS(graphc_graph_add_node(g, "frobnicate", &x, 1, NULL, 0, NULL, 0, NULL, &out, 1, NULL),
        GRAPHC_STATUS_NOT_FOUND, "frobnicate");
  FAILS(graphc_graph_add_node(g, "relu", two, 2, NULL, 0, NULL, 0, NULL, &out, 1, NULL),
        GRAPHC_STATUS_VERIFY_ERROR, "relu");
  graphc_value_t bad[2] = {x, 999};
  FAILS(graphc_graph_add_node(g, "add", bad, 2, NULL, 0, NULL, 0, NULL, &out, 1, NULL),
        GRAPHC_STATUS_INVALID_ARGUMENT, "operand 1");
  graphc_attr_t attr = {.name = "nonsense", .kind = GRAPHC_ATTR_INT, .i = 1};
  FAILS(graphc_graph_add_node(g, "relu", &x, 1, &attr, 1, NULL, 0, NULL, &out, 1, NULL),
        GRAPHC_STATUS_VERIFY_ERROR, "nonsense");
  const char *dup[1] = {"pre"};
  FAILS(graphc_graph_add_node(g, "relu", &x, 1, NULL, 0, NULL, 0, dup, &out, 1, NULL),
        GRAPHC_STATUS_VERIFY_ERROR, "pre");
  cr_assert_eq(graphc_graph_num_nodes(g), 3, "failed adds must leave the graph unchanged");
  graphc_value_t v;
  FAILS(graphc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 0, NULL, &v),
        GRAPHC_STATUS_VERIFY_ERROR, "duplicate");
  graphc_dim_t d;
  FAILS(graphc_graph_dim_parse(g, "N +", &d), GRAPHC_STATUS_PARSE_ERROR, "N +");
  FAILS(graphc_graph_dim_const(g, -4, &d), GRAPHC_STATUS_INVALID_ARGUMENT, "negative");
}

Test(abi, symbol_inputs) {
  graphc_graph_t *g;
  OK(graphc_graph_create(ctx, "sym", &g));
  graphc_value_t n, v;
  OK(graphc_graph_add_input(g, "n", GRAPHC_ROLE_SYMBOL, GRAPHC_I64, 0, NULL, &n));
  FAILS(graphc_graph_add_input(g, "m", GRAPHC_ROLE_SYMBOL, GRAPHC_F32, 0, NULL, &v),
        GRAPHC_STATUS_VERIFY_ERROR, "i64");
  graphc_dim_t twice_n;
  OK(graphc_graph_dim_parse(g, "2*n", &twice_n));
  OK(graphc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 1, &twice_n, &v));
  graphc_dim_t k;
  OK(graphc_graph_dim_parse(g, "3*K", &k));
  FAILS(graphc_graph_add_input(g, "y", GRAPHC_ROLE_INPUT, GRAPHC_F32, 1, &k, &v),
        GRAPHC_STATUS_VERIFY_ERROR, "not bound");
  OK(graphc_graph_set_outputs(g, &v, 1));
  float data[6] = {1, 2, 3, 4, 5, 6};
  int64_t nval = 3, xs[1] = {6};
  DLTensor nt = {&nval, {kDLCPU, 0}, 0, {kDLInt, 64, 1}, NULL, NULL, 0};
  DLTensor xt = {data, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, xs, NULL, 0};
  DLTensor *in[2] = {&nt, &xt};
  DLManagedTensor *out;
  OK(graphc_interp_run(g, NULL, in, 2, &out, 1));
  out->deleter(out);
  nval = 4; /* 2*n = 8, but x has 6 elements */
  FAILS(graphc_interp_run(g, NULL, in, 2, &out, 1), GRAPHC_STATUS_INVALID_ARGUMENT, "2*n");
}

Test(abi, run_with_dlpack_strides_and_checks) {
  graphc_graph_t *g = build_affine();
  /* x is a transposed view: logical [2, 3] over storage [3, 2]. */
  float storage[6] = {1, -4, 2, 5, -3, 6}; /* x[i][j] = storage[j*2 + i] */
  int64_t xs[2] = {2, 3}, xst[2] = {1, 2};
  float w[3] = {1, 2, 3}, b[3] = {0.5f, -20, 1};
  int64_t ws[1] = {3};
  DLTensor xt = {storage, {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, xs, xst, 0};
  DLTensor wt = {w, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, ws, NULL, 0};
  DLTensor bt = {b, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, ws, NULL, 0};
  DLTensor *in[3] = {&xt, &wt, &bt};
  DLManagedTensor *out[1];
  OK(graphc_interp_run(g, NULL, in, 3, out, 1));
  DLTensor *o = &out[0]->dl_tensor;
  cr_assert_eq(o->ndim, 2);
  cr_assert_eq(o->shape[0], 2);
  cr_assert_eq(o->dtype.code, kDLFloat);
  const float *y = o->data;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++) {
      float x = storage[j * 2 + i];
      cr_assert_float_eq(y[i * 3 + j], fmaxf(x * w[j] + b[j], 0), 1e-6);
    }
  out[0]->deleter(out[0]);

  /* Wrong dtype, wrong rank, wrong constant dim, too few inputs, no room. */
  double w64[3] = {1, 2, 3};
  DLTensor bad = wt;
  bad.data = w64;
  bad.dtype = (DLDataType){kDLFloat, 64, 1};
  DLTensor *in2[3] = {&xt, &bad, &bt};
  FAILS(graphc_interp_run(g, NULL, in2, 3, out, 1), GRAPHC_STATUS_INVALID_ARGUMENT, "'w'");
  int64_t four[1] = {4};
  DLTensor wide = wt;
  wide.shape = four;
  float w4[4] = {0};
  wide.data = w4;
  in2[1] = &wide;
  FAILS(graphc_interp_run(g, NULL, in2, 3, out, 1), GRAPHC_STATUS_INVALID_ARGUMENT, "dim 0");
  FAILS(graphc_interp_run(g, NULL, in, 2, out, 1), GRAPHC_STATUS_INVALID_ARGUMENT, "3 inputs");
  FAILS(graphc_interp_run(g, NULL, in, 3, out, 0), GRAPHC_STATUS_INVALID_ARGUMENT, "room");
  DLTensor gpu = xt;
  gpu.device.device_type = kDLCUDA;
  in2[0] = &gpu;
  in2[1] = &wt;
  FAILS(graphc_interp_run(g, NULL, in2, 3, out, 1), GRAPHC_STATUS_INVALID_ARGUMENT, "device");
  graphc_interp_options_t opt;
  graphc_interp_options_init(&opt);
  opt.max_tensor_bytes = 8;
  FAILS(graphc_interp_run(g, &opt, in, 3, out, 1), GRAPHC_STATUS_RESOURCE_EXHAUSTED, "limit");
}

Test(abi, regions_change_owner) {
  graphc_graph_t *g;
  OK(graphc_graph_create(ctx, "outer", &g));
  graphc_dim_t four;
  OK(graphc_graph_dim_const(g, 4, &four));
  graphc_value_t x, y, p, r;
  OK(graphc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 1, &four, &x));
  graphc_graph_t *body;
  OK(graphc_graph_create_region(g, "body", &body));
  OK(graphc_graph_add_input(body, "p", GRAPHC_ROLE_INPUT, GRAPHC_F32, 1, &four, &p));
  OK(graphc_graph_add_node(body, "exp", &p, 1, NULL, 0, NULL, 0, NULL, &r, 1, NULL));
  OK(graphc_graph_set_outputs(body, &r, 1));
  OK(graphc_graph_add_node(g, "checkpoint", &x, 1, NULL, 0, &body, 1, NULL, &y, 1, NULL));
  graphc_graph_release(body); /* attached: ignored, owned by the node */
  OK(graphc_graph_set_outputs(g, &y, 1));
  OK(graphc_graph_verify(g));
  cr_assert_eq(graphc_node_num_regions(g, 0), 1);
  cr_assert_eq(graphc_node_region(g, 0, 0), body);
  /* A region whose node fails is still freed (ASan would report a leak). */
  graphc_graph_t *lost;
  OK(graphc_graph_create_region(g, "lost", &lost));
  FAILS(graphc_graph_add_node(g, "relu", &x, 1, NULL, 0, &lost, 1, NULL, &y, 1, NULL),
        GRAPHC_STATUS_VERIFY_ERROR, "region");
  float xv[4] = {0, 1, -1, 2};
  int64_t xs[1] = {4};
  DLTensor xt = {xv, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, xs, NULL, 0};
  DLTensor *in[1] = {&xt};
  DLManagedTensor *out;
  OK(graphc_interp_run(g, NULL, in, 1, &out, 1));
  const float *o = out->dl_tensor.data;
  for (int i = 0; i < 4; i++) cr_assert_float_eq(o[i], expf(xv[i]), 1e-6);
  out->deleter(out);
}

Test(abi, print_parse_round_trip) {
  graphc_graph_t *g = build_affine(), *h;
  char *t1, *t2;
  OK(graphc_graph_print(g, &t1, NULL));
  OK(graphc_graph_parse(ctx, t1, strlen(t1), "affine.gc", &h));
  OK(graphc_graph_print(h, &t2, NULL));
  cr_assert_str_eq(t1, t2);
  graphc_free(t1);
  graphc_free(t2);
  FAILS(graphc_graph_parse(ctx, "graph g(", 8, "bad.gc", &h), GRAPHC_STATUS_PARSE_ERROR, "bad.gc:1:");
}
