/* Configuration: the core option table, INI files and strings, --set overrides, every kind
 * of problem reported as "file:line: key: what", the effective text round trip, getters. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banyan/config.h"
#include "banyan/log.h"
#include "bn_test.h"

/* A domain-like table with the types the core table lacks, in a two-level section. */
static const bn_option test_options[] = {
    {"domain.test.flag", BN_OPT_BOOL, "false", 0, 0, NULL, "a switch"},
    {"domain.test.root", BN_OPT_STRING, "ABC::", 0, 0, NULL, "a string"},
    {"domain.test.ratio", BN_OPT_REAL, "0.1", -1, 1, NULL, "a real with a negative bound"},
};

static bn_config *new_config(void) {
  bn_config *cfg = NULL;
  size_t n = 0;
  const bn_option *core = bn_config_core_options(&n);
  CU_ASSERT_FATAL(bn_config_create(&cfg) == BN_OK);
  CU_ASSERT_FATAL(bn_config_declare(cfg, core, n) == BN_OK);
  CU_ASSERT_FATAL(bn_config_declare(cfg, test_options, 3) == BN_OK);
  return cfg;
}

/* Finalize, returning what was printed to `errors` (caller frees). */
static char *finalize_capture(bn_config *cfg, bn_err *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  CU_ASSERT_FATAL(out != NULL);
  *err = bn_config_finalize(cfg, out);
  fclose(out);
  return text;
}

/* Load `ini` as "t.ini", apply the NULL-terminated `sets`, finalize: the problems printed. */
static char *problems_of(const char *ini, const char *const *sets, bn_err *err) {
  bn_config *cfg = new_config();
  if (ini) CU_ASSERT(bn_config_load_string(cfg, ini, "t.ini") == BN_OK);
  for (; sets && *sets; sets++) CU_ASSERT(bn_config_set(cfg, *sets) == BN_OK);
  char *text = finalize_capture(cfg, err);
  bn_config_destroy(&cfg);
  return text;
}

#define ASSERT_TEXT(actual, expected)                                                      \
  do {                                                                                     \
    const char *a_ = (actual), *e_ = (expected);                                           \
    if (!a_ || strcmp(a_, e_))                                                             \
      fprintf(stderr, "\n--- expected:\n%s--- got:\n%s", e_, a_ ? a_ : "(null)\n");        \
    CU_ASSERT_STRING_EQUAL(a_ ? a_ : "", e_);                                               \
  } while (0)

/* The problems printed for `ini` and `sets` are exactly `expected`, and finalize fails. */
static void expect_problems(const char *ini, const char *const *sets, const char *expected) {
  bn_err err = BN_OK;
  char *text = problems_of(ini, sets, &err);
  ASSERT_TEXT(text, expected);
  CU_ASSERT_EQUAL(err, BN_ERR_CONFIG);
  free(text);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs(text, f);
  fclose(f);
}

static void temp_path(char *buf, size_t n, const char *tag) {
  snprintf(buf, n, "/tmp/banyan_test_config_%ld_%s.ini", (long)getpid(), tag);
}

static void bn_config_core_options_should_list_the_documented_options(void) {
  size_t n = 0;
  const bn_option *o = bn_config_core_options(&n);
  static const char *const names[] = {
      "search.iterations", "search.max_seconds", "search.threads", "search.c",
      "search.selection", "search.virtual_loss", "search.max_in_flight", "search.exhaust_after",
      "search.seed", "search.replicates", "search.max_nodes", "search.max_edges", "search.progress_seconds",
      "search.top", "search.best_min_visits", "search.task_grain", "search.check",
      "search.deterministic", "engine.depth",
      "engine.batch", "engine.max_batch", "engine.message_overhead", "engine.retries", "engine.idle_sleep_max",
      "engine.heartbeat_seconds", "engine.lost_after", "engine.pools", "engine.pool_rebalance",
      "engine.pool_rebalance_seconds", "checkpoint.enabled", "checkpoint.file", "checkpoint.every_seconds",
      "checkpoint.every_evaluations", "checkpoint.max_time_share", "checkpoint.timeline_seconds",
      "checkpoint.buffer_mb", "checkpoint.compression", "checkpoint.drain_seconds",
      "domain.name", "domain.plugin", "exec.command", "exec.timeout", "exec.max_output",
      "exec.workdir", "log.level"};
  CU_ASSERT_EQUAL_FATAL(n, sizeof names / sizeof names[0]);
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_STRING_EQUAL(o[i].name, names[i]);
    CU_ASSERT(o[i].help && *o[i].help);
  }
  CU_ASSERT_EQUAL(o[0].type, BN_OPT_INT);
  CU_ASSERT_DOUBLE_EQUAL(o[0].max, 1e15, 0);
  CU_ASSERT_STRING_EQUAL(o[3].def, "1.4142135623730951");
  CU_ASSERT_STRING_EQUAL(o[4].choices, "virtual_loss|wu_uct");
  CU_ASSERT_DOUBLE_EQUAL(o[8].max, (double)INT64_MAX, 0);
  CU_ASSERT_STRING_EQUAL(o[n - 1].choices, "debug|info|warning|error");
}

