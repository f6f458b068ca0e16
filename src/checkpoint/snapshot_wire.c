/* A snapshot across the pipe from the reader process (guard.h): the child sends what the
 * validating reader read, in the schema's order; the parent rebuilds the snapshot, checking
 * that every frame has exactly the size that the counts before it imply, so even a
 * misbehaving child cannot make the parent read past a buffer or allocate absurd amounts.
 *
 *   root attributes: one DATA frame each (a number: its bytes; a string: its bytes, no NUL)
 *   tables:          two frames each: the row count (uint64), then count * row_size bytes
 *   the graph:       n_nodes, n_edges, n_backprops (uint64 each)
 *   arrays:          one frame each: count * width elements
 *   END */
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint_impl.h"
#include "checkpoint/guard.h"

static size_t ftype_size(bn__ftype t) {
  switch (t) {
    case BN__F_U8: return 1;
    case BN__F_U16: return 2;
    case BN__F_U32: return 4;
    case BN__F_I32: return 4;
    case BN__F_U64: return 8;
    case BN__F_F64: return 8;
    default: return 0;
  }
}

/* --- child -------------------------------------------------------------------------- */

int bn__snapshot_send(int out, const bn_snapshot *s) {
  bn_snapshot *m = (bn_snapshot *)s; /* the schema's slot helpers take a mutable snapshot */
  size_t n = 0;
  const bn__attr *attrs = bn__root_attrs(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__attr *a = &attrs[i];
    if (a->offset == BN__NOT_IN_SNAPSHOT) continue;
    const unsigned char *slot = (const unsigned char *)s + a->offset;
    if (a->type == BN__F_STR) {
      const char *text = *(char *const *)slot;
      if (bn__frame_send(out, BN__FRAME_DATA, text, text ? strlen(text) : 0) != 0) return -1;
    } else if (bn__frame_send(out, BN__FRAME_DATA, slot, ftype_size(a->type)) != 0) {
      return -1;
    }
  }
  const bn__table *const *tables = bn__snapshot_tables(&n);
  for (size_t i = 0; i < n; i++) {
    const uint64_t count = *bn__table_count(tables[i], m);
    if (bn__frame_send(out, BN__FRAME_DATA, &count, 8) != 0 ||
        bn__frame_send(out, BN__FRAME_DATA, *bn__table_rows(tables[i], m), count * tables[i]->row_size) != 0)
      return -1;
  }
  const uint64_t counts[3] = {s->tree.n_nodes, s->tree.n_edges, s->tree.n_backprops};
  for (int i = 0; i < 3; i++)
    if (bn__frame_send(out, BN__FRAME_DATA, &counts[i], 8) != 0) return -1;
  const bn__array *arrays = bn__arrays(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__array *a = &arrays[i];
    const uint64_t bytes = bn__array_count_of(a, s) * bn__array_width_of(a, s) * ftype_size(a->type);
    if (bn__frame_send(out, BN__FRAME_DATA, *bn__array_slot(a, m), bytes) != 0) return -1;
  }
  return bn__frame_send(out, BN__FRAME_END, NULL, 0);
}

/* --- parent ------------------------------------------------------------------------- */

typedef struct rx {
  bn__guard *g;
  uint64_t limit; /* largest payload accepted */
  char *why;
  size_t whylen;
} rx;

static bn_err protocol(rx *r, const char *what, uint64_t got, uint64_t want) {
  bn__guard_stop(r->g);
  return bn__why(BN_ERR_INTERNAL, r->why, r->whylen,
                 "the reader process sent %llu bytes for %s where %llu were expected", (unsigned long long)got, what,
                 (unsigned long long)want);
}

/* The next DATA frame's length. */
static bn_err next_len(rx *r, const char *what, uint64_t *len) {
  uint32_t tag = 0;
  BN_CALL(bn__guard_next(r->g, &tag, len, r->why, r->whylen));
  if (tag != BN__FRAME_DATA) return protocol(r, what, 0, 1);
  return BN_OK;
}

/* A frame of exactly `want` bytes into buf. */
static bn_err fixed(rx *r, const char *what, void *buf, uint64_t want) {
  uint64_t len = 0;
  BN_CALL(next_len(r, what, &len));
  if (len != want) return protocol(r, what, len, want);
  return bn__guard_read(r->g, buf, (size_t)want, r->why, r->whylen);
}

