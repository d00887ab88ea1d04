/* libgraphc — umbrella header: includes the whole public C ABI. */
#ifndef GRAPHC_GRAPHC_H
#define GRAPHC_GRAPHC_H
#include "graphc/status.h"
#include "graphc/types.h"
#include "graphc/context.h"
#include "graphc/graph.h"
#include "graphc/text.h"
#include "graphc/interp.h"
#include "graphc/train.h"
#include "graphc/comm.h"
#include "graphc/compile.h"
#endif
