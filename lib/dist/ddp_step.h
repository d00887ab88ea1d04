/* DDP training inside the step graph ("whole" mode, docs/ddp.md "Training
 * with DDP").
 *
 * One step graph per rank: forward, backward and optimizer updates as in a
 * plain training step (lib/autodiff/train_step.h), plus, for each gradient
 * bucket of the DDP plan (dist/ddp_plan.h), the bucket's gradients
 * flattened and concatenated into one tensor, averaged across ranks by one
 * `all_reduce_start(op="avg")` placed as soon as the last of them exists in
 * the backward part, and split back into the params' shapes after a
 * `wait` placed right before the bucket's first optimizer update. Compiled
 * code can overlap a bucket's all-reduce with the rest of backward; the
 * interpreter completes it at the start, which gives the same numbers.
 *
 * With every rank holding the same params and an equal slice of the global
 * batch, and a loss that is a mean over the batch, the averaged gradient is
 * the gradient of the global-batch loss, so N ranks train exactly as one
 * rank on the whole batch (up to rounding).
 *
 * Ignored params (gc_ddp_options.ignored) join no bucket: their gradients
 * stay local. Buffers are never all-reduced. Params of different dtypes in
 * one plan bucket are all-reduced as one tensor per dtype (cat needs one
 * dtype), so such a bucket issues one all_reduce_start per dtype.
 */
#ifndef GC_DIST_DDP_STEP_H
#define GC_DIST_DDP_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "autodiff/train_step.h"
#include "dist/ddp_plan.h"

struct gc_comm;

typedef struct gc_ddp_step_options {
  gc_optimizer_options opt; /* the optimizer, as gc_build_train_step      */
  gc_ddp_options ddp;       /* the planner: caps, ignored params           */
  /* true (default): output 0 is the loss averaged over the ranks (one
   * all_reduce at the end of the graph); false: this rank's loss. */
  bool average_loss;
} gc_ddp_step_options;

/* torch.optim's defaults for `kind`, the planner's defaults, averaged loss. */
void gc_ddp_step_options_init(gc_ddp_step_options *o, gc_optimizer_kind kind);

/* One all-reduce: the params of one plan bucket (of one dtype). */
typedef struct gc_ddp_bucket {
  int piece;        /* the plan piece whose params these are               */
  gc_dtype dtype;
  int nparams;
  int *params;      /* step-graph input indices, in gradient-ready order  */
  int64_t numel;    /* elements averaged                                   */
  int start_node;   /* the all_reduce_start node in the step graph         */
  int wait_node;    /* its wait                                            */
} gc_ddp_bucket;

typedef struct gc_ddp_step {
  gc_train_step *step;     /* the step graph and update table (owned)     */
  gc_ddp_plan *plan;       /* the plan of the forward graph (owned)       */
  gc_ddp_bucket *buckets;  /* in the order their all-reduces start        */
  int nbuckets;
  int loss_node;           /* the loss all_reduce node, -1 without one    */
} gc_ddp_step;

/* Plans `fwd` (borrowed; output 0 a 0-d float loss) with o->ddp and builds
 * its DDP step graph in fwd's context. The graph does not depend on the
 * number of ranks. */
graphc_status_t gc_ddp_step_build(const gc_graph *fwd, const gc_ddp_step_options *o,
                                  gc_ddp_step **out);
void gc_ddp_step_free(gc_ddp_step *s);

/* Runs one step with the reference interpreter over `comm` (collective:
 * every rank calls it, after the same build): inputs (step graph inputs)
 * are updated in place per the update table, only after the whole step
 * succeeded; *loss receives output 0. */
graphc_status_t gc_ddp_step_run(const gc_ddp_step *s, struct gc_comm *comm, uint64_t max_bytes,
                                gc_tensor *inputs, double *loss);

#endif
