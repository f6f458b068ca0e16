/* Private header of external-program evaluation (jobs/exec/): running a user's program
 * once per evaluation, with the state's text on stdin, and reading the reward from the
 * last line of its stdout.
 *
 * The pieces, one file each:
 *   argv.c      exec.command split into argv (quotes and backslashes, no shell)
 *   resolve.c   finding the program (PATH, or a path relative to the working directory)
 *   environ.c   the program's environment: banyan's own plus BANYAN_* variables
 *   spawn.c     one run: posix_spawn in its own process group, one poll() loop for stdin,
 *               stdout and the time-out, the whole group killed at the end
 *   reward.c    what a finished run means: a reward, or a failure reason
 *   wrap.c      the wrapper domain that replaces any domain's evaluate (exec.command)
 *   sequence.c  the generic `exec` domain: strings over an alphabet
 *
 * Not for use outside jobs/exec/, jobs/open_configured.c and the tests. */
#ifndef BANYAN_JOBS_EXEC_H
#define BANYAN_JOBS_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "banyan/config.h"
#include "banyan/domain.h"

/* ---- argv.c ----------------------------------------------------------------------- */

/* A command line split into words. argv[argc] is NULL. Owned: free with
 * bn__exec_argv_free. */
typedef struct bn__exec_argv {
  char **argv;
  size_t argc;
} bn__exec_argv;

/* Split `command` into words, without a shell: words are separated by blanks (space,
 * tab); 'single quotes' keep everything up to the next single quote as it is; "double
 * quotes" keep everything but \" and \\, which stand for " and \; outside quotes a
 * backslash makes the next character ordinary (\  is a space inside a word). Quoted and
 * unquoted parts next to each other make one word; '' and "" make an empty word. Nothing
 * else is special ($, *, ~, ;, |, > are ordinary characters).
 * Returns 0 and fills *out; non-zero with a reason in why (unterminated quote, backslash at
 * the end, no words, no memory), *out untouched. */
int bn__exec_split(const char *command, bn__exec_argv *out, char *why, size_t whylen);
/* Free the words; accepts an empty (zeroed) argv. */
void bn__exec_argv_free(bn__exec_argv *a);

/* ---- resolve.c -------------------------------------------------------------------- */

/* The file that running `program` would execute, as an absolute path (caller frees): a
 * name without a slash is looked up in PATH (like execvp; /bin:/usr/bin when PATH is not
 * set); a name with a slash is taken relative to `workdir` (NULL or "": the current
 * directory), where the program runs. It must be a regular file we may execute.
 * Returns 0; non-zero with a reason in why ("cannot run ./x: No such file or directory",
 * "cannot run foo: not found in PATH"). */
int bn__exec_resolve(const char *program, const char *workdir, char **path, char *why, size_t whylen);

/* ---- environ.c -------------------------------------------------------------------- */

/* The environment of one run (caller frees with bn__exec_environment_free): this process's
 * environment without any BANYAN_* variable it may hold, plus BANYAN_JOB_ID, BANYAN_SEED,
 * BANYAN_SAMPLE (absent when req->sample is BN_SAMPLE_NONE), BANYAN_ATTEMPT, BANYAN_STATE
 * (`state_text`) and BANYAN_DOMAIN (`domain`). NULL when memory runs out. */
char **bn__exec_environment(const bn_eval_request *req, const char *state_text, const char *domain);
void bn__exec_environment_free(char **envp);

/* ---- spawn.c ---------------------------------------------------------------------- */

/* What to run. Everything is borrowed for the duration of bn__exec_run. */
typedef struct bn__exec_spec {
  const char *path;     /* the executable (absolute, or relative to workdir) */
  char *const *argv;    /* argv[0] first, NULL-terminated */
  char *const *envp;    /* NULL: this process's environment */
  const char *workdir;  /* NULL or "": this process's current directory */
  const char *input;    /* written to the program's stdin, which is then closed */
  size_t input_len;
  double timeout;       /* seconds from spawn to the end, 0: none */
  size_t max_output;    /* bytes of stdout kept; more ends the run (BN__EXEC_TOO_LONG) */
} bn__exec_spec;

/* How a run ended. */
typedef enum bn__exec_end {
  BN__EXEC_EXITED,     /* exited by itself; code = its exit status */
  BN__EXEC_SIGNALED,   /* killed by a signal it did not expect; code = the signal */
  BN__EXEC_TIMEOUT,    /* ran past the time-out and was killed with its process group */
  BN__EXEC_TOO_LONG,   /* wrote more than max_output bytes to stdout and was killed */
  BN__EXEC_CANNOT_RUN  /* never ran (or its status was lost); code = errno */
} bn__exec_end;

typedef struct bn__exec_result {
  bn__exec_end end;
  int code;
  char *output;      /* stdout (NUL-terminated, at most max_output bytes); owned: free() */
  size_t output_len;
  double seconds;    /* from spawn to the end */
} bn__exec_result;

/* Run the program once: posix_spawn (no shell, no fork of this process's memory) in a new
 * process group, stdin and stdout on pipes, stderr inherited, file descriptors above 2
 * closed, signal dispositions and mask reset. One poll() loop writes the input, reads
 * stdout and watches the time-out. When the program ends (or is ended), its whole process
 * group is killed with SIGKILL, so nothing it started in the background survives, and the
 * program is reaped. Thread-safe (SIGPIPE is blocked in the calling thread only while it
 * writes). Always fills *res; res->output is NULL only for BN__EXEC_CANNOT_RUN. */
void bn__exec_run(const bn__exec_spec *spec, bn__exec_result *res);
void bn__exec_result_free(bn__exec_result *res);

/* ---- reward.c --------------------------------------------------------------------- */

/* The reward in a program's stdout: its last non-empty line (blanks around it ignored),
 * which must be one number as a whole (strtod) and finite. Returns 0 and sets *reward;
 * non-zero with a reason: "no output", "unparsable output: \"...\"", "non-finite reward:
 * \"nan\"". */
int bn__exec_parse_reward(const char *output, size_t len, double *reward, char *why, size_t whylen);

/* The outcome of a run: 0 and *reward for a run that exited with status 0 and printed a
 * reward; otherwise non-zero and a failure reason "KIND: DETAIL" (engine.h) whose detail
 * fits a results-log row: "exit status: 3", "signal: 11 (SIGSEGV)", "timeout: after 2 s",
 * "output too long: over 1048576 bytes", "cannot run: ./x: Exec format error", or the
 * reasons of bn__exec_parse_reward. `program` names it in "cannot run" reasons. */
int bn__exec_outcome(const bn__exec_result *res, const bn__exec_spec *spec, const char *program,
                     double *reward, char *why, size_t whylen);

/* ---- wrap.c ----------------------------------------------------------------------- */

/* When exec.command is set, replace the opened domain *d by one that delegates everything
 * to it except evaluate, which runs the program (its name, sizes and options stay the
 * inner domain's, so checkpoints and resume match). The program is found and checked now:
 * a command that does not split, a program that does not exist or cannot be executed, or
 * an exec.workdir that is not a directory is BN_ERR_CONFIG, logged as "FILE:LINE:
 * exec.command: why". *d is changed only on success; the wrapper's fini closes the inner
 * domain. BN_OK without a change when exec.command is empty. */
BN_NODISCARD bn_err bn__exec_wrap(bn_domain *d, const bn_config *cfg);

/* ---- sequence.c ------------------------------------------------------------------- */

/* The generic `exec` domain (domain.name = exec). */
extern const bn_domain_ops bn_exec_domain;

#endif
