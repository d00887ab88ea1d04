/* A compiled model's description: the kernel-IR program plus the
 * signature (name, role, dtype and symbolic shape of every input and
 * output) the runtime checks calls against, and the target the kernels
 * were built for.
 *
 * It is what an executable runs, what the compile cache stores beside the
 * object code, and what an AOT artifact embeds; gc_model_serialize gives
 * the byte form (a versioned little-endian record, see model_io.c). All
 * dims, in the program and the signature, index prog->dims, so a
 * serialized model carries them as canonical text.
 */
#ifndef GC_RT_MODEL_H
#define GC_RT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "graphc/types.h"
#include "ir/ir.h"
#include "kernel/kir.h"

typedef struct gc_sig_value {
  char *name;
  graphc_role_t role; /* inputs; GRAPHC_ROLE_INPUT for outputs */
  graphc_dtype_t dtype;
  int rank;
  gc_dim dims[GRAPHC_MAX_RANK]; /* ids in prog->dims */
} gc_sig_value;

typedef struct gc_model {
  kir_program *prog; /* owned */
  char *name;        /* graph name */
  int ninputs, noutputs;
  gc_sig_value *inputs, *outputs;
  /* Target of the kernels ("" when unknown, e.g. kir_eval). */
  char *cpu, *features;
  /* Symbol of kernel i in an artifact: "<prefix>_k<i>" (AOT only). */
  char *symbol_prefix;
} gc_model;

/* Builds the signature of top-level graph `g`, whose lowering is `prog`
 * (taken over: freed on failure too). Dims are re-interned into
 * prog->dims by their text, so prog->dims need only share g's symbols. */
graphc_status_t gc_model_from_graph(const gc_graph *g, kir_program *prog, gc_model *out);
/* Sets cpu/features/symbol_prefix (copied; NULL leaves a field alone). */
graphc_status_t gc_model_set_target(gc_model *m, const char *cpu, const char *features,
                                    const char *symbol_prefix);
void gc_model_free(gc_model *m);

/* Checks what the runtime relies on beyond kir_program_verify: buffer
 * roles and indices match the signature, steps only use valid sizes,
 * copies keep their dtype, symbols have a supported source. */
graphc_status_t gc_model_check(const gc_model *m);

/* "x: f32[B, 784]" style text of a signature value (into buf). */
void gc_sig_format(const gc_model *m, const gc_sig_value *v, char *buf, size_t cap);

/* Byte form, with GRAPHC_ABI_VERSION and GC_ENV_VERSION recorded. The
 * caller frees *bytes with free(). */
graphc_status_t gc_model_serialize(const gc_model *m, uint8_t **bytes, size_t *len);
/* Parses and checks a byte form: a different ABI or environment version
 * is FAILED_PRECONDITION, anything malformed or truncated DATA_LOSS. */
graphc_status_t gc_model_deserialize(const uint8_t *bytes, size_t len, gc_model *out);
/* The ABI version recorded in a byte form, or -1 if it is not one. */
int gc_model_bytes_abi(const uint8_t *bytes, size_t len);

#endif
