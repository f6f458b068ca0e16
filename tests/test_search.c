/* Search driver pieces testable without MPI: the list of best single evaluations and the
 * search threads (crew). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

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

/* ---- crew ---- */

typedef struct crew_ctx {
  bn_crew *crew;
  int items;
  _Atomic int ran;
  _Atomic int concurrent, max_concurrent;
  pthread_t submitter;
  int inline_ok; /* every item ran on the submitting thread */
} crew_ctx;

static void count_item(void *arg) {
  crew_ctx *c = arg;
  int now = atomic_fetch_add(&c->concurrent, 1) + 1;
  int seen = atomic_load(&c->max_concurrent);
  while (now > seen && !atomic_compare_exchange_weak(&c->max_concurrent, &seen, now)) {
  }
  if (!pthread_equal(pthread_self(), c->submitter)) c->inline_ok = 0;
  struct timespec ts = {0, 20000}; /* long enough for items to overlap */
  nanosleep(&ts, NULL);
  atomic_fetch_sub(&c->concurrent, 1);
  atomic_fetch_add(&c->ran, 1);
}

/* The dispatcher's part: submit everything, wait, check that all ran. */
static bn_err submit_all(void *arg) {
  crew_ctx *c = arg;
  c->submitter = pthread_self();
  for (int i = 0; i < c->items; i++) bn__crew_submit(c->crew, count_item, c);
  bn__crew_wait(c->crew);
  return atomic_load(&c->ran) == c->items ? BN_OK : BN_ERR_INTERNAL;
}

static void bn__crew_run_should_run_every_item_on_the_workers_before_wait_returns(void) {
  crew_ctx c = {.items = 2000, .inline_ok = 1};
  CU_ASSERT_FATAL(bn__crew_create(&c.crew, 8) == BN_OK); /* oversubscribed on small machines */
  CU_ASSERT_EQUAL(bn__crew_run(c.crew, submit_all, &c), BN_OK);
  CU_ASSERT_EQUAL(atomic_load(&c.ran), 2000);
  CU_ASSERT_EQUAL(c.inline_ok, 0);                  /* workers ran items */
  CU_ASSERT(atomic_load(&c.max_concurrent) >= 2);   /* and side by side */
  uint64_t submitted = 0, wakeups = 0;
  bn__crew_figures(c.crew, &submitted, &wakeups);
  CU_ASSERT_EQUAL(submitted, 2000);
  CU_ASSERT(wakeups <= submitted);
  /* A second run on the same crew works the same way. */
  atomic_store(&c.ran, 0);
  CU_ASSERT_EQUAL(bn__crew_run(c.crew, submit_all, &c), BN_OK);
  CU_ASSERT_EQUAL(atomic_load(&c.ran), 2000);
  bn__crew_destroy(&c.crew);
  CU_ASSERT_PTR_NULL(c.crew);
}

static void bn__crew_run_should_run_items_inline_without_workers(void) {
  crew_ctx c = {.items = 50, .inline_ok = 1};
  CU_ASSERT_FATAL(bn__crew_create(&c.crew, 0) == BN_OK);
  CU_ASSERT_EQUAL(bn__crew_run(c.crew, submit_all, &c), BN_OK);
  CU_ASSERT_EQUAL(atomic_load(&c.ran), 50);
  CU_ASSERT_EQUAL(c.inline_ok, 1);
  CU_ASSERT_EQUAL(atomic_load(&c.max_concurrent), 1);
  bn__crew_destroy(&c.crew);
  bn__crew_destroy(&c.crew); /* NULL is fine */
}

/* --- the campaign file (campaign_file.c) ------------------------------------------------ */

typedef struct campaign_dir {
  char dir[64], path[128];
} campaign_dir;

static void campaign_dir_make(campaign_dir *d) {
  snprintf(d->dir, sizeof d->dir, "/tmp/bn-test-campaign-XXXXXX");
  CU_ASSERT_FATAL(mkdtemp(d->dir) != NULL);
  snprintf(d->path, sizeof d->path, "%s/run.campaign", d->dir);
}

static void campaign_dir_remove(campaign_dir *d) {
  char p[160];
  snprintf(p, sizeof p, "%s.tmp", d->path);
  unlink(p);
  unlink(d->path);
  rmdir(d->dir);
}

static size_t campaign_slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  CU_ASSERT_FATAL(f != NULL);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

static void campaign_spit(const char *path, const char *buf, size_t n) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT(fwrite(buf, 1, n, f) == n);
  fclose(f);
}

static void bn_campaign_write_should_round_trip(void) {
  campaign_dir d;
  campaign_dir_make(&d);
  uint64_t ids[3] = {1, 0xfedcba9876543210ull, 42};
  bn_campaign c = {.replicates = 3, .seed = 7, .run_ids = ids}, back = {0};
  CU_ASSERT_EQUAL(bn_campaign_write(d.path, &c), BN_OK);
  CU_ASSERT(bn_campaign_is(d.path));
  char why[256] = "";
  CU_ASSERT_EQUAL_FATAL(bn_campaign_read(d.path, &back, why, sizeof why), BN_OK);
  CU_ASSERT_EQUAL(back.replicates, 3);
  CU_ASSERT_EQUAL(back.seed, 7);
  CU_ASSERT(memcmp(back.run_ids, ids, sizeof ids) == 0);
  bn_campaign_free(&back);
  CU_ASSERT_PTR_NULL(back.run_ids);
  campaign_dir_remove(&d);
}

