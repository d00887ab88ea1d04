/* Op group 'grad' (see op_registry.c). */
#include "ir/op.h"

const gc_op_info gc_ops_grad[] = {
    {0},
};
