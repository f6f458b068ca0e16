/* A campaign: many searches (replicates, search.replicates = N) run together on rank 0 and
 * share the engines (issue 14, part 2).
 *
 * One graph per replicate: replicate r is an ordinary bn_search with its own graph,
 * counters, results log, sequencer and checkpoint writer, configured exactly as the
 * separate run with seed bn_replicate_seed(seed, r) would be. Only the job slot records,
 * the outbox, the dispatcher and the search threads are the campaign's: replicate r's
 * slots are a range of the campaign's slot table, so the dispatcher (unchanged) sees one
 * search with many slots and the campaign routes each result to the replicate that owns
 * its slot. Since a replicate's selections never see another's statistics and every job
 * carries its own seed, replicate r in deterministic mode grows the same graph as the
 * separate deterministic run; checkpoints and resume are each replicate's own, with the
 * guarantees of a lone run.
 *
 * Fair share: a replicate may hold at most capacity / R jobs in flight, R the replicates
 * still issuing work (rounded up, so the last ones to finish get the engines of the
 * others; in deterministic mode its window W, which may be far more than its share). Its
 * new jobs wait in a queue of its own, and the campaign moves them to the dispatcher's
 * outbox one replicate after the other (round robin), keeping no more there than the
 * engines can hold: whatever the windows, the engines take the replicates' jobs in turn,
 * and none starves.
 *
 * Stops: a signal, the time limit or lost engines reach every replicate through its own
 * tick; an error in one stops all. The hooks below combine the replicates' own. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "search/search_impl.h"

typedef struct campaign {
  uint32_t n;
  bn_search **rep;
  uint32_t n_slots;  /* the campaign's slot table */
  bn_job *jobs;
  uint32_t *owner;   /* [n_slots]: the replicate of each slot */
  uint32_t *sorted;  /* [n_slots]: on_results' slots grouped by replicate */
  uint32_t *count;   /* [n + 1] */
  bn_crew *crew;
  bn_outbox *outbox;     /* the dispatcher's */
  bn_outbox **queue;     /* [n]: each replicate's new jobs, until feed() moves them */
  uint32_t next_feed;    /* the replicate feed() takes a job of first */
  bn_dispatcher *disp;
  double progress_seconds, next_progress, t_start, t_end, last_t;
  uint64_t done_at_start, last_done;
  int quiet;
} campaign;

static uint64_t total_completed(const campaign *c) {
  uint64_t n = 0;
  for (uint32_t r = 0; r < c->n; r++) n += atomic_load(&c->rep[r]->completed);
  return n;
}

/* Jobs waiting in the replicates' queues and the outbox. */
static uint64_t queued(const campaign *c) {
  uint64_t n = bn_outbox_size(c->outbox);
  for (uint32_t r = 0; r < c->n; r++) n += bn_outbox_size(c->queue[r]);
  return n;
}

static bool hold(void *ctx);

/* Move jobs from the replicates' queues to the dispatcher's outbox, one replicate after
 * the other, until it holds what the engines can (plus one a replicate). Dispatcher thread
 * (the queues' only consumer). While held, jobs stay where they are (pending either way). */
static void feed(campaign *c) {
  if (hold(c)) return;
  bn_dispatch_stats ds;
  bn_dispatcher_stats(c->disp, &ds);
  const uint64_t want = (uint64_t)ds.capacity + c->n;
  uint64_t have = bn_outbox_size(c->outbox);
  for (uint32_t r = c->next_feed, empty = 0; have < want && empty < c->n; r = (r + 1) % c->n) {
    uint32_t slot;
    if (!bn_outbox_pop(c->queue[r], &slot)) {
      empty++;
      continue;
    }
    empty = 0;
    if (!bn_outbox_push(c->outbox, slot)) { /* cannot happen: it holds every slot */
      bn_error("the campaign's outbox is full with %u slots", c->n_slots);
      bn__search_fail(c->rep[r], BN_ERR_INTERNAL);
      return;
    }
    have++;
    c->next_feed = (r + 1) % c->n;
  }
}

