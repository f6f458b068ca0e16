/* bn_snapshot_free: release what bn_checkpoint_read allocated (or a snapshot built the
 * same way: every array malloc'ed, the graph arrays as bn_tree_export allocates them). */
#include <stdlib.h>
#include <string.h>

#include "banyan/checkpoint.h"

void bn_snapshot_release_bulk(bn_snapshot *s) {
  if (!s) return;
  bn_tree_arrays_free(&s->tree);
  memset(&s->tree, 0, sizeof s->tree);
  free(s->pending);
  free(s->pending_paths);
  free(s->pending_states);
  s->pending = NULL;
  s->pending_paths = NULL;
  s->pending_states = NULL;
  s->n_pending = 0;
}

void bn_snapshot_free(bn_snapshot *s) {
  if (!s) return;
  free(s->domain);
  free(s->config_text);
  free(s->banyan_version);
  bn_snapshot_release_bulk(s);
  free(s->timeline);
  free(s->engines);
  free(s->pool_moves);
  free(s->history);
  free(s->best);
  free(s->segment_dir);
  free(s->segments);
  free(s->failure_groups);
  free(s->top);
  free(s->top_states);
  memset(s, 0, sizeof *s);
}
