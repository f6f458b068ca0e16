/* Broadcast of the validated config from the root to every rank (DESIGN.md §6: rank 0
 * parses and validates, then broadcasts).
 *
 * The root sends its status and the effective text; the other ranks load and finalize the
 * text, check that it reproduces the root's text (same declarations), and an allreduce
 * makes every rank agree on the outcome. Every rank makes the same MPI calls whatever
 * fails locally, so a local failure never leaves the others waiting: only a failed MPI
 * call returns early, with BN_ERR_MPI, and the caller aborts. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "config_impl.h"

/* Bytes per MPI_Bcast of the text: a rank without a buffer receives into a scratch chunk. */
#define CHUNK 4096

static bn_err mpi_failed(const char *call, int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
  bn_error("config: %s failed: %s", call, msg);
  return BN_ERR_MPI;
}

/* A rank's part of the broadcast: 1 it went well, 0 it failed, -1 out of memory (the
 * allreduce takes the minimum, so every rank learns the worst). */
enum { PART_NOMEM = -1, PART_FAILED = 0, PART_OK = 1 };

/* A non-root rank: load and finalize the root's text, which must come back unchanged. */
static int adopt(bn_config *cfg, const char *text, int root) {
  char origin[48];
  snprintf(origin, sizeof origin, "(config from rank %d)", root);
  bn_err e = bn_config_load_string(cfg, text, origin);
  if (e == BN_OK) e = bn_config_finalize(cfg, stderr);
  if (e != BN_OK) return e == BN_ERR_NOMEM ? PART_NOMEM : PART_FAILED;
  char *mine = bn_config_effective_text(cfg);
  if (!mine) return PART_NOMEM;
  bool same = !strcmp(mine, text);
  if (!same)
    bn_error("config: the config received differs once read back here "
             "(are the same options declared on every rank?)");
  free(mine);
  return same ? PART_OK : PART_FAILED;
}

bn_err bn_config_broadcast(bn_config *cfg, bn_err root_status, int root, MPI_Comm comm) {
  int rank, rc;
  if ((rc = MPI_Comm_rank(comm, &rank)) != MPI_SUCCESS) return mpi_failed("MPI_Comm_rank", rc);
  bool is_root = rank == root;
  char *text = NULL;
  int ok = PART_OK;          /* this rank's part */
  int64_t head[2] = {0, 0}; /* root: {config is valid, text length} */

  if (is_root && root_status != BN_OK) head[1] = (int64_t)root_status; /* passed on to every rank */
  if (is_root && root_status == BN_OK) {
    if (!cfg || !cfg->finalized) bn_error("config: broadcast of a config that is not finalized");
    else if (!(text = bn_config_effective_text(cfg))) {
      bn_error("config: out of memory for the effective text");
      head[1] = (int64_t)BN_ERR_NOMEM;
    } else {
      head[0] = 1;
      head[1] = (int64_t)strlen(text);
    }
  }
  if ((rc = MPI_Bcast(head, 2, MPI_INT64_T, root, comm)) != MPI_SUCCESS) {
    free(text);
    return mpi_failed("MPI_Bcast", rc);
  }
  if (!head[0]) {
    free(text);
    return head[1] > 0 ? (bn_err)head[1] : BN_ERR_CONFIG; /* the root has reported why */
  }

  size_t len = (size_t)head[1];
  if (!is_root) {
    if (!cfg) {
      ok = PART_NOMEM; /* the caller could not make one */
    } else if (cfg->finalized || cfg->nentries) {
      bn_error("config: broadcast needs a config with options declared and nothing loaded");
      ok = PART_FAILED;
    } else if (!(text = malloc(len + 1))) {
      bn_error("config: out of memory for the broadcast config");
      ok = PART_NOMEM;
    }
  }
  char scratch[CHUNK];
  for (size_t off = 0; off < len; off += CHUNK) {
    int n = (int)(len - off < CHUNK ? len - off : CHUNK);
    if ((rc = MPI_Bcast(text ? text + off : scratch, n, MPI_CHAR, root, comm)) != MPI_SUCCESS) {
      free(text);
      return mpi_failed("MPI_Bcast", rc);
    }
  }
  if (!is_root && text) {
    text[len] = '\0';
    ok = adopt(cfg, text, root);
  }
  free(text);

  int all_ok = PART_FAILED;
  if ((rc = MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm)) != MPI_SUCCESS)
    return mpi_failed("MPI_Allreduce", rc);
  if (all_ok != PART_OK && ok == PART_OK)
    bn_error("config: another rank could not take the config%s", all_ok == PART_NOMEM ? " (out of memory)" : "");
  return all_ok == PART_OK ? BN_OK : all_ok == PART_NOMEM ? BN_ERR_NOMEM : BN_ERR_CONFIG;
}
