/* Kernel IR: what the graph lowers to and the only thing backends read.
 *
 * A kir_program is a list of steps over numbered buffers. Sizes are not
 * baked in: every extent, stride and element count a program needs is an
 * entry of its size table (a symbolic gc_dim of the source graph's dim
 * table). The runtime evaluates the table from the symbol values of a call
 * and hands the int64 results to generated code, so one compiled program
 * serves every size.
 *
 * A kernel step is a loop nest:
 *
 *   parallel for o in outer domain (row-major over `outer` extents):
 *     stage 0: for i in its inner domain: acc0 = combine(acc0, value)   (REDUCE)
 *     stage 1: for i in its inner domain: acc1 = ...  (may read acc0)
 *     stage k: for i in its inner domain: buf[index] = value; ...       (STORE)
 *
 * An empty outer or inner list (nouter or ninner 0) is a domain of one
 * point. A kernel may have several STORE stages (cat writes one operand
 * per stage); stages run in order for each outer point.
 *
 * so an elementwise chain is one STORE stage, a row reduction with its
 * prologue and epilogue one REDUCE stage then a STORE stage, softmax and
 * layer_norm three stages in one kernel. Scalar expressions live in the
 * kernel's expression pool and are referenced by index (a DAG: shared
 * subexpressions are emitted once per loop level where they are used).
 *
 * A GEMM step is a library call (the runtime's environment table provides
 * it) with an optional epilogue kernel applied to its output.
 */
#ifndef GC_KERNEL_KIR_H
#define GC_KERNEL_KIR_H

#include <stdbool.h>
#include <stdint.h>

#include "graphc/status.h"
#include "graphc/types.h"
#include "ir/dims.h"

/* --- scalar expressions ---------------------------------------------------- */

/* Compute types of expressions. Buffers may hold any graphc dtype; a load
 * converts to the expression's type and a store converts back (f16/bf16
 * round to nearest even, float->int truncates, ->bool is != 0). */
typedef enum kir_type {
  KIR_F32 = 0,
  KIR_F64,
  KIR_I64, /* integers of every width and all index arithmetic */
  KIR_BOOL,
} kir_type;

typedef enum kir_expr_kind {
  KX_CONST,  /* f (floats) or i (ints, bools)                             */
  KX_OUTER,  /* coordinate a of the outer domain (I64)                     */
  KX_INNER,  /* coordinate a of the current stage's inner domain (I64)     */
  KX_SIZE,   /* size-table entry a (I64)                                   */
  KX_ACC,    /* result of REDUCE stage a, for the current outer point      */
  KX_LOAD,   /* buffer a at element index expression b                     */
  KX_UNARY,  /* op on a                                                    */
  KX_BINARY, /* op on a, b (same type)                                     */
  KX_CMP,    /* op on a, b (same type) -> BOOL                             */
  KX_SELECT, /* a (BOOL) ? b : c                                           */
  KX_CAST,   /* a converted to this node's type (with `dtype` rounding: a
                cast to a narrower storage dtype rounds through it, e.g. an
                f16 intermediate kept in registers rounds like a store;
                I64 with dtype i32 wraps to 32 bits). Float -> I64
                truncates toward zero, saturates, NaN gives 0 (LLVM's
                fptosi.sat); -> BOOL is != 0 (NaN is true)               */
} kir_expr_kind;

typedef enum kir_unary_op {
  KU_NEG, KU_ABS, KU_EXP, KU_LOG, KU_SQRT, KU_RSQRT, KU_TANH, KU_SIGMOID, KU_ERF,
  KU_SIN, KU_COS, KU_NOT, KU_FLOOR,
} kir_unary_op;

typedef enum kir_binary_op {
  KB_ADD, KB_SUB, KB_MUL, KB_DIV, /* int DIV truncates; see FLOORDIV  */
  KB_POW, KB_MAX, KB_MIN,         /* float MAX/MIN propagate NaN      */
  KB_AND, KB_OR,                  /* BOOL                             */
  KB_FLOORDIV, KB_MOD,            /* I64, Python semantics            */
  KB_XOR, KB_SHL, KB_SHR,         /* I64 bits; SHR is logical (unsigned),
                                     shift counts are 0..63          */
} kir_binary_op;
/* I64 ADD/SUB/MUL/NEG/ABS wrap (two's complement). I64 POW is PyTorch's
 * integer power: a negative exponent gives 0, except 1 for base 1 and
 * +-1 for base -1; otherwise repeated wrapping multiplication. */

typedef enum kir_cmp_op { KC_EQ, KC_NE, KC_LT, KC_LE, KC_GT, KC_GE } kir_cmp_op;

typedef struct kir_expr {
  kir_expr_kind kind;
  kir_type type;
  int op;          /* kir_unary_op / kir_binary_op / kir_cmp_op          */
  int a, b, c;     /* operands: expression indices, or ids (see kinds)   */
  double f;        /* KX_CONST float value                               */
  int64_t i;       /* KX_CONST int/bool value                            */
  graphc_dtype_t dtype; /* KX_CAST: storage dtype to round through, or -1 */
} kir_expr;

/* --- kernels ---------------------------------------------------------------- */

