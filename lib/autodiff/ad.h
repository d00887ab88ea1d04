/* Internals of the reverse-mode autodiff transform (see docs/autodiff.md).
 *
 * The transform reads a source graph (the forward graph, or one of its
 * regions) and writes a new destination graph with the builder API: first
 * the forward nodes again, recorded on a tape, then the backward nodes,
 * produced by walking the tape in reverse and calling each op's gradient
 * rule. Source values are tied to destination values by an environment
 * (one per source graph instance: a region inlined or recomputed twice gets
 * two environments).
 *
 * Every emitting helper below returns a destination value id, or -1 once an
 * error happened: the first error is kept in ad->st and every later helper
 * call with a -1 operand (or after the error) just returns -1. Gradient
 * rules are therefore written as straight-line code and the driver checks
 * ad->st once per node.
 */
#ifndef GC_AUTODIFF_AD_H
#define GC_AUTODIFF_AD_H

#include <stdbool.h>

#include "ir/op.h"

/* Source values -> destination values for one source graph instance.
 * Gradients are kept per *destination* value (gc_ad.grad), so a region
 * input inlined as its outer operand, or a call result that is a region
 * output, shares one gradient slot with what it aliases. */
typedef struct ad_env {
  const gc_graph *src;  /* the graph whose values these are              */
  bool dst_dims;        /* src's dims already live in the destination's
                           dim table (a helper region built by a rule)     */
  int *map;             /* src value -> dst value, -1 when not emitted      */
  char prefix[128];     /* name prefix for inlined values ("" at top level) */
} ad_env;

/* One recorded forward node. */
typedef struct ad_entry {
  ad_env *env;
  int node; /* index in env->src->nodes */
} ad_entry;

typedef struct ad_tape {
  ad_entry *e;
  int n, cap;
} ad_tape;

typedef struct gc_ad {
  gc_graph *g;               /* destination graph                        */
  const gc_graph *src_root;  /* the forward graph (owner of the src dims) */
  gc_dim *dimmap;            /* src dim id -> dst dim id (GC_DIM_NONE)    */
  int ndimmap;
  graphc_status_t st;        /* first error, sticky                      */
  int *grad;                 /* dst value -> accumulated gradient, -1    */
  bool *req;                 /* dst value depends on a param             */
  int capvals;               /* size of grad and req                     */
  ad_env **envs;             /* every environment, freed at the end      */
  int nenvs, capenvs;
  int fresh;                 /* counter for generated names              */
  gc_loc loc;                /* location given to emitted nodes: that of
                                the forward node being differentiated   */
} gc_ad;

/* What a gradient rule sees. Operand and result ids are destination
 * values; the node is the source node (read attributes with gc_attr_*;
 * dims attributes are in the source dim table: use ad_dim). */
typedef struct gc_grad_call {
  const gc_node *node;
  ad_env *env;
  const int *in;   /* node->noperands destination values              */
  const int *out;  /* node->nresults destination values               */
  const int *gout; /* gradient of each result, -1 = zero              */
  const bool *need;/* operand i needs a gradient                      */
  int *gin;        /* the rule sets gin[i] for needed operands (with
                      the operand's exact type), or accumulates itself
                      with ad_accumulate and leaves -1 there           */
} gc_grad_call;

typedef void (*gc_grad_fn)(gc_ad *ad, gc_grad_call *c);

/* A gradient rule table entry. fn NULL with nondiff set: the op's results
 * carry no gradient (comparisons, argmax, creation ops...). */
typedef struct gc_grad_rule {
  const char *op;
  gc_grad_fn fn;
  bool nondiff;
} gc_grad_rule;

/* Rule groups, one file each (grad_<group>.c), NULL-terminated. */
extern const gc_grad_rule gc_grad_rules_elementwise[];
extern const gc_grad_rule gc_grad_rules_reduce[];
extern const gc_grad_rule gc_grad_rules_nn[];
extern const gc_grad_rule gc_grad_rules_linalg[];
extern const gc_grad_rule gc_grad_rules_shape[];
extern const gc_grad_rule gc_grad_rules_index[];
extern const gc_grad_rule gc_grad_rules_region[];

/* The rule for `op`, or NULL when the op has none. */
const gc_grad_rule *gc_grad_rule_find(const char *op);

