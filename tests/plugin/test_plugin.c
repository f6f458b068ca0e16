/* Plug-in domains: loading a library (the example N-queens plug-in, and libraries built
 * wrong on purpose), the domain.plugin declarer that finalize runs (options declared,
 * relative path made absolute from the config file's directory, domain.name implied or
 * checked), the effective text every rank reads back, and opening the plug-in's domain.
 * Links libbanyan.so, as the executable does; the plug-ins link it too. The libraries'
 * paths come from CMake (BN_TEST_PLUGIN_*). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banyan/config.h"
#include "banyan/domain.h"
#include "bn_test.h"

/* Core and built-in domain options, and the plug-in declarer: what every rank uses. */
static bn_config *new_config(void) {
  bn_config *cfg = NULL;
  size_t n = 0;
  const bn_option *core = bn_config_core_options(&n);
  CU_ASSERT_FATAL(bn_config_create(&cfg) == BN_OK);
  CU_ASSERT_FATAL(bn_config_declare(cfg, core, n) == BN_OK);
  for (size_t i = 0; bn_domain_builtin(i); i++)
    CU_ASSERT_FATAL(bn_config_declare(cfg, bn_domain_builtin(i)->options, bn_domain_builtin(i)->n_options) == BN_OK);
  bn_config_set_declarer(cfg, bn_domain_plugin_declare, NULL);
  return cfg;
}

/* Finalize, returning what was printed (caller frees). */
static char *finalize_capture(bn_config *cfg, bn_err *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  CU_ASSERT_FATAL(out != NULL);
  *err = bn_config_finalize(cfg, out);
  fclose(out);
  return text;
}

static bool contains(const char *text, const char *part) {
  bool ok = text && strstr(text, part);
  if (!ok) fprintf(stderr, "\n  expected \"%s\" in:\n  %s\n", part, text ? text : "(null)");
  return ok;
}

/* The reason a library is refused for (static buffer), or NULL if it loads. */
static const char *refusal(const char *path) {
  static char why[4096];
  const bn_domain_ops *ops = NULL;
  why[0] = '\0';
  bn_err e = bn_domain_plugin_load(path, &ops, why, sizeof why);
  if (e == BN_OK) return NULL;
  CU_ASSERT(e == BN_ERR_DOMAIN);
  return why;
}

static void bn_domain_plugin_load_should_return_the_plugins_table_once_per_process(void) {
  const bn_domain_ops *a = NULL, *b = NULL;
  char why[512] = "";
  CU_ASSERT_FATAL(bn_domain_plugin_load(BN_TEST_PLUGIN_QUEENS, &a, why, sizeof why) == BN_OK);
  CU_ASSERT_STRING_EQUAL(a->name, "queens");
  CU_ASSERT(a->api_version == BN_DOMAIN_API_VERSION);
  CU_ASSERT(a->n_options == 2);
  CU_ASSERT(bn_domain_plugin_load(BN_TEST_PLUGIN_QUEENS, &b, why, sizeof why) == BN_OK);
  CU_ASSERT(a == b);
}

static void bn_domain_plugin_load_should_refuse_a_plugin_built_for_another_api_version(void) {
  char expected[1024];
  snprintf(expected, sizeof expected,
           "plugin %s was built for domain API version 1, this banyan has version %u: "
           "rebuild it against this banyan's headers",
           BN_TEST_PLUGIN_WRONG_VERSION, BN_DOMAIN_API_VERSION);
  const char *why = refusal(BN_TEST_PLUGIN_WRONG_VERSION);
  CU_ASSERT(why && strcmp(why, expected) == 0);
  if (why && strcmp(why, expected)) fprintf(stderr, "\n  got: %s\n", why);
}

static void bn_domain_plugin_load_should_refuse_a_library_without_the_entry_points(void) {
  CU_ASSERT(contains(refusal(BN_TEST_PLUGIN_NO_ENTRY), "is not a banyan plug-in: it exports no banyan_plugin_api_version"));
}

static void bn_domain_plugin_load_should_refuse_a_missing_file(void) {
  CU_ASSERT(contains(refusal("/nonexistent/libnothing.so"), "plugin /nonexistent/libnothing.so: No such file or directory"));
}

static void bn_domain_plugin_load_should_refuse_a_table_without_required_functions(void) {
  CU_ASSERT(contains(refusal(BN_TEST_PLUGIN_BAD_TABLE), "domain \"broken\" lacks required functions: init root"));
}

