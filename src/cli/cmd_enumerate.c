/* `banyan enumerate CONFIG`: walk the whole design space breadth-first and count it, or
 * list its terminal states (the ground truth a quality benchmark scores searches against). */
#include <stdio.h>
#include <stdlib.h>

#include "banyan/enumerate.h"
#include "cli/cli.h"

/* Print one terminal state in the domain's readable form. */
static int print_terminal(void *arg, const void *state) {
  const bn_domain *d = arg;
  char text[4096];
  const int need = d->ops->describe(d->ctx, state, text, sizeof text);
  if (need < 0 || (size_t)need >= sizeof text) return 1; /* a form too long to print whole */
  return puts(text) < 0;
}

static const char *const usage =
    "usage: banyan enumerate CONFIG [--set section.key=value]... [--max-states N] [--terminals]\n"
    "\n"
    "Walk the whole space of the domain in CONFIG breadth-first from its root (like\n"
    "CircuiTree's exhaustive search) and print, by depth, the number of unique terminal and\n"
    "non-terminal states (after canonicalization) and of unique edges. Stops with an error\n"
    "past --max-states unique states (default 50000000). Runs on one process.\n"
    "\n"
    "  --terminals   instead, print every unique terminal state, one per line, in the\n"
    "                domain's readable form (breadth-first order)\n"
    "\n"
    "exit status: 0 done, 1 too many states or another error, 2 bad command line or configuration\n";

int bn__cmd_enumerate(int argc, char **argv) {
  static const char *const allowed[] = {"max-states", "terminals", NULL};
  bn_cli_args args;
  bool parsed = bn__cli_parse(argc, argv, "enumerate", allowed, &args);
  int status = BN_EXIT_OK;
  bn_config *cfg = NULL;
  bn_domain domain = {0};
  if (args.help) {
    fputs(usage, stdout);
  } else if (!parsed) {
    status = BN_EXIT_USAGE;
  } else if (bn__cli_load(&args, &cfg, &domain) != BN_OK) {
    status = BN_EXIT_USAGE;
  } else {
    bn_enum_result r;
    if (bn_enumerate_each(&domain, (uint64_t)args.max_states, args.terminals ? print_terminal : NULL, &domain, &r) !=
        BN_OK) {
      status = BN_EXIT_FAILURE;
    } else if (args.terminals) {
      bn_enum_result_free(&r);
    } else {
      printf("domain %s, root and everything reachable from it:\n", domain.ops->name);
      bn_enum_result_print(&r, stdout);
      bn_enum_result_free(&r);
    }
  }
  bn_domain_close(&domain);
  bn_config_destroy(&cfg);
  free(args.sets);
  return status;
}
