/* banyan: the command-line entry point; dispatches to one command per file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/python_cmd.h"

static const char *const usage =
    "usage: banyan COMMAND [ARGS]\n"
    "\n"
    "Distributed Monte-Carlo tree search over large design spaces (gene circuits, ...).\n"
    "\n"
    "commands:\n"
    "  run CONFIG        run a search (under mpirun for engines on other ranks)\n"
    "  resume FILE       continue a checkpointed run\n"
    "  inspect FILE      summarise a checkpoint\n"
    "  export FILE --csv OUT  write a checkpoint's results table as CSV\n"
    "  report FILE [-o DIR]   write an HTML report with figures (PNG, SVG) of a checkpoint\n"
    "  watch FILE        show a run's progress from its checkpoint, refreshed every few seconds\n"
    "  enumerate CONFIG  count the whole design space breadth-first\n"
    "  config --list     list every option with its default, bounds and help\n"
    "  config --show CONFIG  print the effective configuration\n"
    "  --version         print the version\n"
    "\n"
    "`banyan COMMAND --help` describes each command.\n";

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? BN_EXIT_USAGE : BN_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("banyan %s\n", BANYAN_VERSION);
    return BN_EXIT_OK;
  }
  if (strcmp(argv[1], "run") == 0) return bn__cmd_run(argc - 1, argv + 1);
  if (strcmp(argv[1], "resume") == 0) return bn__cmd_resume(argc - 1, argv + 1);
  if (strcmp(argv[1], "inspect") == 0) return bn__cmd_inspect(argc - 1, argv + 1);
  if (strcmp(argv[1], "export") == 0) return bn__cmd_export(argc - 1, argv + 1);
  if (strcmp(argv[1], "report") == 0) return bn__cmd_report(argc - 1, argv + 1);
  if (strcmp(argv[1], "watch") == 0) return bn__cmd_watch(argc - 1, argv + 1);
  if (strcmp(argv[1], "enumerate") == 0) return bn__cmd_enumerate(argc - 1, argv + 1);
  if (strcmp(argv[1], "config") == 0) return bn__cmd_config(argc - 1, argv + 1);
  fprintf(stderr, "banyan: unknown command \"%s\"\n\n%s", argv[1], usage);
  return BN_EXIT_USAGE;
}
