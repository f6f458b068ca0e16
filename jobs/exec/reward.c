/* What a finished run of the program means: the reward on the last non-empty line of its
 * stdout, or a failure reason. Reasons fit a results-log row (BN_JOB_REASON_LEN - 1
 * characters) and start with a fixed phrase per kind ("exit status", "killed by signal",
 * "timeout after", "unparsable output", ...), so failures can be counted by kind. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/engine.h"
#include "exec/exec.h"

static int blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* prefix "text" into why, the text cut (with ...) to what fits and anything unprintable
 * shown as '?'. */
static void quoted(char *why, size_t whylen, const char *prefix, const char *text, size_t len) {
  if (!why || whylen == 0) return;
  int used = snprintf(why, whylen, "%s\"", prefix);
  if (used < 0 || (size_t)used >= whylen) return;
  size_t at = (size_t)used, room = whylen - 1 - at; /* characters left before the NUL */
  if (room < 1) return;
  room -= 1; /* the closing quote */
  size_t take = len;
  int cut = 0;
  if (take > room) {
    take = room > 3 ? room - 3 : 0;
    cut = 1;
  }
  for (size_t i = 0; i < take; i++) {
    unsigned char c = (unsigned char)text[i];
    why[at++] = isprint(c) ? (char)c : '?';
  }
  if (cut)
    for (int i = 0; i < 3 && at < whylen - 2; i++) why[at++] = '.';
  why[at++] = '"';
  why[at] = '\0';
}

int bn__exec_parse_reward(const char *output, size_t len, double *reward, char *why, size_t whylen) {
  /* The last line with something on it, without the blanks around it. */
  size_t end = len;
  const char *line = NULL;
  size_t line_len = 0;
  while (end > 0) {
    size_t start = end;
    while (start > 0 && output[start - 1] != '\n') start--;
    size_t a = start, b = end;
    while (a < b && blank((unsigned char)output[a])) a++;
    while (b > a && blank((unsigned char)output[b - 1])) b--;
    if (b > a) {
      line = output + a;
      line_len = b - a;
      break;
    }
    end = start > 0 ? start - 1 : 0;
  }
  if (!line) {
    snprintf(why, whylen, "no output");
    return 1;
  }
  /* strtod needs a terminated string; a NUL inside the line makes it unparsable. */
  char buf[128];
  if (line_len >= sizeof buf || memchr(line, '\0', line_len)) {
    quoted(why, whylen, "unparsable output: ", line, line_len);
    return 1;
  }
  memcpy(buf, line, line_len);
  buf[line_len] = '\0';
  char *stop = NULL;
  errno = 0;
  double v = strtod(buf, &stop);
  if (stop != buf + line_len || stop == buf) {
    quoted(why, whylen, "unparsable output: ", line, line_len);
    return 1;
  }
  if (!isfinite(v)) {
    quoted(why, whylen, "non-finite reward ", line, line_len);
    return 1;
  }
  *reward = v;
  return 0;
}

int bn__exec_outcome(const bn__exec_result *res, const bn__exec_spec *spec, const char *program,
                     double *reward, char *why, size_t whylen) {
  if (whylen > BN_JOB_REASON_LEN) whylen = BN_JOB_REASON_LEN;
  switch (res->end) {
    case BN__EXEC_CANNOT_RUN:
      snprintf(why, whylen, "cannot run %s: %s", program, strerror(res->code));
      return 1;
    case BN__EXEC_TIMEOUT:
      snprintf(why, whylen, "timeout after %g s", spec->timeout);
      return 1;
    case BN__EXEC_TOO_LONG:
      snprintf(why, whylen, "output too long (over %zu bytes)", spec->max_output);
      return 1;
    case BN__EXEC_SIGNALED: {
      const char *name = sigabbrev_np(res->code);
      if (name)
        snprintf(why, whylen, "killed by signal %d (SIG%s)", res->code, name);
      else
        snprintf(why, whylen, "killed by signal %d", res->code);
      return 1;
    }
    case BN__EXEC_EXITED:
      if (res->code != 0) {
        snprintf(why, whylen, "exit status %d", res->code);
        return 1;
      }
      return bn__exec_parse_reward(res->output ? res->output : "", res->output_len, reward, why, whylen);
  }
  snprintf(why, whylen, "unknown end of the program");
  return 1;
}
