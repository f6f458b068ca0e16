/* The wire protocol between rank 0 and the engines: tags, message layouts, packing and
 * checking. Everything that goes over MPI is defined here and nowhere else.
 *
 * Every message is MPI_BYTE: a 16-byte header (magic, version, kind, record count, record
 * size) followed by `count` fixed-size records. Records hold a fixed part and the state
 * bytes, padded to 8 bytes. Ranks are assumed to share byte order and struct layout
 * (one build of banyan on a homogeneous cluster); the header's magic and record size catch
 * a mismatched build. A message whose header, tag, size or count is wrong is rejected with
 * BN_ERR_PROTOCOL and a message naming the tag. */
#ifndef BANYAN_ENGINE_WIRE_H
#define BANYAN_ENGINE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "banyan/engine.h"
#include "banyan/error.h"

enum bn_wire_tag {
  BN_TAG_BATCH = 101,   /* rank 0 -> engine: jobs */
  BN_TAG_RESULTS = 102, /* engine -> rank 0: results of (part of) a batch */
  BN_TAG_STOP = 103,    /* rank 0 -> engine: no more work (one bn_wire_stop record) */
  BN_TAG_STATS = 104    /* engine -> rank 0: one bn_engine_stats record, after STOP */
};

#define BN_WIRE_MAGIC 0x4e594e42u /* "BNYN" */
#define BN_WIRE_VERSION 2u

typedef struct bn_wire_header {
  uint32_t magic;
  uint16_t version;
  uint16_t tag;         /* the MPI tag it was sent with */
  uint32_t count;       /* records that follow */
  uint32_t record_size; /* bytes per record */
} bn_wire_header;

typedef struct bn_wire_job {
  uint64_t job_id;
  uint64_t seed;
  uint32_t slot; /* rank 0's handle, echoed in the result */
  uint32_t sample; /* bn_eval_request.sample */
  uint8_t kind;  /* bn_job_kind */
  uint8_t pad[7];
  /* followed by state_size bytes of state, padded to 8 */
} bn_wire_job;

typedef struct bn_wire_result {
  uint64_t job_id;
  uint32_t slot;
  uint8_t status; /* bn_job_status */
  uint8_t pad;
  uint16_t attempts; /* evaluations tried */
  double reward;
  double t_started, t_finished;
  char reason[BN_JOB_REASON_LEN];
  /* followed by state_size bytes: the terminal evaluated, padded to 8 */
} bn_wire_result;

/* STOP says how many BATCH messages rank 0 sent this engine in all: the engine receives
 * (and drops) those it has not taken yet, so every send of rank 0 completes. */
typedef struct bn_wire_stop {
  uint64_t batches;
} bn_wire_stop;

/* Readable name of a tag ("BATCH", ...), or "unknown". */
const char *bn__wire_tag_name(int tag);
/* Bytes of one job / result record for a state size. */
size_t bn__wire_job_size(size_t state_size);
size_t bn__wire_result_size(size_t state_size);
size_t bn__wire_stats_size(void);
size_t bn__wire_stop_size(void);
/* Bytes of a whole message of `count` records of `record_size`. */
size_t bn__wire_message_size(uint32_t count, size_t record_size);
/* Jobs in one BATCH message at most, in a run with `engines` engines: engine.max_batch,
 * or with adaptive batching up to BN__WIRE_LATE_FACTOR times that for engines that answer
 * late (dispatcher.c), as long as all of them together hold at most BN__WIRE_LATE_WINDOW
 * jobs (two batches each). Rank 0 and the engines size their buffers with it. */
enum { BN__WIRE_LATE_FACTOR = 8, BN__WIRE_LATE_WINDOW = 4096 };
uint32_t bn__wire_batch_limit(const bn_engine_params *p, int engines);

/* Write the header of a message at buf. */
void bn__wire_put_header(void *buf, int tag, uint32_t count, size_t record_size);
/* Address of record i of a message (after the header). */
void *bn__wire_record(void *buf, size_t record_size, uint32_t i);
/* The state bytes that follow a job or result record. */
unsigned char *bn__wire_job_state(bn_wire_job *rec);
unsigned char *bn__wire_result_state(bn_wire_result *rec);

/* Check a received message: `bytes` long, received with MPI tag `tag`, records expected
 * to be `record_size` bytes. On success *count holds the number of records.
 * BN_ERR_PROTOCOL (logged with the tag name and source) otherwise. */
BN_NODISCARD bn_err bn__wire_check(const void *buf, size_t bytes, int tag, int source,
                                   size_t record_size, uint32_t *count);

#endif
