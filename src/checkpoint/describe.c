/* The readable form of a state for inspect and export: the domain's describe when a
 * matching domain is at hand, hex bytes otherwise, in a buffer that grows to fit. */
#include <stdlib.h>

#include "checkpoint/checkpoint_impl.h"

static bn_err reserve(char **buf, size_t *cap, size_t need) {
  if (*cap >= need) return BN_OK;
  size_t n = *cap ? *cap : 256;
  while (n < need) n *= 2;
  char *p = realloc(*buf, n);
  BN_CHECK(p, BN_ERR_NOMEM, "no memory for a %zu-byte state text", n);
  *buf = p;
  *cap = n;
  return BN_OK;
}

bn_err bn__state_text(const bn_domain *domain, const unsigned char *state, size_t state_size, char **buf,
                      size_t *cap) {
  if (domain && domain->ops && domain->ops->describe && domain->info.state_size == state_size) {
    BN_CALL(reserve(buf, cap, 256));
    const int need = domain->ops->describe(domain->ctx, state, *buf, *cap);
    if (need >= 0 && (size_t)need >= *cap) {
      BN_CALL(reserve(buf, cap, (size_t)need + 1));
      (void)domain->ops->describe(domain->ctx, state, *buf, *cap);
    }
    (*buf)[*cap - 1] = '\0';
    return BN_OK;
  }
  static const char digits[] = "0123456789abcdef";
  BN_CALL(reserve(buf, cap, 2 * state_size + 1));
  char *p = *buf;
  for (size_t i = 0; i < state_size; i++) {
    *p++ = digits[state[i] >> 4];
    *p++ = digits[state[i] & 15];
  }
  *p = '\0';
  return BN_OK;
}