typedef enum kir_stage_kind { KIR_REDUCE, KIR_STORE } kir_stage_kind;
/* Accumulators start at 0 (SUM), -inf / INT64_MIN (MAX), +inf / INT64_MAX
 * (MIN), in acc_type; float MAX and MIN propagate NaN like KB_MAX/KB_MIN.
 * A REDUCE stage is summed in iteration order (row-major over its inner
 * domain); a backend may reassociate float sums. */
typedef enum kir_combine { KIR_SUM, KIR_MAX, KIR_MIN } kir_combine;

#define KIR_MAX_DIMS 8
#define KIR_MAX_STORES 8

typedef struct kir_store {
  int buf;   /* buffer id                 */
  int index; /* I64 expression: element index into buf */
  int value; /* expression                */
} kir_store;

typedef struct kir_stage {
  kir_stage_kind kind;
  int ninner;
  int inner[KIR_MAX_DIMS]; /* extents: size-table ids */
  /* REDUCE */
  kir_combine combine;
  kir_type acc_type;
  int value;               /* expression accumulated */
  /* STORE */
  int nstores;
  kir_store stores[KIR_MAX_STORES];
} kir_stage;

typedef struct kir_kernel {
  char name[64];           /* unique in the program, a C identifier */
  int nouter;
  int outer[KIR_MAX_DIMS]; /* extents: size-table ids */
  int nstages;
  kir_stage *stages;
  int nexprs, capexprs;
  kir_expr *exprs;
} kir_kernel;

/* --- library calls -------------------------------------------------------- */

/* C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], row-major, for b in
 * [0, batch). Sizes and strides are size-table ids; a batch stride of
 * size-table id -1 means 0 (broadcast). f32 and f64. m, n or k may be 0
 * at run time (then ld values may be 0 too): k == 0 means C = beta * C,
 * and BLAS must not be called with such arguments. The epilogue kernel
 * runs after the whole product; it reads C (and may write C in place). */
typedef struct kir_gemm {
  graphc_dtype_t dtype;
  int a, b, c;                 /* buffer ids */
  bool trans_a, trans_b;
  int m, n, k;                 /* size ids */
  int lda, ldb, ldc;           /* size ids */
  int batch;                   /* size id, or -1 for 1 */
  int stride_a, stride_b, stride_c; /* size ids (elements), -1 = 0 */
  double alpha, beta;
  int epilogue;                /* kernel index applied after, or -1 */
} kir_gemm;

/* --- programs ------------------------------------------------------------- */

typedef enum kir_buffer_role {
  KIR_BUF_INPUT,  /* graph input `index`   */
  KIR_BUF_OUTPUT, /* graph output `index`  */
  KIR_BUF_TEMP,   /* placed in the arena   */
} kir_buffer_role;

typedef struct kir_buffer {
  graphc_dtype_t dtype;
  int numel;            /* size id */
  kir_buffer_role role;
  int index;
  int first_step, last_step; /* liveness over steps (temps), inclusive */
  char name[64];        /* the graph value it holds, for diagnostics */
  int rank;             /* shape of the value it holds (row-major):     */
  int shape[KIR_MAX_DIMS]; /* size ids; outputs are returned with it     */
  /* In place: this temp may take over the storage of temp `inplace_src`,
   * whose last use is this buffer's first step (the one kernel that reads
   * inplace_src and writes this, element by element at the same index).
   * Same byte size. The memory planner may then give both one offset. */
  bool inplace;
  int inplace_src;
} kir_buffer;

typedef enum kir_step_kind {
  KIR_STEP_KERNEL,
  KIR_STEP_GEMM,
  KIR_STEP_COPY,
  /* A run-time check made by the runtime, not by generated code: buffer
   * `src` is i64[2] {flag, value} written by an earlier kernel; flag != 0
   * stops the run with OUT_OF_RANGE "<message> (got <value>)". Steps after
   * it (which may rely on the check, e.g. to load in bounds) do not run. */
  KIR_STEP_CHECK,
} kir_step_kind;

typedef struct kir_step {
  kir_step_kind kind;
  int kernel;          /* KERNEL: index into program kernels */
  kir_gemm gemm;       /* GEMM */
  int src, dst, count; /* COPY: buffers and element count size id; CHECK: src */
  char message[256];   /* CHECK: "file:line:col: op 'x': what is wrong" */
} kir_step;

typedef struct kir_program {
  gc_dimtab *dims;     /* owned: a copy of the source graph's symbols/dims */
  int nsyms;           /* symbol count; symbol ids index call-time values  */
  int nsizes;
  gc_dim *sizes;       /* size table */
  int nbuffers;
  kir_buffer *buffers;
  int nkernels;
  kir_kernel *kernels;
  int nsteps;
  kir_step *steps;
  int ninputs, noutputs;
  /* Where each symbol's value comes from at call time. */
  struct kir_symsrc {
    int kind;          /* 0 input dim, 1 symbol input (scalar), 2 unsupported */
    int input, dim;
  } *symsrc;
} kir_program;

void kir_program_free(kir_program *p);
/* Builders used by lowering (each returns an index or -1 with *st set). */
int kir_size(kir_program *p, gc_dim d);                     /* dedups */
int kir_expr_add(kir_kernel *k, kir_expr e);
/* Human-readable dump, one line per step / stage / store (for tests and
 * GRAPHC_DUMP=kernels). Caller frees. */
char *kir_program_print(const kir_program *p);
/* Structural checks: ids in range, types consistent, stores index I64. */
graphc_status_t kir_program_verify(const kir_program *p);

#endif
