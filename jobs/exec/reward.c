/* What a finished run of the program means: the reward on the last non-empty line of its
 * stdout, or a failure reason "KIND: DETAIL" (engine.h): the kind a fixed phrase ("exit
 * status", "signal", "timeout", "unparsable output", ...) so failures are counted by kind,
 * the detail this run's values. Details are fitted to a results-log row here, where it is
 * known what matters in them: a quoted line is cut after a word inside its quotes, and a
 * long program path gives way to the error text. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/engine.h"
#include "exec/exec.h"

static int blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* prefix "text" into why, anything unprintable shown as '?'. A text longer than a failure
 * detail holds is cut after a word, inside the quotes, with "…" (bn_failure_reason). */
static void quoted(char *why, size_t whylen, const char *prefix, const char *text, size_t len) {
  if (!why || whylen == 0) return;
  char shown[BN_FAILURE_DETAIL_LEN + 16]; /* more than a detail holds: a long text is cut */
  size_t n = 0;
  shown[n++] = '"';
  for (size_t i = 0; i < len && n < sizeof shown - 2; i++) {
    unsigned char c = (unsigned char)text[i];
    shown[n++] = isprint(c) ? (char)c : '?';
  }
  shown[n++] = '"';
  shown[n] = '\0';
  char reason[sizeof shown + 32];
  snprintf(reason, sizeof reason, "%s%s", prefix, shown);
  bn_failure_reason(why, whylen, reason);
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
    quoted(why, whylen, "non-finite reward: ", line, line_len);
    return 1;
  }
  *reward = v;
  return 0;
}

/* "cannot run: PROGRAM: ERROR", the program's path shortened from the left (to "…/tail")
 * when the whole would not fit a failure detail, so the error always shows. */
static void cannot_run(char *why, size_t whylen, const char *program, int code) {
  const char *error = strerror(code);
  const size_t room = BN_FAILURE_DETAIL_LEN - 1 - strlen(": ") - strlen(error) - strlen("\xe2\x80\xa6");
  const char *shown = program, *dots = "";
  if (strlen(program) > room) {
    shown = program + strlen(program) - room;
    const char *slash = strchr(shown, '/');
    if (slash && slash[1]) shown = slash; /* from a path component on */
    dots = "\xe2\x80\xa6";
  }
  char reason[BN_JOB_REASON_LEN + 64];
  snprintf(reason, sizeof reason, "cannot run: %s%s: %s", dots, shown, error);
  bn_failure_reason(why, whylen, reason);
}

int bn__exec_outcome(const bn__exec_result *res, const bn__exec_spec *spec, const char *program,
                     double *reward, char *why, size_t whylen) {
  switch (res->end) {
    case BN__EXEC_CANNOT_RUN:
      cannot_run(why, whylen, program, res->code);
      return 1;
    case BN__EXEC_TIMEOUT:
      snprintf(why, whylen, "timeout: after %g s", spec->timeout);
      return 1;
    case BN__EXEC_TOO_LONG:
      snprintf(why, whylen, "output too long: over %zu bytes", spec->max_output);
      return 1;
    case BN__EXEC_SIGNALED: {
      const char *name = sigabbrev_np(res->code);
      if (name)
        snprintf(why, whylen, "signal: %d (SIG%s)", res->code, name);
      else
        snprintf(why, whylen, "signal: %d", res->code);
      return 1;
    }
    case BN__EXEC_EXITED:
      if (res->code != 0) {
        snprintf(why, whylen, "exit status: %d", res->code);
        return 1;
      }
      return bn__exec_parse_reward(res->output ? res->output : "", res->output_len, reward, why, whylen);
  }
  snprintf(why, whylen, "internal error: unknown end of the program");
  return 1;
}
