/* The canonical printer of the .gc text form (docs/ir.md).
 *
 * Canonical means: one spelling per graph. Inputs in order (one per line
 * when there are more than 3), nodes in order, attributes in schema order,
 * floats via gc_sb_double, dims via gc_dim_str, and a trailing
 * "# <result types>" comment on every node line. The parser reads this
 * output back to a graph that prints to the same bytes.
 *
 * Region nesting is bounded by the graph itself (the parser caps it at
 * GC_TEXT_MAX_NESTING; graphs built through the API are trees), so the
 * recursion over regions is as deep as the graph's nesting. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "graphc/text.h"
#include "ir/dims.h"
#include "ir/ir.h"
#include "ir/op.h"
#include "ir/text.h"
#include "support/status.h"
#include "support/strbuf.h"

static void indent(gc_strbuf *sb, int n) {
  for (int i = 0; i < n; i++) gc_sb_appendn(sb, " ", 1);
}

/* "f32[B, 4]" */
static void print_type(gc_strbuf *sb, const gc_dimtab *t, const gc_type *ty) {
  const char *dt = graphc_dtype_name(ty->dtype);
  gc_sb_append(sb, dt ? dt : "?");
  gc_sb_append(sb, "[");
  for (int i = 0; i < ty->rank; i++) {
    if (i) gc_sb_append(sb, ", ");
    gc_sb_append(sb, gc_dim_str(t, ty->dims[i]));
  }
  gc_sb_append(sb, "]");
}

/* Inputs bare, node results with '%'. */
static void print_ref(gc_strbuf *sb, const gc_graph *g, int v) {
  if (v < 0 || v >= g->nvalues) {
    gc_sb_append(sb, "<bad value>");
    return;
  }
  if (g->values[v].producer >= 0) gc_sb_append(sb, "%");
  gc_sb_append(sb, g->values[v].name ? g->values[v].name : "?");
}