static void bn_config_finalize_should_give_defaults_when_nothing_loaded(void) {
  bn_config *cfg = new_config();
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  CU_ASSERT_EQUAL(err, BN_OK);
  ASSERT_TEXT(problems, "");
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.iterations"), 10000);
  CU_ASSERT_EQUAL(bn_config_real(cfg, "search.max_seconds"), 0.0);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.threads"), 1);
  CU_ASSERT_EQUAL(bn_config_real(cfg, "search.c"), 1.4142135623730951);
  CU_ASSERT_EQUAL(bn_config_enum(cfg, "search.selection"), 1); /* wu_uct */
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.seed"), 1);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.max_nodes"), 16777216);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.task_grain"), 16);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "engine.max_batch"), 256);
  CU_ASSERT_EQUAL(bn_config_real(cfg, "engine.message_overhead"), 2e-5);
  CU_ASSERT_EQUAL(bn_config_real(cfg, "engine.idle_sleep_max"), 0.001);
  CU_ASSERT_STRING_EQUAL(bn_config_string(cfg, "domain.name"), "circuit");
  CU_ASSERT_EQUAL(bn_config_enum(cfg, "log.level"), 1);
  CU_ASSERT_EQUAL(bn_config_bool(cfg, "domain.test.flag"), false);
  CU_ASSERT_STRING_EQUAL(bn_config_string(cfg, "domain.test.root"), "ABC::");
  CU_ASSERT_PTR_NULL(bn_config_raw(cfg, "search.threads"));
  free(problems);
  bn_config_destroy(&cfg);
  CU_ASSERT_PTR_NULL(cfg);
  bn_config_destroy(&cfg);
  bn_config_destroy(NULL);
}

static void bn_config_load_file_should_read_values_sections_and_comments(void) {
  char path[128];
  temp_path(path, sizeof path, "values");
  write_file(path, "; a comment\n"
                   "# another comment\n"
                   "\n"
                   "[search]\n"
                   "iterations = 1e6 ; inline comment\n"
                   "  threads: 4\n"
                   "c=0.5\n"
                   "selection = virtual_loss\n"
                   "[ domain.test ]   ; the domain's own section\n"
                   "flag = yes\n"
                   "root = AB;C::\n"
                   "ratio = -0.25\n"
                   "[log]\n"
                   "level = error\n");
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, path), BN_OK);
  CU_ASSERT_STRING_EQUAL(bn_config_raw(cfg, "search.iterations"), "1e6");
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  ASSERT_TEXT(problems, "");
  CU_ASSERT_EQUAL_FATAL(err, BN_OK);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.iterations"), 1000000);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.threads"), 4);
  CU_ASSERT_EQUAL(bn_config_real(cfg, "search.c"), 0.5);
  CU_ASSERT_EQUAL(bn_config_enum(cfg, "search.selection"), 0); /* not the default */
  CU_ASSERT_EQUAL(bn_config_bool(cfg, "domain.test.flag"), true);
  CU_ASSERT_STRING_EQUAL(bn_config_string(cfg, "domain.test.root"), "AB;C::");
  CU_ASSERT_EQUAL(bn_config_real(cfg, "domain.test.ratio"), -0.25);
  CU_ASSERT_EQUAL(bn_config_enum(cfg, "log.level"), 3);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "engine.depth"), 2); /* untouched: default */
  free(problems);
  bn_config_destroy(&cfg);
  unlink(path);
}

static void bn_config_load_string_should_accept_crlf_bom_and_a_last_line_without_newline(void) {
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_load_string(cfg, "\xEF\xBB\xBF[search]\r\ntop = 3\r\n\r\nseed = 7",
                                        "crlf"),
                  BN_OK);
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  ASSERT_TEXT(problems, "");
  CU_ASSERT_EQUAL_FATAL(err, BN_OK);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.top"), 3);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.seed"), 7);
  free(problems);
  bn_config_destroy(&cfg);
}

static void bn_config_where_should_name_the_source_of_each_value(void) {
  char path[128], where[256], expect[300];
  temp_path(path, sizeof path, "where");
  write_file(path, "[search]\n; a comment\nthreads = 4\ntop = 2\n");
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, path), BN_OK);
  CU_ASSERT_EQUAL(bn_config_set(cfg, "search.top=6"), BN_OK);
  bn_err err = BN_OK;
  free(finalize_capture(cfg, &err));
  CU_ASSERT_EQUAL_FATAL(err, BN_OK);
  bn_config_where(cfg, "search.threads", where, sizeof where);
  snprintf(expect, sizeof expect, "%s:3", path);
  CU_ASSERT_STRING_EQUAL(where, expect);
  bn_config_where(cfg, "search.top", where, sizeof where);
  CU_ASSERT_STRING_EQUAL(where, "--set");
  bn_config_where(cfg, "search.c", where, sizeof where);
  CU_ASSERT_STRING_EQUAL(where, "(default)");
  bn_config_destroy(&cfg);
  remove(path);
}

