/* The campaign file: the small list that ties the replicates of a campaign together
 * (search.replicates > 1). Each replicate is an ordinary, complete checkpoint of its own
 * (NAME.r007.h5 beside NAME.campaign), so every reader works on it unchanged; this file
 * only says how many there are, the campaign's seed and each replicate's run id (so that a
 * stray checkpoint of another run in a replicate's place is refused). Replicate file names
 * are derived from the campaign file's name, never read from it: a hostile file cannot
 * point anywhere.
 *
 * Format (text, one item per line, nothing else allowed):
 *
 *   banyan campaign 1
 *   replicates N
 *   seed S
 *   replicate 0 run_id 0123456789abcdef      (N lines, r = 0 .. N-1 in order)
 *   ...
 *   checksum 0123456789abcdef                (XXH3-64 of every byte before this line)
 *
 * Written once, atomically (temporary file, fsync, rename, fsync of the directory). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "banyan/log.h"
#include "banyan/search.h"

#define MAGIC "banyan campaign 1\n"
/* The largest campaign file: the header and BN_SEARCH_MAX_REPLICATES lines. */
enum { MAX_LINE = 64, MAX_BYTES = 4 * MAX_LINE + BN_SEARCH_MAX_REPLICATES * MAX_LINE };

uint64_t bn_replicate_seed(uint64_t seed, uint32_t r) { return seed + r; }

void bn_campaign_free(bn_campaign *c) {
  if (!c) return;
  free(c->run_ids);
  *c = (bn_campaign){0};
}

bn_err bn_campaign_path(const char *checkpoint_path, char *buf, size_t n) {
  size_t len = strlen(checkpoint_path);
  if (len > 3 && strcmp(checkpoint_path + len - 3, ".h5") == 0) len -= 3;
  BN_CHECK(len > 0 && (size_t)snprintf(buf, n, "%.*s.campaign", (int)len, checkpoint_path) < n, BN_ERR_ARG,
           "checkpoint path too long: %s", checkpoint_path);
  return BN_OK;
}

bn_err bn_campaign_replicate_path(const char *campaign_path, uint32_t r, char *buf, size_t n) {
  static const char ext[] = ".campaign";
  size_t len = strlen(campaign_path);
  BN_CHECK(len > sizeof ext - 1 && strcmp(campaign_path + len - (sizeof ext - 1), ext) == 0, BN_ERR_ARG,
           "%s: a campaign file's name ends in .campaign", campaign_path);
  len -= sizeof ext - 1;
  BN_CHECK((size_t)snprintf(buf, n, "%.*s.r%03" PRIu32 ".h5", (int)len, campaign_path, r) < n, BN_ERR_ARG,
           "campaign path too long: %s", campaign_path);
  return BN_OK;
}

bool bn_campaign_is(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char head[sizeof MAGIC - 1];
  bool yes = fread(head, 1, sizeof head, f) == sizeof head && memcmp(head, MAGIC, sizeof head) == 0;
  fclose(f);
  return yes;
}

static bn_err fsync_dir(const char *path) {
  char *copy = strdup(path);
  BN_CHECK(copy, BN_ERR_NOMEM, "no memory");
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  free(copy);
  BN_CHECK(fd >= 0, BN_ERR_IO, "cannot open the directory of %s: %s", path, strerror(errno));
  int rc = fsync(fd);
  close(fd);
  BN_CHECK(rc == 0, BN_ERR_IO, "fsync of the directory of %s failed: %s", path, strerror(errno));
  return BN_OK;
}