/* Results to the replicates that own their slots, as local slot numbers. */
static void on_results(void *ctx, const uint32_t *slots, size_t n) {
  campaign *c = ctx;
  memset(c->count, 0, (c->n + 1) * sizeof *c->count);
  for (size_t k = 0; k < n; k++) c->count[c->owner[slots[k]] + 1]++;
  for (uint32_t r = 0; r < c->n; r++) c->count[r + 1] += c->count[r];
  /* count[r] is now where replicate r's group starts; fill, then walk the groups. */
  for (size_t k = 0; k < n; k++) {
    const uint32_t r = c->owner[slots[k]];
    c->sorted[c->count[r]++] = slots[k] - c->rep[r]->slot_base;
  }
  uint32_t start = 0;
  for (uint32_t r = 0; r < c->n; r++) {
    if (c->count[r] > start) bn__search_on_results(c->rep[r], c->sorted + start, c->count[r] - start);
    start = c->count[r];
  }
  feed(c); /* credits were freed: the next jobs, in turn */
}

static bool finished(void *ctx) {
  campaign *c = ctx;
  for (uint32_t r = 0; r < c->n; r++)
    if (!bn__search_finished(c->rep[r])) return false;
  return true;
}

/* The outbox is one: while any replicate stops short, none sends (after the tick that
 * saw it, all do: a signal, the time or lost engines reach each, an error is passed on). */
static bool hold(void *ctx) {
  campaign *c = ctx;
  for (uint32_t r = 0; r < c->n; r++)
    if (bn__search_hold(c->rep[r])) return true;
  return false;
}

static bool give_up(void *ctx) {
  campaign *c = ctx;
  bool any = false;
  for (uint32_t r = 0; r < c->n; r++) {
    bn_search *s = c->rep[r];
    if (bn__search_finished(s)) continue;
    if (!s->draining) return false;
    any = true;
  }
  if (!any) return false;
  /* Every replicate still running is draining: give up when each one's deadline says so. */
  for (uint32_t r = 0; r < c->n; r++)
    if (!bn__search_finished(c->rep[r]) && !bn__search_give_up(c->rep[r])) return false;
  return true;
}

/* The progress line lists each replicate's best mean up to this many replicates; beyond,
 * their range. */
enum { MAX_LISTED_BESTS = 8 };

/* One line for the whole campaign: iterations of all replicates (and the least and most of
 * one), the total rate, jobs in flight, failures, engine use, the replicates' best means
 * and the best state of any replicate. */
static void progress(campaign *c, double now, int final) {
  bn_dispatch_stats ds;
  bn_dispatcher_stats(c->disp, &ds);
  const double elapsed = now - c->t_start, dt = now - c->last_t;
  const uint64_t done = total_completed(c);
  const double rate = final ? (elapsed > 0 ? (double)(done - c->done_at_start) / elapsed : 0)
                            : (dt > 0 ? (double)(done - c->last_done) / dt : 0);
  c->last_done = done;
  c->last_t = now;
  uint64_t budget = 0, failed = 0, issued = 0, lo = UINT64_MAX, hi = 0;
  uint32_t best_r = UINT32_MAX, n_means = 0;
  double best = -INFINITY, worst = INFINITY;
  char bests[8 * MAX_LISTED_BESTS + 8] = "";
  size_t used = 0;
  char best_text[160] = "-", text[160];
  for (uint32_t r = 0; r < c->n; r++) {
    bn_search *s = c->rep[r];
    const uint64_t d = atomic_load(&s->completed);
    budget += s->budget;
    failed += atomic_load(&s->failures);
    issued += bn__search_issued(s);
    lo = d < lo ? d : lo;
    hi = d > hi ? d : hi;
    double m = 0;
    const bool has = bn__search_best_text(s, text, sizeof text, &m);
    if (has && (best_r == UINT32_MAX || m > best)) {
      best = m;
      best_r = r;
      memcpy(best_text, text, sizeof text);
    }
    if (has) {
      n_means++;
      worst = m < worst ? m : worst;
    }
    /* Each replicate's best mean, while the list stays short. */
    if (c->n <= MAX_LISTED_BESTS && used < sizeof bests)
      used += (size_t)snprintf(bests + used, sizeof bests - used, "%s%.3f", r ? " " : "", has ? m : NAN);
  }
  if (c->n > MAX_LISTED_BESTS && n_means > 0)
    snprintf(bests, sizeof bests, "%.3f..%.3f", worst, best);
  const int workers = ds.engines ? ds.engines : 1;
  const double util = elapsed > 0 ? ds.busy_seconds / (workers * elapsed) : 0.0;
  printf("[%8.1fs] %s %" PRIu32 " replicates  iter %llu/%llu (each %llu..%llu)  %.0f eval/s  in-flight %llu  "
         "failed %llu  util %.1f%%  bests %s  best r%" PRIu32 " %s\n",
         elapsed, final ? "done" : "    ", c->n, (unsigned long long)done, (unsigned long long)budget,
         (unsigned long long)lo, (unsigned long long)hi, rate, (unsigned long long)(issued - done),
         (unsigned long long)failed, 100.0 * util, bests[0] ? bests : "-", best_r == UINT32_MAX ? 0 : best_r,
         best_text);
  fflush(stdout);
}

