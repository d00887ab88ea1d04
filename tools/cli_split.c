/* `graphc split`: plans DDP buckets for a forward graph, cuts it at the
 * bucket boundaries, and prints the plan as a table (and, with --dot, as
 * Graphviz). Exit codes as for every subcommand: 0 ok, 1 bad input, 2 bad
 * usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "dist/ddp_plan.h"
#include "dist/graph_split.h"
#include "dist/plan_print.h"
#include "graphc/graphc.h"
#include "ir/text.h"
#include "support/status.h"
#include "support/strbuf.h"

int gc_cli_split(int argc, char **argv);

#define SPLIT_USAGE                                                                          \
  "graphc split MODEL.gc [--bucket-cap-mb C] [--first-bucket-cap-mb F] [--ignore NAME]... " \
  "[--count-every-use] [--ranks N] [--dot FILE] [--print-pieces]"

static int split_usage(const char *msg, const char *arg) {
  return gc_cli_usage("split", SPLIT_USAGE, msg, arg);
}

typedef struct split_args {
  const char *model, *dot;
  gc_ddp_options opt;
  const char **ignored;
  long ranks;
  bool print_pieces;
} split_args;

static int parse_args(int argc, char **argv, split_args *a) {
  gc_ddp_options_init(&a->opt);
  a->ranks = 1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if (!strcmp(arg, "--bucket-cap-mb") || !strcmp(arg, "--first-bucket-cap-mb")) {
      if (!has_value) return split_usage("missing value after", arg);
      int64_t *dst = arg[2] == 'b' ? &a->opt.cap_bytes : &a->opt.first_cap_bytes;
      if (!gc_cli_parse_mb(argv[++i], dst))
        return split_usage("expected a size in MiB (a number >= 0)", argv[i]);
    } else if (!strcmp(arg, "--ignore")) {
      if (!has_value) return split_usage("missing value after", arg);
      a->ignored[a->opt.nignored++] = argv[++i];
    } else if (!strcmp(arg, "--count-every-use")) {
      a->opt.count_every_use = true;
    } else if (!strcmp(arg, "--print-pieces")) {
      a->print_pieces = true;
    } else if (!strcmp(arg, "--ranks")) {
      if (!has_value) return split_usage("missing value after", arg);
      char *end;
      errno = 0;
      a->ranks = strtol(argv[++i], &end, 10);
      if (errno || *end || end == argv[i] || a->ranks < 1 || a->ranks > 1000000)
        return split_usage("expected a rank count >= 1", argv[i]);
    } else if (!strcmp(arg, "--dot")) {
      if (!has_value) return split_usage("missing value after", arg);
      a->dot = argv[++i];
    } else if (arg[0] == '-' && arg[1]) {
      return split_usage("unknown option", arg);
    } else if (a->model) {
      return split_usage("more than one model file", arg);
    } else {
      a->model = arg;
    }
  }
  if (!a->model) return split_usage("expected one model file", NULL);
  a->opt.ignored = a->ignored;
  return 0;
}

static int write_text(const char *path, const char *text, size_t len) {
  if (!strcmp(path, "-")) {
    fwrite(text, 1, len, stdout);
    return 0;
  }
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "graphc: error: cannot write '%s': %s\n", path, strerror(errno));
    return 1;
  }
  bool ok = fwrite(text, 1, len, f) == len;
  ok &= fclose(f) == 0;
  if (!ok) {
    fprintf(stderr, "graphc: error: writing '%s' failed\n", path);
    return 1;
  }
  return 0;
}

static int report(const split_args *a, const gc_graph *g, const gc_ddp_plan *plan,
                  const gc_split *split) {
  gc_strbuf sb = {0};
  gc_ddp_plan_format(&sb, g, plan, split);
  gc_sb_printf(&sb, "\nranks: %ld; the plan is the same on every rank: piece k's params form "
               "all-reduce bucket k\n", a->ranks);
  if (a->print_pieces)
    for (int p = 0; p < split->npieces; p++) {
      gc_sb_append(&sb, "\n");
      gc_text_print_graph(&sb, split->pieces[p].graph);
    }
  if (sb.oom) {
    gc_sb_free(&sb);
    fprintf(stderr, "graphc: error: out of memory\n");
    return 1;
  }
  fputs(sb.data ? sb.data : "", stdout);
  gc_sb_free(&sb);
  if (!a->dot) return 0;
  gc_strbuf dot = {0};
  gc_ddp_plan_format_dot(&dot, g, plan, split);
  int rc = dot.oom ? (fprintf(stderr, "graphc: error: out of memory\n"), 1)
                   : write_text(a->dot, dot.data ? dot.data : "", dot.len);
  gc_sb_free(&dot);
  return rc;
}

int gc_cli_split(int argc, char **argv) {
  split_args a = {0};
  a.ignored = calloc((size_t)argc + 1, sizeof *a.ignored);
  if (!a.ignored) return gc_cli_fail(GC_OOM());
  int rc = parse_args(argc, argv, &a);
  if (rc) {
    free(a.ignored);
    return rc;
  }
  graphc_context_t *ctx = NULL;
  graphc_graph_t *g = NULL;
  gc_ddp_plan *plan = NULL;
  gc_split *split = NULL;
  graphc_status_t st = graphc_context_create(NULL, &ctx);
  if (!st) st = graphc_graph_parse_file(ctx, a.model, &g);
  if (!st) st = gc_ddp_plan_build(g, &a.opt, &plan);
  if (!st) st = gc_graph_split(g, plan, &split);
  rc = st ? gc_cli_fail(st) : report(&a, g, plan, split);
  gc_split_free(split);
  gc_ddp_plan_free(plan);
  graphc_context_release(ctx);
  free(a.ignored);
  return rc;
}
