/* Large buffers that a hot loop writes at a high rate (rank 0's results buffer): mapped
 * directly, on 2 MiB huge pages where the kernel offers them, so a thread that first writes
 * one takes one page fault per 2 MiB instead of 512. */
#ifndef BANYAN_UTIL_BIGMEM_H
#define BANYAN_UTIL_BIGMEM_H

#include <stddef.h>

/* The size bn__bigmem_alloc rounds large requests up to (and aligns them at). */
#define BN__BIGMEM_HUGE ((size_t)2 << 20)

/* `bytes` of zeroed memory, or NULL. A multiple of BN__BIGMEM_HUGE is aligned to it and
 * asks for transparent huge pages (madvise; the kernel may still use small ones). */
void *bn__bigmem_alloc(size_t bytes);
/* Free what bn__bigmem_alloc(bytes) returned (NULL: nothing). */
void bn__bigmem_free(void *p, size_t bytes);
/* Fault every page of [p, p + bytes) in on the calling thread. */
void bn__bigmem_touch(void *p, size_t bytes);

#endif
