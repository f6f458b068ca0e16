/* Per-thread scratch buffers (see thread_buffer.h), kept in a pthread key whose destructor
 * frees them when the thread ends. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/thread_buffer.h"

typedef struct buffers {
  void *p[BN__THREAD_BUFFERS];
  size_t cap[BN__THREAD_BUFFERS];
} buffers;

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_made;

static void free_buffers(void *v) {
  buffers *b = v;
  for (unsigned i = 0; i < BN__THREAD_BUFFERS; i++) free(b->p[i]);
  free(b);
}

static void make_key(void) { key_made = pthread_key_create(&key, free_buffers) == 0; }

void *bn__thread_buffer(unsigned which, size_t bytes) {
  (void)pthread_once(&key_once, make_key);
  if (!key_made || which >= BN__THREAD_BUFFERS) return NULL;
  buffers *b = pthread_getspecific(key);
  if (!b) {
    b = calloc(1, sizeof *b);
    if (!b || pthread_setspecific(key, b) != 0) {
      free(b);
      return NULL;
    }
  }
  if (b->cap[which] < bytes || !b->p[which]) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) return NULL;
    free(b->p[which]);
    b->p[which] = p;
    b->cap[which] = bytes;
  }
  return b->p[which];
}
