/* Shared runner for the CUnit suites: one suite per executable, named test cases, exit
 * status 1 when any assertion failed (so CTest sees it).
 *   SUITE                     every test case
 *   SUITE --only WORD         the cases whose name contains WORD
 *   SUITE --exclude WORD      the others
 * (CTest registers a suite's slow statistical cases as a test of their own this way, so the
 * sanitizer pass can leave them out.) */
#ifndef BN_TEST_H
#define BN_TEST_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

typedef struct bn_test_case {
  const char *name;
  void (*fn)(void);
} bn_test_case;

#define BN_TEST(fn) {#fn, fn}

static inline int bn_test_run(const char *suite_name, const bn_test_case *cases, size_t n_cases,
                              int argc, char **argv) {
  const char *only = NULL, *exclude = NULL;
  if (argc == 3 && strcmp(argv[1], "--only") == 0) {
    only = argv[2];
  } else if (argc == 3 && strcmp(argv[1], "--exclude") == 0) {
    exclude = argv[2];
  } else if (argc != 1) {
    fprintf(stderr, "usage: %s [--only WORD | --exclude WORD]\n", argv[0]);
    return 2;
  }
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
  if (!suite) return 2;
  size_t n = 0;
  for (size_t i = 0; i < n_cases; i++) {
    const char *word = only ? only : exclude;
    const int match = word && strstr(cases[i].name, word);
    if ((only && !match) || (exclude && match)) continue;
    if (!CU_add_test(suite, cases[i].name, cases[i].fn)) return 2;
    n++;
  }
  if (n == 0) {
    fprintf(stderr, "%s: no test case selected\n", suite_name);
    CU_cleanup_registry();
    return 1;
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  unsigned ran = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  if (ran != n) {
    fprintf(stderr, "%s: only %u of %zu tests ran\n", suite_name, ran, n);
    return 1;
  }
  return failed ? 1 : 0;
}

#define BN_TEST_MAIN(suite, ...)                                                   \
  int main(int argc, char **argv) {                                                \
    static const bn_test_case cases[] = {__VA_ARGS__};                             \
    return bn_test_run(suite, cases, sizeof cases / sizeof cases[0], argc, argv);  \
  }

#endif