static void tick(void *ctx) {
  campaign *c = ctx;
  /* The engines are shared by the replicates still issuing work: as some finish, the
   * others' shares (windows) grow. */
  uint32_t running = 0;
  for (uint32_t r = 0; r < c->n; r++) running += atomic_load(&c->rep[r]->stop) == BN_STOP_NONE;
  for (uint32_t r = 0; r < c->n; r++) c->rep[r]->share = running > 0 ? running : 1;
  for (uint32_t r = 0; r < c->n; r++) bn__search_tick(c->rep[r]);
  /* An error in one replicate stops the campaign. */
  bool failed = false;
  for (uint32_t r = 0; r < c->n; r++) failed |= atomic_load(&c->rep[r]->stop) == BN_STOP_ERROR;
  if (failed)
    for (uint32_t r = 0; r < c->n; r++) bn__search_set_stop(c->rep[r], BN_STOP_ERROR);
  feed(c);
  const double now = bn_mtime();
  if (c->progress_seconds > 0 && now >= c->next_progress) {
    progress(c, now, 0);
    c->next_progress = now + c->progress_seconds;
  }
}

static bn_err dispatch(void *ctx) {
  campaign *c = ctx;
  bn_dispatch_hooks hooks = {
      .ctx = c, .on_results = on_results, .finished = finished, .tick = tick, .give_up = give_up, .hold = hold};
  for (uint32_t r = 0; r < c->n; r++) bn__search_start(c->rep[r]);
  for (;;) {
    bn_err err = bn_dispatcher_run(c->disp, &hooks);
    bn__crew_wait(c->crew);
    bool abandoned = false;
    for (uint32_t r = 0; r < c->n; r++) abandoned |= c->rep[r]->abandoned != 0;
    if (err != BN_OK || abandoned || (finished(c) && (hold(c) || queued(c) == 0))) return err;
  }
}

/* The replicates, each sized and set up on the campaign's slot table, the outbox, the
 * dispatcher and the crew; then each restored from its checkpoint. */
