/* `banyan inspect`: a readable summary of a snapshot. Sections, in order: run identity,
 * search counters, best states, failures grouped by kind, engine use, checkpoint history
 * (first and last few when long), timeline (first and last rows). Output only: never fails
 * (an allocation failure shortens the failure section, with a note). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint/checkpoint_impl.h"

#define HISTORY_EDGE 3  /* history rows shown at each end when there are many */
#define MAX_KINDS 20  /* kinds of failure listed, most frequent first */

/* Mirrors bn_stop_reason (include/banyan/search.h), which this module does not depend on. */
static const char *stop_text(uint32_t r) {
  static const char *const names[] = {"none", "budget reached", "time limit", "space exhausted",
                                      "graph full", "signal", "error"};
  return r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

static void put_time(FILE *out, double t) {
  struct tm tm;
  char buf[64];
  if (isfinite(t) && t >= 0 && t < 253402300800.0) { /* before year 10000 */
    const time_t s = (time_t)t;
    if (gmtime_r(&s, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0) {
      fputs(buf, out);
      return;
    }
  }
  fprintf(out, "%.3f", t);
}

static void put_identity(const bn_snapshot *s, FILE *out) {
  fprintf(out, "checkpoint\n");
  fprintf(out, "  domain           %s\n", s->domain ? s->domain : "?");
  fprintf(out, "  banyan version   %s (format %u)\n", s->banyan_version ? s->banyan_version : "?",
          BN_CHECKPOINT_FORMAT_VERSION);
  fprintf(out, "  created          ");
  put_time(out, s->created);
  fprintf(out, "\n  updated          ");
  put_time(out, s->updated);
  fprintf(out, "\n  seed             %llu\n", (unsigned long long)s->seed);
  fprintf(out, "  state size       %llu bytes\n", (unsigned long long)s->state_size);
}

static void put_counters(const bn_snapshot *s, FILE *out) {
  fprintf(out, "search\n");
  fprintf(out, "  iterations       %llu of budget %llu (%llu claimed)\n", (unsigned long long)s->completed,
          (unsigned long long)s->budget, (unsigned long long)s->next_iteration);
  /* The plain counts, as the schema lists them. */
  size_t n = 0;
  const bn__attr *attrs = bn__root_attrs(&n);
  for (size_t i = 0; i < n; i++)
    if (attrs[i].counter)
      fprintf(out, "  %-16s %llu\n", attrs[i].name,
              (unsigned long long)*(const uint64_t *)((const unsigned char *)s + attrs[i].offset));
  fprintf(out, "  pending          %llu\n", (unsigned long long)s->n_pending);
  if (s->finished)
    fprintf(out, "  finished         yes (%s)\n", stop_text(s->stop_reason));
  else if (s->stop_reason)
    fprintf(out, "  finished         no (stopped: %s; resume continues)\n", stop_text(s->stop_reason));
  else
    fprintf(out, "  finished         no (in progress)\n");
  fprintf(out, "  elapsed          %.1f s\n", s->elapsed_seconds);
  fprintf(out, "  mode             %s\n", s->deterministic ? "deterministic" : "free");
  fprintf(out, "  graph            %llu nodes, %llu edges\n", (unsigned long long)s->tree.n_nodes,
          (unsigned long long)s->tree.n_edges);
}

static void put_best(const bn_snapshot *s, const bn_domain *domain, FILE *out) {
  fprintf(out, "best states (%llu)\n", (unsigned long long)s->n_best);
  char *text = NULL;
  size_t cap = 0;
  for (uint64_t i = 0; i < s->n_best; i++) {
    const bn_best_row *b = &s->best[i];
    const char *shown = b->text;
    if (!memchr(b->text, '\0', sizeof b->text) || !b->text[0]) {
      shown = "?";
      if (b->node < s->tree.n_nodes && s->tree.states &&
          bn__state_text(domain, s->tree.states + (size_t)b->node * s->state_size, (size_t)s->state_size, &text,
                         &cap) == BN_OK)
        shown = text;
    }
    fprintf(out, "  %3llu. mean %-12.6g visits %-8llu node %-8u %s\n", (unsigned long long)(i + 1), b->mean,
            (unsigned long long)b->visits, b->node, shown);
  }
  free(text);
}

static void put_failures(const bn_snapshot *s, FILE *out) {
  bn_failure_counts fc;
  if (bn_failure_count_groups(s->failure_groups, (size_t)s->n_failure_groups, &fc) != BN_OK) {
    fprintf(out, "failures by kind\n  (not enough memory to group them)\n");
    return;
  }
  bn_failure_counts_print(&fc, s->completed, MAX_KINDS, out);
  bn_failure_counts_free(&fc);
}

static void put_utilization(double busy, double idle, FILE *out) {
  if (busy + idle > 0) fprintf(out, " %11.1f%%\n", 100.0 * busy / (busy + idle));
  else fprintf(out, " %12s\n", "-");
}

/* engine.pools: the pool column, then one line per pool (engines grouped by the pool they
 * were in last) and the moves. Nothing for a run without pools. */
static void put_pools(const bn_snapshot *s, FILE *out) {
  static const unsigned pools[] = {1, 2};
  for (size_t p = 0; p < sizeof pools / sizeof pools[0]; p++) {
    uint64_t engines = 0, jobs = 0;
    double busy = 0, idle = 0;
    for (uint64_t i = 0; i < s->n_engines; i++) {
      const bn_engine_row *e = &s->engines[i];
      if (e->pool != pools[p]) continue;
      engines++;
      jobs += e->jobs;
      busy += e->busy_seconds;
      idle += e->idle_seconds;
    }
    if (engines == 0) continue;
    fprintf(out, "  pool %-8s %3llu engine%s %12llu jobs %10.1f s busy %10.1f s idle", bn_pool_name(pools[p]),
            (unsigned long long)engines, engines == 1 ? " " : "s", (unsigned long long)jobs, busy, idle);
    put_utilization(busy, idle, out);
  }
  if (s->n_pool_moves > 0)
    fprintf(out, "  %llu engine move%s between pools (engine.pool_rebalance; /stats/pool_moves)\n",
            (unsigned long long)s->n_pool_moves, s->n_pool_moves == 1 ? "" : "s");
}

static void put_engines(const bn_snapshot *s, FILE *out) {
  fprintf(out, "engines (%llu)\n", (unsigned long long)s->n_engines);
  if (s->n_engines == 0) return;
  bool pooled = false;
  for (uint64_t i = 0; i < s->n_engines; i++) pooled |= s->engines[i].pool != BN_POOL_ALL;
  fprintf(out, "  %6s %12s %10s %12s %12s %12s%s\n", "rank", "jobs", "failures", "busy s", "idle s", "utilization",
          pooled ? "  pool" : "");
  for (uint64_t i = 0; i < s->n_engines; i++) {
    const bn_engine_row *e = &s->engines[i];
    fprintf(out, "  %6d %12llu %10llu %12.1f %12.1f", e->rank, (unsigned long long)e->jobs,
            (unsigned long long)e->failures, e->busy_seconds, e->idle_seconds);
    if (pooled) {
      const double total = e->busy_seconds + e->idle_seconds;
      if (total > 0) fprintf(out, " %11.1f%%  %s\n", 100.0 * e->busy_seconds / total, bn_pool_name(e->pool));
      else fprintf(out, " %12s  %s\n", "-", bn_pool_name(e->pool));
    } else {
      put_utilization(e->busy_seconds, e->idle_seconds, out);
    }
  }
  if (pooled) put_pools(s, out);
}

static void put_history_row(const bn_checkpoint_row *h, FILE *out) {
  fprintf(out, "  ");
  put_time(out, h->t_unix);
  fprintf(out, "  iterations %-10llu snapshot %.3f s  write %.3f s (segment of %llu rows %.3f s)  %.1f MB",
          (unsigned long long)h->iterations, h->snapshot_seconds, h->write_seconds, (unsigned long long)h->segment_rows,
          h->segment_seconds, (double)h->bytes / 1e6);
  if (h->flushed_rows > 0)
    fprintf(out, "  (before it: %llu rows written early, %.3f s)", (unsigned long long)h->flushed_rows, h->flush_seconds);
  fputc('\n', out);
}

static void put_history(const bn_snapshot *s, FILE *out) {
  fprintf(out, "checkpoint history (%llu)\n", (unsigned long long)s->n_history);
  for (uint64_t i = 0; i < s->n_history; i++) {
    if (s->n_history > 2 * HISTORY_EDGE && i == HISTORY_EDGE) {
      fprintf(out, "  ... %llu more ...\n", (unsigned long long)(s->n_history - 2 * HISTORY_EDGE));
      i = s->n_history - HISTORY_EDGE - 1;
      continue;
    }
    put_history_row(&s->history[i], out);
  }
}

static void put_timeline_row(const char *label, const bn_timeline_row *t, FILE *out) {
  fprintf(out, "  %-5s t %.1f s  iterations %llu  evaluations %llu  failures %llu  in flight %llu  best %.6g  "
          "utilization %.1f%%",
          label, t->t, (unsigned long long)t->iterations, (unsigned long long)t->evaluations,
          (unsigned long long)t->failures, (unsigned long long)t->in_flight, t->best_reward, 100.0 * t->utilization);
  if (isfinite(t->reward_pool_utilization) || isfinite(t->simulate_pool_utilization))
    fprintf(out, " (pool reward %.1f%%, simulate %.1f%%)", 100.0 * t->reward_pool_utilization,
            100.0 * t->simulate_pool_utilization);
  fputc('\n', out);
}

static void put_timeline(const bn_snapshot *s, FILE *out) {
  fprintf(out, "timeline (%llu rows)\n", (unsigned long long)s->n_timeline);
  if (s->n_timeline == 0) return;
  put_timeline_row("first", &s->timeline[0], out);
  if (s->n_timeline > 1) put_timeline_row("last", &s->timeline[s->n_timeline - 1], out);
}

static void put_segments(const bn_snapshot *s, FILE *out) {
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < s->n_segments; i++) bytes += s->segments[i].bytes;
  fprintf(out, "results log\n  %llu rows in %llu segment%s (%.1f MB, %.1f bytes per row) in %s\n",
          (unsigned long long)s->completed, (unsigned long long)s->n_segments, s->n_segments == 1 ? "" : "s",
          (double)bytes / 1e6, s->completed ? (double)bytes / (double)s->completed : 0.0,
          s->segment_dir ? s->segment_dir : "?");
}

void bn_checkpoint_print_summary(const bn_snapshot *snap, const bn_domain *domain, FILE *out) {
  if (!snap || !out) return;
  if (domain && domain->info.state_size != snap->state_size) {
    fprintf(out, "(the domain's states have %zu bytes, the checkpoint's %llu: states shown in hex)\n",
            domain->info.state_size, (unsigned long long)snap->state_size);
    domain = NULL;
  }
  put_identity(snap, out);
  put_counters(snap, out);
  put_best(snap, domain, out);
  put_failures(snap, out);
  put_engines(snap, out);
  put_history(snap, out);
  put_timeline(snap, out);
  put_segments(snap, out);
}