/* Every cut and every flipped byte of a good file is refused (in one line), and the output
 * is left alone. */
static void bn_campaign_read_should_refuse_every_cut_and_flipped_byte(void) {
  campaign_dir d;
  campaign_dir_make(&d);
  uint64_t ids[4] = {11, 22, 33, 44};
  bn_campaign c = {.replicates = 4, .seed = 100, .run_ids = ids};
  CU_ASSERT_EQUAL_FATAL(bn_campaign_write(d.path, &c), BN_OK);
  char good[1024], bad[1024], why[256];
  const size_t n = campaign_slurp(d.path, good, sizeof good);
  CU_ASSERT_FATAL(n > 100 && n < sizeof good);
  size_t refused = 0;
  for (size_t cut = 0; cut < n; cut++) {
    campaign_spit(d.path, good, cut);
    bn_campaign out = {.replicates = 99};
    why[0] = '\0';
    refused += bn_campaign_read(d.path, &out, why, sizeof why) != BN_OK && out.replicates == 99 && why[0] &&
               !strchr(why, '\n');
  }
  for (size_t i = 0; i < n; i++) {
    memcpy(bad, good, n);
    bad[i] ^= (char)0x01;
    campaign_spit(d.path, bad, n);
    bn_campaign out = {.replicates = 99};
    refused += bn_campaign_read(d.path, &out, why, sizeof why) != BN_OK && out.replicates == 99;
  }
  CU_ASSERT_EQUAL(refused, 2 * n);
  /* A well-sealed file with a bad header or line is refused too, and not read past. */
  const char *const forged[] = {"banyan campaign 1\nreplicates 0\nseed 1\n",
                                "banyan campaign 1\nreplicates 4097\nseed 1\n",
                                "banyan campaign 1\nreplicates 1\nseed 1\nreplicate 1 run_id 1\n",
                                "banyan campaign 1\nreplicates 1\nseed 1\nreplicate 0 run_id 1x\n",
                                "banyan campaign 1\nreplicates 1\nseed 1\nreplicate 0 run_id 1\nextra 1\n",
                                "banyan campaign 1\nreplicates 1\nseed 99999999999999999999\nreplicate 0 run_id 1\n"};
  for (size_t k = 0; k < sizeof forged / sizeof forged[0]; k++) {
    char text[512];
    int len = snprintf(text, sizeof text, "%schecksum %016llx\n", forged[k],
                       (unsigned long long)XXH3_64bits(forged[k], strlen(forged[k])));
    campaign_spit(d.path, text, (size_t)len);
    bn_campaign out = {0};
    CU_ASSERT_EQUAL(bn_campaign_read(d.path, &out, why, sizeof why), BN_ERR_CORRUPT);
  }
  CU_ASSERT_EQUAL(bn_campaign_read(d.dir, &(bn_campaign){0}, why, sizeof why), BN_ERR_CORRUPT); /* a directory */
  campaign_dir_remove(&d);
}

static void bn_campaign_replicate_path_should_derive_names_from_the_campaign_file(void) {
  char buf[64];
  CU_ASSERT_EQUAL(bn_campaign_replicate_path("runs/x.campaign", 7, buf, sizeof buf), BN_OK);
  CU_ASSERT_STRING_EQUAL(buf, "runs/x.r007.h5");
  CU_ASSERT_EQUAL(bn_campaign_replicate_path("x.campaign", 1234, buf, sizeof buf), BN_OK);
  CU_ASSERT_STRING_EQUAL(buf, "x.r1234.h5");
  CU_ASSERT_EQUAL(bn_campaign_replicate_path("x.h5", 1, buf, sizeof buf), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_campaign_replicate_path(".campaign", 1, buf, sizeof buf), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_campaign_path("runs/x.h5", buf, sizeof buf), BN_OK);
  CU_ASSERT_STRING_EQUAL(buf, "runs/x.campaign");
  CU_ASSERT_EQUAL(bn_campaign_path("x", buf, sizeof buf), BN_OK);
  CU_ASSERT_STRING_EQUAL(buf, "x.campaign");
  CU_ASSERT_EQUAL(bn_replicate_seed(5, 3), 8u);
}

BN_TEST_MAIN("search", BN_TEST(bn__top_evals_offer_should_keep_the_k_best_in_order),
             BN_TEST(bn__top_evals_offer_should_list_a_state_once_with_its_best_reward),
             BN_TEST(bn__top_evals_offer_should_be_safe_from_many_threads),
             BN_TEST(bn__crew_run_should_run_every_item_on_the_workers_before_wait_returns),
             BN_TEST(bn__crew_run_should_run_items_inline_without_workers),
             BN_TEST(bn_campaign_write_should_round_trip),
             BN_TEST(bn_campaign_read_should_refuse_every_cut_and_flipped_byte),
             BN_TEST(bn_campaign_replicate_path_should_derive_names_from_the_campaign_file))
