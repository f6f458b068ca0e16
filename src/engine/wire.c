/* Packing and checking of the messages defined in wire.h. */
#include <string.h>

#include "engine/wire.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

const char *bn__wire_tag_name(int tag) {
  switch (tag) {
  case BN_TAG_BATCH: return "BATCH";
  case BN_TAG_RESULTS: return "RESULTS";
  case BN_TAG_STOP: return "STOP";
  case BN_TAG_STATS: return "STATS";
  default: return "unknown";
  }
}

size_t bn__wire_job_size(size_t state_size) { return sizeof(bn_wire_job) + ALIGN8(state_size); }
size_t bn__wire_result_size(size_t state_size) { return sizeof(bn_wire_result) + ALIGN8(state_size); }
size_t bn__wire_stats_size(void) { return ALIGN8(sizeof(bn_engine_stats)); }
size_t bn__wire_stop_size(void) { return ALIGN8(sizeof(bn_wire_stop)); }

size_t bn__wire_message_size(uint32_t count, size_t record_size) {
  return sizeof(bn_wire_header) + (size_t)count * record_size;
}

uint32_t bn__wire_batch_limit(const bn_engine_params *p, int engines) {
  const uint32_t max_batch = (uint32_t)(p->max_batch > 0 ? p->max_batch : 1);
  if (p->batch > 0 || engines <= 0) return max_batch;
  const uint64_t by_factor = (uint64_t)max_batch * BN__WIRE_LATE_FACTOR;
  const uint64_t by_window = BN__WIRE_LATE_WINDOW / (2 * (uint64_t)engines);
  const uint64_t late = by_factor < by_window ? by_factor : by_window;
  return late > max_batch ? (uint32_t)(late < UINT32_MAX ? late : UINT32_MAX) : max_batch;
}

void bn__wire_put_header(void *buf, int tag, uint32_t count, size_t record_size) {
  bn_wire_header h = {BN_WIRE_MAGIC, BN_WIRE_VERSION, (uint16_t)tag, count, (uint32_t)record_size};
  memcpy(buf, &h, sizeof h);
}

void *bn__wire_record(void *buf, size_t record_size, uint32_t i) {
  return (unsigned char *)buf + sizeof(bn_wire_header) + (size_t)i * record_size;
}

unsigned char *bn__wire_job_state(bn_wire_job *rec) { return (unsigned char *)(rec + 1); }
unsigned char *bn__wire_result_state(bn_wire_result *rec) { return (unsigned char *)(rec + 1); }

bn_err bn__wire_check(const void *buf, size_t bytes, int tag, int source, size_t record_size,
                      uint32_t *count) {
  const char *name = bn__wire_tag_name(tag);
  BN_CHECK(bytes >= sizeof(bn_wire_header), BN_ERR_PROTOCOL,
           "%s message from rank %d is %zu bytes, shorter than a header", name, source, bytes);
  bn_wire_header h;
  memcpy(&h, buf, sizeof h);
  BN_CHECK(h.magic == BN_WIRE_MAGIC && h.version == BN_WIRE_VERSION, BN_ERR_PROTOCOL,
           "%s message from rank %d has a bad header (magic %#x, version %u): "
           "is every rank running the same banyan build?",
           name, source, h.magic, h.version);
  BN_CHECK(h.tag == tag, BN_ERR_PROTOCOL, "message from rank %d sent with tag %s says it is %s",
           source, name, bn__wire_tag_name(h.tag));
  BN_CHECK(h.record_size == record_size, BN_ERR_PROTOCOL,
           "%s message from rank %d has %u-byte records, expected %zu", name, source, h.record_size,
           record_size);
  BN_CHECK(bytes == bn__wire_message_size(h.count, record_size), BN_ERR_PROTOCOL,
           "%s message from rank %d is %zu bytes, but its header announces %u records (%zu bytes)",
           name, source, bytes, h.count, bn__wire_message_size(h.count, record_size));
  *count = h.count;
  return BN_OK;
}
