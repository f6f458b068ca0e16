/* The seal of a checkpoint file (src/checkpoint only): an XXH3-64 checksum of the whole
 * file, stored in the file's first 512 bytes, an HDF5 user block. HDF5 never reads or
 * writes a user block (the superblock follows it), so h5py, h5dump and HDF5 virtual datasets
 * read a sealed file as any other; banyan checks the seal before any HDF5 call touches the
 * file, so damage is found before the library parses a byte of it.
 *
 * Layout (little-endian), docs/checkpoint-format.md "The seal":
 *
 *   0  "BANYAN-SEAL\0"  12 bytes     40  run_id          u64 (segments)
 *  12  seal version 1   u32          48  first_row       u64 (segments)
 *  16  kind             u32          56  rows            u64 (segments)
 *  20  block size 512   u32          64  state_size      u64 (segments)
 *  24  file size        u64          72  rows checksum   u64 (segments)
 *  32  XXH3-64 of bytes 512 .. end   80  format_version  u32
 *                                    88  failures        u64 (segments: failed rows)
 * 504  XXH3-64 of bytes 0 .. 503 (the block itself); the rest is zero.
 *
 * A segment's seal repeats its header (run, rows, checksum of the rows), so the segments a
 * checkpoint names are checked against it without HDF5 and without reading their rows. */
#ifndef BN_CHECKPOINT_SEAL_H
#define BN_CHECKPOINT_SEAL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "banyan/error.h"

#define BN__SEAL_BYTES 512u

typedef enum bn__seal_kind { BN__SEAL_MAIN = 1, BN__SEAL_SEGMENT = 2 } bn__seal_kind;

typedef struct bn__seal {
  uint32_t kind;            /* bn__seal_kind */
  uint32_t format_version;  /* BN_CHECKPOINT_FORMAT_VERSION */
  uint64_t file_size;       /* bytes of the whole file, the seal included */
  uint64_t body_hash;       /* XXH3-64 of bytes BN__SEAL_BYTES .. file_size - 1 */
  /* segments: the header (0 in a main file) */
  uint64_t run_id, first_row, rows, state_size, rows_checksum, failures;
} bn__seal;

/* File creation properties with the 512-byte user block the seal lives in. Close with
 * H5Pclose. BN_ERR_HDF5 (recorded for bn__h5_cause). */
BN_NODISCARD bn_err bn__h5_writer_fcpl(hid_t *out);

/* Seal the file open read-write on `fd` (HDF5 has written and closed it): hash bytes
 * 512 .. end, write the block at offset 0, fsync. seal->kind and the segment fields are
 * given; file_size and body_hash are filled in. BN_ERR_IO logged on one line naming `path`
 * (e.g. "no space left on device writing run.h5.tmp"). */
BN_NODISCARD bn_err bn__seal_write(int fd, const char *path, bn__seal *seal);

/* Read and check the block of the file open on `fd` (`size` bytes): magic, version, its own
 * checksum, the file size it records, and the kind. Reads 512 bytes, not the body.
 * BN_ERR_CORRUPT with a reason ("damaged: ...", "truncated: ...", "not a banyan checkpoint
 * ...") in why; BN_ERR_IO if it cannot be read. */
BN_NODISCARD bn_err bn__seal_read(int fd, uint64_t size, bn__seal_kind kind, bn__seal *out, char *why,
                                  size_t whylen);

/* Hash bytes 512 .. end of `fd` and compare with seal->body_hash: BN_ERR_CORRUPT "damaged:
 * ..." if they differ, BN_ERR_IO if the file cannot be read. */
BN_NODISCARD bn_err bn__seal_check_body(int fd, const bn__seal *seal, char *why, size_t whylen);

/* The XXH3-64 a seal records for `n` bytes of file body (for tests and tools). */
uint64_t bn__seal_hash(const void *body, size_t n);
/* Encode / decode the 512-byte block (decode checks magic, version and self-checksum only:
 * 0 ok, -1 not a seal, -2 damaged). */
void bn__seal_encode(const bn__seal *seal, unsigned char block[BN__SEAL_BYTES]);
int bn__seal_decode(const unsigned char block[BN__SEAL_BYTES], bn__seal *out);

/* A name under which HDF5 opens exactly the file open on `fd`: "/proc/self/fd/N" where
 * /proc shows it (so no rename or planted link between banyan's checks and HDF5's open(2)
 * can put another file in its place), else `path`. */
void bn__fd_path(int fd, const char *path, char *buf, size_t n);

/* Report a failed write of `path` on one line and return the code to pass on: when an
 * HDF5 call failed, its remembered cause (bn__h5_cause): an errno gives BN_ERR_IO and
 * "<strerror, lowercase> writing PATH", otherwise "cannot write PATH: HDF5: <message>".
 * Other errors were logged where they happened and are returned as they are. */
bn_err bn__write_failed(const char *path, bn_err err);

#endif
