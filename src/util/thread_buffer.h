/* Scratch buffers that live as long as the thread that uses them: a thread that writes one
 * segment file after another reuses the same memory instead of mapping fresh buffers of a
 * few MiB each time (every fresh page a fault, every unmap a TLB shootdown across the
 * process's cores). */
#ifndef BANYAN_UTIL_THREAD_BUFFER_H
#define BANYAN_UTIL_THREAD_BUFFER_H

#include <stddef.h>

/* Buffers a thread has, numbered 0 .. BN__THREAD_BUFFERS - 1. */
#define BN__THREAD_BUFFERS 4

/* Buffer `which` of the calling thread, at least `bytes` long (its contents are not kept
 * when it grows), or NULL (no memory, or `which` out of range). Freed when the thread ends;
 * never free it yourself. */
void *bn__thread_buffer(unsigned which, size_t bytes);

#endif
