/* Text table and Graphviz views of a DDP plan (see plan_print.h). */
#include "dist/plan_print.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/op.h"

static void sym_list(gc_strbuf *sb, const gc_split_piece *sp, bool in) {
  int n = in ? gc_split_num_syms_in(sp) : gc_split_num_syms_out(sp);
  if (n == 0) gc_sb_append(sb, "-");
  for (int k = 0; k < n; k++) {
    if (k) gc_sb_append(sb, ",");
    gc_sb_append(sb, in ? gc_split_sym_in(sp, k) : gc_split_sym_out(sp, k));
  }
}

static void format_src(gc_strbuf *sb, const gc_graph *g, gc_split_src src) {
  switch (src.kind) {
  case GC_SPLIT_FROM_INPUT:
    gc_sb_printf(sb, "graph input %d", src.index);
    if (src.index >= 0 && src.index < g->ninputs)
      gc_sb_printf(sb, " (%s)", g->values[g->inputs[src.index]].name);
    break;
  case GC_SPLIT_FROM_PIECE:
    gc_sb_printf(sb, "piece %d output %d", src.index, src.k);
    break;
  case GC_SPLIT_FROM_SHAPE:
    gc_sb_printf(sb, "dim %d of graph input %d", src.k, src.index);
    if (src.index >= 0 && src.index < g->ninputs)
      gc_sb_printf(sb, " (%s)", g->values[g->inputs[src.index]].name);
    break;
  }
}

static void format_piece_io(gc_strbuf *sb, const gc_graph *g, const gc_split *split, int p) {
  const gc_split_piece *sp = &split->pieces[p];
  const gc_graph *pg = sp->graph;
  gc_sb_printf(sb, "piece %d (%s):\n", p, pg->name);
  for (int i = 0; i < pg->ninputs; i++) {
    const gc_value *v = &pg->values[pg->inputs[i]];
    char ty[512];
    gc_type_format(gc_graph_dims(pg), &v->type, ty, sizeof ty);
    gc_sb_printf(sb, "  in  %-24s %-8s %-20s <- ", v->name, graphc_role_name(v->role), ty);
    format_src(sb, g, sp->in_src[i]);
    gc_sb_append(sb, "\n");
  }
  for (int k = 0; k < pg->noutputs; k++) {
    const gc_value *v = &pg->values[pg->outputs[k]];
    char ty[512];
    gc_type_format(gc_graph_dims(pg), &v->type, ty, sizeof ty);
    gc_sb_printf(sb, "  out %-24s %-8s %-20s ->", v->name, v->sym >= 0 ? "symbol" : "", ty);
    int users = 0;
    for (int q = p + 1; q < split->npieces; q++)
      for (int i = 0; i < split->pieces[q].graph->ninputs; i++) {
        gc_split_src s = split->pieces[q].in_src[i];
        if (s.kind == GC_SPLIT_FROM_PIECE && s.index == p && s.k == k)
          gc_sb_printf(sb, " piece %d", q), users++;
      }
    for (int o = 0; o < split->noutputs; o++) {
      gc_split_src s = split->out_src[o];
      if (s.kind == GC_SPLIT_FROM_PIECE && s.index == p && s.k == k)
        gc_sb_printf(sb, " graph output %d", o), users++;
    }
    if (!users) gc_sb_append(sb, " -");
    gc_sb_append(sb, "\n");
  }
}

void gc_ddp_plan_format(gc_strbuf *sb, const gc_graph *g, const gc_ddp_plan *plan,
                        const gc_split *split) {
  gc_sb_printf(sb, "graph '%s': %d ops, %d piece%s\n", g->name, plan->nnodes, plan->npieces,
               plan->npieces == 1 ? "" : "s");
  gc_sb_printf(sb, "bucket cap %" PRId64 " B, first bucket cap %" PRId64
               " B, a param read by several ops counts %s\n",
               plan->cap_bytes, plan->first_cap_bytes,
               plan->count_every_use ? "at every use" : "once, at its first use");
  for (int i = 0; i < plan->nmessages; i++) gc_sb_printf(sb, "note: %s\n", plan->messages[i]);
  gc_sb_printf(sb, "extended pieces: %d\n\n", plan->nextended);
  gc_sb_printf(sb, "%-5s %-5s %-11s %-12s %-18s %-12s %-12s %s\n", "piece", "ops", "nodes",
               "bytes", "reason", "symbols-in", "symbols-out", "params");
  for (int p = 0; p < plan->npieces; p++) {
    const gc_ddp_piece *pc = &plan->pieces[p];
    char range[32];
    snprintf(range, sizeof range, "%d-%d", pc->first_node, pc->first_node + pc->nnodes - 1);
    if (pc->nnodes == 0) snprintf(range, sizeof range, "-");
    gc_strbuf in = {0}, out = {0};
    if (split && p < split->npieces) {
      sym_list(&in, &split->pieces[p], true);
      sym_list(&out, &split->pieces[p], false);
    }
    const char *reason = pc->reason;
    gc_sb_printf(sb, "%-5d %-5d %-11s %-12" PRId64 " %-18s %-12s %-12s ", p, pc->nnodes, range,
                 pc->bytes, reason, in.data ? in.data : (split ? "?" : "n/a"), out.data ? out.data : (split ? "?" : "n/a"));
    gc_sb_free(&in);
    gc_sb_free(&out);
    if (pc->nparams == 0) gc_sb_append(sb, "-");
    for (int k = 0; k < pc->nparams; k++)
      gc_sb_printf(sb, "%s%s", k ? "," : "", g->values[pc->params[k]].name);
    if (pc->extended_ops) gc_sb_printf(sb, "  (extended by %d ops)", pc->extended_ops);
    gc_sb_append(sb, "\n");
  }
  if (!split) return;
  gc_sb_append(sb, "\ninputs from:\n");
  for (int p = 0; p < split->npieces; p++) format_piece_io(sb, g, split, p);
  for (int o = 0; o < split->noutputs; o++) {
    gc_sb_printf(sb, "graph output %d (%s) <- ", o, g->values[g->outputs[o]].name);
    format_src(sb, g, split->out_src[o]);
    gc_sb_append(sb, "\n");
  }
}

