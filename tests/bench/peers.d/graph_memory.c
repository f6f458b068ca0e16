/* Benchmark helper of tests/bench/peers (not part of the test suite): the resident memory
 * the search graph costs per node, measured on the graph alone.
 *
 * It opens the domain of a configuration, creates the search graph with the tree
 * parameters the search itself would use (bn__search_tree_params), and runs the search
 * loop of one rank without MPI and without a results log: select, run the job in this
 * process (rollout and evaluate, as rank 0 does when it is alone), backprop. The resident
 * set size (/proc/self/statm) is read after the graph is created, and again whenever the
 * node count passes a milestone (1,000 x 10^k and the target); each line reports the
 * growth since the empty graph divided by the nodes added. Growth of the transposition
 * table (doubling) and of the node/edge/state stores (pages touched in arrays reserved in
 * virtual memory) is all the process allocates in the loop, so that is the graph's
 * footprint.
 *
 * usage: bench_graph_memory CONFIG NODES [section.key=value ...]
 * Output: one line per milestone, "nodes N edges E iterations I rss_bytes R bytes_per_node B
 * seconds S", then one JSON object with the final figures. Exit status 1 on any error, 2
 * on bad arguments. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banyan/clock.h"
#include "banyan/config.h"
#include "banyan/domain.h"
#include "banyan/engine.h"
#include "banyan/rng.h"
#include "banyan/tree.h"
#include "search/search_impl.h"

/* Resident bytes of this process (second field of /proc/self/statm, in pages). */
static bn_err resident_bytes(uint64_t *out) {
  FILE *f = fopen("/proc/self/statm", "r");
  BN_CHECK(f, BN_ERR_IO, "cannot open /proc/self/statm");
  unsigned long long size = 0, resident = 0;
  int got = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  BN_CHECK(got == 2, BN_ERR_IO, "cannot parse /proc/self/statm");
  *out = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
  return BN_OK;
}

/* Every core and built-in domain option declared, the file read, the overrides applied. */
static bn_err load_config(const char *path, int n_sets, char **sets, bn_config **out) {
  bn_config *cfg = NULL;
  bn_err err = BN_OK;
  size_t n = 0;
  BN_TRY(bn_config_create(&cfg));
  const bn_option *core = bn_config_core_options(&n);
  BN_TRY(bn_config_declare(cfg, core, n));
  for (size_t i = 0; bn_domain_builtin(i); i++) {
    const bn_domain_ops *ops = bn_domain_builtin(i);
    if (ops->n_options) BN_TRY(bn_config_declare(cfg, ops->options, ops->n_options));
  }
  BN_TRY(bn_config_load_file(cfg, path));
  for (int i = 0; i < n_sets; i++) BN_TRY(bn_config_set(cfg, sets[i]));
  BN_TRY(bn_config_finalize(cfg, stderr));
  *out = cfg;
  return BN_OK;
fail:
  bn_config_destroy(&cfg);
  return err;
}

typedef struct figures {
  uint64_t nodes, edges, iterations, rss, rss_base;
  double seconds;
} figures;

static void print_line(const figures *f) {
  const double per_node = f->nodes > 1 ? ((double)f->rss - (double)f->rss_base) / (double)(f->nodes - 1) : 0.0;
  printf("nodes %" PRIu64 " edges %" PRIu64 " iterations %" PRIu64 " rss_bytes %" PRIu64
         " bytes_per_node %.1f seconds %.3f\n",
         f->nodes, f->edges, f->iterations, f->rss, per_node, f->seconds);
  fflush(stdout);
}

/* Grow the graph of `domain` to `target` nodes (or until the root is exhausted). */
static bn_err grow(const bn_config *cfg, const bn_domain *domain, uint64_t target, figures *f) {
  bn_err err = BN_OK;
  bn_tree *tree = NULL;
  bn_edge_id *edges = NULL;
  unsigned char *terminal = NULL;
  bn_tree_params tp;
  bn__search_tree_params(cfg, &tp);
  BN_TRY(bn_tree_create(&tree, domain, &tp));
  edges = calloc((size_t)bn_tree_path_capacity(tree), sizeof *edges);
  terminal = malloc(domain->info.state_size);
  BN_CHECK_GOTO(edges && terminal, BN_ERR_NOMEM, "no memory for a path");
  const uint64_t seed = (uint64_t)bn_config_int(cfg, "search.seed");
  const int retries = (int)bn_config_int(cfg, "engine.retries");
  BN_TRY(resident_bytes(&f->rss_base));
  uint64_t milestone = 1000;
  const double t0 = bn_mtime();
  for (uint64_t it = 0;; it++) {
    const uint64_t nodes = bn_tree_node_count(tree);
    if (nodes >= milestone || nodes >= target) {
      f->nodes = nodes;
      f->edges = bn_tree_edge_count(tree);
      f->iterations = it;
      f->seconds = bn_mtime() - t0;
      BN_TRY(resident_bytes(&f->rss));
      print_line(f);
      while (milestone <= nodes) milestone *= 10;
      if (nodes >= target) break;
    }
    bn_path path = {.edges = edges};
    bool exhausted = false;
    BN_TRY(bn_tree_select(tree, bn_seed_derive(seed, it, BN_RNG_SELECT), &path, &exhausted));
    if (exhausted) {
      fprintf(stderr, "bench_graph_memory: the root is exhausted at %" PRIu64 " nodes\n", nodes);
      err = BN_ERR_FULL;
      goto fail;
    }
    const bn_eval_request req = {.job_id = it,
                                 .seed = bn_seed_derive(seed, it, BN_RNG_JOB),
                                 .sample = path.sample,
                                 .attempt = 1};
    bn_job_outcome out;
    bn_job_execute(domain, path.terminal ? BN_JOB_REWARD : BN_JOB_SIMULATE, &req, retries,
                   bn_tree_state(tree, path.leaf), terminal, &out);
    if (out.status == BN_JOB_OK)
      bn_tree_backprop(tree, &path, out.reward);
    else
      bn_tree_abandon(tree, &path);
  }
fail:
  free(terminal);
  free(edges);
  bn_tree_destroy(&tree);
  return err;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s CONFIG NODES [section.key=value ...]\n", argv[0]);
    return 2;
  }
  char *end = NULL;
  const unsigned long long target = strtoull(argv[2], &end, 10);
  if (!end || *end || target < 2) {
    fprintf(stderr, "%s: NODES must be an integer >= 2, not \"%s\"\n", argv[0], argv[2]);
    return 2;
  }
  bn_config *cfg = NULL;
  bn_domain domain = {0};
  figures f = {0};
  if (load_config(argv[1], argc - 3, argv + 3, &cfg) != BN_OK) return 2;
  bn_err err = bn_domain_open_configured(&domain, cfg);
  if (err == BN_OK) err = grow(cfg, &domain, target, &f);
  if (err == BN_OK)
    printf("{\"nodes\": %" PRIu64 ", \"edges\": %" PRIu64 ", \"iterations\": %" PRIu64
           ", \"rss_baseline_bytes\": %" PRIu64 ", \"rss_bytes\": %" PRIu64
           ", \"bytes_per_node\": %.3f, \"seconds\": %.6f}\n",
           f.nodes, f.edges, f.iterations, f.rss_base, f.rss,
           ((double)f.rss - (double)f.rss_base) / (double)(f.nodes - 1), f.seconds);
  bn_domain_close(&domain);
  bn_config_destroy(&cfg);
  if (err != BN_OK) fprintf(stderr, "bench_graph_memory: %s\n", bn_strerror(err));
  return err == BN_OK ? 0 : 1;
}
