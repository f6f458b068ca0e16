/* External-program evaluation (jobs/exec/): splitting exec.command, finding the program,
 * the environment it gets, one run with its time-out and process-group kill, reading the
 * reward and naming failures, the wrapper domain and the generic `exec` domain.
 *
 * The programs run are /bin/sh, /bin/cat and the test programs of tests/exec/
 * (BN_TEST_EXEC_DIR), with the crash helper built from tests/exec/crash.c
 * (BN_TEST_EXEC_CRASH). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "banyan/clock.h"
#include "banyan/config.h"
#include "banyan/domain.h"
#include "banyan/engine.h"
#include "bn_test.h"
#include "exec/exec.h"

#ifndef BN_TEST_EXEC_DIR
#error "BN_TEST_EXEC_DIR must name tests/exec"
#endif
#ifndef BN_TEST_EXEC_CRASH
#error "BN_TEST_EXEC_CRASH must name the crash helper"
#endif

/* ---- helpers ---------------------------------------------------------------------- */

static char *const *words(const char *command, bn__exec_argv *a) {
  char why[128] = "";
  CU_ASSERT_FATAL(bn__exec_split(command, a, why, sizeof why) == 0);
  return a->argv;
}

/* Run argv (argv[0] an absolute path) with `input`, return the result. */
static bn__exec_result run(char *const *argv, char *const *envp, const char *input, double timeout,
                           size_t max_output) {
  const bn__exec_spec spec = {.path = argv[0],
                              .argv = argv,
                              .envp = envp,
                              .input = input,
                              .input_len = input ? strlen(input) : 0,
                              .timeout = timeout,
                              .max_output = max_output};
  bn__exec_result res;
  bn__exec_run(&spec, &res);
  return res;
}

/* The reason (or "" and the reward) of running `command` with `input`. */
static int outcome(const char *command, const char *input, double timeout, size_t max_output, double *reward,
                   char *why, size_t whylen) {
  bn__exec_argv a = {0};
  words(command, &a);
  const bn__exec_spec spec = {.path = a.argv[0],
                              .argv = a.argv,
                              .input = input,
                              .input_len = input ? strlen(input) : 0,
                              .timeout = timeout,
                              .max_output = max_output};
  bn__exec_result res;
  bn__exec_run(&spec, &res);
  why[0] = '\0';
  int rc = bn__exec_outcome(&res, &spec, a.argv[0], reward, why, whylen);
  bn__exec_result_free(&res);
  bn__exec_argv_free(&a);
  return rc;
}