static void bn_config_set_should_override_a_file_whatever_the_order(void) {
  char path[128];
  temp_path(path, sizeof path, "override");
  write_file(path, "[search]\nthreads = 4\ntop = 2\n[domain.test]\nroot = A::\n");
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_set(cfg, "search.threads=8"), BN_OK); /* before the file */
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, path), BN_OK);
  CU_ASSERT_EQUAL(bn_config_set(cfg, " search.top = 5 "), BN_OK);
  CU_ASSERT_EQUAL(bn_config_set(cfg, "search.top=6"), BN_OK); /* the last --set wins */
  CU_ASSERT_EQUAL(bn_config_set(cfg, "domain.test.root=B C ; not a comment here"), BN_OK);
  CU_ASSERT_STRING_EQUAL(bn_config_raw(cfg, "search.threads"), "8");
  CU_ASSERT_STRING_EQUAL(bn_config_raw(cfg, "search.top"), "6");
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  ASSERT_TEXT(problems, "--set: domain.test.root: \"B C ; not a comment here\" has a blank "
                        "before ';', which would read back as a comment\n");
  CU_ASSERT_EQUAL(err, BN_ERR_CONFIG);
  free(problems);
  bn_config_destroy(&cfg);

  cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_set(cfg, "search.threads=8"), BN_OK);
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, path), BN_OK);
  CU_ASSERT_EQUAL(bn_config_set(cfg, "search.top=6"), BN_OK);
  CU_ASSERT_EQUAL(bn_config_set(cfg, "domain.test.root=B C"), BN_OK);
  problems = finalize_capture(cfg, &err);
  ASSERT_TEXT(problems, "");
  CU_ASSERT_EQUAL_FATAL(err, BN_OK);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.threads"), 8);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.top"), 6);
  CU_ASSERT_STRING_EQUAL(bn_config_string(cfg, "domain.test.root"), "B C");
  free(problems);
  bn_config_destroy(&cfg);
  unlink(path);
}

static void bn_config_load_string_should_let_a_later_source_override_an_earlier_one(void) {
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_load_string(cfg, "[search]\ntop = 2\nseed = 3\n", "a.ini"), BN_OK);
  CU_ASSERT_EQUAL(bn_config_load_string(cfg, "[search]\ntop = 4\n", "b.ini"), BN_OK);
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  CU_ASSERT_EQUAL_FATAL(err, BN_OK);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.top"), 4);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.seed"), 3);
  free(problems);
  bn_config_destroy(&cfg);
}

static void bn_config_finalize_should_report_the_file_name_and_line(void) {
  char path[128], expected[256];
  temp_path(path, sizeof path, "where");
  write_file(path, "[search]\n; comment\n\nthreads = 0\n");
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, path), BN_OK);
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  snprintf(expected, sizeof expected, "%s:4: search.threads: 0 is below the minimum 1\n", path);
  ASSERT_TEXT(problems, expected);
  CU_ASSERT_EQUAL(err, BN_ERR_CONFIG);
  free(problems);
  bn_config_destroy(&cfg);
  unlink(path);
}

static void bn_config_finalize_should_report_an_unknown_key_with_a_hint(void) {
  expect_problems("[search]\nfoo = 1\nthraeds = 2\n[engine]\nthreads = 3\n[nowhere]\nzzz = 1\n",
                  NULL,
                  "t.ini:2: search.foo: unknown option (did you mean search.top?)\n"
                  "t.ini:3: search.thraeds: unknown option (did you mean search.threads?)\n"
                  "t.ini:5: engine.threads: unknown option (did you mean search.threads?)\n"
                  "t.ini:7: nowhere.zzz: unknown option\n");
}

static void bn_config_finalize_should_report_a_bad_number(void) {
  expect_problems("[search]\nc = abc\niterations = 1.5\nmax_seconds = inf\nseed =\n", NULL,
                  "t.ini:2: search.c: \"abc\" is not a number\n"
                  "t.ini:3: search.iterations: \"1.5\" is not an integer\n"
                  "t.ini:4: search.max_seconds: \"inf\" is not a finite number\n"
                  "t.ini:5: search.seed: missing value\n");
}

static void bn_config_finalize_should_report_trailing_garbage(void) {
  expect_problems("[search]\niterations = 10x\nc = 1.5.\n# '#' is no inline comment:\n"
                  "top = 5 # five\n",
                  NULL,
                  "t.ini:2: search.iterations: \"10x\" is not a number\n"
                  "t.ini:3: search.c: \"1.5.\" is not a number\n"
                  "t.ini:5: search.top: \"5 # five\" is not a number\n");
}

