/* Op group 'collective' (see op_registry.c). */
#include "ir/op.h"

const gc_op_info gc_ops_collective[] = {
    {0},
};
