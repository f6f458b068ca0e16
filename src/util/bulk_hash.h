/* XXH3-64 for bulk data (the checksums of checkpoint files): libxxhash's entry points with
 * run-time CPU dispatch where the library has them (x86-64: AVX2 or AVX-512 when the CPU
 * has it; 63 against 16 GB/s for the plain entry points on this project's machines), the
 * plain ones elsewhere. The hashes are the same either way. Include instead of xxhash.h. */
#ifndef BANYAN_UTIL_BULK_HASH_H
#define BANYAN_UTIL_BULK_HASH_H

#include <xxhash.h>
#ifdef BANYAN_HAVE_XXH_DISPATCH
#include <xxh_x86dispatch.h> /* maps XXH3_64bits and XXH3_64bits_update to the dispatchers */
#endif

#endif