static void bn_config_finalize_should_report_out_of_range_on_both_sides(void) {
  expect_problems("[search]\nthreads = 0\ntop = 2000\nc = -1\niterations = 1e20\n"
                  "seed = 9223372036854775808\n[engine]\nidle_sleep_max = 2\n"
                  "[domain.test]\nratio = -1.5\n",
                  NULL,
                  "t.ini:2: search.threads: 0 is below the minimum 1\n"
                  "t.ini:3: search.top: 2000 is above the maximum 1000\n"
                  "t.ini:4: search.c: -1 is below the minimum 0\n"
                  "t.ini:5: search.iterations: 1e20 is above the maximum 1e15\n"
                  "t.ini:6: search.seed: 9223372036854775808 is above the maximum "
                  "9223372036854775807\n"
                  "t.ini:8: engine.idle_sleep_max: 2 is above the maximum 1\n"
                  "t.ini:10: domain.test.ratio: -1.5 is below the minimum -1\n");
}

static void bn_config_finalize_should_report_a_bad_enum_word(void) {
  expect_problems("[search]\nselection = uct\n[log]\nlevel = INFO\n", NULL,
                  "t.ini:2: search.selection: \"uct\" is not one of virtual_loss|wu_uct\n"
                  "t.ini:4: log.level: \"INFO\" is not one of debug|info|warning|error\n");
}

static void bn_config_finalize_should_report_a_bad_pool_list(void) {
  expect_problems("[engine]\ndepth = 2\npools = reward:0.25, gpu:0.75\n", NULL,
                  "t.ini:3: engine.pools: unknown job kind \"gpu\" (the kinds are reward and simulate)\n");
  expect_problems("[engine]\npools = reward:0.5, simulate:0.25\n", NULL,
                  "t.ini:2: engine.pools: the shares add up to 0.75, not 1\n");
  expect_problems("[engine]\npools = reward:1, reward:3\n", NULL,
                  "t.ini:2: engine.pools: job kind reward is listed twice (each kind goes to exactly one pool)\n");
  expect_problems("[engine]\npools = simulate:3\n", NULL,
                  "t.ini:2: engine.pools: job kind reward has no pool: list both reward and simulate (or leave "
                  "engine.pools empty)\n");
  expect_problems("[engine]\npools = reward:0, simulate:3\n", NULL,
                  "t.ini:2: engine.pools: reward:0: a pool needs a share in (0, 1] or a count of at least 1 engine\n");
  expect_problems("[engine]\npools = reward:1, simulate:0.5\n", NULL,
                  "t.ini:2: engine.pools: mixes shares (with a decimal point) and counts (without): use one or the "
                  "other\n");
  expect_problems("[engine]\npools = reward 1, simulate:3\n", NULL,
                  "t.ini:2: engine.pools: \"reward 1\": expected KIND:AMOUNT (a share such as 0.25 or a count such as "
                  "3)\n");
  expect_problems("[engine]\npools = reward:1, simulate:x\n", NULL,
                  "t.ini:2: engine.pools: \"simulate:x\": the amount must be a share such as 0.25 or a count such as "
                  "3\n");
  expect_problems("[engine]\npools = reward:1,\n", NULL,
                  "t.ini:2: engine.pools: a comma ends the list: expected KIND:AMOUNT after it\n");
  bn_err err = BN_ERR_CONFIG;
  char *text = problems_of(NULL, (const char *const[]){"engine.pools=reward:1, simulate:3", NULL}, &err);
  CU_ASSERT_EQUAL(err, BN_OK);
  CU_ASSERT_STRING_EQUAL(text ? text : "(null)", "");
  free(text);
}