/* --- Graphviz ------------------------------------------------------------------ */

static void dot_str(gc_strbuf *sb, const char *s) {
  gc_sb_append(sb, "\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') gc_sb_append(sb, "\\");
    gc_sb_appendn(sb, s, 1);
  }
  gc_sb_append(sb, "\"");
}

static void dot_node_label(gc_strbuf *sb, const gc_graph *g, int n) {
  const gc_node *node = &g->nodes[n];
  gc_strbuf l = {0};
  for (int k = 0; k < node->nresults; k++)
    gc_sb_printf(&l, "%s%%%s", k ? ", " : "", g->values[node->results[k]].name);
  gc_sb_printf(&l, " = %s", node->op->name);
  if (node->nregions) gc_sb_printf(&l, " [%d region%s]", node->nregions, node->nregions > 1 ? "s" : "");
  dot_str(sb, l.data ? l.data : "?");
  gc_sb_free(&l);
}

void gc_ddp_plan_format_dot(gc_strbuf *sb, const gc_graph *g, const gc_ddp_plan *plan,
                            const gc_split *split) {
  gc_sb_append(sb, "digraph ");
  dot_str(sb, g->name);
  gc_sb_append(sb, " {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
  for (int i = 0; i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    gc_sb_printf(sb, "  in%d [shape=ellipse, label=", i);
    char l[512];
    snprintf(l, sizeof l, "%s (%s)", v->name, graphc_role_name(v->role));
    dot_str(sb, l);
    gc_sb_append(sb, "];\n");
  }
  for (int p = 0; p < plan->npieces; p++) {
    const gc_ddp_piece *pc = &plan->pieces[p];
    gc_strbuf l = {0};
    gc_sb_printf(&l, "piece %d: %" PRId64 " B, %s", p, pc->bytes, pc->reason);
    if (split && p < split->npieces) {
      gc_sb_append(&l, "\\nsymbols in: ");
      sym_list(&l, &split->pieces[p], true);
      gc_sb_append(&l, ", out: ");
      sym_list(&l, &split->pieces[p], false);
    }
    gc_sb_printf(sb, "  subgraph cluster_p%d {\n    style=rounded; color=blue;\n    label=\"%s\";\n",
                 p, l.data ? l.data : "");
    gc_sb_free(&l);
    for (int n = pc->first_node; n < pc->first_node + pc->nnodes; n++) {
      gc_sb_printf(sb, "    n%d [label=", n);
      dot_node_label(sb, g, n);
      gc_sb_append(sb, "];\n");
    }
    gc_sb_append(sb, "  }\n");
  }
  int nsyms = gc_dimtab_num_syms(gc_graph_dims(g));
  bool *mark = calloc((size_t)nsyms + 1, sizeof *mark);
  for (int n = 0; n < g->nnodes; n++) {
    const gc_node *node = &g->nodes[n];
    int pn = plan->piece_of_node[n];
    for (int i = 0; i < node->noperands; i++) {
      int v = node->operands[i], prod = g->values[v].producer;
      bool dup = false;
      for (int j = 0; j < i; j++) dup |= node->operands[j] == v;
      if (dup) continue;
      if (prod < 0) {
        gc_sb_printf(sb, "  in%d -> n%d;\n", g->values[v].index, n);
      } else if (plan->piece_of_node[prod] != pn) {
        gc_sb_printf(sb, "  n%d -> n%d [color=red, fontcolor=red, label=", prod, n);
        char l[512];
        snprintf(l, sizeof l, "%%%s", g->values[v].name);
        dot_str(sb, l);
        gc_sb_append(sb, "];\n");
      } else {
        gc_sb_printf(sb, "  n%d -> n%d;\n", prod, n);
      }
    }
    if (!mark) continue;
    /* Symbols that cross without their value being an operand. */
    memset(mark, 0, (size_t)nsyms + 1);
    gc_dist_node_syms(g, node, mark);
    for (int s = 0; s < nsyms; s++) {
      int v = mark[s] ? gc_dist_unbacked_value(g, s) : -1;
      if (v < 0) continue;
      int prod = g->values[v].producer;
      bool operand = false;
      for (int i = 0; i < node->noperands; i++) operand |= node->operands[i] == v;
      if (operand || prod == n || plan->piece_of_node[prod] == pn) continue;
      gc_sb_printf(sb, "  n%d -> n%d [style=dashed, color=red, fontcolor=red, label=", prod, n);
      dot_str(sb, gc_dimtab_sym_name(gc_graph_dims(g), s));
      gc_sb_append(sb, "];\n");
    }
  }
  free(mark);
  gc_sb_append(sb, "  out [shape=ellipse, label=\"outputs\"];\n");
  for (int o = 0; o < g->noutputs; o++) {
    const gc_value *v = &g->values[g->outputs[o]];
    if (v->producer >= 0) gc_sb_printf(sb, "  n%d -> out;\n", v->producer);
    else gc_sb_printf(sb, "  in%d -> out;\n", v->index);
  }
  gc_sb_append(sb, "}\n");
}