static void bn_config_finalize_should_declare_the_options_of_the_plugin_it_names(void) {
  bn_config *cfg = new_config();
  char ini[8192];
  snprintf(ini, sizeof ini, "[domain]\nplugin = %s\n[domain.queens]\nn = 8\n", BN_TEST_PLUGIN_QUEENS);
  CU_ASSERT(bn_config_load_string(cfg, ini, "t.ini") == BN_OK);
  bn_err e;
  char *problems = finalize_capture(cfg, &e);
  CU_ASSERT(e == BN_OK);
  CU_ASSERT_STRING_EQUAL(problems, "");
  if (e == BN_OK) {
    CU_ASSERT(bn_config_int(cfg, "domain.queens.n") == 8);
    CU_ASSERT(bn_config_real(cfg, "domain.queens.noise") == 0.0);
    CU_ASSERT_STRING_EQUAL(bn_config_string(cfg, "domain.name"), "queens");
    char where[64];
    bn_config_where(cfg, "domain.name", where, sizeof where);
    CU_ASSERT_STRING_EQUAL(where, "t.ini:2"); /* implied on the domain.plugin line */
    /* A second finalize runs the declarer again without declaring anything twice. */
    free(problems);
    problems = finalize_capture(cfg, &e);
    CU_ASSERT(e == BN_OK);
    CU_ASSERT(bn_config_int(cfg, "domain.queens.n") == 8);
  }
  free(problems);
  bn_config_destroy(&cfg);
}

static void bn_config_finalize_should_reject_plugin_options_without_the_plugin(void) {
  bn_config *cfg = new_config();
  CU_ASSERT(bn_config_load_string(cfg, "[domain.queens]\nn = 8\n", "t.ini") == BN_OK);
  bn_err e;
  char *problems = finalize_capture(cfg, &e);
  CU_ASSERT(e == BN_ERR_CONFIG);
  CU_ASSERT(contains(problems, "t.ini:2: domain.queens.n: unknown option"));
  free(problems);
  bn_config_destroy(&cfg);
}

