/* The seal of a checkpoint file: an XXH3-64 checksum of the whole file in its HDF5 user
 * block, written after HDF5 has closed the file and checked before HDF5 opens it (see
 * seal.h for the layout). Plain POSIX I/O only: nothing here calls HDF5 on a file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banyan/log.h"
#include "checkpoint/checkpoint_impl.h"
#include "checkpoint/seal.h"
#include "util/bulk_hash.h"

static const char magic[12] = "BANYAN-SEAL";
/* READ_BYTES: below malloc's mapping threshold, so the buffer is heap memory, reused. */
enum { SEAL_VERSION = 1, HASHED_HEAD = BN__SEAL_BYTES - 8, READ_BYTES = 64 << 10 };

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

uint64_t bn__seal_hash(const void *body, size_t n) { return XXH3_64bits(body, n); }

void bn__seal_encode(const bn__seal *s, unsigned char b[BN__SEAL_BYTES]) {
  memset(b, 0, BN__SEAL_BYTES);
  memcpy(b, magic, sizeof magic);
  put32(b + 12, SEAL_VERSION);
  put32(b + 16, s->kind);
  put32(b + 20, BN__SEAL_BYTES);
  put64(b + 24, s->file_size);
  put64(b + 32, s->body_hash);
  put64(b + 40, s->run_id);
  put64(b + 48, s->first_row);
  put64(b + 56, s->rows);
  put64(b + 64, s->state_size);
  put64(b + 72, s->rows_checksum);
  put32(b + 80, s->format_version);
  put64(b + 88, s->failures);
  put64(b + HASHED_HEAD, XXH3_64bits(b, HASHED_HEAD));
}

int bn__seal_decode(const unsigned char b[BN__SEAL_BYTES], bn__seal *out) {
  if (memcmp(b, magic, sizeof magic) != 0) return -1;
  if (get64(b + HASHED_HEAD) != XXH3_64bits(b, HASHED_HEAD)) return -2;
  if (get32(b + 12) != SEAL_VERSION || get32(b + 20) != BN__SEAL_BYTES) return -2;
  *out = (bn__seal){.kind = get32(b + 16),
                    .file_size = get64(b + 24),
                    .body_hash = get64(b + 32),
                    .run_id = get64(b + 40),
                    .first_row = get64(b + 48),
                    .rows = get64(b + 56),
                    .state_size = get64(b + 64),
                    .rows_checksum = get64(b + 72),
                    .format_version = get32(b + 80),
                    .failures = get64(b + 88)};
  return 0;
}

/* Read exactly n bytes at `offset` (0: done, else an errno; EIO for a short file). */
static int read_at(int fd, void *buf, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return EIO;
    done += (size_t)r;
  }
  return 0;
}

/* XXH3-64 of bytes BN__SEAL_BYTES .. size - 1 of fd (0, else an errno). */
static int hash_body(int fd, uint64_t size, uint64_t *out) {
  XXH3_state_t *st = XXH3_createState();
  unsigned char *buf = malloc(READ_BYTES);
  int e = st && buf && XXH3_64bits_reset(st) != XXH_ERROR ? 0 : ENOMEM;
  for (uint64_t at = BN__SEAL_BYTES; e == 0 && at < size;) {
    const size_t n = size - at < READ_BYTES ? (size_t)(size - at) : READ_BYTES;
    e = read_at(fd, buf, n, at);
    if (e == 0) XXH3_64bits_update(st, buf, n);
    at += n;
  }
  if (e == 0) *out = XXH3_64bits_digest(st);
  free(buf);
  if (st) XXH3_freeState(st);
  return e;
}

/* "No space left on device" -> "no space left on device". */
static void lower_first(char *s) {
  if (s[0] && isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1])) s[0] = (char)tolower((unsigned char)s[0]);
}

static bn_err io_failed(const char *path, int e) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s", strerror(e));
  lower_first(msg);
  bn_error("%s writing %s", msg, path);
  return BN_ERR_IO;
}

