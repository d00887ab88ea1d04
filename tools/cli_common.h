/* Small helpers shared by the `graphc` subcommands: usage and error
 * reporting with the CLI's exit codes (0 ok, 1 failure, 2 bad usage) and
 * option value parsing. */
#ifndef GC_TOOLS_CLI_COMMON_H
#define GC_TOOLS_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "graphc/status.h"

/* Prints "graphc CMD: MSG[: ARG]" and the usage line to stderr; returns 2. */
int gc_cli_usage(const char *cmd, const char *usage, const char *msg, const char *arg);
/* Prints "graphc: error: ..." to stderr and frees st; returns 1. */
int gc_cli_fail(graphc_status_t st);
/* MiB (may be fractional, as DDP's bucket_cap_mb) to bytes, rounded down;
 * false unless s is one number in [0, 8e12]. */
bool gc_cli_parse_mb(const char *s, int64_t *bytes);

#endif
