/* Which CPUs rank 0's background threads may use: the union of the CPU masks of the job's
 * ranks on rank 0's node, gathered once at start-up (util/background.c says why). */
#include <mpi.h>
#include <sched.h>
#include <stdbool.h>

#include "banyan/search.h"
#include "util/background.h"

void bn_search_share_cpus(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm node = MPI_COMM_NULL;
  cpu_set_t mine, all;
  CPU_ZERO(&all);
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) CPU_ZERO(&mine);
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS ||
      MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
    return;
  const bool ok = MPI_Allreduce(&mine, &all, (int)sizeof mine, MPI_BYTE, MPI_BOR, node) == MPI_SUCCESS;
  MPI_Comm_free(&node);
  if (ok && rank == 0 && CPU_COUNT(&all) > 0) bn__background_job_cpus(&all);
}