bn_err bn_campaign_write(const char *path, const bn_campaign *c) {
  BN_CHECK(c->replicates >= 1 && c->replicates <= BN_SEARCH_MAX_REPLICATES && c->run_ids, BN_ERR_ARG,
           "bad campaign");
  size_t cap = MAX_BYTES, len = 0;
  char *text = malloc(cap);
  BN_CHECK(text, BN_ERR_NOMEM, "no memory for the campaign file");
  len += (size_t)snprintf(text + len, cap - len, MAGIC "replicates %" PRIu32 "\nseed %" PRIu64 "\n", c->replicates,
                          c->seed);
  for (uint32_t r = 0; r < c->replicates; r++)
    len += (size_t)snprintf(text + len, cap - len, "replicate %" PRIu32 " run_id %016" PRIx64 "\n", r, c->run_ids[r]);
  len += (size_t)snprintf(text + len, cap - len, "checksum %016" PRIx64 "\n", (uint64_t)XXH3_64bits(text, len));
  char tmp[4200];
  bn_err err = BN_OK;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
    free(text);
    BN_CHECK(false, BN_ERR_ARG, "campaign path too long");
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    free(text);
    BN_CHECK(false, BN_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  }
  bool ok = write(fd, text, len) == (ssize_t)len;
  ok = fsync(fd) == 0 && ok;
  ok = close(fd) == 0 && ok;
  free(text);
  BN_CHECK(ok, BN_ERR_IO, "writing %s failed: %s", tmp, strerror(errno));
  BN_CHECK(rename(tmp, path) == 0, BN_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  BN_TRY(fsync_dir(path));
fail:
  return err;
}

/* Parse an unsigned decimal (hex with base 16) that fills [p, end) exactly. */
static bool parse_u64(const char *p, const char *end, int base, uint64_t *v) {
  if (p >= end || end - p > 20) return false;
  uint64_t x = 0;
  for (; p < end; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : base == 16 && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0 || x > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
    x = x * (uint64_t)base + (uint64_t)d;
  }
  *v = x;
  return true;
}

/* The next line must be `key VALUE` (VALUE in `base`); advances *p past it. */
static bool keyed(const char **p, const char *end, const char *key, int base, uint64_t *v) {
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  size_t k = strlen(key);
  if (!nl || (size_t)(nl - *p) <= k || memcmp(*p, key, k) != 0 || (*p)[k] != ' ') return false;
  if (!parse_u64(*p + k + 1, nl, base, v)) return false;
  *p = nl + 1;
  return true;
}

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), BN_ERR_CORRUPT)

bn_err bn_campaign_read(const char *path, bn_campaign *out, char *why, size_t whylen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    snprintf(why, whylen, "cannot open: %s", strerror(errno));
    return BN_ERR_IO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return WHY("not a regular file");
  }
  if (st.st_size > MAX_BYTES) {
    close(fd);
    return WHY("not a campaign file (%lld bytes, at most %d)", (long long)st.st_size, MAX_BYTES);
  }
  char *text = malloc((size_t)st.st_size + 1);
  if (!text) {
    close(fd);
    return BN_ERR_NOMEM;
  }
  ssize_t got = read(fd, text, (size_t)st.st_size);
  close(fd);
  bn_campaign c = {0};
  bn_err err = BN_ERR_CORRUPT;
  const size_t n = got > 0 ? (size_t)got : 0;
  const char *p = text, *end = text + n;
  uint64_t reps = 0, seed = 0, sum = 0;
  if (got != st.st_size || n < sizeof MAGIC - 1 || memcmp(text, MAGIC, sizeof MAGIC - 1) != 0) {
    err = WHY("not a campaign file (it does not start with \"banyan campaign 1\")");
    goto done;
  }
  if (memchr(text, '\0', n) || text[n - 1] != '\n') {
    err = WHY("damaged campaign file (a NUL byte or no final newline)");
    goto done;
  }
  /* The checksum first: nothing else is believed before it holds. */
  const char *last = text + n - 1;
  while (last > text && last[-1] != '\n') last--;
  const char *ck = last;
  if (!keyed(&ck, end, "checksum", 16, &sum) || ck != end || sum != (uint64_t)XXH3_64bits(text, (size_t)(last - text))) {
    err = WHY("damaged campaign file (checksum)");
    goto done;
  }
  p += sizeof MAGIC - 1;
  if (!keyed(&p, end, "replicates", 10, &reps) || reps < 1 || reps > BN_SEARCH_MAX_REPLICATES ||
      !keyed(&p, end, "seed", 10, &seed) || seed > (uint64_t)INT64_MAX - reps) {
    err = WHY("bad campaign header (replicates 1..%u, a seed)", BN_SEARCH_MAX_REPLICATES);
    goto done;
  }
  c.replicates = (uint32_t)reps;
  c.seed = seed;
  c.run_ids = calloc(reps, sizeof *c.run_ids);
  if (!c.run_ids) {
    err = BN_ERR_NOMEM;
    goto done;
  }
  for (uint32_t r = 0; r < c.replicates; r++) {
    char key[48];
    snprintf(key, sizeof key, "replicate %" PRIu32 " run_id", r);
    if (!keyed(&p, end, key, 16, &c.run_ids[r])) {
      err = WHY("bad campaign line for replicate %" PRIu32, r);
      goto done;
    }
  }
  if (p != last) {
    err = WHY("unexpected lines in the campaign file");
    goto done;
  }
  *out = c;
  c.run_ids = NULL;
  err = BN_OK;
done:
  free(c.run_ids);
  free(text);
  return err;
}