/* A frame of exactly `want` bytes into a new buffer (at least 1 byte, zeroed beyond). */
static bn_err block(rx *r, const char *what, uint64_t want, size_t extra, void **out) {
  uint64_t len = 0;
  BN_CALL(next_len(r, what, &len));
  if (len != want) return protocol(r, what, len, want);
  if (want > r->limit || want > SIZE_MAX - extra - 1) return protocol(r, what, len, r->limit);
  void *p = calloc((size_t)want + extra + 1, 1);
  if (!p) {
    bn__guard_stop(r->g);
    return bn__why(BN_ERR_NOMEM, r->why, r->whylen, "%s: no memory for %llu bytes", what, (unsigned long long)want);
  }
  *out = p;
  return bn__guard_read(r->g, p, (size_t)want, r->why, r->whylen);
}

bn_err bn__snapshot_recv(bn__guard *g, uint64_t file_size, bn_snapshot *s, char *why, size_t whylen) {
  /* Arrays may be filtered (compressed) in the file: up to 64 Ki times its size. */
  const uint64_t limit = file_size > UINT64_MAX / 65536 ? UINT64_MAX : file_size * 65536 + 65536;
  rx r = {g, limit, why, whylen};
  size_t n = 0;
  const bn__attr *attrs = bn__root_attrs(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__attr *a = &attrs[i];
    if (a->offset == BN__NOT_IN_SNAPSHOT) continue;
    unsigned char *slot = (unsigned char *)s + a->offset;
    if (a->type == BN__F_STR) {
      uint64_t len = 0;
      BN_CALL(next_len(&r, a->name, &len));
      if (len > BN__CKPT_MAX_TEXT) return protocol(&r, a->name, len, BN__CKPT_MAX_TEXT);
      char *text = calloc((size_t)len + 1, 1);
      if (!text) {
        bn__guard_stop(g);
        return bn__why(BN_ERR_NOMEM, why, whylen, "no memory for attribute %s", a->name);
      }
      *(char **)slot = text;
      BN_CALL(bn__guard_read(g, text, (size_t)len, why, whylen));
      if (memchr(text, '\0', (size_t)len)) return protocol(&r, a->name, len, strlen(text));
    } else {
      BN_CALL(fixed(&r, a->name, slot, ftype_size(a->type)));
    }
  }
  const bn__table *const *tables = bn__snapshot_tables(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__table *t = tables[i];
    uint64_t count = 0, bytes = 0;
    BN_CALL(fixed(&r, t->path, &count, 8));
    if (__builtin_mul_overflow(count, (uint64_t)t->row_size, &bytes)) return protocol(&r, t->path, count, 0);
    BN_CALL(block(&r, t->path, bytes, 0, bn__table_rows(t, s)));
    *bn__table_count(t, s) = count;
  }
  BN_CALL(fixed(&r, "the node count", &s->tree.n_nodes, 8));
  BN_CALL(fixed(&r, "the edge count", &s->tree.n_edges, 8));
  BN_CALL(fixed(&r, "the backprop count", &s->tree.n_backprops, 8));
  if (s->tree.n_nodes > UINT32_MAX || s->tree.n_edges > UINT32_MAX || s->state_size > BN__CKPT_MAX_STATE_SIZE ||
      s->path_cap > BN__CKPT_MAX_PATH_CAP)
    return protocol(&r, "the graph's sizes", s->tree.n_nodes, UINT32_MAX);
  s->tree.state_size = (size_t)s->state_size;
  const bn__array *arrays = bn__arrays(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__array *a = &arrays[i];
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(bn__array_count_of(a, s), bn__array_width_of(a, s), &bytes) ||
        __builtin_mul_overflow(bytes, (uint64_t)ftype_size(a->type), &bytes))
      return protocol(&r, a->path, UINT64_MAX, limit);
    BN_CALL(block(&r, a->path, bytes, 0, bn__array_slot(a, s)));
  }
  uint32_t tag = 0;
  uint64_t len = 0;
  BN_CALL(bn__guard_next(g, &tag, &len, why, whylen));
  if (tag != BN__FRAME_END || len != 0) return protocol(&r, "the end", len, 0);
  return bn__guard_finish(g, why, whylen);
}
