/* Shuffle + deflate of one chunk of packed result rows, done by banyan itself rather than by
 * HDF5's filters, so that compressing (on the compaction thread) happens outside HDF5's
 * global lock and never holds up the checkpoint writer. The bytes are exactly what HDF5's
 * shuffle and deflate filters produce and expect (byte j of element i goes to position
 * j * elements + i; then a zlib stream), so h5py, h5dump and banyan's own H5Dread read the
 * chunks written with H5Dwrite_chunk as any other filtered chunk. zlib is the library
 * HDF5's deflate filter uses. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checkpoint/checkpoint_impl.h"

bn_err bn__chunk_encode(const unsigned char *rows, size_t n, size_t row_bytes, size_t chunk_rows, int level,
                        unsigned char *scratch, unsigned char *out, size_t *out_len) {
  /* The chunk is stored whole: rows past n (the dataset's end) are zeros. */
  for (size_t i = 0; i < chunk_rows; i++)
    for (size_t j = 0; j < row_bytes; j++) scratch[j * chunk_rows + i] = i < n ? rows[i * row_bytes + j] : 0;
  uLongf len = (uLongf)*out_len;
  const int z = compress2(out, &len, scratch, (uLong)(chunk_rows * row_bytes), level);
  BN_CHECK(z == Z_OK, z == Z_MEM_ERROR ? BN_ERR_NOMEM : BN_ERR_INTERNAL, "deflate of a segment chunk failed (%d)", z);
  *out_len = (size_t)len;
  return BN_OK;
}

size_t bn__chunk_encode_bound(size_t row_bytes, size_t chunk_rows) {
  return (size_t)compressBound((uLong)(row_bytes * chunk_rows));
}

int bn__chunk_decode(const unsigned char *in, size_t len, size_t row_bytes, size_t chunk_rows, unsigned char *scratch,
                     unsigned char *out) {
  uLongf want = (uLongf)(row_bytes * chunk_rows);
  if (uncompress(scratch, &want, in, (uLong)len) != Z_OK || want != (uLongf)(row_bytes * chunk_rows)) return -1;
  for (size_t i = 0; i < chunk_rows; i++)
    for (size_t j = 0; j < row_bytes; j++) out[i * row_bytes + j] = scratch[j * chunk_rows + i];
  return 0;
}
