/* `banyan watch FILE`: a terminal view of a run from its checkpoint, refreshed every few
 * seconds (progress, rate, failures, best states, engines), made by the Python package's
 * banyan.watch, which this command runs as a child process (see cmd_report.c). */
#include "cli/python_cmd.h"

int bn__cmd_watch(int argc, char **argv) { return bn__cli_python("watch", argc, argv); }
