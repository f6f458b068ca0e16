/* libFuzzer target for the checkpoint reader (issue 13): whatever the bytes of a main file
 * or a segment, reading it gives BN_OK or a one-line error, never a crash or a hang of this
 * process, and no sanitizer report from banyan's own code in the reader process.
 *
 * An input is one flag byte and a file:
 *   bit 0  reseal: make the seal (the whole-file checksum) match the mutated bytes, so HDF5
 *          and the checks behind the seal parse them (in the reader process). Without it, a
 *          mutation is found by the seal before HDF5 sees a byte.
 *   bit 1  the file is a result segment (streamed with bn__seg_in), else a main file
 *          (bn_checkpoint_read; the seed run's segments lie beside it).
 * Seeds are real checkpoints (tests/fuzz/run_fuzz.sh makes them from a small run). Besides
 * libFuzzer's byte mutations, a custom mutator changes what a checkpoint is made of: the
 * little-endian integers HDF5 and banyan read as sizes, counts, indices and addresses
 * (set to 0, 1, -1, 2^31, 2^32, the file size +-1, ...), the bytes after an attribute's
 * name (its type, shape and value), the type and size fields of object header messages,
 * with the object header's Jenkins checksum recomputed so HDF5 goes on parsing.
 *
 * The reader process is this executable started again (guard.h), with stderr redirected to
 * a file here: an AddressSanitizer or UndefinedBehaviorSanitizer report from banyan's code
 * there (a frame in src/) aborts the fuzzer with the input saved; crashes inside HDF5 1.10
 * itself are what the reader process is for, and are counted, not failures.
 *
 *   BANYAN_FUZZ_SEEDS=DIR  the seed run's directory: r.h5 and r.h5.d/ (the segments) */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banyan/checkpoint.h"
#include "banyan/log.h"
#include "checkpoint/h5check.h"
#include "checkpoint/seal.h"

static char work[256];       /* the directory files are written to */
static char main_path[320];  /* work/r.h5 (its segments in work/r.h5.d) */
static char seg_dir[320];    /* work/seg */
static char log_path[320];   /* the reader process's stderr */
static unsigned long reader_crashes, reader_timeouts, reader_hdf5_reports, inputs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(work, sizeof work, "/tmp/bn-fuzz-XXXXXX");
  if (!mkdtemp(work)) abort();
  snprintf(main_path, sizeof main_path, "%s/r.h5", work);
  snprintf(seg_dir, sizeof seg_dir, "%s/seg", work);
  snprintf(log_path, sizeof log_path, "%s/reader.log", work);
  if (mkdir(seg_dir, 0755) != 0) abort();
  const char *seeds = getenv("BANYAN_FUZZ_SEEDS");
  if (seeds) { /* the seed run's segments, beside the main files the fuzzer writes */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '%s/r.h5.d' '%s/'", seeds, work);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: no segments copied from %s\n", seeds);
  }
  if (!getenv("BANYAN_READ_TIMEOUT")) setenv("BANYAN_READ_TIMEOUT", "5", 1);
  bn_log_setup(-1, BN_LOG_SILENT);
  return 0;
}

static void put(const char *path, const uint8_t *data, size_t n) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || (n > 0 && write(fd, data, n) != (ssize_t)n)) abort();
  close(fd);
}

static void reseal(const char *path) {
  const int fd = open(path, O_RDWR);
  unsigned char block[BN__SEAL_BYTES];
  bn__seal seal;
  if (fd < 0) abort();
  if (pread(fd, block, sizeof block, 0) == (ssize_t)sizeof block && bn__seal_decode(block, &seal) == 0)
    (void)bn__seal_write(fd, path, &seal);
  close(fd);
}

/* A sanitizer report from banyan's own code in the reader process's log is a finding
 * (abort); one from inside HDF5 is counted. Returns 1 if there was a report. */
