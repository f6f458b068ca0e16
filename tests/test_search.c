/* Search driver pieces testable without MPI: the list of best single evaluations. */
#include <string.h>

#include "bn_test.h"
#include "search/search_impl.h"

static bn_top_evals *make(size_t k) {
  bn_top_evals *t = NULL;
  CU_ASSERT_FATAL(bn__top_evals_create(&t, k, 4) == BN_OK);
  return t;
}

static void offer(bn_top_evals *t, uint32_t state, double reward, uint64_t job) {
  bn__top_evals_offer(t, &state, reward, job);
}

static uint32_t state_of(const bn_top_eval *e) {
  uint32_t v;
  memcpy(&v, e->state, sizeof v);
  return v;
}

static void bn__top_evals_offer_should_keep_the_k_best_in_order(void) {
  bn_top_evals *t = make(3);
  const double rewards[] = {0.5, 0.1, 0.9, 0.3, 0.7, 0.2};
  for (uint32_t i = 0; i < 6; i++) offer(t, i, rewards[i], 100 + i);
  bn_top_eval e[5];
  CU_ASSERT_EQUAL_FATAL(bn__top_evals_get(t, e, 5), 3);
  CU_ASSERT_EQUAL(state_of(&e[0]), 2);
  CU_ASSERT_EQUAL(state_of(&e[1]), 4);
  CU_ASSERT_EQUAL(state_of(&e[2]), 0);
  CU_ASSERT_DOUBLE_EQUAL(e[0].reward, 0.9, 0);
  CU_ASSERT_EQUAL(e[2].job_id, 100);
  bn__top_evals_destroy(&t);
  CU_ASSERT_PTR_NULL(t);
}

static void bn__top_evals_offer_should_list_a_state_once_with_its_best_reward(void) {
  bn_top_evals *t = make(3);
  offer(t, 7, 0.4, 1);
  offer(t, 8, 0.5, 2);
  offer(t, 7, 0.6, 3); /* better: moves up */
  offer(t, 7, 0.2, 4); /* worse: ignored */
  bn_top_eval e[3];
  CU_ASSERT_EQUAL_FATAL(bn__top_evals_get(t, e, 3), 2);
  CU_ASSERT_EQUAL(state_of(&e[0]), 7);
  CU_ASSERT_DOUBLE_EQUAL(e[0].reward, 0.6, 0);
  CU_ASSERT_EQUAL(e[0].job_id, 3);
  CU_ASSERT_EQUAL(state_of(&e[1]), 8);
  bn__top_evals_destroy(&t);
}

static void bn__top_evals_offer_should_be_safe_from_many_threads(void) {
  bn_top_evals *t = make(10);
#pragma omp parallel for num_threads(4)
  for (int i = 0; i < 100000; i++) offer(t, (uint32_t)(i % 5000), (double)(i % 5000) / 5000.0, (uint64_t)i);
  bn_top_eval e[10];
  CU_ASSERT_EQUAL_FATAL(bn__top_evals_get(t, e, 10), 10);
  for (int i = 0; i < 10; i++) CU_ASSERT_EQUAL(state_of(&e[i]), (uint32_t)(4999 - i));
  bn__top_evals_destroy(&t);
}

BN_TEST_MAIN("search", BN_TEST(bn__top_evals_offer_should_keep_the_k_best_in_order),
             BN_TEST(bn__top_evals_offer_should_list_a_state_once_with_its_best_reward),
             BN_TEST(bn__top_evals_offer_should_be_safe_from_many_threads))
