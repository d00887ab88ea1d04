/* The op registry: what every op must provide.
 *
 * An op is described once, in the table of its group file
 * (lib/ops/ops_<group>.c): its name, operand and result counts, attribute
 * schema, a one-line doc, the shape/dtype inference that type-checks a node,
 * and the reference-interpreter kernel. The parser reads attribute kinds from
 * the schema, the printer prints attributes in schema order, the verifier
 * calls `infer`, the interpreter calls `eval`; nothing else needs to know
 * about an individual op.
 */
#ifndef GC_IR_OP_H
#define GC_IR_OP_H

#include "interp/tensor.h"
#include "ir/ir.h"

#define GC_MAX_RESULTS 64
#define GC_MAX_ATTRS 16

typedef struct gc_attr_spec {
  const char *name;
  graphc_attr_kind_t kind;
  bool required;
} gc_attr_spec;

/* What infer sees and fills. Operand types: gc_infer_operand(ic, i). */
typedef struct gc_infer_ctx {
  gc_graph *g;            /* graph holding the node                       */
  const gc_node *node;    /* operands, attrs and regions set; no results  */
  const char *const *result_names; /* requested names, may be NULL        */
  int nresults;           /* preset to op->nresults (if >= 0); infer sets it for variadic ops */
  gc_type out[GC_MAX_RESULTS]; /* result types to fill                    */
  int out_sym[GC_MAX_RESULTS]; /* -1, or the unbacked symbol result k defines */
} gc_infer_ctx;

/* Interpreter state, opaque to ops. */
typedef struct gc_eval_ctx gc_eval_ctx;

typedef graphc_status_t (*gc_infer_fn)(gc_infer_ctx *ic);
/* `in` are the operand tensors. `out` has node->nresults entries; each is
 * already allocated (contiguous, zero-filled) with its inferred shape,
 * unless that shape uses a symbol the op itself binds (nonzero, item): then
 * data is NULL and the op calls gc_eval_bind_symbol then gc_eval_alloc. */
typedef graphc_status_t (*gc_eval_fn)(gc_eval_ctx *ec, const gc_node *n,
                                      const gc_tensor *const *in, gc_tensor *out);

enum {
  GC_OPF_ELEMENTWISE = 1u << 0, /* pointwise over broadcast operands */
  GC_OPF_REDUCTION = 1u << 1,
  GC_OPF_COLLECTIVE = 1u << 2,
  GC_OPF_RANDOM = 1u << 3,      /* reads an explicit seed operand */
  GC_OPF_DATA_DEPENDENT = 1u << 4, /* result shape depends on data  */
};

typedef struct gc_op_info {
  const char *name;
  int min_operands, max_operands; /* max -1 = variadic               */
  int nresults;                   /* -1 = set by infer                */
  int min_regions, max_regions;
  gc_attr_spec attrs[GC_MAX_ATTRS]; /* terminated by a NULL name      */
  unsigned flags;
  const char *doc;                /* one line, for docs and --help   */
  gc_infer_fn infer;
  gc_eval_fn eval;
} gc_op_info;

/* Registry lookups. */
const gc_op_info *gc_op_lookup(const char *name, size_t len);
int gc_op_count(void);
const gc_op_info *gc_op_at(int i);
const gc_attr_spec *gc_op_attr_spec(const gc_op_info *op, const char *name);

/* --- helpers for infer functions ----------------------------------------- */
static inline const gc_type *gc_infer_operand(const gc_infer_ctx *ic, int i) {
  return &ic->g->values[ic->node->operands[i]].type;
}
static inline gc_dimtab *gc_infer_dims(const gc_infer_ctx *ic) { return gc_graph_dims(ic->g); }
/* A VERIFY_ERROR status that names the op and the node's location:
 * "file:line:col: op 'add': <message>". */
graphc_status_t gc_infer_error(const gc_infer_ctx *ic, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Makes result k define a new unbacked symbol (named after the result);
 * its type must then be i64[] and *out_sym is usable in other results'
 * dims. Call after all checks have passed. */
graphc_status_t gc_infer_unbacked(gc_infer_ctx *ic, int k, int *out_sym);

/* --- helpers for eval functions ------------------------------------------ */
graphc_status_t gc_eval_alloc(gc_eval_ctx *ec, gc_tensor *t, gc_dtype dtype, int rank,
                              const int64_t *shape);
graphc_status_t gc_eval_bind_symbol(gc_eval_ctx *ec, int sym, int64_t value);
/* Evaluates a dim under the current symbol bindings. */
graphc_status_t gc_eval_dim(gc_eval_ctx *ec, gc_dim d, int64_t *out);
/* Runs region `r` on `in` (r->ninputs tensors, borrowed); fills `out`
 * (r->noutputs tensors, owned by the caller afterwards: gc_tensor_free). */
graphc_status_t gc_eval_region(gc_eval_ctx *ec, const gc_graph *r,
                               const gc_tensor *const *in, gc_tensor *out);
/* The communicator collectives use, or NULL (lib/comm/comm.h). */
struct gc_comm *gc_eval_comm(gc_eval_ctx *ec);
/* The graph whose node is being evaluated (to read value/symbol info). */
const gc_graph *gc_eval_graph(gc_eval_ctx *ec);
/* An error status naming the node being evaluated. */
graphc_status_t gc_eval_error(gc_eval_ctx *ec, graphc_status_code_t code,
                              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