static int check_reader_log(void) {
  FILE *f = fopen(log_path, "r");
  int reports = 0;
  if (!f) return 0;
  char line[2048];
  int in_report = 0, frames = 0;
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "ERROR: AddressSanitizer") || strstr(line, "ERROR: LeakSanitizer"))
      in_report = 1, frames = 0, reports++;
    if (strstr(line, "runtime error:") && strstr(line, "/src/")) {
      fprintf(stderr, "fuzz: UndefinedBehaviorSanitizer in banyan's reader: %s", line);
      abort();
    }
    if (in_report && strstr(line, "    #")) {
      /* the first frames outside the sanitizer's own interceptors */
      if (strstr(line, "__interceptor_") || strstr(line, "in __asan") || strstr(line, "compiler-rt")) continue;
      if (strstr(line, "/src/checkpoint/") || strstr(line, "/src/util/") || strstr(line, "/tests/fuzz/")) {
        fprintf(stderr, "fuzz: AddressSanitizer in banyan's reader:\n%s", line);
        abort();
      }
      if (++frames >= 3) in_report = 0; /* inside HDF5: its own bug, survived */
    }
  }
  fclose(f);
  return reports > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const unsigned flags = data[0];
  data++, size--;
  inputs++;
  /* the reader process writes its stderr into log_path */
  fflush(stderr);
  const int saved = dup(2), log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (saved < 0 || log < 0) abort();
  dup2(log, 2);
  close(log);
  char why[768] = "";
  bn_err e;
  if (flags & 2) {
    char path[400];
    bn_segment_path(seg_dir, 0, path, sizeof path);
    put(path, data, size);
    if (flags & 1) reseal(path);
    /* what the seal says it holds, or nonsense (then the seal check refuses it) */
    bn__seal seal = {0};
    bn_segment_params p = {.run_id = 1, .state_size = 9};
    bn_segment_info seg = {.seq = 0, .rows = 1};
    if (size >= BN__SEAL_BYTES && bn__seal_decode(data, &seal) == 0 && seal.state_size > 0 &&
        seal.state_size <= 4096) {
      p = (bn_segment_params){.run_id = seal.run_id, .state_size = seal.state_size};
      seg = (bn_segment_info){.seq = 0, .first_row = seal.first_row, .rows = seal.rows, .checksum = seal.rows_checksum};
    }
    bn__seg_in in;
    e = seg.rows > 0 ? bn__seg_in_open(&in, seg_dir, &p, &seg, 1, why, sizeof why) : BN_ERR_CORRUPT;
    if (e == BN_OK) {
      const size_t row_bytes = in.row_bytes, max = 256;
      unsigned char *buf = malloc(max * row_bytes);
      if (!buf) abort();
      size_t n = 1;
      while (e == BN_OK && !bn__seg_in_done(&in) && n > 0) e = bn__seg_in_read(&in, buf, max, &n, why, sizeof why);
      free(buf);
      bn__seg_in_close(&in);
    }
  } else {
    put(main_path, data, size);
    if (flags & 1) reseal(main_path);
    bn_snapshot s;
    e = bn_checkpoint_read(main_path, &s, why, sizeof why);
    if (e == BN_OK) bn_snapshot_free(&s);
  }
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  const int hdf5_report = check_reader_log();
  reader_hdf5_reports += hdf5_report;
  if (e != BN_OK) {
    if (why[0] == '\0' || strchr(why, '\n')) {
      fprintf(stderr, "fuzz: error %d without a one-line reason: \"%s\"\n", (int)e, why);
      abort();
    }
    reader_crashes += strstr(why, "crashed the reader process") != NULL;
    reader_timeouts += strstr(why, "took more than") != NULL;
    if (strstr(why, "exited with status") && !strstr(why, "status 3 ") && !hdf5_report) {
      fprintf(stderr, "fuzz: the reader process ended abnormally: %s\nits stderr:\n", why);
      FILE *f = fopen(log_path, "r");
      for (int c; f && (c = fgetc(f)) != EOF;) fputc(c, stderr);
      if (f) fclose(f);
      abort();
    }
  }
  if ((inputs & (inputs - 1)) == 0)
    fprintf(stderr,
            "fuzz: %lu inputs; survived in reader processes: %lu crashes, %lu hangs, %lu sanitizer reports inside "
            "HDF5\n", inputs, reader_crashes, reader_timeouts, reader_hdf5_reports);
  return 0;
}

/* --- structure-aware mutations -------------------------------------------------------- */

static uint32_t rnd(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return (uint32_t)*s;
}

/* Bob Jenkins' lookup3 hashlittle, the checksum of HDF5's version 2 metadata. */
#define ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static uint32_t lookup3(const uint8_t *k, size_t length) {
  uint32_t a, b, c;
  a = b = c = 0xdeadbeef + (uint32_t)length;
  while (length > 12) {
    a += k[0] + ((uint32_t)k[1] << 8) + ((uint32_t)k[2] << 16) + ((uint32_t)k[3] << 24);
    b += k[4] + ((uint32_t)k[5] << 8) + ((uint32_t)k[6] << 16) + ((uint32_t)k[7] << 24);
    c += k[8] + ((uint32_t)k[9] << 8) + ((uint32_t)k[10] << 16) + ((uint32_t)k[11] << 24);
    a -= c; a ^= ROT(c, 4); c += b; b -= a; b ^= ROT(a, 6); a += c; c -= b; c ^= ROT(b, 8); b += a;
    a -= c; a ^= ROT(c, 16); c += b; b -= a; b ^= ROT(a, 19); a += c; c -= b; c ^= ROT(b, 4); b += a;
    length -= 12;
    k += 12;
  }
  switch (length) {
    case 12: c += (uint32_t)k[11] << 24; /* fall through */
    case 11: c += (uint32_t)k[10] << 16; /* fall through */
    case 10: c += (uint32_t)k[9] << 8; /* fall through */
    case 9: c += k[8]; /* fall through */
    case 8: b += (uint32_t)k[7] << 24; /* fall through */
    case 7: b += (uint32_t)k[6] << 16; /* fall through */
    case 6: b += (uint32_t)k[5] << 8; /* fall through */
    case 5: b += k[4]; /* fall through */
    case 4: a += (uint32_t)k[3] << 24; /* fall through */
    case 3: a += (uint32_t)k[2] << 16; /* fall through */
    case 2: a += (uint32_t)k[1] << 8; /* fall through */
    case 1: a += k[0]; break;
    case 0: return c;
  }
  c ^= b; c -= ROT(b, 14); a ^= c; a -= ROT(c, 11); b ^= a; b -= ROT(a, 25);
  c ^= b; c -= ROT(b, 16); a ^= c; a -= ROT(c, 4); b ^= a; b -= ROT(a, 14); c ^= b; c -= ROT(b, 24);
  return c;
}

