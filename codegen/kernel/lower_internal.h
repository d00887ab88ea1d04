/* Private interfaces of the lowering (lower*.c, fuse.c).
 *
 * Lowering works on a flat copy of the graph (lgraph): checkpoint/call
 * regions are inlined, so every value has one id and one producer. Each
 * node has a lowering rule (lop) that says how its result is computed at
 * given coordinates inside a kernel (emit) or how the node writes its
 * results with steps of its own (build).
 *
 * A kernel is built by a kctx: expressions are hash-consed, so the same
 * load or subexpression used in several places (or in several stages) is
 * one node of the pool. Values are emitted at an index descriptor (ix):
 * per-dim coordinate expressions and/or the row-major flat index.
 */
#ifndef GC_KERNEL_LOWER_INTERNAL_H
#define GC_KERNEL_LOWER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"
#include "ir/op.h"
#include "kernel/kir.h"
#include "kernel/lower.h"

/* ---- flat graph ------------------------------------------------------------ */

typedef struct lop lop;
typedef struct kctx kctx;
typedef struct ix ix;
typedef struct lower_ctx lower_ctx;

typedef struct lval {
  gc_type type;          /* dims are ids of the PROGRAM's dim table     */
  const gc_graph *g;     /* graph (or region) that declares it          */
  int gv;                /* its value id there                          */
  int producer, result;  /* lnode and result index; -1 for graph inputs */
  int input;             /* graph input position, or -1                 */
} lval;

typedef struct lnode {
  const gc_node *n;
  const gc_graph *g;     /* graph holding n (for locations)             */
  const lop *op;         /* NULL: no rule (reported if the node is live) */
  graphc_status_t why;   /* with op NULL: what is not supported (owned)   */
  int nops, nres;
  int *ops, *res;        /* lval ids */
} lnode;

typedef struct lgraph {
  lval *vals;
  int nvals, capvals;
  lnode *nodes;
  int nnodes, capnodes;
  int ninputs, noutputs;
  int *inputs, *outputs; /* lval ids */
} lgraph;

/* Builds L->fg from L->g (types mapped into L->dims). */
graphc_status_t lg_build(lower_ctx *L);
void lg_free(lgraph *lg);

/* ---- lowering rules -------------------------------------------------------- */

typedef enum lop_kind {
  LOP_VIEW,        /* index map: emit only rewrites coordinates            */
  LOP_ELEMENTWISE, /* emit computes a result element from O(1) elements    */
  LOP_REDUCE,      /* emit adds REDUCE stages; every result coordinate must
                      be an outer coordinate of the kernel                  */
  LOP_ROW,         /* like REDUCE over the `row` dims of the result; those
                      coordinates may be inner                              */
  LOP_GEMM,        /* build issues a library call; emit loads its result    */
  LOP_ROOT,        /* build writes the results with kernels of its own      */
} lop_kind;

struct lop {
  const char *name;
  lop_kind kind;
  int cost; /* work per element, for the recompute-or-materialise rule */
  /* Result `res` of n at `at`; an expression of the result's value type,
   * or -1 (error or demotion recorded in the context). */
  int (*emit)(kctx *K, const lnode *n, int res, ix *at);
  graphc_status_t (*build)(lower_ctx *L, const lnode *n);
  /* LOP_ROW: bit d set when result dim d is a row dim. */
  unsigned (*row_dims)(const lnode *n, const lval *result);
  /* Picks the rule for this node's attributes/dtypes (NULL: this one).
   * May return NULL with an UNIMPLEMENTED status. */
  const lop *(*variant)(const lnode *n, const lgraph *fg, graphc_status_t *st);
};

/* Rule tables (terminated by a NULL name). */
extern const lop gc_lower_ops_elementwise[];
extern const lop gc_lower_ops_shape[];
extern const lop gc_lower_ops_reduce[];
extern const lop gc_lower_ops_linalg[];
extern const lop gc_lower_ops_conv[];
extern const lop gc_lower_ops_grad[];
const lop *lower_find_op(const char *name);

#define LOP_COST_INF 1000000
/* A value whose inlined computation costs at most this is recomputed by
 * every kernel that uses it instead of being materialised. */
#define LOP_CHEAP 3

/* ---- lowering context ------------------------------------------------------ */

struct lower_ctx {
  const gc_graph *g;
  gc_dimtab *dims;      /* the program's dim table (lval types use it)  */
  lgraph *fg;
  kir_program *p;
  bool fuse;
  bool *live, *mat;     /* per value                                    */
  int *buf;             /* per value: buffer holding it once written    */
  int *cost;            /* per value: inlined cost                      */
  int *raw;             /* per node: buffer its build wrote (GEMM output, pool winners), or -1 */
  bool *checked;        /* per node: run-time checks already issued     */
  bool *out_claimed;    /* per graph output: buffer created             */
  gc_dim *dmap;         /* graph dim -> program dim                     */
  int ndmap;
  const gc_dimtab *gdims; /* the graph's dim table (attributes use it)  */
  int demote;           /* value that must be materialised, or -1       */
  graphc_status_t st;   /* first error of a builder returning -1        */
  int nnames;
};

