/* Commands implemented by banyan's Python package (python/banyan): `report` and `watch`.
 * The C side only finds the package and the interpreter and runs it as a child; the
 * reading, plotting and HTML are Python (h5py, matplotlib), the same code that a notebook
 * imports as `banyan`. */
#ifndef BANYAN_CLI_PYTHON_CMD_H
#define BANYAN_CLI_PYTHON_CMD_H

/* Run `banyan.<module>.main(argv[1..], prog="banyan <module>")` in BANYAN_PYTHON (set at
 * configure time, default /usr/bin/python3) in isolated mode (-I: no PYTHON* variables, no
 * user site directory, not the current directory on sys.path), with the package found in
 * the build tree for the build tree's executable and at BINDIR/BANYAN_PYTHON_RELDIR for an
 * installed one: never from a place the checkpoint or the current directory chooses.
 * `module` is a fixed name ("report", "watch"). Runs it as a child process and returns its
 * exit status; a child that died of a signal other than a stop request gives 1 and one
 * line on stderr. */
int bn__cli_python(const char *module, int argc, char **argv);

int bn__cmd_report(int argc, char **argv);
int bn__cmd_watch(int argc, char **argv);

#endif