/* Version 2 object headers ("OHDR"): the extent of chunk 0 (checksum excluded), or 0. */
static size_t ohdr_extent(const uint8_t *f, size_t n, size_t at) {
  if (at + 6 > n || memcmp(f + at, "OHDR", 4) != 0 || f[at + 4] != 2) return 0;
  const uint8_t flags = f[at + 5];
  size_t p = at + 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
  const size_t width = (size_t)1 << (flags & 3);
  if (p + width > n) return 0;
  uint64_t chunk = 0;
  for (size_t i = 0; i < width; i++) chunk |= (uint64_t)f[p + i] << (8 * i);
  p += width;
  if (chunk > n || p + chunk + 4 > n) return 0;
  return p + (size_t)chunk - at;
}

/* Recompute the checksum of every version 2 object header whose chunk 0 holds `pos`. */
static void fix_ohdr_checksums(uint8_t *f, size_t n, size_t pos) {
  for (size_t at = pos > 65536 ? pos - 65536 : 0; at + 4 <= n && at <= pos; at++) {
    if (f[at] != 'O' || memcmp(f + at, "OHDR", 4) != 0) continue;
    const size_t len = ohdr_extent(f, n, at);
    if (len == 0 || pos >= at + len + 4) continue;
    const uint32_t sum = lookup3(f + at, len);
    for (int i = 0; i < 4; i++) f[at + len + i] = (uint8_t)(sum >> (8 * i));
  }
}

static void put_le(uint8_t *p, uint64_t v, int width) {
  for (int i = 0; i < width; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* One structure-aware change of the file f[0..n) (past the seal). Returns the position. */
static size_t mutate_structure(uint8_t *f, size_t n, uint64_t *s) {
  static const char *const names[] = {"completed", "failures", "evaluations", "state_size", "path_cap",
                                      "next_iteration", "next_segment", "format_version", "backprops", "rows",
                                      "first_row", "checksum", "run_id", "segment_dir", "config", "domain",
                                      "OHDR", "TREE", "HEAP", "SNOD", "BTHD", "FRHP", "results", "states"};
  const uint64_t interesting[] = {0, 1, 2, 0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffffu, 0x100000000ull,
                                  (uint64_t)n, (uint64_t)n - 1, (uint64_t)n + 1, UINT64_MAX, 1ull << 63,
                                  (uint64_t)n * 2};
  size_t pos = BN__SEAL_BYTES + rnd(s) % (n - BN__SEAL_BYTES);
  switch (rnd(s) % 4) {
    case 0: { /* near a name HDF5 or banyan looks up: the bytes after it */
      const char *name = names[rnd(s) % (sizeof names / sizeof names[0])];
      const size_t len = strlen(name);
      for (size_t tries = 0, at = pos; tries < n; tries++, at = at + 1 < n ? at + 1 : BN__SEAL_BYTES)
        if (at + len < n && memcmp(f + at, name, len) == 0) {
          pos = at + len + rnd(s) % 48;
          break;
        }
      break;
    }
    case 1: /* an aligned integer that could be a size, a count or an address */
      pos &= ~(size_t)7;
      break;
    case 2: { /* an object header message: its type (1 byte) or its size (2 bytes) */
      for (size_t at = pos; at + 4 < n; at++)
        if (memcmp(f + at, "OHDR", 4) == 0) {
          const size_t len = ohdr_extent(f, n, at);
          if (len > 16) pos = at + 8 + rnd(s) % (len - 8);
          break;
        }
      break;
    }
    default: break;
  }
  if (pos >= n) pos = n - 1;
  const int widths[] = {1, 2, 4, 8};
  int width = widths[rnd(s) % 4];
  while (pos + (size_t)width > n) width /= 2;
  if (width < 1) width = 1;
  put_le(f + pos, interesting[rnd(s) % (sizeof interesting / sizeof interesting[0])] + (rnd(s) % 3) - 1, width);
  return pos;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  if (size < 2 + BN__SEAL_BYTES || rnd(&s) % 3 == 0) {
    size = LLVMFuzzerMutate(data, size, max_size); /* bytes, lengths, the flag byte */
    return size;
  }
  uint8_t *f = data + 1;
  const size_t n = size - 1;
  const unsigned k = 1 + rnd(&s) % 3;
  for (unsigned i = 0; i < k; i++) {
    const size_t pos = mutate_structure(f, n, &s);
    if (rnd(&s) % 4 != 0) fix_ohdr_checksums(f, n, pos);
  }
  if (rnd(&s) % 4 != 0) data[0] |= 1; /* mostly resealed: past the seal, into HDF5 */
  return size;
}
