/* Wire protocol: record sizes, packing, and rejection of malformed messages. */
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "bn_test.h"
#include "engine/wire.h"

static void bn__wire_sizes_should_align_records_to_8_bytes(void) {
  for (size_t s = 1; s < 70; s++) {
    CU_ASSERT_EQUAL(bn__wire_job_size(s) % 8, 0);
    CU_ASSERT_EQUAL(bn__wire_result_size(s) % 8, 0);
    CU_ASSERT(bn__wire_job_size(s) >= sizeof(bn_wire_job) + s);
    CU_ASSERT(bn__wire_result_size(s) >= sizeof(bn_wire_result) + s);
  }
  CU_ASSERT_EQUAL(bn__wire_message_size(3, 40), sizeof(bn_wire_header) + 120);
}

static void bn__wire_check_should_accept_a_packed_batch(void) {
  const size_t S = 11, rec = bn__wire_job_size(S);
  unsigned char *buf = calloc(1, bn__wire_message_size(5, rec));
  for (uint32_t i = 0; i < 5; i++) {
    bn_wire_job *j = bn__wire_record(buf, rec, i);
    j->job_id = 100 + i;
    j->slot = i;
    j->kind = BN_JOB_SIMULATE;
    memset(bn__wire_job_state(j), (int)i, S);
  }
  bn__wire_put_header(buf, BN_TAG_BATCH, 5, rec);
  uint32_t count = 0;
  CU_ASSERT_EQUAL(bn__wire_check(buf, bn__wire_message_size(5, rec), BN_TAG_BATCH, 0, rec, &count), BN_OK);
  CU_ASSERT_EQUAL(count, 5);
  bn_wire_job *third = bn__wire_record(buf, rec, 2);
  CU_ASSERT_EQUAL(third->job_id, 102);
  CU_ASSERT_EQUAL(bn__wire_job_state(third)[S - 1], 2);
  free(buf);
}

static void bn__wire_check_should_reject_malformed_messages(void) {
  const size_t S = 11, rec = bn__wire_result_size(S);
  const size_t bytes = bn__wire_message_size(2, rec);
  unsigned char *buf = calloc(1, bytes + 64);
  uint32_t count = 77;
  bn__wire_put_header(buf, BN_TAG_RESULTS, 2, rec);
  /* shorter than a header */
  CU_ASSERT_EQUAL(bn__wire_check(buf, 3, BN_TAG_RESULTS, 1, rec, &count), BN_ERR_PROTOCOL);
  /* size does not match the count */
  CU_ASSERT_EQUAL(bn__wire_check(buf, bytes - 8, BN_TAG_RESULTS, 1, rec, &count), BN_ERR_PROTOCOL);
  CU_ASSERT_EQUAL(bn__wire_check(buf, bytes + 8, BN_TAG_RESULTS, 1, rec, &count), BN_ERR_PROTOCOL);
  /* received under another tag than the header says */
  CU_ASSERT_EQUAL(bn__wire_check(buf, bytes, BN_TAG_BATCH, 1, rec, &count), BN_ERR_PROTOCOL);
  /* a build with another record size */
  CU_ASSERT_EQUAL(bn__wire_check(buf, bytes, BN_TAG_RESULTS, 1, rec + 8, &count), BN_ERR_PROTOCOL);
  /* garbage in the magic */
  buf[0] ^= 0xff;
  CU_ASSERT_EQUAL(bn__wire_check(buf, bytes, BN_TAG_RESULTS, 1, rec, &count), BN_ERR_PROTOCOL);
  CU_ASSERT_EQUAL(count, 77); /* never written on failure */
  free(buf);
}

static void bn__wire_tag_name_should_name_every_tag(void) {
  CU_ASSERT_STRING_EQUAL(bn__wire_tag_name(BN_TAG_BATCH), "BATCH");
  CU_ASSERT_STRING_EQUAL(bn__wire_tag_name(BN_TAG_RESULTS), "RESULTS");
  CU_ASSERT_STRING_EQUAL(bn__wire_tag_name(BN_TAG_STOP), "STOP");
  CU_ASSERT_STRING_EQUAL(bn__wire_tag_name(BN_TAG_STATS), "STATS");
  CU_ASSERT_STRING_EQUAL(bn__wire_tag_name(9999), "unknown");
}

static void bn_outbox_should_return_slots_in_order_and_report_size(void) {
  bn_outbox *box = NULL;
  CU_ASSERT_FATAL(bn_outbox_create(&box, 100) == BN_OK);
  for (uint32_t i = 0; i < 100; i++) CU_ASSERT(bn_outbox_push(box, i * 3));
  CU_ASSERT_EQUAL(bn_outbox_size(box), 100);
  uint32_t v;
  for (uint32_t i = 0; i < 100; i++) {
    CU_ASSERT(bn_outbox_pop(box, &v));
    CU_ASSERT_EQUAL(v, i * 3);
  }
  CU_ASSERT_FALSE(bn_outbox_pop(box, &v));
  bn_outbox_destroy(&box);
  CU_ASSERT_PTR_NULL(box);
}

int main(int argc, char **argv) {
  bn_log_setup(-1, BN_LOG_SILENT); /* the rejections above log errors on purpose */
  static const bn_test_case cases[] = {
      BN_TEST(bn__wire_sizes_should_align_records_to_8_bytes),
      BN_TEST(bn__wire_check_should_accept_a_packed_batch),
      BN_TEST(bn__wire_check_should_reject_malformed_messages),
      BN_TEST(bn__wire_tag_name_should_name_every_tag),
      BN_TEST(bn_outbox_should_return_slots_in_order_and_report_size),
  };
  return bn_test_run("wire", cases, sizeof cases / sizeof cases[0], argc, argv);
}
