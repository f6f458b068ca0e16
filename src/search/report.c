/* The end of a run: the table of best states on stdout and the JSON summary for scripts,
 * with the failed jobs counted by kind and by reason (bn_failure_count_groups). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "search/search_impl.h"

enum { PRINTED_KINDS = 10, JSON_REASONS = 100 };

/* The failed jobs of the whole run (earlier sessions included), from the tally. */
static bn_err count_failures(bn_search *s, bn_failure_counts *fc) {
  pthread_mutex_lock(&s->failures_mu);
  bn_err e = bn_failure_count_groups(s->failures_by_reason.groups, s->failures_by_reason.n, fc);
  pthread_mutex_unlock(&s->failures_mu);
  return e;
}

/* Write s as a JSON string literal. */
void bn__json_string(FILE *f, const char *str) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static bn_err write_summary(bn_search *s, const bn_engine_stats *eng, const bn_dispatch_stats *ds,
                            const bn_tree_best *best, size_t n_best, const bn_top_eval *evals,
                            size_t n_evals, const bn_failure_counts *fc, const char *path) {
  char tmp[4096];
  BN_CHECK(snprintf(tmp, sizeof tmp, "%s.tmp", path) < (int)sizeof tmp, BN_ERR_ARG, "summary path too long");
  FILE *f = fopen(tmp, "w");
  BN_CHECK(f, BN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  const double wall = s->t_end - s->t_start;
  const uint64_t done = atomic_load(&s->completed), failures = atomic_load(&s->failures);
  double busy = 0;
  for (int i = 0; i < ds->engines; i++) busy += eng[i].busy_seconds;
  if (ds->engines == 0) busy = ds->busy_seconds;
  const int workers = ds->engines ? ds->engines : 1;
  fprintf(f, "{\n  \"banyan_version\": \"%s\",\n  \"domain\": ", BANYAN_VERSION);
  bn__json_string(f, s->domain->ops->name);
  fprintf(f, ",\n  \"stop_reason\": ");
  bn__json_string(f, bn_stop_reason_name(bn__search_reason(s)));
  fprintf(f,
          ",\n  \"iterations\": %llu,\n  \"evaluations\": %llu,\n  \"failures\": %llu,\n"
          "  \"issued\": %llu,\n  \"dispatched\": %llu,\n  \"results_received\": %llu,\n"
          "  \"wall_seconds\": %.6f,\n  \"evaluations_per_second\": %.3f,\n  \"engines\": %d,\n"
          "  \"search_threads\": %d,\n  \"engine_utilization\": %.6f,\n  \"mean_batch\": %.3f,\n"
          "  \"messages_sent\": %llu,\n  \"nodes\": %llu,\n  \"edges\": %llu,\n  \"engine_stats\": [",
          (unsigned long long)done, (unsigned long long)(done - failures), (unsigned long long)failures,
          (unsigned long long)bn__search_issued(s), (unsigned long long)ds->sent, (unsigned long long)ds->received,
          wall, wall > 0 ? (done - s->completed_at_start) / wall : 0.0, ds->engines, s->threads, wall > 0 ? busy / (workers * wall) : 0.0,
          ds->mean_batch, (unsigned long long)ds->messages_sent, (unsigned long long)bn_tree_node_count(s->tree),
          (unsigned long long)bn_tree_edge_count(s->tree));
  for (int i = 0; i < ds->engines; i++)
    fprintf(f,
            "%s\n    {\"rank\": %d, \"pool\": \"%s\", \"jobs\": %llu, \"failures\": %llu, \"messages\": %llu, "
            "\"busy_seconds\": %.6f, \"cpu_seconds\": %.6f, \"wall_seconds\": %.6f}",
            i ? "," : "", i + 1, bn_pool_name(bn_dispatcher_engine_pool(s->disp, i + 1)),
            (unsigned long long)eng[i].jobs, (unsigned long long)eng[i].failures,
            (unsigned long long)eng[i].messages, eng[i].busy_seconds, eng[i].cpu_seconds, eng[i].wall_seconds);
  fprintf(f, "%s]", ds->engines ? "\n  " : "");
  bn_pool_figures pools[BN_POOLS_MAX];
  const int n_pools = bn_dispatcher_pools(s->disp, pools);
  fprintf(f, ",\n  \"pool_moves\": %llu,\n  \"pools\": [", (unsigned long long)ds->pool_moves);
  for (int i = 0; i < n_pools; i++)
    fprintf(f,
            "%s\n    {\"pool\": \"%s\", \"engines\": %d, \"jobs\": %llu, \"busy_seconds\": %.6f, "
            "\"engine_seconds\": %.6f, \"utilization\": %.6f, \"moves_in\": %llu, \"moves_out\": %llu}",
            i ? "," : "", bn_pool_name(pools[i].kinds), pools[i].engines, (unsigned long long)pools[i].jobs,
            pools[i].busy_seconds, pools[i].engine_seconds,
            pools[i].engine_seconds > 0 ? pools[i].busy_seconds / pools[i].engine_seconds : 0.0,
            (unsigned long long)pools[i].moves_in, (unsigned long long)pools[i].moves_out);
  fprintf(f, "%s]", n_pools ? "\n  " : "");
  /* Over the whole results log; at most JSON_REASONS distinct reasons are listed. */
  bn_failure_counts_json(fc, JSON_REASONS, f);
  fprintf(f, ",\n  \"best\": [");
  for (size_t i = 0; i < n_best; i++) {
    char text[256];
    s->domain->ops->describe(s->domain->ctx, bn_tree_state(s->tree, best[i].node), text, sizeof text);
    fprintf(f, "%s\n    {\"state\": ", i ? "," : "");
    bn__json_string(f, text);
    fprintf(f, ", \"mean_reward\": %.9g, \"visits\": %llu}", best[i].mean, (unsigned long long)best[i].visits);
  }
  fprintf(f, "%s],\n  \"best_evaluations\": [", n_best ? "\n  " : "");
  for (size_t i = 0; i < n_evals; i++) {
    char text[256];
    s->domain->ops->describe(s->domain->ctx, evals[i].state, text, sizeof text);
    fprintf(f, "%s\n    {\"state\": ", i ? "," : "");
    bn__json_string(f, text);
    fprintf(f, ", \"reward\": %.9g, \"job\": %llu}", evals[i].reward, (unsigned long long)evals[i].job_id);
  }
  fprintf(f, "%s]\n}\n", n_evals ? "\n  " : "");
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  BN_CHECK(!bad, BN_ERR_IO, "writing %s failed", tmp);
  BN_CHECK(rename(tmp, path) == 0, BN_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  return BN_OK;
}

/* One line per engine pool: engines, jobs, utilization (busy time over engine time in it). */
void bn__search_print_pools(const bn_dispatcher *disp, const bn_dispatch_stats *ds) {
  bn_pool_figures pools[BN_POOLS_MAX];
  const int n = bn_dispatcher_pools(disp, pools);
  for (int i = 0; i < n; i++)
    printf("  pool %-8s %d engine%s, %llu jobs, utilization %.1f%%\n", bn_pool_name(pools[i].kinds),
           pools[i].engines, pools[i].engines == 1 ? "" : "s", (unsigned long long)pools[i].jobs,
           pools[i].engine_seconds > 0 ? 100.0 * pools[i].busy_seconds / pools[i].engine_seconds : 0.0);
  if (n > 0 && ds->pool_moves)
    printf("  %llu engine move%s between pools (engine.pool_rebalance)\n", (unsigned long long)ds->pool_moves,
           ds->pool_moves == 1 ? "" : "s");
}

bn_err bn__search_report(bn_search *s, const bn_engine_stats *engines, const char *summary_path) {
  bn_dispatch_stats ds;
  bn_dispatcher_stats(s->disp, &ds);
  size_t k = (size_t)bn_config_int(s->cfg, "search.top");
  uint64_t min_visits = (uint64_t)bn_config_int(s->cfg, "search.best_min_visits");
  size_t want = k > 10 ? k : 10;
  bn_tree_best *best = calloc(want, sizeof *best);
  BN_CHECK(best, BN_ERR_NOMEM, "no memory for the best states");
  size_t n = bn_tree_best_terminals(s->tree, want, min_visits, best);
  bn_top_eval *evals = calloc(k ? k : 1, sizeof *evals);
  if (!evals) {
    free(best);
    return BN_ERR_NOMEM;
  }
  size_t n_evals = bn__top_evals_get(s->top, evals, k);
  bn_failure_counts fc;
  bn_err counted = count_failures(s, &fc);
  if (counted != BN_OK) {
    free(best);
    free(evals);
    return counted;
  }
  const double wall = s->t_end - s->t_start;
  const uint64_t done = atomic_load(&s->completed);
  if (!s->quiet) {
    printf("banyan: %llu iterations in %.2f s (%.0f per second), %llu failed, %d engine%s; %s\n",
           (unsigned long long)(done - s->completed_at_start), wall,
           wall > 0 ? (done - s->completed_at_start) / wall : 0.0,
           (unsigned long long)atomic_load(&s->failures), ds.engines, ds.engines == 1 ? "" : "s",
           bn_stop_reason_name(bn__search_reason(s)));
    bn__search_print_pools(s->disp, &ds);
    if (fc.failed > 0) bn_failure_counts_print(&fc, atomic_load(&s->completed), PRINTED_KINDS, stdout);
    if (k > 0 && n > 0) {
      printf("best states (mean reward over >= %llu visits):\n", (unsigned long long)min_visits);
      printf("  rank  mean reward  visits  state\n");
      for (size_t i = 0; i < n && i < k; i++) {
        char text[256];
        s->domain->ops->describe(s->domain->ctx, bn_tree_state(s->tree, best[i].node), text, sizeof text);
        printf("  %4zu  %11.4f  %6llu  %s\n", i + 1, best[i].mean, (unsigned long long)best[i].visits, text);
      }
    } else if (k > 0 && n_evals > 0) {
      printf("no terminal state in the search graph has %llu visits yet; best single evaluations:\n",
             (unsigned long long)min_visits);
      printf("  rank       reward      job  state\n");
      for (size_t i = 0; i < n_evals; i++) {
        char text[256];
        s->domain->ops->describe(s->domain->ctx, evals[i].state, text, sizeof text);
        printf("  %4zu  %11.4f  %7llu  %s\n", i + 1, evals[i].reward, (unsigned long long)evals[i].job_id, text);
      }
    }
    fflush(stdout);
  }
  bn_err err =
      summary_path ? write_summary(s, engines, &ds, best, n < k ? n : k, evals, n_evals, &fc, summary_path) : BN_OK;
  bn_failure_counts_free(&fc);
  free(best);
  free(evals);
  return err;
}
