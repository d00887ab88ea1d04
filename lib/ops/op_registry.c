/* The op registry: concatenates the per-group op tables. Each group file
 * (ops_<group>.c) defines `const gc_op_info gc_ops_<group>[]`, terminated
 * by an entry whose name is NULL. Adding an op is one table line in its
 * group file; adding a group is one line in GC_OP_GROUPS below. */
#include <string.h>

#include "ir/op.h"

#define GC_OP_GROUPS(X) \
  X(elementwise)        \
  X(reduce)             \
  X(nn)                 \
  X(linalg)             \
  X(shape)              \
  X(index)              \
  X(create)             \
  X(region)             \
  X(grad)               \
  X(collective)

#define GC_DECLARE_GROUP(g) extern const gc_op_info gc_ops_##g[];
GC_OP_GROUPS(GC_DECLARE_GROUP)
#undef GC_DECLARE_GROUP

static const gc_op_info *const gc_groups[] = {
#define GC_LIST_GROUP(g) gc_ops_##g,
    GC_OP_GROUPS(GC_LIST_GROUP)
#undef GC_LIST_GROUP
};

int gc_op_count(void) {
  int n = 0;
  for (size_t g = 0; g < sizeof gc_groups / sizeof gc_groups[0]; g++)
    for (const gc_op_info *op = gc_groups[g]; op->name; op++) n++;
  return n;
}

const gc_op_info *gc_op_at(int i) {
  for (size_t g = 0; g < sizeof gc_groups / sizeof gc_groups[0]; g++)
    for (const gc_op_info *op = gc_groups[g]; op->name; op++)
      if (i-- == 0) return op;
  return NULL;
}

const gc_op_info *gc_op_lookup(const char *name, size_t len) {
  for (size_t g = 0; g < sizeof gc_groups / sizeof gc_groups[0]; g++)
    for (const gc_op_info *op = gc_groups[g]; op->name; op++)
      if (strlen(op->name) == len && memcmp(op->name, name, len) == 0) return op;
  return NULL;
}

const gc_attr_spec *gc_op_attr_spec(const gc_op_info *op, const char *name) {
  for (int i = 0; i < GC_MAX_ATTRS && op->attrs[i].name; i++)
    if (strcmp(op->attrs[i].name, name) == 0) return &op->attrs[i];
  return NULL;
}
