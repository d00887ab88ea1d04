/* Builds relu(x + b) with the public C API, runs it through the
 * interpreter on DLPack tensors and checks the numbers. */
#include <graphc/graphc.h>
#include <math.h>
#include <stdio.h>

static int check(graphc_status_t st) {
  if (!st) return 0;
  fprintf(stderr, "consumer: %s\n", graphc_status_message(st));
  graphc_status_free(st);
  return 1;
}

int main(void) {
  graphc_context_t *ctx;
  graphc_graph_t *g;
  if (check(graphc_context_create(NULL, &ctx))) return 1;
  if (check(graphc_graph_create(ctx, "bias_relu", &g))) return 1;
  graphc_dim_t n, four;
  graphc_value_t x, b, s, r;
  if (check(graphc_graph_dim_parse(g, "N", &n)) || check(graphc_graph_dim_const(g, 4, &four)))
    return 1;
  graphc_dim_t xd[2] = {n, four};
  if (check(graphc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 2, xd, &x)) ||
      check(graphc_graph_add_input(g, "b", GRAPHC_ROLE_PARAM, GRAPHC_F32, 1, &four, &b)))
    return 1;
  graphc_value_t ops[2] = {x, b};
  if (check(graphc_graph_add_node(g, "add", ops, 2, NULL, 0, NULL, 0, NULL, &s, 1, NULL)) ||
      check(graphc_graph_add_node(g, "relu", &s, 1, NULL, 0, NULL, 0, NULL, &r, 1, NULL)) ||
      check(graphc_graph_set_outputs(g, &r, 1)))
    return 1;
  float xv[8] = {-1, 2, -3, 4, 5, -6, 7, -8}, bv[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  int64_t xs[2] = {2, 4}, bs[1] = {4};
  DLTensor xt = {xv, {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, xs, NULL, 0};
  DLTensor bt = {bv, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, bs, NULL, 0};
  DLTensor *in[2] = {&xt, &bt};
  DLManagedTensor *out;
  if (check(graphc_interp_run(g, NULL, in, 2, &out, 1))) return 1;
  const float *o = out->dl_tensor.data;
  int bad = 0;
  for (int i = 0; i < 8; i++) bad |= fabsf(o[i] - fmaxf(xv[i] + 0.5f, 0.0f)) > 0;
  out->deleter(out);
  char *text;
  if (check(graphc_graph_print(g, &text, NULL))) return 1;
  printf("%s", text);
  graphc_free(text);
  graphc_context_release(ctx);
  printf("consumer: libgraphc %s, relu(x + b) %s\n", graphc_version(), bad ? "WRONG" : "ok");
  return bad;
}
