/* `banyan config --list` (every option) and `banyan config --show CONFIG` (effective values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const usage =
    "usage: banyan config --list [CONFIG [--set section.key=value]...]\n"
    "       banyan config --show CONFIG [--set section.key=value]...\n"
    "\n"
    "--list prints every option: name, type, default, bounds or choices, and help; with\n"
    "CONFIG, also the options of the plug-in domain it names (domain.plugin).\n"
    "--show validates CONFIG with its overrides and prints every option's effective value.\n"
    "\n"
    "exit status: 0 ok, 2 bad command line or configuration\n";

int bn__cmd_config(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(usage, stdout);
    return BN_EXIT_OK;
  }
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    bn_config *cfg = NULL;
    if (bn__cli_new_config(&cfg) != BN_OK) return BN_EXIT_FAILURE;
    bn_config_print_table(cfg, stdout);
    bn_config_destroy(&cfg);
    return BN_EXIT_OK;
  }
  if (argc >= 3 && (strcmp(argv[1], "--show") == 0 || strcmp(argv[1], "--list") == 0)) {
    bool list = strcmp(argv[1], "--list") == 0;
    bn_cli_args args;
    int status = BN_EXIT_OK;
    bn_config *cfg = NULL;
    bn_domain domain = {0};
    if (!bn__cli_parse(argc - 1, argv + 1, list ? "config --list" : "config --show", NULL, &args) ||
        bn__cli_load(&args, &cfg, &domain) != BN_OK) {
      status = BN_EXIT_USAGE;
    } else if (list) {
      bn_config_print_table(cfg, stdout);
    } else {
      char *text = bn_config_effective_text(cfg);
      if (text) fputs(text, stdout);
      free(text);
    }
    bn_domain_close(&domain);
    bn_config_destroy(&cfg);
    free(args.sets);
    return status;
  }
  fputs(usage, stderr);
  return BN_EXIT_USAGE;
}