static bn_err setup(campaign *c, const bn_config *cfg, const bn_domain *domain, MPI_Comm comm,
                    const bn_search_options *opt) {
  int engines = 0;
  uint32_t cap = 0;
  bn_engine_params ep;
  BN_CALL(bn__search_engines(cfg, comm, &ep, &engines, &cap));
  c->n = opt->n_replicates;
  c->quiet = opt->quiet;
  c->progress_seconds = opt->quiet ? 0 : bn_config_real(cfg, "search.progress_seconds");
  c->rep = calloc(c->n, sizeof *c->rep);
  c->queue = calloc(c->n, sizeof *c->queue);
  c->count = calloc((size_t)c->n + 1, sizeof *c->count);
  BN_CHECK(c->rep && c->queue && c->count, BN_ERR_NOMEM, "no memory for %" PRIu32 " replicates", c->n);
  uint64_t total = 0;
  for (uint32_t r = 0; r < c->n; r++) {
    bn_search *s = c->rep[r] = calloc(1, sizeof *s);
    BN_CHECK(s, BN_ERR_NOMEM, "no memory for replicate %" PRIu32, r);
    s->shared = 1;
    s->share = c->n;
    s->quiet = 1;
    s->slot_base = (uint32_t)total;
    BN_CALL(bn__search_setup_params(s, opt->replicates[r].cfg, domain, engines, cap, &opt->replicates[r].opt));
    s->progress_seconds = 0; /* the campaign's line speaks for all */
    total += s->n_slots;
    BN_CHECK(total < UINT32_MAX / 2, BN_ERR_ARG, "too many job slots for %" PRIu32 " replicates", c->n);
  }
  c->n_slots = (uint32_t)total;
  c->jobs = calloc(total, sizeof *c->jobs);
  c->owner = malloc(total * sizeof *c->owner);
  c->sorted = malloc(total * sizeof *c->sorted);
  BN_CHECK(c->jobs && c->owner && c->sorted, BN_ERR_NOMEM, "no memory for %" PRIu32 " job slots", c->n_slots);
  const int threads = (int)bn_config_int(cfg, "search.threads");
  BN_CALL(bn__crew_create(&c->crew, threads > 1 ? threads : 0));
  BN_CALL(bn_outbox_create(&c->outbox, c->n_slots));
  BN_CALL(bn_dispatcher_create(&c->disp, domain, &ep, comm, c->jobs, c->n_slots, c->outbox));
  for (uint32_t r = 0; r < c->n; r++) {
    bn_search *s = c->rep[r];
    for (uint32_t k = 0; k < s->n_slots; k++) c->owner[s->slot_base + k] = r;
    BN_CALL(bn_outbox_create(&c->queue[r], s->n_slots));
    s->crew = c->crew;
    s->outbox = c->queue[r]; /* the replicate queues its jobs here; feed() passes them on */
    s->disp = c->disp;
    BN_CALL(bn__search_setup_slots(s, c->jobs + s->slot_base));
    BN_CALL(bn__search_setup_restore(s, &opt->replicates[r].opt));
  }
  return BN_OK;
}

static void teardown(campaign *c) {
  for (uint32_t r = 0; c->rep && r < c->n; r++) {
    if (!c->rep[r]) continue;
    bn__ckpt_stop(c->rep[r]);
    bn__search_teardown(c->rep[r]);
    free(c->rep[r]);
  }
  bn_dispatcher_destroy(&c->disp);
  bn_outbox_destroy(&c->outbox);
  for (uint32_t r = 0; c->queue && r < c->n; r++) bn_outbox_destroy(&c->queue[r]);
  free(c->queue);
  bn__crew_destroy(&c->crew);
  free(c->rep);
  free(c->jobs);
  free(c->owner);
  free(c->sorted);
  free(c->count);
}

/* Every replicate's first checkpoint, then the campaign file that lists them: a campaign
 * file on disk always names replicates that all have a checkpoint. */
static bn_err write_campaign(campaign *c, const char *path) {
  bn_campaign file = {.replicates = c->n, .seed = c->rep[0]->seed};
  for (uint32_t r = 0; r < c->n; r++) BN_CALL(bn__ckpt_now(c->rep[r], true));
  file.run_ids = malloc(c->n * sizeof *file.run_ids);
  BN_CHECK(file.run_ids, BN_ERR_NOMEM, "no memory");
  for (uint32_t r = 0; r < c->n; r++) file.run_ids[r] = c->rep[r]->run_id;
  bn_err e = bn_campaign_write(path, &file);
  bn_campaign_free(&file);
  return e;
}

/* The campaign's stop reason: a stop short of the budget if any replicate had one (they
 * all do then), else replicate 0's. */
