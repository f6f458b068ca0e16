/* Deterministic mode (search.deterministic = true, DESIGN.md §4): iteration i selects
 * after exactly the results of iterations < i - W are applied, and results are applied in
 * iteration order (W = the window). Then the graph and the results log after n iterations
 * are the same for any number of engines, any timing and any number of checkpoint/resume
 * cycles: every selection sees the same graph, every job carries a seed derived from its
 * iteration, and evaluation is a pure function of (state, seed).
 *
 * One sequencer task at a time advances the schedule; results that arrive early wait in
 * their slot (slot of iteration i = i % (W + 1): at most W + 1 iterations are in flight).
 * The dispatcher marks slots done and kicks the sequencer; a kick that finds it running is
 * absorbed, and the sequencer looks again after it stops, so no wake-up is lost. */
#include "search/search_impl.h"

static uint32_t slot_of(const bn_search *s, uint64_t it) { return (uint32_t)(it % (s->det_window + 1u)); }

static bool result_ready(bn_search *s, uint64_t it) {
  return atomic_load_explicit(&s->slot_done[slot_of(s, it)], memory_order_acquire) != 0;
}

static void apply_next(bn_search *s) {
  uint64_t a = atomic_load(&s->applied_upto);
  uint32_t slot = slot_of(s, a);
  bn__search_apply_one(s, slot);
  atomic_store(&s->slot_done[slot], 0);
  atomic_store(&s->applied_upto, a + 1);
  atomic_fetch_add(&s->completed, 1);
}

/* Select iteration S (the next one) into its slot and queue it. */
static void select_next(bn_search *s) {
  uint64_t it = atomic_load(&s->next_iteration);
  uint32_t slot = slot_of(s, it);
  if (!bn__search_select(s, it, slot)) return;
  const bn_path *path = &s->paths[slot];
  atomic_store(&s->next_iteration, it + 1);
  if (!bn__search_queue_job(s, slot, it, path->terminal)) {
    bn_tree_abandon(s->tree, path);
    atomic_store(&s->slot_busy[slot], 0);
    atomic_store(&s->next_iteration, it);
  }
}

/* One step of the schedule; false when it must wait for a result. */
static bool advance_once(bn_search *s) {
  const uint64_t S = atomic_load(&s->next_iteration), A = atomic_load(&s->applied_upto);
  const bool selecting = atomic_load(&s->stop) == BN_STOP_NONE;
  if (selecting && S >= s->budget) {
    bn__search_set_stop(s, BN_STOP_BUDGET);
    return true;
  }
  if (selecting) {
    /* Selection S needs every result of iterations < S - W applied. */
    if (A + s->det_window < S) {
      if (!result_ready(s, A)) return false;
      apply_next(s);
      return true;
    }
    select_next(s);
    return true;
  }
  /* Stopped: a finished run (budget, exhausted) applies every result, as the uninterrupted
   * run would; a run that will be resumed applies only what the schedule allows before
   * selection S, and leaves the rest pending in its checkpoint. */
  if (A < S && (bn__sequencer_final(s) || A + s->det_window < S) && result_ready(s, A)) {
    apply_next(s);
    return true;
  }
  return false;
}

bool bn__sequencer_final(const bn_search *s) {
  int r = atomic_load(&s->stop);
  return r == BN_STOP_BUDGET || r == BN_STOP_EXHAUSTED;
}

bool bn__sequencer_done(const bn_search *s) {
  if (atomic_load(&s->stop) == BN_STOP_NONE || atomic_load(&s->seq_running)) return false;
  const uint64_t S = atomic_load(&s->next_iteration), A = atomic_load(&s->applied_upto);
  /* A run that will be resumed is done once the sequencer rests (the dispatcher asks when
   * nothing is in flight): at most W + 1 iterations are pending (S - A <= W + 1 always),
   * which the checkpoint holds and a resume runs again. It need not wait for the result of
   * iteration A: that job may never have been sent (held in the outbox by the stop, behind
   * other jobs of a campaign's replicates), and waiting would last until the drain gives
   * up. A stop signal during the last jobs of a spent budget makes the run one to resume
   * too, as in free mode (s->signalled is the dispatcher thread's, which asks this). */
  return A == S || !bn__sequencer_final(s) || s->signalled;
}

static void run_sequencer(bn_search *s) {
  for (;;) {
    while (advance_once(s)) {
    }
    atomic_store(&s->seq_running, 0);
    /* A result may have landed after the last look: take the baton back if so. */
    const uint64_t S = atomic_load(&s->next_iteration), A = atomic_load(&s->applied_upto);
    bool more = (A < S && (bn__sequencer_final(s) || A + s->det_window < S) && result_ready(s, A)) ||
                (atomic_load(&s->stop) == BN_STOP_NONE && (A + s->det_window >= S || S >= s->budget));
    if (!more || atomic_exchange(&s->seq_running, 1)) return;
  }
}

static void sequencer_item(void *s) { run_sequencer(s); }

void bn__sequencer_kick(bn_search *s) {
  if (atomic_exchange(&s->seq_running, 1)) return;
  bn__crew_submit(s->crew, sequencer_item, s);
}

void bn__sequencer_results(bn_search *s, const uint32_t *slots, size_t n) {
  for (size_t k = 0; k < n; k++) atomic_store_explicit(&s->slot_done[slots[k]], 1, memory_order_release);
  bn__sequencer_kick(s);
}