bn_err bn__seal_write(int fd, const char *path, bn__seal *seal) {
  struct stat st;
  if (fstat(fd, &st) != 0) return io_failed(path, errno);
  const uint64_t size = (uint64_t)st.st_size;
  if (size <= BN__SEAL_BYTES) {
    bn_error("cannot seal %s: HDF5 wrote only %llu bytes", path, (unsigned long long)size);
    return BN_ERR_IO;
  }
  uint64_t hash = 0;
  /* Read back through a buffer, not a mapping: mapping the file this process just wrote
   * was slower (0.19-0.29 against 0.15-0.16 us a row of a new segment, bench_checkpoint_io
   * on this project's virtual machines, where populating page tables is costly), and every
   * unmap interrupted the search thread's core for a TLB shootdown. */
  int e = hash_body(fd, size, &hash);
  if (e != 0) return e == ENOMEM ? BN_ERR_NOMEM : io_failed(path, e);
  seal->file_size = size;
  seal->body_hash = hash;
  seal->format_version = BN_CHECKPOINT_FORMAT_VERSION;
  unsigned char block[BN__SEAL_BYTES];
  bn__seal_encode(seal, block);
  size_t done = 0;
  while (done < sizeof block) {
    const ssize_t w = pwrite(fd, block + done, sizeof block - done, (off_t)done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return io_failed(path, w < 0 ? errno : EIO);
    done += (size_t)w;
  }
  if (fsync(fd) != 0) return io_failed(path, errno);
  return BN_OK;
}

bn_err bn__seal_read(int fd, uint64_t size, bn__seal_kind kind, bn__seal *out, char *why, size_t whylen) {
  unsigned char block[BN__SEAL_BYTES];
  static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (size < BN__SEAL_BYTES) {
    if (size >= 8 && read_at(fd, block, 8, 0) == 0 && memcmp(block, hdf5_signature, 8) == 0)
      return bn__why(BN_ERR_CORRUPT, why, whylen, "an HDF5 file without banyan's seal (not written by banyan, or "
                     "edited since): refused");
    return bn__why(BN_ERR_CORRUPT, why, whylen, "not a banyan checkpoint file (%llu bytes, no seal)",
                   (unsigned long long)size);
  }
  const int e = read_at(fd, block, sizeof block, 0);
  if (e != 0) return bn__why(BN_ERR_IO, why, whylen, "cannot read: %s", strerror(e));
  bn__seal s;
  const int d = bn__seal_decode(block, &s);
  if (d == -1 && memcmp(block, hdf5_signature, 8) == 0)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "an HDF5 file without banyan's seal (not written by banyan, or "
                   "rewritten by another tool): refused");
  if (d == -1) return bn__why(BN_ERR_CORRUPT, why, whylen, "not a banyan checkpoint file (no seal at its start)");
  if (d == -2) return bn__why(BN_ERR_CORRUPT, why, whylen, "damaged: its seal (the checksum block at its start) is damaged");
  if (s.file_size != size)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "%s: %llu bytes, but %llu were written",
                   size < s.file_size ? "truncated" : "damaged", (unsigned long long)size,
                   (unsigned long long)s.file_size);
  if (s.kind != (uint32_t)kind)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "%s",
                   s.kind == BN__SEAL_SEGMENT ? "a results segment, not a checkpoint's main file"
                   : s.kind == BN__SEAL_MAIN  ? "a checkpoint's main file, not a results segment"
                                              : "a sealed file of an unknown kind");
  *out = s;
  return BN_OK;
}

bn_err bn__seal_check_body(int fd, const bn__seal *seal, char *why, size_t whylen) {
  uint64_t hash = 0;
  const int e = hash_body(fd, seal->file_size, &hash);
  if (e == ENOMEM) return bn__why(BN_ERR_NOMEM, why, whylen, "no memory for a checksum");
  if (e != 0) return bn__why(BN_ERR_IO, why, whylen, "cannot read: %s", strerror(e));
  if (hash != seal->body_hash)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "damaged: its bytes do not match the checksum in its seal (XXH3 "
                   "%016llx, sealed %016llx)", (unsigned long long)hash, (unsigned long long)seal->body_hash);
  return BN_OK;
}

void bn__fd_path(int fd, const char *path, char *buf, size_t n) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  struct stat a, b;
  if (stat(proc, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    snprintf(buf, n, "%s", proc);
  else
    snprintf(buf, n, "%s", path);
}

bn_err bn__write_failed(const char *path, bn_err err) {
  char msg[256];
  int errnum = 0;
  if (err != BN_ERR_HDF5 || !bn__h5_cause(msg, sizeof msg, &errnum)) return err;
  if (errnum != 0) return io_failed(path, errnum);
  bn_error("cannot write %s: HDF5: %s", path, msg[0] ? msg : "failed (no message)");
  return err;
}