static void bn_pools_assign_should_give_every_pool_an_engine(void) {
  bn_pool_spec spec;
  char why[256];
  int sizes[BN_POOLS_MAX];
  CU_ASSERT_FATAL(bn_pools_parse(" reward:0.25 ,simulate:0.75 ", &spec, why, sizeof why));
  CU_ASSERT_EQUAL(spec.n, 2);
  CU_ASSERT(!spec.counts);
  CU_ASSERT_EQUAL(spec.kinds[0], 1);
  CU_ASSERT_EQUAL(spec.kinds[1], 2);
  CU_ASSERT(bn_pools_assign(&spec, 4, sizes, why, sizeof why));
  CU_ASSERT(sizes[0] == 1 && sizes[1] == 3);
  CU_ASSERT(bn_pools_assign(&spec, 2, sizes, why, sizeof why));
  CU_ASSERT(sizes[0] == 1 && sizes[1] == 1);
  CU_ASSERT(bn_pools_assign(&spec, 3, sizes, why, sizeof why)); /* 0.75 + 2.25: the larger remainder wins */
  CU_ASSERT(sizes[0] == 1 && sizes[1] == 2);
  CU_ASSERT(!bn_pools_assign(&spec, 1, sizes, why, sizeof why));
  CU_ASSERT_STRING_EQUAL(why, "2 pools need at least 2 engines but the run has 1 (ranks - 1)");
  CU_ASSERT(bn_pools_assign(&spec, 0, sizes, why, sizeof why)); /* rank 0 alone runs every job */
  CU_ASSERT(bn_pools_parse("simulate:0.99, reward:0.01", &spec, why, sizeof why));
  CU_ASSERT(bn_pools_assign(&spec, 3, sizes, why, sizeof why));
  CU_ASSERT(sizes[0] == 2 && sizes[1] == 1); /* rounded to 3 and 0, then one for reward */
  CU_ASSERT(bn_pools_parse("reward:1, simulate:3", &spec, why, sizeof why));
  CU_ASSERT(spec.counts);
  CU_ASSERT(bn_pools_assign(&spec, 4, sizes, why, sizeof why));
  CU_ASSERT(sizes[0] == 1 && sizes[1] == 3);
  CU_ASSERT(!bn_pools_assign(&spec, 5, sizes, why, sizeof why));
  CU_ASSERT_STRING_EQUAL(why, "the pools ask for 4 engines but the run has 5 (ranks - 1): start it with 5 ranks");
  CU_ASSERT(bn_pools_parse("", &spec, why, sizeof why));
  CU_ASSERT_EQUAL(spec.n, 0);
}

static void bn_config_finalize_should_report_a_bad_bool(void) {
  expect_problems("[domain.test]\nflag = maybe\n", NULL,
                  "t.ini:2: domain.test.flag: \"maybe\" is not a boolean "
                  "(true|false|yes|no|on|off|1|0)\n");
  static const char *const words[] = {"true", "YES", "on", "1", "false", "No", "off", "0"};
  for (size_t i = 0; i < 8; i++) {
    char set[64];
    snprintf(set, sizeof set, "domain.test.flag=%s", words[i]);
    bn_config *cfg = new_config();
    CU_ASSERT_EQUAL(bn_config_set(cfg, set), BN_OK);
    CU_ASSERT_EQUAL_FATAL(bn_config_finalize(cfg, stderr), BN_OK);
    CU_ASSERT_EQUAL(bn_config_bool(cfg, "domain.test.flag"), i < 4);
    bn_config_destroy(&cfg);
  }
}

static void bn_config_finalize_should_report_every_syntax_error(void) {
  expect_problems("[search]\nthreads 4\n[engine\ndepth = 0\n[search]\n= 3\ntop = x\n", NULL,
                  "t.ini:2: syntax error\n"
                  "t.ini:3: syntax error\n" /* and engine.depth is skipped */
                  "t.ini:6: syntax error\n"
                  "t.ini:7: search.top: \"x\" is not a number\n");
}

static void bn_config_finalize_should_report_bad_section_headers(void) {
  char ini[256];
  snprintf(ini, sizeof ini, "[]\ntop = 1\n[%060d]\nx = 1\n[search]\ntop = 2\ntop = 3\n", 0);
  expect_problems(ini, NULL,
                  "t.ini:1: empty section name\n"
                  "t.ini:3: section name longer than 48 characters\n"
                  "t.ini:7: search.top: set twice (first at line 6)\n");
}

static void bn_config_finalize_should_report_a_line_too_long(void) {
  char ini[512];
  snprintf(ini, sizeof ini, "[search]\n; %0250d\ntop = 1\n", 0);
  expect_problems(ini, NULL, "t.ini:2: line longer than 197 characters\n");
}

static void bn_config_set_should_record_a_malformed_assignment(void) {
  static const char *const sets[] = {"search.threads", "=4", "search.thread=4",
                                     "search.threads=abc", NULL};
  expect_problems(NULL, sets,
                  "--set: search.threads: missing '=' (expected --set section.key=value)\n"
                  "--set: =4: missing option name before '='\n"
                  "--set: search.thread: unknown option (did you mean search.threads?)\n"
                  "--set: search.threads: \"abc\" is not a number\n");
}

static void bn_config_finalize_should_report_problems_of_files_before_those_of_set(void) {
  static const char *const sets[] = {"search.top=-1", NULL};
  expect_problems("[search]\nthreads = 0\n", sets,
                  "t.ini:2: search.threads: 0 is below the minimum 1\n"
                  "--set: search.top: -1 is below the minimum 0\n");
}

static void bn_config_load_string_should_refuse_a_key_before_any_section(void) {
  expect_problems("threads = 4\n[search]\ntop = 1\n", NULL,
                  "t.ini:1: threads: key before any [section]\n");
}

static void bn_config_load_file_should_fail_with_io_error_on_an_unreadable_file(void) {
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, "/nonexistent/banyan/none.ini"), BN_ERR_IO);
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, "/tmp"), BN_ERR_IO); /* a directory */
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err); /* nothing was recorded */
  CU_ASSERT_EQUAL(err, BN_OK);
  ASSERT_TEXT(problems, "");
  free(problems);
  bn_config_destroy(&cfg);
}

