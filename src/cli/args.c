/* Command-line parsing shared by the banyan commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static bool allowed_flag(const char *const *allowed, const char *name) {
  for (; allowed && *allowed; allowed++)
    if (strcmp(*allowed, name) == 0) return true;
  return false;
}

/* The value of "--name=V" or "--name V"; advances *i past it. NULL if missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *name) {
  const char *a = argv[*i] + 2 + strlen(name);
  if (*a == '=') return a + 1;
  if (*i + 1 < argc) return argv[++*i];
  return NULL;
}

static bool is_flag(const char *arg, const char *name) {
  size_t n = strlen(name);
  return strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, name, n) == 0 && (arg[2 + n] == '\0' || arg[2 + n] == '=');
}

bool bn__cli_parse(int argc, char **argv, const char *command, const char *const *allowed, bn_cli_args *args) {
  memset(args, 0, sizeof *args);
  args->max_states = 50000000;
  args->sets = calloc((size_t)argc + 1, sizeof *args->sets);
  if (!args->sets) { /* nothing is set up yet: a runtime error, not a usage one */
    fprintf(stderr, "banyan %s: out of memory\n", command);
    exit(BN_EXIT_FAILURE);
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      args->help = true;
    } else if (is_flag(a, "set")) {
      if (!(v = flag_value(argc, argv, &i, "set"))) goto missing;
      args->sets[args->n_sets++] = v;
    } else if (is_flag(a, "summary") && allowed_flag(allowed, "summary")) {
      if (!(v = flag_value(argc, argv, &i, "summary"))) goto missing;
      args->summary_path = v;
    } else if (is_flag(a, "max-states") && allowed_flag(allowed, "max-states")) {
      if (!(v = flag_value(argc, argv, &i, "max-states"))) goto missing;
      char *end;
      args->max_states = strtoll(v, &end, 10);
      if (*end || args->max_states <= 0) {
        fprintf(stderr, "banyan %s: --max-states needs a positive integer, not \"%s\"\n", command, v);
        return false;
      }
    } else if (strcmp(a, "--quiet") == 0 && allowed_flag(allowed, "quiet")) {
      args->quiet = true;
    } else if (strcmp(a, "--overwrite") == 0 && allowed_flag(allowed, "overwrite")) {
      args->overwrite = true;
    } else if (strcmp(a, "--verify") == 0 && allowed_flag(allowed, "verify")) {
      args->verify = true;
    } else if (strcmp(a, "--schema") == 0 && allowed_flag(allowed, "schema")) {
      args->schema = true;
    } else if (strcmp(a, "--terminals") == 0 && allowed_flag(allowed, "terminals")) {
      args->terminals = true;
    } else if (strcmp(a, "--force") == 0 && allowed_flag(allowed, "force")) {
      args->force = true;
    } else if (strcmp(a, "--trust") == 0 && allowed_flag(allowed, "trust")) {
      args->trust = true;
    } else if (is_flag(a, "csv") && allowed_flag(allowed, "csv")) {
      if (!(v = flag_value(argc, argv, &i, "csv"))) goto missing;
      args->csv_path = v;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "banyan %s: unknown option %s (see banyan %s --help)\n", command, a, command);
      return false;
    } else if (!args->config_path) {
      args->config_path = a;
    } else {
      fprintf(stderr, "banyan %s: unexpected argument %s (one CONFIG file only)\n", command, a);
      return false;
    }
    continue;
  missing:
    fprintf(stderr, "banyan %s: %s needs a value\n", command, a);
    return false;
  }
  if (!args->help && !args->schema && !args->config_path) {
    fprintf(stderr, "banyan %s: no file given (see banyan %s --help)\n", command, command);
    return false;
  }
  return true;
}
