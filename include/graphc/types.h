/* libgraphc — basic value types shared by every header.
 *
 * graphc_dtype_t names an element type. graphc_role_t says what a graph
 * input is. graphc_value_t and graphc_dim_t are plain integers, not
 * pointers: a value indexes the values of one graph, a dim indexes the
 * interned symbolic-dimension table of one graph. Both are only meaningful
 * together with the graph that produced them.
 */
#ifndef GRAPHC_TYPES_H
#define GRAPHC_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graphc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GRAPHC_VERSION_MAJOR 0
#define GRAPHC_VERSION_MINOR 1
#define GRAPHC_VERSION_PATCH 0
/* ABI version: bumped on any incompatible change of the C ABI or of the
 * layout of compiled artifacts. */
#define GRAPHC_ABI_VERSION 1

/* Tensors have at most this many dimensions. */
#define GRAPHC_MAX_RANK 8

/* "MAJOR.MINOR.PATCH", static storage. */
GRAPHC_API const char *graphc_version(void);
/* GRAPHC_ABI_VERSION of the loaded library. */
GRAPHC_API int graphc_abi_version(void);

/* Element types. Values are stable ABI. */
typedef enum graphc_dtype_e {
  GRAPHC_F32 = 0,
  GRAPHC_F64 = 1,
  GRAPHC_F16 = 2,
  GRAPHC_BF16 = 3,
  GRAPHC_I32 = 4,
  GRAPHC_I64 = 5,
  GRAPHC_BOOL = 6,
  GRAPHC_DTYPE_COUNT
} graphc_dtype_t;

/* "f32", "i64", ...; NULL for an out-of-range value. */
GRAPHC_API const char *graphc_dtype_name(graphc_dtype_t dtype);
/* Size of one element in bytes (bool is 1); 0 for an out-of-range value. */
GRAPHC_API size_t graphc_dtype_size(graphc_dtype_t dtype);

/* The role of a graph input. */
typedef enum graphc_role_e {
  GRAPHC_ROLE_INPUT = 0,  /* data fed each call                         */
  GRAPHC_ROLE_PARAM = 1,  /* trainable parameter                         */
  GRAPHC_ROLE_BUFFER = 2, /* state that is not trained (running stats)   */
  GRAPHC_ROLE_SYMBOL = 3, /* a scalar i64 that also names a shape symbol */
} graphc_role_t;

/* "input", "param", "buffer", "symbol"; NULL for an out-of-range value. */
GRAPHC_API const char *graphc_role_name(graphc_role_t role);

/* Index of a value inside one graph (inputs and node results). */
typedef int32_t graphc_value_t;
/* Interned symbolic dimension inside one graph; equal ids mean equal
 * expressions. Never negative when valid. */
typedef int32_t graphc_dim_t;

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_TYPES_H */