static const gc_attr *find_attr(const gc_node *n, const char *name) {
  for (int i = 0; i < n->nattrs; i++)
    if (n->attrs[i].name && strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

static void print_attr_value(gc_strbuf *sb, const gc_dimtab *t, const gc_attr *a) {
  switch (a->kind) {
    case GRAPHC_ATTR_INT:
      gc_sb_printf(sb, "%" PRId64, a->i);
      return;
    case GRAPHC_ATTR_FLOAT:
      gc_sb_double(sb, a->f);
      return;
    case GRAPHC_ATTR_BOOL:
      gc_sb_append(sb, a->i ? "true" : "false");
      return;
    case GRAPHC_ATTR_STRING:
      gc_sb_append(sb, a->s ? a->s : "");
      return;
    case GRAPHC_ATTR_INTS:
      gc_sb_append(sb, "[");
      for (int i = 0; i < a->count; i++) gc_sb_printf(sb, "%s%" PRId64, i ? ", " : "", a->ints[i]);
      gc_sb_append(sb, "]");
      return;
    case GRAPHC_ATTR_DTYPE: {
      const char *dt = graphc_dtype_name(a->dtype);
      gc_sb_append(sb, dt ? dt : "?");
      return;
    }
    case GRAPHC_ATTR_DIMS:
      gc_sb_append(sb, "[");
      for (int i = 0; i < a->count; i++) {
        if (i) gc_sb_append(sb, ", ");
        gc_sb_append(sb, gc_dim_str(t, a->dims[i]));
      }
      gc_sb_append(sb, "]");
      return;
  }
  gc_sb_append(sb, "?");
}

/* "name: type[ role]" for input k of g. */
static void print_input(gc_strbuf *sb, const gc_graph *g, int k, bool with_role) {
  const gc_value *v = &g->values[g->inputs[k]];
  gc_sb_append(sb, v->name ? v->name : "?");
  gc_sb_append(sb, ": ");
  print_type(sb, gc_graph_dims(g), &v->type);
  if (with_role) {
    const char *r = graphc_role_name(v->role);
    gc_sb_append(sb, " ");
    gc_sb_append(sb, r ? r : "?");
  }
}

static void print_body(gc_strbuf *sb, const gc_graph *g, int ind);

static void print_node(gc_strbuf *sb, const gc_graph *g, const gc_node *n, int ind) {
  const gc_dimtab *t = gc_graph_dims(g);
  indent(sb, ind);
  for (int i = 0; i < n->nresults; i++) {
    if (i) gc_sb_append(sb, ", ");
    print_ref(sb, g, n->results[i]);
  }
  gc_sb_append(sb, " = ");
  gc_sb_append(sb, n->op->name);
  gc_sb_append(sb, "(");
  bool first = true;
  for (int i = 0; i < n->noperands; i++, first = false) {
    if (!first) gc_sb_append(sb, ", ");
    print_ref(sb, g, n->operands[i]);
  }
  for (int s = 0; s < GC_MAX_ATTRS && n->op->attrs[s].name; s++) {
    const gc_attr *a = find_attr(n, n->op->attrs[s].name);
    if (!a) continue;
    if (!first) gc_sb_append(sb, ", ");
    first = false;
    gc_sb_append(sb, a->name);
    gc_sb_append(sb, "=");
    print_attr_value(sb, t, a);
  }
  gc_sb_append(sb, ")");
  for (int r = 0; r < n->nregions; r++) {
    const gc_graph *rg = n->regions[r];
    gc_sb_append(sb, " region(");
    for (int k = 0; k < rg->ninputs; k++) {
      if (k) gc_sb_append(sb, ", ");
      print_input(sb, rg, k, false);
    }
    gc_sb_append(sb, ") {");
    if (r == 0) {
      /* The result types go on the node's first line. */
      gc_sb_append(sb, "  #");
      for (int i = 0; i < n->nresults; i++) {
        gc_sb_append(sb, i ? ", " : " ");
        print_type(sb, t, &g->values[n->results[i]].type);
      }
    }
    gc_sb_append(sb, "\n");
    print_body(sb, rg, ind + 2);
    indent(sb, ind);
    gc_sb_append(sb, "}");
  }
  if (n->nregions == 0) {
    gc_sb_append(sb, "  #");
    for (int i = 0; i < n->nresults; i++) {
      gc_sb_append(sb, i ? ", " : " ");
      print_type(sb, t, &g->values[n->results[i]].type);
    }
  }
  gc_sb_append(sb, "\n");
}

/* Nodes and the return line of g, at indentation `ind`. */
static void print_body(gc_strbuf *sb, const gc_graph *g, int ind) {
  for (int i = 0; i < g->nnodes; i++) print_node(sb, g, &g->nodes[i], ind);
  indent(sb, ind);
  gc_sb_append(sb, "return");
  for (int i = 0; i < g->noutputs; i++) {
    gc_sb_append(sb, i ? ", " : " ");
    print_ref(sb, g, g->outputs[i]);
  }
  gc_sb_append(sb, "\n");
}

void gc_text_print_graph(gc_strbuf *sb, const gc_graph *g) {
  /* The name carries no meaning; API-made names are made parseable. */
  gc_sb_append(sb, "graph ");
  const char *name = g->name ? g->name : "";
  if (!gc_text_is_name(name, strlen(name))) {
    gc_sb_append(sb, "_");
    for (const char *c = name; *c; c++) {
      bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '_' || *c == '.';
      gc_sb_appendn(sb, ok ? c : "_", 1);
    }
  } else {
    gc_sb_append(sb, name);
  }
  gc_sb_append(sb, "(");
  bool multiline = g->ninputs > 3;
  for (int k = 0; k < g->ninputs; k++) {
    if (multiline)
      gc_sb_append(sb, k ? ",\n    " : "\n    ");
    else if (k)
      gc_sb_append(sb, ", ");
    print_input(sb, g, k, true);
  }
  gc_sb_append(sb, ") {\n");
  print_body(sb, g, 2);
  gc_sb_append(sb, "}\n");
}

graphc_status_t graphc_graph_print(const graphc_graph_t *graph, char **out_text,
                                   size_t *out_length) {
  if (!out_text)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graphc_graph_print: out_text is NULL");
  *out_text = NULL;
  if (out_length) *out_length = 0;
  GC_TRY(gc_graph_check(graph));
  gc_strbuf sb = {0};
  gc_text_print_graph(&sb, graph);
  size_t len = sb.len;
  char *text = gc_sb_take(&sb);
  if (!text) return GC_OOM();
  *out_text = text;
  if (out_length) *out_length = len;
  return NULL;
}

void graphc_free(void *pointer) { free(pointer); }
