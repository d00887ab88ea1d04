/* libgraphc — symbol visibility. Only functions marked GRAPHC_API are
 * exported from libgraphc.so; everything else is hidden. */
#ifndef GRAPHC_EXPORT_H
#define GRAPHC_EXPORT_H
#if defined(GRAPHC_STATIC_DEFINE)
#define GRAPHC_API
#else
#define GRAPHC_API __attribute__((visibility("default")))
#endif
#endif