static void bn_config_finalize_should_resolve_a_relative_plugin_from_the_config_files_directory(void) {
  char dir[] = "/tmp/bn_test_plugin_XXXXXX", sub[PATH_MAX], link[PATH_MAX], ini[PATH_MAX], expected[PATH_MAX];
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
  snprintf(sub, sizeof sub, "%s/lib", dir);
  snprintf(link, sizeof link, "%s/lib/libq.so", dir);
  snprintf(ini, sizeof ini, "%s/run.ini", dir);
  snprintf(expected, sizeof expected, "%s/lib/libq.so", dir);
  CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
  CU_ASSERT_FATAL(symlink(BN_TEST_PLUGIN_QUEENS, link) == 0);
  FILE *f = fopen(ini, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("[domain]\nname = queens\nplugin = ./lib/libq.so\n", f);
  fclose(f);

  /* From another directory: the path is relative to the file, not to where banyan runs. */
  char cwd[PATH_MAX];
  CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
  CU_ASSERT_FATAL(chdir("/") == 0);
  bn_config *cfg = new_config();
  CU_ASSERT(bn_config_load_file(cfg, ini) == BN_OK);
  bn_err e;
  char *problems = finalize_capture(cfg, &e);
  CU_ASSERT(e == BN_OK);
  CU_ASSERT_STRING_EQUAL(problems, "");
  if (e == BN_OK) CU_ASSERT_STRING_EQUAL(bn_config_string(cfg, "domain.plugin"), expected);
  free(problems);
  bn_config_destroy(&cfg);
  CU_ASSERT(chdir(cwd) == 0);
  unlink(link);
  unlink(ini);
  rmdir(sub);
  rmdir(dir);
}

static void bn_config_finalize_should_report_a_refused_plugin_at_its_config_line(void) {
  bn_config *cfg = new_config();
  char ini[8192], expected[8192];
  snprintf(ini, sizeof ini, "[search]\nseed = 3\n[domain]\nplugin = %s\n", BN_TEST_PLUGIN_WRONG_VERSION);
  snprintf(expected, sizeof expected, "t.ini:4: domain.plugin: plugin %s was built for domain API version 1",
           BN_TEST_PLUGIN_WRONG_VERSION);
  CU_ASSERT(bn_config_load_string(cfg, ini, "t.ini") == BN_OK);
  bn_err e;
  char *problems = finalize_capture(cfg, &e);
  CU_ASSERT(e == BN_ERR_CONFIG);
  CU_ASSERT(contains(problems, expected));
  free(problems);
  bn_config_destroy(&cfg);
}

static void bn_config_finalize_should_refuse_a_domain_name_that_is_not_the_plugins(void) {
  bn_config *cfg = new_config();
  char ini[8192];
  snprintf(ini, sizeof ini, "[domain]\nplugin = %s\n", BN_TEST_PLUGIN_QUEENS);
  CU_ASSERT(bn_config_load_string(cfg, ini, "t.ini") == BN_OK);
  CU_ASSERT(bn_config_set(cfg, "domain.name=synthetic") == BN_OK);
  bn_err e;
  char *problems = finalize_capture(cfg, &e);
  CU_ASSERT(e == BN_ERR_CONFIG);
  CU_ASSERT(contains(problems, "--set: domain.name: is \"synthetic\", but domain.plugin (t.ini:2) is the domain \"queens\""));
  free(problems);
  bn_config_destroy(&cfg);
}

/* What bn_config_broadcast does on an engine: the effective text of rank 0 read into a
 * fresh config reproduces itself, plug-in options included. */
static void bn_config_effective_text_should_read_back_with_the_plugins_options(void) {
  bn_config *cfg = new_config(), *copy = new_config();
  char ini[8192];
  snprintf(ini, sizeof ini, "[domain]\nplugin = %s\n[domain.queens]\nnoise = 0.25\n", BN_TEST_PLUGIN_QUEENS);
  CU_ASSERT(bn_config_load_string(cfg, ini, "t.ini") == BN_OK);
  bn_err e;
  char *problems = finalize_capture(cfg, &e);
  CU_ASSERT_FATAL(e == BN_OK);
  char *text = bn_config_effective_text(cfg);
  CU_ASSERT_FATAL(text != NULL);
  CU_ASSERT(contains(text, "[domain.queens]\nn = 10\nnoise = 0.25\n"));
  CU_ASSERT(bn_config_load_string(copy, text, "(config from rank 0)") == BN_OK);
  free(problems);
  problems = finalize_capture(copy, &e);
  CU_ASSERT(e == BN_OK);
  char *again = e == BN_OK ? bn_config_effective_text(copy) : NULL;
  CU_ASSERT(again && strcmp(again, text) == 0);
  free(again);
  free(text);
  free(problems);
  bn_config_destroy(&copy);
  bn_config_destroy(&cfg);
}

static void bn_domain_open_configured_should_open_the_plugin_domain(void) {
  bn_config *cfg = new_config();
  char ini[8192];
  snprintf(ini, sizeof ini, "[domain]\nplugin = %s\n[domain.queens]\nn = 6\n", BN_TEST_PLUGIN_QUEENS);
  CU_ASSERT(bn_config_load_string(cfg, ini, "t.ini") == BN_OK);
  bn_err e;
  char *problems = finalize_capture(cfg, &e);
  CU_ASSERT_FATAL(e == BN_OK);
  bn_domain d = {0};
  CU_ASSERT_FATAL(bn_domain_open_configured(&d, cfg) == BN_OK);
  CU_ASSERT_STRING_EQUAL(d.ops->name, "queens");
  CU_ASSERT(d.info.state_size == 6 && d.info.max_actions == 6 && d.info.max_depth == 6);
  /* 6 queens: the only solutions are 1,3,5,0,2,4 and its mirror 4,2,0,5,3,1. */
  unsigned char s[6];
  CU_ASSERT(d.ops->parse(d.ctx, "1,3,5,0,2,4", s) == 0);
  CU_ASSERT(d.ops->is_terminal(d.ctx, s));
  bn_eval_request req = {.job_id = 1, .seed = 7, .sample = 0, .attempt = 1};
  double reward = 0;
  char why[64];
  CU_ASSERT(d.ops->evaluate(d.ctx, s, &req, &reward, why, sizeof why) == 0);
  CU_ASSERT(reward == 1.0);
  CU_ASSERT(d.ops->parse(d.ctx, "1,2", s) != 0); /* the second queen would be attacked */
  bn_domain_close(&d);
  free(problems);
  bn_config_destroy(&cfg);
}

BN_TEST_MAIN("plugin", BN_TEST(bn_domain_plugin_load_should_return_the_plugins_table_once_per_process),
             BN_TEST(bn_domain_plugin_load_should_refuse_a_plugin_built_for_another_api_version),
             BN_TEST(bn_domain_plugin_load_should_refuse_a_library_without_the_entry_points),
             BN_TEST(bn_domain_plugin_load_should_refuse_a_missing_file),
             BN_TEST(bn_domain_plugin_load_should_refuse_a_table_without_required_functions),
             BN_TEST(bn_config_finalize_should_declare_the_options_of_the_plugin_it_names),
             BN_TEST(bn_config_finalize_should_reject_plugin_options_without_the_plugin),
             BN_TEST(bn_config_finalize_should_resolve_a_relative_plugin_from_the_config_files_directory),
             BN_TEST(bn_config_finalize_should_report_a_refused_plugin_at_its_config_line),
             BN_TEST(bn_config_finalize_should_refuse_a_domain_name_that_is_not_the_plugins),
             BN_TEST(bn_config_effective_text_should_read_back_with_the_plugins_options),
             BN_TEST(bn_domain_open_configured_should_open_the_plugin_domain))