/* Program dims (ids of L->dims). GC_DIM_NONE on error (L->st set).
 * lw_gdim maps a dim of the graph's table (node attributes) into it;
 * lval types are mapped already, lw_pdim(L, d) is d. */
gc_dim lw_gdim(lower_ctx *L, gc_dim graph_dim);
static inline gc_dim lw_pdim(lower_ctx *L, gc_dim d) { (void)L; return d; }
gc_dim lw_pconst(lower_ctx *L, int64_t v);
gc_dim lw_padd(lower_ctx *L, gc_dim a, gc_dim b);
gc_dim lw_psub(lower_ctx *L, gc_dim a, gc_dim b);
gc_dim lw_pmul(lower_ctx *L, gc_dim a, gc_dim b);
gc_dim lw_pfloordiv(lower_ctx *L, gc_dim a, gc_dim b);
bool lw_pis(lower_ctx *L, gc_dim pd, int64_t v); /* constant equal to v */
/* Product of dims [from, to) of t. */
gc_dim lw_pnumel(lower_ctx *L, const gc_type *t, int from, int to);
int lw_size(lower_ctx *L, gc_dim pd); /* size-table id, -1 on error */

/* Buffers. shape may be NULL (then rank 1 of numel). */
int lw_buffer(lower_ctx *L, gc_dtype dt, const gc_type *shape, gc_dim numel, kir_buffer_role role,
              int index, const char *name);
/* The buffer a materialised value is written to: its graph output
 * buffer the first time it is an output, a temp otherwise. */
int lw_value_buffer(lower_ctx *L, int v);
int lw_step(lower_ctx *L, kir_step st); /* appends; -1 on error */
const char *lw_vname(const lower_ctx *L, int v);
/* "file:line:col: op 'x'" for node messages. */
void lw_where(const lower_ctx *L, const lnode *n, char *buf, size_t cap);
graphc_status_t lw_unimplemented(const lower_ctx *L, const lnode *n, const char *why);

/* ---- kernel building -------------------------------------------------------- */

struct ix {
  const gc_type *type;  /* type of the value indexed                    */
  int c[GC_MAX_RANK];   /* coordinate expressions, -1 = from flat       */
  int flat;             /* row-major flat index, -1 = from coordinates  */
};

typedef struct kmemo {
  int v, flat, e;
  int c[GC_MAX_RANK];
} kmemo;

struct kctx {
  lower_ctx *L;
  kir_kernel k;
  int root;                /* the materialised value this kernel writes */
  uint16_t *omask, *imask; /* per expression: outer / inner coords used */
  int *htab;
  int hcap;
  kmemo *memo;
  int nmemo, capmemo;
  uint16_t *stage_omask;   /* per stage: outer coords its ACC depends on */
  int capstages;
  unsigned outer_need;     /* outer coords whose extent is not 1        */
  unsigned inner_need;     /* same for the stage being built            */
  int ninner;
  gc_dim inner[KIR_MAX_DIMS]; /* program dims of the stage being built  */
};

typedef struct kstage_save {
  unsigned inner_need;
  int ninner;
  gc_dim inner[KIR_MAX_DIMS];
} kstage_save;

kir_type lw_ktype(gc_dtype dt);  /* value type: f16/bf16/f32 F32, ints I64 */
kir_type lw_katype(gc_dtype dt); /* arithmetic type: bool computes in I64 */

/* Starts a kernel over `nouter` program dims. */
graphc_status_t kb_begin(kctx *K, lower_ctx *L, const char *what, const char *value, int nouter,
                         const gc_dim *outer);
/* Enters / leaves a stage: kb_stage_reduce appends a REDUCE stage with
 * the value built since kb_stage_enter and returns its ACC expression. */
void kb_stage_enter(kctx *K, int ninner, const gc_dim *inner, kstage_save *save);
int kb_stage_reduce(kctx *K, kstage_save *save, kir_combine comb, int value, unsigned omask);
void kb_stage_leave(kctx *K, kstage_save *save);
/* Appends a STORE stage (stores built in the current stage context). */
graphc_status_t kb_store_stage(kctx *K, int ninner, const gc_dim *inner, int nstores,
                               const kir_store *stores);
/* Appends the kernel and a step running it; frees the builder. */
graphc_status_t kb_finish(kctx *K, int *out_step);
void kb_discard(kctx *K);