static bn_stop_reason campaign_reason(const campaign *c) {
  bn_stop_reason reason = BN_STOP_NONE;
  for (uint32_t r = 0; r < c->n; r++) {
    const bn_stop_reason one = bn__search_reason(c->rep[r]);
    if (reason == BN_STOP_NONE || one == BN_STOP_SIGNAL || one == BN_STOP_ERROR || one == BN_STOP_LOST ||
        one == BN_STOP_TIME)
      reason = one;
  }
  return reason;
}

/* The end: one line for the campaign, one per replicate, and the JSON summary. */
static bn_err report(campaign *c, const bn_dispatch_stats *ds, const char *summary_path) {
  const double wall = c->t_end - c->t_start;
  uint64_t done = 0, failed = 0;
  for (uint32_t r = 0; r < c->n; r++) {
    done += atomic_load(&c->rep[r]->completed);
    failed += atomic_load(&c->rep[r]->failures);
  }
  const uint64_t now_done = done - c->done_at_start;
  if (!c->quiet) {
    printf("banyan: %" PRIu32 " replicates, %llu iterations in %.2f s (%.0f per second), %llu failed, %d engine%s; "
           "%s\n",
           c->n, (unsigned long long)now_done, wall, wall > 0 ? (double)now_done / wall : 0.0,
           (unsigned long long)failed, ds->engines, ds->engines == 1 ? "" : "s",
           bn_stop_reason_name(campaign_reason(c)));
    bn__search_print_pools(c->disp, ds);
    printf("  replicate                 seed  iterations  best (mean reward, state, visits)\n");
    for (uint32_t r = 0; r < c->n; r++) {
      bn_search *s = c->rep[r];
      char text[160];
      bn__search_best_text(s, text, sizeof text, NULL);
      printf("  %9" PRIu32 "  %19" PRIu64 "  %10llu  %s\n", r, s->seed, (unsigned long long)atomic_load(&s->completed),
             text);
    }
    fflush(stdout);
  }
  if (!summary_path) return BN_OK;
  char tmp[4200];
  BN_CHECK((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", summary_path) < sizeof tmp, BN_ERR_ARG, "path too long");
  FILE *f = fopen(tmp, "w");
  BN_CHECK(f, BN_ERR_IO, "cannot write %s", tmp);
  fprintf(f, "{\n  \"replicates\": %" PRIu32 ",\n  \"iterations\": %llu,\n  \"failures\": %llu,\n", c->n,
          (unsigned long long)done, (unsigned long long)failed);
  fprintf(f, "  \"wall_seconds\": %.6f,\n  \"engines\": %d,\n  \"evaluations_per_second\": %.3f,\n  \"per_replicate\": [",
          wall, ds->engines, wall > 0 ? (double)now_done / wall : 0.0);
  for (uint32_t r = 0; r < c->n; r++) {
    bn_search *s = c->rep[r];
    char text[160];
    double mean = NAN;
    bool has = bn__search_best_text(s, text, sizeof text, &mean);
    fprintf(f, "%s\n    {\"replicate\": %" PRIu32 ", \"seed\": %" PRIu64 ", \"iterations\": %llu, \"failures\": %llu, ",
            r ? "," : "", r, s->seed, (unsigned long long)atomic_load(&s->completed),
            (unsigned long long)atomic_load(&s->failures));
    fprintf(f, "\"stop_reason\": ");
    bn__json_string(f, bn_stop_reason_name(bn__search_reason(s)));
    if (has) {
      fprintf(f, ", \"best_mean\": %.17g, \"best\": ", mean);
      bn__json_string(f, text);
    }
    fprintf(f, "}");
  }
  fprintf(f, "\n  ]\n}\n");
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  BN_CHECK(!bad, BN_ERR_IO, "writing %s failed", tmp);
  BN_CHECK(rename(tmp, summary_path) == 0, BN_ERR_IO, "cannot rename %s to %s", tmp, summary_path);
  return BN_OK;
}

bn_err bn_search_run_campaign(const bn_config *cfg, const bn_domain *domain, MPI_Comm comm,
                              const bn_search_options *opt, bn_search_outcome *out) {
  bn_search_outcome o = {0};
  campaign c = {0};
  bn_err err = BN_OK;
  bn_engine_stats *engines = NULL;
  bool engines_done = false, all_answered = false;
  bn__search_catch_signals();
  BN_CHECK_GOTO(opt->n_replicates >= 1 && opt->n_replicates <= BN_SEARCH_MAX_REPLICATES && opt->replicates,
                BN_ERR_ARG, "bad campaign options");
  BN_TRY(setup(&c, cfg, domain, comm, opt));
  c.t_start = c.last_t = bn_mtime();
  c.next_progress = c.t_start + c.progress_seconds;
  c.done_at_start = c.last_done = total_completed(&c);
  for (uint32_t r = 0; r < c.n; r++) {
    BN_TRY(bn__ckpt_start(c.rep[r]));
    bn__search_begin(c.rep[r], c.t_start);
  }
  if (opt->campaign_path) BN_TRY(write_campaign(&c, opt->campaign_path));
  err = bn__crew_run(c.crew, dispatch, &c);
  c.t_end = bn_mtime();
  for (uint32_t r = 0; err == BN_OK && r < c.n; r++)
    if (atomic_load(&c.rep[r]->error) != BN_OK) err = (bn_err)atomic_load(&c.rep[r]->error);
  if (err != BN_OK) goto fail;
  for (uint32_t r = 0; r < c.n; r++) {
    bn_search *s = c.rep[r];
    s->t_end = c.t_end;
    bn__stats_tick(s, s->t_end, 1);
    if (s->writer) BN_TRY(bn__ckpt_now(s, true));
  }
  o.checkpointed = c.rep[0]->writer != NULL;
  bn_dispatch_stats ds;
  bn_dispatcher_stats(c.disp, &ds);
  engines = calloc((size_t)(ds.engines ? ds.engines : 1), sizeof *engines);
  BN_CHECK_GOTO(engines, BN_ERR_NOMEM, "no memory for engine statistics");
  engines_done = true;
  BN_TRY(bn_dispatcher_shutdown(c.disp, engines, &all_answered));
  bool abandoned = false;
  for (uint32_t r = 0; r < c.n; r++) {
    bn_search *s = c.rep[r];
    abandoned |= s->abandoned != 0;
    if (bn__search_balanced(s) && bn_config_bool(s->cfg, "search.check")) {
      char why[256];
      BN_CHECK_GOTO(bn_tree_check(s->tree, why, sizeof why) == BN_OK, BN_ERR_INTERNAL,
                    "replicate %" PRIu32 ": search graph invariant violated at the end of the run: %s", r, why);
    }
  }
  if (abandoned)
    bn_warn("%llu jobs were still in flight after the stop: they are pending in the checkpoints",
            (unsigned long long)ds.in_flight);
  if (c.progress_seconds > 0) progress(&c, c.t_end, 1);
  BN_TRY(report(&c, &ds, opt->summary_path));
fail:
  if (!engines_done) all_answered = bn__search_stop_engines(c.disp, comm, cfg);
  bool all_made = c.rep != NULL;
  for (uint32_t r = 0; c.rep && r < c.n; r++) all_made &= c.rep[r] != NULL;
  o.reason = all_made ? campaign_reason(&c) : BN_STOP_ERROR;
  for (uint32_t r = 0; c.rep && r < c.n; r++) {
    if (!c.rep[r]) continue;
    bn_search_outcome one = {0};
    bn__search_outcome(c.rep[r], &one);
    o.iterations += one.iterations;
    o.failures += one.failures;
    o.evaluations += one.evaluations;
    o.abandoned |= one.abandoned;
    o.signalled |= one.signalled;
  }
  o.engines_stopped = all_answered;
  if (c.disp) {
    bn_dispatch_stats fin;
    bn_dispatcher_stats(c.disp, &fin);
    o.engines_lost = fin.lost;
    o.job_running = bn_dispatcher_job_running(c.disp);
  }
  if (out) *out = o;
  free(engines);
  teardown(&c);
  return err;
}