/* A FIFO, a device or a file over the size cap is refused at once: nothing blocks on a FIFO
 * nobody writes, nothing reads /dev/zero without end. */
static void bn_config_load_file_should_refuse_what_is_not_a_small_regular_file(void) {
  char dir[] = "/tmp/bn_config_test_XXXXXX";
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
  char fifo[128], big[128];
  snprintf(fifo, sizeof fifo, "%s/fifo.ini", dir);
  snprintf(big, sizeof big, "%s/big.ini", dir);
  CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
  FILE *f = fopen(big, "w");
  CU_ASSERT_FATAL(f != NULL);
  for (unsigned i = 0; i <= BN_CONFIG_MAX_FILE_BYTES / 16; i++) fputs("; a comment ...\n", f);
  fclose(f);
  bn_config *cfg = new_config();
  const double t0 = (double)time(NULL);
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, fifo), BN_ERR_IO);
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, "/dev/zero"), BN_ERR_IO);
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, "/dev/null"), BN_ERR_IO);
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, big), BN_ERR_IO);
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT((double)time(NULL) - t0 < 5);
  /* At the cap exactly, it is read. */
  CU_ASSERT_FATAL(truncate(big, BN_CONFIG_MAX_FILE_BYTES) == 0);
  CU_ASSERT_EQUAL(bn_config_load_file(cfg, big), BN_OK);
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  CU_ASSERT_EQUAL(err, BN_OK);
  free(problems);
  bn_config_destroy(&cfg);
  unlink(fifo);
  unlink(big);
  rmdir(dir);
}