/* Expressions (all return -1 if an operand is -1 or on error). */
int kx_add(kctx *K, kir_expr e);
kir_type kx_type(const kctx *K, int e);
int kx_i(kctx *K, int64_t v);
int kx_f(kctx *K, kir_type t, double v);
int kx_b(kctx *K, bool v);
int kx_outer(kctx *K, int a);
int kx_inner(kctx *K, int a);
int kx_pdim(kctx *K, gc_dim pd);  /* constant or size-table load */
int kx_un(kctx *K, kir_unary_op op, int a);
int kx_bin(kctx *K, kir_binary_op op, int a, int b);
int kx_cmp(kctx *K, kir_cmp_op op, int a, int b);
int kx_sel(kctx *K, int c, int a, int b);
int kx_cast(kctx *K, kir_type t, int a, int dtype);
int kx_load(kctx *K, int buf, int index);
int kx_iadd(kctx *K, int a, int b);
int kx_isub(kctx *K, int a, int b);
int kx_imul(kctx *K, int a, int b);
bool kx_is_i(const kctx *K, int e, int64_t v);
/* Value of dtype `from` converted as the interpreter loads it into `to`. */
int kx_convert(kctx *K, int e, gc_dtype from, gc_dtype to);
/* An arithmetic result (type lw_katype(dt)) as a value of dtype dt:
 * rounds through f16/bf16, wraps to i32, bool is != 0. */
int kx_finish(kctx *K, int e, gc_dtype dt);
/* e as arithmetic of dtype dt (bool -> I64 0/1). */
int kx_arith(kctx *K, int e, gc_dtype dt);

/* Index descriptors. */
void ix_init(ix *x, const gc_type *t);
int ix_flat(kctx *K, ix *x);
int ix_coord(kctx *K, ix *x, int d);
/* Descriptor of an operand of type `ot` broadcast (right-aligned, as
 * PyTorch) to `at`'s shape. */
void ix_bcast(kctx *K, ix *at, const gc_type *ot, ix *out);
bool lw_same_dims(const gc_type *a, const gc_type *b);

/* Value v at `at` (its own type). */
int em_value(kctx *K, int v, ix *at);
/* Reductions: the result coordinates `c` (n exprs) must depend only on
 * outer coordinates and vary over all outer dims; otherwise value v is
 * demoted (materialised) and false returned. */
bool em_group_ok(kctx *K, int v, const int *c, int n, unsigned *omask);
/* Marks v for materialisation and fails the current kernel. */
int em_demote(kctx *K, int v);
int em_fail(kctx *K, graphc_status_t st);
/* em_fail when st is an error, else 0. */
int em_fail_if(kctx *K, graphc_status_t st);
/* Whether node n's run-time checks were already emitted (by another
 * kernel reading it); marks them emitted. */
bool em_checked_before(kctx *K, const lnode *n);

/* ---- kernels and steps of whole values ------------------------------------- */

/* Writes value v into buffer `buf` (row-major, its shape) with one kernel
 * laid out for v (see docs/kernel-ir.md), converting to the buffer's
 * dtype. */
graphc_status_t lw_root_kernel(lower_ctx *L, int v, int buf);
/* Writes value u, indexed through `map`, into a new contiguous temp of
 * dtype dt and shape `shape`: target dim t reads u's dim
 * map[t] (-1: none; u dims read by no target dim must be 1). */
graphc_status_t lw_materialize_map(lower_ctx *L, int u, gc_dtype dt, const gc_type *shape,
                                   const int *map, int *out_buf);
/* Run-time checks: a kernel computing {flag, value} into a temp, then a
 * CHECK step. lw_check_index: every element of value idx is in
 * [0, bound) (or equal to *ignore when ignore is not NULL). */
graphc_status_t lw_check_index(lower_ctx *L, const lnode *n, int idx, gc_dim bound,
                               const int64_t *ignore, const char *what);
graphc_status_t lw_check_step(lower_ctx *L, int buf, const char *msg);
/* Fails unless lhs cmp rhs (program dims) at run time; skipped when both
 * are constants (infer has checked them). */
graphc_status_t lw_check_dims(lower_ctx *L, const lnode *n, gc_dim lhs, kir_cmp_op cmp, gc_dim rhs,
                              const char *what);

/* Strided view of a value over a buffer: element (c) at offset +
 * sum c[d]*stride[d] (program dims). False when v is not a view chain of
 * a written buffer that strides can describe. */
typedef struct lw_sview {
  int buf;
  gc_dim offset;
  gc_dim stride[GC_MAX_RANK];
} lw_sview;
bool lw_strided(lower_ctx *L, int v, lw_sview *out);

/* Dim, start offset and step of a slice-like node (slice, split result
 * `res`, slice_scatter); issues the run-time check that the clamped
 * length along the dim is `len` when the size is symbolic. */
graphc_status_t lw_slice_params(lower_ctx *L, const lnode *n, int res, gc_dim len, int *dim, gc_dim *start,
                                int64_t *step);
/* A conv/pooling ints attribute of one or two entries (one serves both
 * spatial dims); absent (or empty, when empty_default): dflt. */
void lw_pair_attr(const lnode *n, const char *name, const int64_t dflt[2], bool empty_default, int64_t out[2]);
/* The dtype conv and its gradients multiply and sum in: f64 for every float
 * dtype (f32 products are exact in f64 and the interpreter sums in f64, so a
 * long window cannot drift past f32's tolerance); dt itself otherwise. */
gc_dtype lw_conv_acc_dtype(gc_dtype dt);

/* Elementwise helper shared by rule files: operand i of n broadcast to at
 * and converted to dtype dt. */
int em_operand(kctx *K, const lnode *n, int i, ix *at, gc_dtype dt);

#endif