/* Whether process `pid` is gone (no such process, or a zombie nobody reaped yet). */
static int gone(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  char path[64], stat[512] = "";
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = '\0';
  const char *close_paren = strrchr(stat, ')');
  return close_paren && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

static int gone_within(pid_t pid, double seconds) {
  double until = bn_mtime() + seconds;
  while (!gone(pid)) {
    if (bn_mtime() > until) return 0;
    bn_sleep(0.01);
  }
  return 1;
}

static long read_pid(const char *path) {
  FILE *f = fopen(path, "r");
  long pid = -1;
  if (f) {
    if (fscanf(f, "%ld", &pid) != 1) pid = -1;
    fclose(f);
  }
  return pid;
}

/* A config with every core and built-in domain option declared, loaded from `ini`. */
static bn_config *config(const char *ini) {
  bn_config *cfg = NULL;
  size_t n = 0;
  CU_ASSERT_FATAL(bn_config_create(&cfg) == BN_OK);
  const bn_option *core = bn_config_core_options(&n);
  CU_ASSERT_FATAL(bn_config_declare(cfg, core, n) == BN_OK);
  for (size_t i = 0; bn_domain_builtin(i); i++)
    CU_ASSERT_FATAL(bn_config_declare(cfg, bn_domain_builtin(i)->options, bn_domain_builtin(i)->n_options) ==
                    BN_OK);
  CU_ASSERT_FATAL(bn_config_load_string(cfg, ini, "test.ini") == BN_OK);
  CU_ASSERT_FATAL(bn_config_finalize(cfg, stderr) == BN_OK);
  return cfg;
}

static bn_err open_ini(const char *ini, bn_domain *d) {
  bn_config *cfg = config(ini);
  bn_err e = bn_domain_open_configured(d, cfg);
  bn_config_destroy(&cfg);
  return e;
}

/* ---- argv.c ----------------------------------------------------------------------- */

static void bn__exec_split_should_separate_words_on_blanks(void) {
  bn__exec_argv a = {0};
  words("  prog \t one   two  ", &a);
  CU_ASSERT_EQUAL(a.argc, 3);
  CU_ASSERT_STRING_EQUAL(a.argv[0], "prog");
  CU_ASSERT_STRING_EQUAL(a.argv[1], "one");
  CU_ASSERT_STRING_EQUAL(a.argv[2], "two");
  CU_ASSERT_PTR_NULL(a.argv[3]);
  bn__exec_argv_free(&a);
}

static void bn__exec_split_should_group_quotes_and_escapes_like_a_shell(void) {
  bn__exec_argv a = {0};
  words("prog 'a b' \"c \\\"d\\\" \\\\ \\e\" f\\ g '' x'y'\"z\" '\"' \"'\"", &a);
  CU_ASSERT_EQUAL_FATAL(a.argc, 8);
  CU_ASSERT_STRING_EQUAL(a.argv[1], "a b");
  CU_ASSERT_STRING_EQUAL(a.argv[2], "c \"d\" \\ \\e"); /* only \" and \\ are escapes in "" */
  CU_ASSERT_STRING_EQUAL(a.argv[3], "f g");
  CU_ASSERT_STRING_EQUAL(a.argv[4], "");
  CU_ASSERT_STRING_EQUAL(a.argv[5], "xyz");
  CU_ASSERT_STRING_EQUAL(a.argv[6], "\"");
  CU_ASSERT_STRING_EQUAL(a.argv[7], "'");
  bn__exec_argv_free(&a);
}

static void bn__exec_split_should_leave_shell_syntax_alone(void) {
  bn__exec_argv a = {0};
  words("prog $HOME *.txt ~ a|b > out ; x", &a);
  CU_ASSERT_EQUAL_FATAL(a.argc, 9);
  CU_ASSERT_STRING_EQUAL(a.argv[1], "$HOME");
  CU_ASSERT_STRING_EQUAL(a.argv[2], "*.txt");
  CU_ASSERT_STRING_EQUAL(a.argv[3], "~");
  CU_ASSERT_STRING_EQUAL(a.argv[4], "a|b");
  CU_ASSERT_STRING_EQUAL(a.argv[5], ">");
  CU_ASSERT_STRING_EQUAL(a.argv[7], ";");
  bn__exec_argv_free(&a);
}

static void bn__exec_split_should_refuse_unfinished_commands(void) {
  static const char *const bad[] = {"prog 'open", "prog \"open", "prog \"esc\\\"", "prog \\", "", "   "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bn__exec_argv a = {0};
    char why[128] = "";
    CU_ASSERT(bn__exec_split(bad[i], &a, why, sizeof why) != 0);
    CU_ASSERT(why[0] != '\0');
    CU_ASSERT_PTR_NULL(a.argv);
  }
}

/* ---- resolve.c -------------------------------------------------------------------- */

static void bn__exec_resolve_should_search_path_for_bare_names(void) {
  char *path = NULL, why[256] = "";
  CU_ASSERT_FATAL(bn__exec_resolve("sh", NULL, &path, why, sizeof why) == 0);
  CU_ASSERT(path[0] == '/' && strcmp(path + strlen(path) - 3, "/sh") == 0);
  CU_ASSERT(access(path, X_OK) == 0);
  free(path);
  CU_ASSERT(bn__exec_resolve("no-such-program-anywhere", NULL, &path, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "cannot run no-such-program-anywhere: not found in PATH");
}

static void bn__exec_resolve_should_take_paths_relative_to_the_working_directory(void) {
  char *path = NULL, why[256] = "";
  CU_ASSERT_FATAL(bn__exec_resolve("./ok.sh", BN_TEST_EXEC_DIR, &path, why, sizeof why) == 0);
  CU_ASSERT_STRING_EQUAL(path, BN_TEST_EXEC_DIR "/./ok.sh");
  free(path);
  CU_ASSERT(bn__exec_resolve("./ok.sh", "/", &path, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "cannot run ./ok.sh: No such file or directory");
  CU_ASSERT(bn__exec_resolve("/tmp", NULL, &path, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "cannot run /tmp: Is a directory");
  /* A file without execute permission (the crash helper's source). */
  CU_ASSERT(bn__exec_resolve(BN_TEST_EXEC_DIR "/crash.c", NULL, &path, why, sizeof why) != 0);
  CU_ASSERT(strstr(why, "Permission denied") != NULL);
}

/* ---- environ.c -------------------------------------------------------------------- */

static void bn__exec_environment_should_describe_the_job(void) {
  CU_ASSERT_FATAL(setenv("BANYAN_SAMPLE", "99", 1) == 0); /* inherited ones are replaced */
  CU_ASSERT_FATAL(setenv("EXEC_TEST_INHERITED", "yes", 1) == 0);
  bn__exec_argv a = {0};
  words("/bin/sh -c 'echo \"$BANYAN_JOB_ID|$BANYAN_SEED|${BANYAN_SAMPLE-none}|$BANYAN_ATTEMPT|"
        "$BANYAN_STATE|$BANYAN_DOMAIN|$EXEC_TEST_INHERITED\"'",
        &a);
  bn_eval_request req = {.job_id = 42, .seed = 18446744073709551615u, .sample = BN_SAMPLE_NONE, .attempt = 2};
  char **envp = bn__exec_environment(&req, "*AB::ABa", "circuit");
  CU_ASSERT_FATAL(envp != NULL);
  bn__exec_result res = run(a.argv, envp, NULL, 10, 4096);
  CU_ASSERT_EQUAL(res.end, BN__EXEC_EXITED);
  CU_ASSERT_STRING_EQUAL(res.output, "42|18446744073709551615|none|2|*AB::ABa|circuit|yes\n");
  bn__exec_result_free(&res);
  bn__exec_environment_free(envp);
  req.sample = 3;
  envp = bn__exec_environment(&req, "", "exec");
  res = run(a.argv, envp, NULL, 10, 4096);
  CU_ASSERT_STRING_EQUAL(res.output, "42|18446744073709551615|3|2||exec|yes\n");
  bn__exec_result_free(&res);
  bn__exec_environment_free(envp);
  bn__exec_argv_free(&a);
  unsetenv("BANYAN_SAMPLE");
  unsetenv("EXEC_TEST_INHERITED");
}

/* ---- spawn.c ---------------------------------------------------------------------- */

static void bn__exec_run_should_pass_stdin_and_collect_stdout(void) {
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  CU_ASSERT(outcome(BN_TEST_EXEC_DIR "/ok.sh", "ACGTACGTAC\n", 10, 4096, &reward, why, sizeof why) == 0);
  CU_ASSERT_DOUBLE_EQUAL(reward, 0.10, 1e-12);
  CU_ASSERT_STRING_EQUAL(why, "");
}

static void bn__exec_run_should_not_deadlock_on_large_input_and_output(void) {
  /* 2 MB through cat: far more than a pipe holds, in both directions at once. */
  const size_t lines = 500000;
  char *input = malloc(lines * 4 + 1);
  CU_ASSERT_FATAL(input != NULL);
  for (size_t i = 0; i < lines; i++) memcpy(input + 4 * i, "0.5\n", 4);
  input[lines * 4] = '\0';
  bn__exec_argv a = {0};
  bn__exec_result res = run(words("/bin/cat", &a), NULL, input, 30, lines * 4);
  CU_ASSERT_EQUAL(res.end, BN__EXEC_EXITED);
  CU_ASSERT_EQUAL(res.code, 0);
  CU_ASSERT_EQUAL(res.output_len, lines * 4);
  CU_ASSERT(res.output && memcmp(res.output, input, lines * 4) == 0);
  bn__exec_result_free(&res);
  bn__exec_argv_free(&a);
  free(input);
}

static void bn__exec_run_should_survive_a_program_that_ignores_its_input(void) {
  /* The program exits without reading: writing the rest fails with EPIPE, and SIGPIPE must
   * not reach (and kill) this process. */
  const size_t n = 4 << 20;
  char *input = malloc(n + 1);
  CU_ASSERT_FATAL(input != NULL);
  memset(input, 'x', n);
  input[n] = '\0';
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  CU_ASSERT(outcome("/bin/sh -c 'echo 7'", input, 10, 4096, &reward, why, sizeof why) == 0);
  CU_ASSERT_DOUBLE_EQUAL(reward, 7.0, 0);
  free(input);
}

static void bn__exec_run_should_report_the_exit_status(void) {
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  CU_ASSERT(outcome("/bin/sh -c 'echo 1.0; exit 3'", "", 10, 4096, &reward, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "exit status: 3");
}

static void bn__exec_run_should_report_a_crash_with_its_signal(void) {
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  CU_ASSERT(outcome(BN_TEST_EXEC_CRASH, "state\n", 10, 4096, &reward, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "signal: 11 (SIGSEGV)");
}

static void bn__exec_run_should_kill_the_process_group_on_timeout(void) {
  char pidfile[] = "/tmp/bn_exec_test_XXXXXX";
  int fd = mkstemp(pidfile);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  char *envp[] = {NULL, NULL};
  char var[128];
  snprintf(var, sizeof var, "EXEC_TEST_PIDFILE=%s", pidfile);
  envp[0] = var;
  bn__exec_argv a = {0};
  double t0 = bn_mtime();
  bn__exec_result res = run(words(BN_TEST_EXEC_DIR "/hang.sh", &a), envp, "state\n", 0.5, 4096);
  double took = bn_mtime() - t0;
  CU_ASSERT_EQUAL(res.end, BN__EXEC_TIMEOUT);
  CU_ASSERT(took >= 0.5 && took < 2.0);
  CU_ASSERT(res.seconds >= 0.5);
  const bn__exec_spec spec = {.timeout = 0.5};
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  CU_ASSERT(bn__exec_outcome(&res, &spec, "hang.sh", &reward, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "timeout: after 0.5 s");
  long grandchild = read_pid(pidfile);
  CU_ASSERT_FATAL(grandchild > 1);
  CU_ASSERT(gone_within((pid_t)grandchild, 5.0)); /* the background sleep died too */
  bn__exec_result_free(&res);
  bn__exec_argv_free(&a);
  unlink(pidfile);
}

static void bn__exec_run_should_not_wait_for_background_processes_left_behind(void) {
  /* The sleep keeps stdout open; the run still ends when the program exits, and the sleep
   * is killed with the rest of the group. */
  bn__exec_argv a = {0};
  double t0 = bn_mtime();
  bn__exec_result res = run(words("/bin/sh -c 'sleep 1000 & echo $!; echo 0.75'", &a), NULL, "", 30, 4096);
  CU_ASSERT(bn_mtime() - t0 < 5.0);
  CU_ASSERT_EQUAL(res.end, BN__EXEC_EXITED);
  CU_ASSERT_EQUAL(res.code, 0);
  long pid = res.output ? strtol(res.output, NULL, 10) : -1;
  CU_ASSERT_FATAL(pid > 1);
  CU_ASSERT(gone_within((pid_t)pid, 5.0));
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  CU_ASSERT(bn__exec_parse_reward(res.output, res.output_len, &reward, why, sizeof why) == 0);
  CU_ASSERT_DOUBLE_EQUAL(reward, 0.75, 0);
  bn__exec_result_free(&res);
  bn__exec_argv_free(&a);
}

/* A daemon (double fork into a session of its own, tests/exec/daemon.sh) escapes the group
 * kill; it is ended and reaped before the run returns. */
static void bn__exec_run_should_end_a_daemon_that_left_the_process_group(void) {
  char pidfile[] = "/tmp/bn_exec_test_XXXXXX";
  int fd = mkstemp(pidfile);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  char var[128];
  snprintf(var, sizeof var, "EXEC_TEST_PIDFILE=%s", pidfile);
  char *envp[] = {var, "BANYAN_JOB_ID=7", NULL};
  bn__exec_argv a = {0};
  const double t0 = bn_mtime();
  bn__exec_result res = run(words(BN_TEST_EXEC_DIR "/daemon.sh", &a), envp, "state\n", 30, 4096);
  CU_ASSERT(bn_mtime() - t0 < 5.0);
  CU_ASSERT_EQUAL(res.end, BN__EXEC_EXITED);
  CU_ASSERT_EQUAL(res.code, 0);
  const long daemon = read_pid(pidfile);
  CU_ASSERT_FATAL(daemon > 1);
  CU_ASSERT(gone((pid_t)daemon)); /* at once: killed and reaped by the run */
  bn__exec_result_free(&res);
  /* Without a BANYAN_JOB_ID in its environment too. */
  envp[1] = NULL;
  res = run(a.argv, envp, "state\n", 30, 4096);
  CU_ASSERT_EQUAL(res.code, 0);
  const long second = read_pid(pidfile);
  CU_ASSERT(second > 1 && second != daemon && gone((pid_t)second));
  bn__exec_result_free(&res);
  bn__exec_argv_free(&a);
  unlink(pidfile);
}

typedef struct thread_run {
  const char *command;
  char *envp[4];
  bn__exec_result res;
} thread_run;

static void *run_in_thread(void *arg) {
  thread_run *t = arg;
  bn__exec_argv a = {0};
  t->res = run(words(t->command, &a), t->envp, "", 30, 4096);
  bn__exec_argv_free(&a);
  return NULL;
}

/* While one run goes on, a run that ends beside it (in another thread) leaves its daemon
 * alone: the daemon carries the running program's BANYAN_JOB_ID. */
static void bn__exec_run_should_spare_the_daemons_of_a_run_still_going_on(void) {
  char pidfile[] = "/tmp/bn_exec_test_XXXXXX";
  int fd = mkstemp(pidfile);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  char var[128];
  snprintf(var, sizeof var, "EXEC_TEST_PIDFILE=%s", pidfile);
  thread_run keeper = {.command = BN_TEST_EXEC_DIR "/daemon.sh",
                       .envp = {var, "EXEC_TEST_CHECK_DAEMON=1.2", "BANYAN_JOB_ID=1", NULL}};
  /* The short run starts before the daemon does, so the daemon's process id is among
   * those its sweep looks at, and it ends while the daemon's program still runs. */
  thread_run other = {.command = "/bin/sh -c 'sleep 0.6; echo 0'", .envp = {"BANYAN_JOB_ID=2", NULL}};
  pthread_t t1, t2;
  CU_ASSERT_FATAL(pthread_create(&t1, NULL, run_in_thread, &other) == 0);
  bn_sleep(0.2);
  CU_ASSERT_FATAL(pthread_create(&t2, NULL, run_in_thread, &keeper) == 0);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  CU_ASSERT_EQUAL(other.res.code, 0);
  CU_ASSERT_EQUAL(keeper.res.end, BN__EXEC_EXITED);
  CU_ASSERT_STRING_EQUAL(keeper.res.output ? keeper.res.output : "", "1\n"); /* alive until its own run ended */
  const long daemon = read_pid(pidfile);
  CU_ASSERT(daemon > 1 && gone((pid_t)daemon)); /* and ended with it */
  bn__exec_result_free(&other.res);
  bn__exec_result_free(&keeper.res);
  unlink(pidfile);
}

static void bn__exec_run_should_stop_a_program_that_writes_too_much(void) {
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  double t0 = bn_mtime();
  CU_ASSERT(outcome("/usr/bin/yes 1", "", 30, 1000, &reward, why, sizeof why) != 0);
  CU_ASSERT(bn_mtime() - t0 < 5.0);
  CU_ASSERT_STRING_EQUAL(why, "output too long: over 1000 bytes");
}

static void bn__exec_run_should_report_a_program_it_cannot_start(void) {
  double reward = 0;
  char why[BN_JOB_REASON_LEN];
  CU_ASSERT(outcome("/no/prog", "", 10, 4096, &reward, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "cannot run: /no/prog: No such file or directory");
}

static void bn__exec_run_should_start_the_program_in_its_working_directory(void) {
  bn__exec_argv a = {0};
  words("/bin/sh -c pwd", &a);
  const bn__exec_spec spec = {.path = a.argv[0], .argv = a.argv, .workdir = "/", .max_output = 100};
  bn__exec_result res;
  bn__exec_run(&spec, &res);
  CU_ASSERT_STRING_EQUAL(res.output, "/\n");
  bn__exec_result_free(&res);
  bn__exec_argv_free(&a);
}

/* ---- reward.c --------------------------------------------------------------------- */

static void bn__exec_parse_reward_should_read_the_last_non_empty_line(void) {
  static const struct {
    const char *out;
    double want;
  } good[] = {{"1.5\n", 1.5},        {"0.25", 0.25},          {"diag 1\ndiag 2\n  2e-3 \t\n\n \n", 0.002},
              {"-7\r\n", -7.0},      {"3\n\n\n", 3.0},        {"garbage\n42\n", 42.0}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    double r = -1;
    char why[BN_JOB_REASON_LEN] = "";
    CU_ASSERT(bn__exec_parse_reward(good[i].out, strlen(good[i].out), &r, why, sizeof why) == 0);
    CU_ASSERT_DOUBLE_EQUAL(r, good[i].want, 1e-15);
  }
}

static void bn__exec_parse_reward_should_name_what_is_wrong(void) {
  static const struct {
    const char *out, *why;
  } bad[] = {{"", "no output"},
             {" \n\t\n", "no output"},
             {"0.5\ngarbage\n", "unparsable output: \"garbage\""},
             {"1.5 points\n", "unparsable output: \"1.5 points\""},
             {"1.5.2", "unparsable output: \"1.5.2\""},
             {"nan\n", "non-finite reward: \"nan\""},
             {"-inf\n", "non-finite reward: \"-inf\""},
             {"1e999\n", "non-finite reward: \"1e999\""}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    double r = -1;
    char why[BN_JOB_REASON_LEN] = "";
    CU_ASSERT(bn__exec_parse_reward(bad[i].out, strlen(bad[i].out), &r, why, sizeof why) != 0);
    CU_ASSERT_STRING_EQUAL(why, bad[i].why);
    CU_ASSERT_DOUBLE_EQUAL(r, -1, 0);
  }
}

static void bn__exec_outcome_should_keep_reasons_within_a_results_row(void) {
  char line[400];
  memset(line, 'g', sizeof line - 1);
  line[sizeof line - 1] = '\0';
  double r;
  char why[256];
  /* One long word: cut where the detail ends, inside the quotes, with an ellipsis. */
  CU_ASSERT(bn__exec_parse_reward(line, strlen(line), &r, why, sizeof why) != 0);
  CU_ASSERT_EQUAL(strlen(why), strlen("unparsable output: ") + BN_FAILURE_DETAIL_LEN - 1);
  CU_ASSERT(strncmp(why, "unparsable output: \"ggg", 23) == 0);
  CU_ASSERT(strcmp(why + strlen(why) - 5, "g\xe2\x80\xa6\"") == 0);
  /* Words: cut after one. */
  for (int i = 0; i < 79; i++) memcpy(line + 5 * i, "word ", 5); /* 395 bytes, then the NUL */
  line[395] = '\0';
  CU_ASSERT(bn__exec_parse_reward(line, strlen(line), &r, why, sizeof why) != 0);
  CU_ASSERT(strlen(why) < BN_JOB_REASON_LEN);
  CU_ASSERT(strcmp(why + strlen(why) - 9, " word\xe2\x80\xa6\"") == 0);
  /* Unprintable bytes are shown as '?'. */
  CU_ASSERT(bn__exec_parse_reward("a\x01" "b", 3, &r, why, sizeof why) != 0);
  CU_ASSERT_STRING_EQUAL(why, "unparsable output: \"a?b\"");
  /* However long the program's name and the buffer, a reason fits a results row. */
  char name[300];
  memset(name, 'p', sizeof name - 1);
  name[0] = '/';
  name[sizeof name - 1] = '\0';
  bn__exec_result res = {.end = BN__EXEC_CANNOT_RUN, .code = ENOENT};
  const bn__exec_spec spec = {.timeout = 1};
  CU_ASSERT(bn__exec_outcome(&res, &spec, name, &r, why, sizeof why) != 0);
  CU_ASSERT(strlen(why) < BN_JOB_REASON_LEN);
  CU_ASSERT(strncmp(why, "cannot run: \xe2\x80\xa6ppp", 18) == 0); /* the path gives way ... */
  const char *error = ": No such file or directory";        /* ... to the error */
  CU_ASSERT(strlen(why) > strlen(error) && strcmp(why + strlen(why) - strlen(error), error) == 0);
  /* A path with directories is shortened from a directory on. */
  char path[400] = ""; /* 30 directories of 10 bytes, "/sim" and the NUL */
  for (int i = 0; i < 30; i++) strcat(path, "/directory");
  strcat(path, "/sim");
  res.code = ENOEXEC;
  CU_ASSERT(bn__exec_outcome(&res, &spec, path, &r, why, sizeof why) != 0);
  CU_ASSERT(strncmp(why, "cannot run: \xe2\x80\xa6/directory/", 26) == 0);
  CU_ASSERT(strstr(why, "/directory/sim: Exec format error") != NULL);
}

/* ---- wrap.c and sequence.c -------------------------------------------------------- */

static void bn__exec_wrap_should_replace_only_evaluate(void) {
  bn_domain plain = {0}, wrapped = {0};
  CU_ASSERT_FATAL(open_ini("[domain]\nname = synthetic\n[domain.synthetic]\ndepth = 3\nbranching = 4\n", &plain) ==
                  BN_OK);
  CU_ASSERT_FATAL(open_ini("[domain]\nname = synthetic\n[domain.synthetic]\ndepth = 3\nbranching = 4\n"
                           "[exec]\ncommand = " BN_TEST_EXEC_DIR "/ok.sh\ntimeout = 10\n",
                           &wrapped) == BN_OK);
  CU_ASSERT_STRING_EQUAL(wrapped.ops->name, "synthetic"); /* checkpoints and resume match */
  CU_ASSERT(wrapped.ops != plain.ops);
  CU_ASSERT(wrapped.ops->options == plain.ops->options);
  CU_ASSERT(wrapped.info.state_size == plain.info.state_size && wrapped.info.max_actions == plain.info.max_actions &&
            wrapped.info.max_depth == plain.info.max_depth);
  unsigned char a[64], b[64];
  wrapped.ops->root(wrapped.ctx, a);
  plain.ops->root(plain.ctx, b);
  CU_ASSERT(memcmp(a, b, plain.info.state_size) == 0);
  bn_action acts[8];
  CU_ASSERT_EQUAL(wrapped.ops->actions(wrapped.ctx, a, acts, 8), 4);
  for (int i = 0; i < 3; i++) {
    wrapped.ops->apply(wrapped.ctx, a, 2, b);
    memcpy(a, b, plain.info.state_size);
  }
  CU_ASSERT(wrapped.ops->is_terminal(wrapped.ctx, a));
  char text[64], again[64];
  int len = wrapped.ops->describe(wrapped.ctx, a, text, sizeof text);
  plain.ops->describe(plain.ctx, a, again, sizeof again);
  CU_ASSERT_STRING_EQUAL(text, again);
  CU_ASSERT_EQUAL(wrapped.ops->parse(wrapped.ctx, text, b), 0);
  CU_ASSERT(memcmp(a, b, plain.info.state_size) == 0);
  /* evaluate runs ok.sh: the reward is the length of the text / 100. */
  bn_eval_request req = {.job_id = 5, .seed = 9, .sample = 0, .attempt = 1};
  double reward = -1;
  char why[BN_JOB_REASON_LEN] = "";
  CU_ASSERT(wrapped.ops->evaluate(wrapped.ctx, a, &req, &reward, why, sizeof why) == 0);
  CU_ASSERT_DOUBLE_EQUAL(reward, len / 100.0, 1e-12);
  bn_domain_close(&wrapped);
  bn_domain_close(&plain);
}

static void bn__exec_wrap_should_refuse_a_program_it_cannot_run(void) {
  static const char *const bad[] = {"[exec]\ncommand = ./no-such-program\n", "[exec]\ncommand = prog 'open\n",
                                    "[exec]\ncommand = no-such-program-in-path\n",
                                    "[exec]\ncommand = sh\nworkdir = /no/such/dir\n",
                                    "[exec]\ncommand = " BN_TEST_EXEC_DIR "/crash.c\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char ini[512];
    snprintf(ini, sizeof ini, "[domain]\nname = synthetic\n%s", bad[i]);
    bn_domain d = {0};
    CU_ASSERT(open_ini(ini, &d) == BN_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(d.ops);
  }
}

static void bn_exec_domain_should_build_strings_over_its_alphabet(void) {
  bn_domain d = {0};
  CU_ASSERT_FATAL(open_ini("[domain]\nname = exec\n[domain.exec]\nlength = 3\nalphabet = AB\n"
                           "[exec]\ncommand = " BN_TEST_EXEC_DIR "/ok.sh\n",
                           &d) == BN_OK);
  CU_ASSERT_STRING_EQUAL(d.ops->name, "exec");
  CU_ASSERT(d.info.state_size == 3 && d.info.max_actions == 2 && d.info.max_depth == 3);
  char s[3], t[3], text[16];
  d.ops->root(d.ctx, s);
  CU_ASSERT_EQUAL(d.ops->describe(d.ctx, s, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text, "");
  CU_ASSERT(!d.ops->is_terminal(d.ctx, s));
  bn_action acts[4];
  CU_ASSERT_EQUAL(d.ops->actions(d.ctx, s, acts, 4), 2);
  d.ops->apply(d.ctx, s, 1, t);
  d.ops->apply(d.ctx, t, 0, s);
  d.ops->apply(d.ctx, s, 1, t);
  CU_ASSERT(d.ops->is_terminal(d.ctx, t));
  CU_ASSERT_EQUAL(d.ops->actions(d.ctx, t, acts, 4), 0);
  CU_ASSERT_EQUAL(d.ops->describe(d.ctx, t, text, sizeof text), 3);
  CU_ASSERT_STRING_EQUAL(text, "BAB");
  CU_ASSERT_EQUAL(d.ops->parse(d.ctx, "BAB", s), 0);
  CU_ASSERT(memcmp(s, t, 3) == 0);
  CU_ASSERT_EQUAL(d.ops->parse(d.ctx, "A", s), 0);
  CU_ASSERT(!d.ops->is_terminal(d.ctx, s));
  CU_ASSERT(d.ops->parse(d.ctx, "ABC", s) != 0);  /* C is not a symbol */
  CU_ASSERT(d.ops->parse(d.ctx, "ABAB", s) != 0); /* too long */
  bn_eval_request req = {.job_id = 1, .seed = 2, .sample = BN_SAMPLE_NONE, .attempt = 1};
  double reward = -1;
  char why[BN_JOB_REASON_LEN] = "";
  CU_ASSERT(d.ops->evaluate(d.ctx, t, &req, &reward, why, sizeof why) == 0);
  CU_ASSERT_DOUBLE_EQUAL(reward, 0.03, 1e-12);
  bn_domain_close(&d);
}

static void bn_exec_domain_should_need_a_program_and_a_clean_alphabet(void) {
  bn_domain d = {0};
  CU_ASSERT(open_ini("[domain]\nname = exec\n", &d) != BN_OK);
  CU_ASSERT(open_ini("[domain]\nname = exec\n[domain.exec]\nalphabet = ABA\n[exec]\ncommand = sh\n", &d) != BN_OK);
  CU_ASSERT(open_ini("[domain]\nname = exec\n[domain.exec]\nalphabet = \"A B\"\n[exec]\ncommand = sh\n", &d) != BN_OK);
  CU_ASSERT_PTR_NULL(d.ops);
}

BN_TEST_MAIN("exec", BN_TEST(bn__exec_split_should_separate_words_on_blanks),
             BN_TEST(bn__exec_split_should_group_quotes_and_escapes_like_a_shell),
             BN_TEST(bn__exec_split_should_leave_shell_syntax_alone),
             BN_TEST(bn__exec_split_should_refuse_unfinished_commands),
             BN_TEST(bn__exec_resolve_should_search_path_for_bare_names),
             BN_TEST(bn__exec_resolve_should_take_paths_relative_to_the_working_directory),
             BN_TEST(bn__exec_environment_should_describe_the_job),
             BN_TEST(bn__exec_run_should_pass_stdin_and_collect_stdout),
             BN_TEST(bn__exec_run_should_not_deadlock_on_large_input_and_output),
             BN_TEST(bn__exec_run_should_survive_a_program_that_ignores_its_input),
             BN_TEST(bn__exec_run_should_report_the_exit_status),
             BN_TEST(bn__exec_run_should_report_a_crash_with_its_signal),
             BN_TEST(bn__exec_run_should_kill_the_process_group_on_timeout),
             BN_TEST(bn__exec_run_should_not_wait_for_background_processes_left_behind),
             BN_TEST(bn__exec_run_should_end_a_daemon_that_left_the_process_group),
             BN_TEST(bn__exec_run_should_spare_the_daemons_of_a_run_still_going_on),
             BN_TEST(bn__exec_run_should_stop_a_program_that_writes_too_much),
             BN_TEST(bn__exec_run_should_report_a_program_it_cannot_start),
             BN_TEST(bn__exec_run_should_start_the_program_in_its_working_directory),
             BN_TEST(bn__exec_parse_reward_should_read_the_last_non_empty_line),
             BN_TEST(bn__exec_parse_reward_should_name_what_is_wrong),
             BN_TEST(bn__exec_outcome_should_keep_reasons_within_a_results_row),
             BN_TEST(bn__exec_wrap_should_replace_only_evaluate),
             BN_TEST(bn__exec_wrap_should_refuse_a_program_it_cannot_run),
             BN_TEST(bn_exec_domain_should_build_strings_over_its_alphabet),
             BN_TEST(bn_exec_domain_should_need_a_program_and_a_clean_alphabet))