/* --- state ----------------------------------------------------------------- */
void ad_init(gc_ad *ad, const gc_graph *src_root, gc_graph *dst);
void ad_release(gc_ad *ad);
/* A new environment for `src` (freed by ad_release). */
ad_env *ad_env_new(gc_ad *ad, const gc_graph *src, bool dst_dims, const char *prefix);
/* Sets the sticky error (first one wins). */
void ad_fail(gc_ad *ad, graphc_status_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline bool ad_ok(const gc_ad *ad) { return ad->st == NULL; }
/* Takes a status into the sticky slot; returns true when it was an error. */
bool ad_check(gc_ad *ad, graphc_status_t st);

/* --- dims and names (ad_clone.c) -------------------------------------------- */
/* The destination dim for a source dim of `env` (-1 / GC_DIM_NONE on error). */
gc_dim ad_dim(gc_ad *ad, const ad_env *env, gc_dim d);
/* Destination type of a source type. */
gc_type ad_type_tr(gc_ad *ad, const ad_env *env, const gc_type *t);
gc_dim ad_const_dim(gc_ad *ad, int64_t v);
/* A name not used in the destination graph `g` nor in the source root. */
void ad_fresh_name(gc_ad *ad, const gc_graph *g, const char *base, char *buf, size_t cap);

/* Emits a copy of source node `node` of env->src into the destination
 * graph, operands mapped through env->map, dims translated, regions cloned.
 * Result ids go to env->map. Names: the source names at top level, fresh
 * prefixed names inside inlined regions. Returns false on error. */
bool ad_clone_node(gc_ad *ad, ad_env *env, int node);
/* Clones source region `r` (of env) as a new unattached region of `parent`
 * (a destination graph or region). */
gc_graph *ad_clone_region(gc_ad *ad, const ad_env *env, const gc_graph *r, gc_graph *parent);

/* --- the tape (autodiff.c) ------------------------------------------------- */
/* Emits every node of env->src (inputs already mapped) onto `tape`,
 * inlining `call` regions, and marks which results need gradients. */
void ad_forward(gc_ad *ad, ad_env *env, ad_tape *tape);
/* Walks tape entries [from, tape->n) in reverse, accumulating gradients. */
void ad_backward(gc_ad *ad, ad_tape *tape, int from);
/* Gradient slot of destination value v (-1: none yet) and whether v needs one. */
int ad_grad_of(const gc_ad *ad, int v);
bool ad_req(const gc_ad *ad, int v);
bool ad_set_req(gc_ad *ad, int v, bool req);
/* Adds `g` (v's exact type) to the gradient of destination value v. */
void ad_accumulate(gc_ad *ad, int v, int g);
/* Recomputes region `r` on destination values `ins` (r->ninputs) and
 * differentiates through the copy: `gouts` (r->noutputs, -1 = none) are
 * the gradients of its outputs; the gradients of `ins` are accumulated.
 * dst_dims as in ad_env; `prefix` names the recomputed values. */
void ad_through_region(gc_ad *ad, const gc_graph *r, bool dst_dims, const int *ins,
                       const int *gouts, const char *prefix);
void ad_tape_free(ad_tape *t);

/* --- emitting (ad_build.c) -------------------------------------------------- */
const gc_type *ad_ty(gc_ad *ad, int v);
/* Node with operands `in`; result 0 (or, with results != NULL, up to `max`
 * results there and the node's result count returned). */
int ad_op(gc_ad *ad, const char *op, const int *in, int nin, const graphc_attr_t *attrs,
          int nattrs);
int ad_op_n(gc_ad *ad, const char *op, const int *in, int nin, const graphc_attr_t *attrs,
            int nattrs, int *results, int max);
int ad_un(gc_ad *ad, const char *op, int x);
int ad_bin(gc_ad *ad, const char *op, int a, int b);
/* A 0-d constant. */
int ad_scalar(gc_ad *ad, double v, gc_dtype dt);
/* x op constant (the constant a 0-d tensor of x's dtype). */
int ad_mul_s(gc_ad *ad, int x, double v);
int ad_add_s(gc_ad *ad, int x, double v);
int ad_zeros(gc_ad *ad, const gc_type *t);
int ad_zeros_like(gc_ad *ad, int v);
int ad_cast(gc_ad *ad, int x, gc_dtype dt);           /* no node if same dtype */
int ad_reshape(gc_ad *ad, int x, const gc_dim *dims, int rank); /* no node if same */
int ad_reshape_like(gc_ad *ad, int x, int like);
int ad_expand(gc_ad *ad, int x, const gc_dim *dims, int rank);
int ad_sum(gc_ad *ad, int x, const int64_t *dims, int n, bool keepdim);
int ad_sum_dim(gc_ad *ad, int x, int dim, bool keepdim);
int ad_mean_dim(gc_ad *ad, int x, int dim, bool keepdim);
int ad_transpose(gc_ad *ad, int x, int d0, int d1);
int ad_unsqueeze(gc_ad *ad, int x, int dim);
int ad_where(gc_ad *ad, int cond, int a, int b);
/* Reduces a gradient of a broadcast result to `target`'s shape (summing
 * the broadcast dims) and casts it to target's dtype. */
int ad_unbroadcast(gc_ad *ad, int g, const gc_type *target);
/* Expands g (x reduced over the dims in `mask`, keepdim or not) back to
 * x's shape. */
int ad_restore_reduced(gc_ad *ad, int g, const gc_type *x, const bool *mask, bool keepdim);
/* A 0-d tensor of dtype dt holding the product of `dims` (symbolic dims
 * are counted at run time). */
int ad_numel(gc_ad *ad, const gc_dim *dims, int n, gc_dtype dt);
/* The result gradient k of call c, or zeros of the result's type. */
int ad_gout(gc_ad *ad, gc_grad_call *c, int k);

/* Attribute constructors. */
static inline graphc_attr_t ad_a_int(const char *name, int64_t v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_INT, .i = v};
}
static inline graphc_attr_t ad_a_float(const char *name, double v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_FLOAT, .f = v};
}
static inline graphc_attr_t ad_a_bool(const char *name, bool v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_BOOL, .i = v};
}
static inline graphc_attr_t ad_a_str(const char *name, const char *v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_STRING, .s = v};
}
static inline graphc_attr_t ad_a_ints(const char *name, const int64_t *v, int n) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_INTS, .ints = v, .count = n};
}
static inline graphc_attr_t ad_a_dims(const char *name, const gc_dim *v, int n) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_DIMS, .dims = v, .count = n};
}
static inline graphc_attr_t ad_a_dtype(const char *name, gc_dtype v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_DTYPE, .dtype = v};
}

#endif