static void bn_config_effective_text_should_round_trip(void) {
  bn_config *a = new_config(), *b = new_config();
  static const char *const sets[] = {
      "search.iterations=9.99999999999999e14", "search.c=0.1", "search.selection=wu_uct",
      "search.seed=9223372036854775807", "search.max_edges=4e9",
      "engine.message_overhead=3.3e-7", "domain.name=synthetic", "log.level=debug",
      "domain.test.flag=on", "domain.test.root=AB;C:: # x", "domain.test.ratio=-0.3"};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    CU_ASSERT_EQUAL(bn_config_set(a, sets[i]), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_finalize(a, stderr), BN_OK);
  char *text = bn_config_effective_text(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT(strncmp(text, "[search]\niterations = 999999999999999\n", 38) == 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n\n[domain.test]\nflag = true\nroot = AB;C:: # x\n"));
  CU_ASSERT_EQUAL(bn_config_load_string(b, text, "effective"), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_finalize(b, stderr), BN_OK);
  size_t n = 0;
  const bn_option *core = bn_config_core_options(&n);
  for (size_t i = 0; i < n; i++) {
    const char *nm = core[i].name;
    switch (core[i].type) {
    case BN_OPT_INT: CU_ASSERT_EQUAL(bn_config_int(a, nm), bn_config_int(b, nm)); break;
    case BN_OPT_REAL: CU_ASSERT_EQUAL(bn_config_real(a, nm), bn_config_real(b, nm)); break;
    case BN_OPT_ENUM: CU_ASSERT_EQUAL(bn_config_enum(a, nm), bn_config_enum(b, nm)); break;
    case BN_OPT_STRING:
      CU_ASSERT_STRING_EQUAL(bn_config_string(a, nm), bn_config_string(b, nm));
      break;
    case BN_OPT_BOOL: CU_ASSERT_EQUAL(bn_config_bool(a, nm), bn_config_bool(b, nm)); break;
    }
  }
  CU_ASSERT_EQUAL(bn_config_int(b, "search.iterations"), 999999999999999);
  CU_ASSERT_EQUAL(bn_config_real(b, "search.c"), 0.1);
  CU_ASSERT_EQUAL(bn_config_real(b, "engine.message_overhead"), 3.3e-7);
  CU_ASSERT_EQUAL(bn_config_int(b, "search.seed"), INT64_MAX);
  CU_ASSERT_EQUAL(bn_config_bool(b, "domain.test.flag"), true);
  CU_ASSERT_STRING_EQUAL(bn_config_string(b, "domain.test.root"), "AB;C:: # x");
  CU_ASSERT_EQUAL(bn_config_real(b, "domain.test.ratio"), -0.3);
  char *again = bn_config_effective_text(b);
  ASSERT_TEXT(again, text);
  free(again);
  free(text);
  bn_config_destroy(&a);
  bn_config_destroy(&b);
}

static void bn_config_effective_text_should_refuse_a_config_not_finalized(void) {
  bn_config *cfg = new_config();
  CU_ASSERT_PTR_NULL(bn_config_effective_text(cfg));
  bn_config_destroy(&cfg);
}

static void bn_config_declare_should_refuse_a_duplicate_or_bad_option(void) {
  bn_config *cfg = new_config();
  size_t n = 0;
  const bn_option *core = bn_config_core_options(&n);
  CU_ASSERT_EQUAL(bn_config_declare(cfg, core, n), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_config_declare(cfg, &test_options[1], 1), BN_ERR_ARG);
  static const bn_option twice[] = {
      {"extra.a", BN_OPT_INT, "1", 0, 10, NULL, "a"},
      {"extra.a", BN_OPT_INT, "1", 0, 10, NULL, "a again"},
  };
  CU_ASSERT_EQUAL(bn_config_declare(cfg, twice, 2), BN_ERR_ARG);
  static const bn_option bad[][1] = {
      {{"extra.b", BN_OPT_INT, "11", 0, 10, NULL, "default above max"}},
      {{"extra.b", BN_OPT_INT, "x", 0, 10, NULL, "default not a number"}},
      {{"extra.b", BN_OPT_ENUM, "c", 0, 0, "a|b", "default not a choice"}},
      {{"extra.b", BN_OPT_ENUM, "a", 0, 0, "a||b", "empty choice"}},
      {{"nodot", BN_OPT_INT, "1", 0, 10, NULL, "no section"}},
      {{"extra..b", BN_OPT_INT, "1", 0, 10, NULL, "empty word"}},
      {{"extra.b c", BN_OPT_INT, "1", 0, 10, NULL, "blank in name"}},
      {{"extra.b", BN_OPT_REAL, "1", 2, 1, NULL, "min above max"}},
      {{"extra.b", BN_OPT_STRING, ";x", 0, 0, NULL, "default reads back as a comment"}},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CU_ASSERT_EQUAL(bn_config_declare(cfg, bad[i], 1), BN_ERR_ARG);
  /* nothing of a refused table was declared */
  CU_ASSERT_EQUAL(bn_config_declare(cfg, twice, 1), BN_OK);
  CU_ASSERT_EQUAL(bn_config_set(cfg, "extra.b=1"), BN_OK);
  bn_err err = BN_OK;
  char *problems = finalize_capture(cfg, &err);
  ASSERT_TEXT(problems, "--set: extra.b: unknown option (did you mean extra.a?)\n");
  free(problems);
  bn_config_destroy(&cfg);
}

static void bn_config_enum_should_give_the_index_of_the_word(void) {
  static const char *const levels[] = {"debug", "info", "warning", "error"};
  for (int i = 0; i < 4; i++) {
    char set[64];
    snprintf(set, sizeof set, "log.level=%s", levels[i]);
    bn_config *cfg = new_config();
    CU_ASSERT_EQUAL(bn_config_set(cfg, set), BN_OK);
    CU_ASSERT_EQUAL(bn_config_set(cfg, "search.selection=virtual_loss"), BN_OK);
    CU_ASSERT_EQUAL_FATAL(bn_config_finalize(cfg, stderr), BN_OK);
    CU_ASSERT_EQUAL(bn_config_enum(cfg, "log.level"), i);
    CU_ASSERT_EQUAL(bn_config_enum(cfg, "search.selection"), 0);
    bn_config_destroy(&cfg);
  }
}

static void bn_config_int_should_read_scientific_integers_exactly(void) {
  static const struct {
    const char *text;
    int64_t value;
  } ok[] = {{"1e6", 1000000},
            {"2.5e3", 2500},
            {"+42", 42},
            {"-0", 0},
            {"0.0", 0},
            {"9007199254740993", 9007199254740993},
            {"1.0000000000000001e16", 10000000000000001},
            {"922337203685477580.7e1", INT64_MAX},
            {"120e-1", 12}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char set[96];
    snprintf(set, sizeof set, "search.seed=%s", ok[i].text);
    bn_config *cfg = new_config();
    CU_ASSERT_EQUAL(bn_config_set(cfg, set), BN_OK);
    CU_ASSERT_EQUAL_FATAL(bn_config_finalize(cfg, stderr), BN_OK);
    CU_ASSERT_EQUAL(bn_config_int(cfg, "search.seed"), ok[i].value);
    bn_config_destroy(&cfg);
  }
  static const char *const sets[] = {"search.seed=1.25e1", "search.seed=1e", "search.seed=.",
                                     "search.seed=0x10", "search.seed=1e-1", NULL};
  expect_problems(NULL, sets,
                  "--set: search.seed: \"1.25e1\" is not an integer\n"
                  "--set: search.seed: \"1e\" is not a number\n"
                  "--set: search.seed: \".\" is not a number\n"
                  "--set: search.seed: \"0x10\" is not a number\n"
                  "--set: search.seed: \"1e-1\" is not an integer\n");
}

static void bn_config_load_should_be_refused_after_finalize(void) {
  bn_config *cfg = new_config();
  CU_ASSERT_EQUAL_FATAL(bn_config_finalize(cfg, stderr), BN_OK);
  CU_ASSERT_EQUAL(bn_config_load_string(cfg, "[search]\ntop = 1\n", "late"), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_config_set(cfg, "search.top=1"), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_config_declare(cfg, test_options, 0), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_config_int(cfg, "search.top"), 10);
  bn_config_destroy(&cfg);
}

/* Run `fn` on a finalized config in a child process: true if it died of SIGABRT. */
static bool aborts(void (*fn)(const bn_config *)) {
  bn_config *cfg = new_config();
  CU_ASSERT_FATAL(bn_config_finalize(cfg, stderr) == BN_OK);
  fflush(NULL);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    fn(cfg);
    _exit(0);
  }
  int status = 0;
  CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
  bn_config_destroy(&cfg);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void read_undeclared(const bn_config *cfg) { (void)bn_config_int(cfg, "search.nope"); }
static void read_wrong_type(const bn_config *cfg) { (void)bn_config_real(cfg, "search.threads"); }
static void read_right(const bn_config *cfg) { (void)bn_config_int(cfg, "search.threads"); }

static void bn_config_int_should_abort_on_an_undeclared_name_or_wrong_type(void) {
  CU_ASSERT(aborts(read_undeclared));
  CU_ASSERT(aborts(read_wrong_type));
  CU_ASSERT(!aborts(read_right));
}

static void bn_config_print_table_should_list_every_option(void) {
  bn_config *cfg = new_config();
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  CU_ASSERT_FATAL(out != NULL);
  bn_config_print_table(cfg, out);
  fclose(out);
  size_t lines = 0;
  for (const char *p = text; *p; p++) lines += *p == '\n';
  size_t n_core = 0;
  (void)bn_config_core_options(&n_core);
  CU_ASSERT_EQUAL(n_core, 45);        /* the list checked name by name above */
  CU_ASSERT_EQUAL(lines, 1 + n_core + 3); /* a header, each core option, the 3 test ones */
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "search.iterations"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "[1, 1e15]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "[0, 9223372036854775807]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "virtual_loss|wu_uct"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "evaluations to run (the search budget)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "[1e-6, 1]"));
  free(text);
  bn_config_destroy(&cfg);
}

BN_TEST_MAIN("config", BN_TEST(bn_config_core_options_should_list_the_documented_options),
             BN_TEST(bn_config_where_should_name_the_source_of_each_value),
             BN_TEST(bn_config_finalize_should_give_defaults_when_nothing_loaded),
             BN_TEST(bn_config_load_file_should_read_values_sections_and_comments),
             BN_TEST(bn_config_load_string_should_accept_crlf_bom_and_a_last_line_without_newline),
             BN_TEST(bn_config_set_should_override_a_file_whatever_the_order),
             BN_TEST(bn_config_load_string_should_let_a_later_source_override_an_earlier_one),
             BN_TEST(bn_config_finalize_should_report_the_file_name_and_line),
             BN_TEST(bn_config_finalize_should_report_an_unknown_key_with_a_hint),
             BN_TEST(bn_config_finalize_should_report_a_bad_number),
             BN_TEST(bn_config_finalize_should_report_trailing_garbage),
             BN_TEST(bn_config_finalize_should_report_out_of_range_on_both_sides),
             BN_TEST(bn_config_finalize_should_report_a_bad_enum_word),
             BN_TEST(bn_config_finalize_should_report_a_bad_bool),
             BN_TEST(bn_config_finalize_should_report_a_bad_pool_list),
             BN_TEST(bn_pools_assign_should_give_every_pool_an_engine),
             BN_TEST(bn_config_finalize_should_report_every_syntax_error),
             BN_TEST(bn_config_finalize_should_report_bad_section_headers),
             BN_TEST(bn_config_finalize_should_report_a_line_too_long),
             BN_TEST(bn_config_set_should_record_a_malformed_assignment),
             BN_TEST(bn_config_finalize_should_report_problems_of_files_before_those_of_set),
             BN_TEST(bn_config_load_string_should_refuse_a_key_before_any_section),
             BN_TEST(bn_config_load_file_should_fail_with_io_error_on_an_unreadable_file),
             BN_TEST(bn_config_load_file_should_refuse_what_is_not_a_small_regular_file),
             BN_TEST(bn_config_effective_text_should_round_trip),
             BN_TEST(bn_config_effective_text_should_refuse_a_config_not_finalized),
             BN_TEST(bn_config_declare_should_refuse_a_duplicate_or_bad_option),
             BN_TEST(bn_config_enum_should_give_the_index_of_the_word),
             BN_TEST(bn_config_int_should_read_scientific_integers_exactly),
             BN_TEST(bn_config_load_should_be_refused_after_finalize),
             BN_TEST(bn_config_int_should_abort_on_an_undeclared_name_or_wrong_type),
             BN_TEST(bn_config_print_table_should_list_every_option))
