/* bn_snapshot_free: release what bn_checkpoint_read allocated (or a snapshot built the
 * same way: every array malloc'ed, the graph arrays as bn_tree_export allocates them, the
 * results as `ceil(n_results / result_chunk_rows)` malloc'ed chunks behind malloc'ed
 * index arrays). */
#include <stdlib.h>
#include <string.h>

#include "banyan/checkpoint.h"

void bn_snapshot_release_bulk(bn_snapshot *s) {
  if (!s) return;
  bn_tree_arrays_free(&s->tree);
  memset(&s->tree, 0, sizeof s->tree);
  if (s->n_results > 0 && s->result_chunk_rows > 0) {
    const uint64_t chunks = (s->n_results - 1) / s->result_chunk_rows + 1;
    for (uint64_t c = 0; c < chunks; c++) {
      if (s->result_rows) free(s->result_rows[c]);
      if (s->result_states) free(s->result_states[c]);
    }
  }
  free(s->result_rows);
  free(s->result_states);
  s->result_rows = NULL;
  s->result_states = NULL;
  s->n_results = 0;
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
  free(s->history);
  free(s->best);
  memset(s, 0, sizeof *s);
}
