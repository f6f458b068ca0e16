/* engine.pools: parsing the pool list ("reward:0.25, simulate:0.75" or "reward:1,
 * simulate:3") and sharing a run's engines among the pools. The config layer checks the
 * text when it is finalized (so a bad list is reported as FILE:LINE); the engine count is
 * known only once MPI runs, so bn_pools_assign is called again then. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/config.h"
#include "config_impl.h"

static const char *const kind_names[] = {"reward", "simulate"}; /* bit 0, bit 1 (job kinds 1, 2) */

const char *bn_pool_name(unsigned kinds) {
  switch (kinds) {
    case 1: return "reward";
    case 2: return "simulate";
    case BN_POOL_ALL: return "all";
    default: return "?";
  }
}

static const char *skip_blanks(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* One "KIND:AMOUNT" item from p (up to the next comma or the end); *end after it. */
static bool parse_item(const char *p, const char **end, unsigned *kind, double *amount, bool *is_count, char *why,
                       size_t n) {
  p = skip_blanks(p);
  const char *k = p;
  while (isalpha((unsigned char)*p) || *p == '_') p++;
  const size_t klen = (size_t)(p - k);
  *kind = 0;
  for (unsigned i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
    if (klen == strlen(kind_names[i]) && strncmp(k, kind_names[i], klen) == 0) *kind = 1u << i;
  const char *item_end = strchr(k, ',');
  const int shown = item_end ? (int)(item_end - k) : (int)strlen(k);
  if (*kind == 0) {
    if (klen == 0)
      snprintf(why, n, "\"%.*s\": expected KIND:AMOUNT with KIND reward or simulate", shown, k);
    else
      snprintf(why, n, "unknown job kind \"%.*s\" (the kinds are reward and simulate)", (int)klen, k);
    return false;
  }
  p = skip_blanks(p);
  if (*p != ':') {
    snprintf(why, n, "\"%.*s\": expected KIND:AMOUNT (a share such as 0.25 or a count such as 3)", shown, k);
    return false;
  }
  p = skip_blanks(p + 1);
  const char *num = p;
  while (isdigit((unsigned char)*p) || *p == '.') p++;
  const size_t nlen = (size_t)(p - num);
  char buf[32];
  char *stop = NULL;
  if (nlen > 0 && nlen < sizeof buf) {
    memcpy(buf, num, nlen);
    buf[nlen] = '\0';
    *amount = strtod(buf, &stop);
  }
  p = skip_blanks(p);
  if (nlen == 0 || nlen >= sizeof buf || *stop != '\0' || (*p != ',' && *p != '\0') || !isfinite(*amount)) {
    snprintf(why, n, "\"%.*s\": the amount must be a share such as 0.25 or a count such as 3", shown, k);
    return false;
  }
  *is_count = memchr(num, '.', nlen) == NULL;
  if (!(*amount > 0) || (*is_count && *amount > 1e6) || (!*is_count && *amount > 1)) {
    snprintf(why, n, "%s:%s: a pool needs a share in (0, 1] or a count of at least 1 engine", kind_names[*kind - 1],
             buf);
    return false;
  }
  *end = p;
  return true;
}

bool bn_pools_parse(const char *text, bn_pool_spec *out, char *why, size_t n) {
  bn_pool_spec s = {0};
  const char *p = skip_blanks(text ? text : "");
  unsigned seen = 0;
  int counts = 0;
  while (*p) {
    if (s.n == BN_POOLS_MAX) {
      snprintf(why, n, "more than %d pools: there are only two job kinds, reward and simulate", BN_POOLS_MAX);
      return false;
    }
    unsigned kind = 0;
    double amount = 0;
    bool is_count = false;
    if (!parse_item(p, &p, &kind, &amount, &is_count, why, n)) return false;
    if (seen & kind) {
      snprintf(why, n, "job kind %s is listed twice (each kind goes to exactly one pool)", bn_pool_name(kind));
      return false;
    }
    seen |= kind;
    s.kinds[s.n] = (uint8_t)kind;
    s.amount[s.n] = amount;
    s.n++;
    counts += is_count;
    if (*p == ',') {
      p = skip_blanks(p + 1);
      if (*p == '\0') {
        snprintf(why, n, "a comma ends the list: expected KIND:AMOUNT after it");
        return false;
      }
    }
  }
  if (s.n == 0) {
    *out = s;
    return true;
  }
  if (seen != BN_POOL_ALL) {
    snprintf(why, n, "job kind %s has no pool: list both reward and simulate (or leave engine.pools empty)",
             bn_pool_name(BN_POOL_ALL & ~seen));
    return false;
  }
  if (counts != 0 && counts != s.n) {
    snprintf(why, n, "mixes shares (with a decimal point) and counts (without): use one or the other");
    return false;
  }
  s.counts = counts != 0;
  if (!s.counts) {
    double sum = 0;
    for (int i = 0; i < s.n; i++) sum += s.amount[i];
    if (fabs(sum - 1.0) > 1e-6) {
      snprintf(why, n, "the shares add up to %g, not 1", sum);
      return false;
    }
  }
  *out = s;
  return true;
}

bool bn_pools_assign(const bn_pool_spec *spec, int engines, int *sizes, char *why, size_t n) {
  int sz[BN_POOLS_MAX] = {0};
  if (spec->n == 0 || engines == 0) {
    memcpy(sizes, sz, sizeof sz);
    return true;
  }
  if (spec->counts) {
    int sum = 0;
    for (int i = 0; i < spec->n; i++) sum += sz[i] = (int)spec->amount[i];
    if (sum != engines) {
      snprintf(why, n, "the pools ask for %d engines but the run has %d (ranks - 1): start it with %d ranks", sum,
               engines, sum + 1);
      return false;
    }
    memcpy(sizes, sz, sizeof sz);
    return true;
  }
  if (engines < spec->n) {
    snprintf(why, n, "%d pools need at least %d engines but the run has %d (ranks - 1)", spec->n, spec->n, engines);
    return false;
  }
  /* Largest remainder: floors first, then one more to the largest fractional parts. */
  int given = 0;
  double frac[BN_POOLS_MAX];
  for (int i = 0; i < spec->n; i++) {
    const double want = spec->amount[i] * engines;
    sz[i] = (int)floor(want + 1e-9);
    frac[i] = want - sz[i];
    given += sz[i];
  }
  while (given < engines) {
    int best = 0;
    for (int i = 1; i < spec->n; i++)
      if (frac[i] > frac[best]) best = i;
    sz[best]++;
    frac[best] = -1;
    given++;
  }
  /* Every listed pool gets one engine, taken from the largest. */
  for (int i = 0; i < spec->n; i++) {
    if (sz[i] > 0) continue;
    int big = 0;
    for (int j = 1; j < spec->n; j++)
      if (sz[j] > sz[big]) big = j;
    sz[big]--;
    sz[i]++;
  }
  memcpy(sizes, sz, sizeof sz);
  return true;
}

bool bn__config_check_text(const char *name, const char *text, char *why, size_t n) {
  bn_pool_spec spec;
  if (strcmp(name, "engine.pools") == 0) return bn_pools_parse(text, &spec, why, n);
  return true;
}
