/* exec.command split into argv, without a shell: blanks separate words; single quotes,
 * double quotes and backslashes group and escape as in a POSIX shell, and nothing else is
 * special (no variables, globbing, redirection or pipes). The rules are in exec.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

static int is_blank(char c) { return c == ' ' || c == '\t'; }

void bn__exec_argv_free(bn__exec_argv *a) {
  if (!a) return;
  for (size_t i = 0; a->argv && i < a->argc; i++) free(a->argv[i]);
  free(a->argv);
  a->argv = NULL;
  a->argc = 0;
}

/* Append the finished word `w` (taken over) to the list. */
static int push_word(bn__exec_argv *a, size_t *cap, char *w) {
  if (a->argc + 2 > *cap) {
    size_t ncap = *cap ? 2 * *cap : 8;
    char **grown = realloc(a->argv, ncap * sizeof *grown);
    if (!grown) return 1;
    a->argv = grown;
    *cap = ncap;
  }
  a->argv[a->argc++] = w;
  a->argv[a->argc] = NULL;
  return 0;
}

int bn__exec_split(const char *command, bn__exec_argv *out, char *why, size_t whylen) {
  bn__exec_argv a = {0};
  size_t cap = 0;
  /* No word is longer than the command, so one buffer of its length holds any of them. */
  const size_t n = command ? strlen(command) : 0;
  char *word = malloc(n + 1);
  if (!word) {
    snprintf(why, whylen, "out of memory");
    return 1;
  }
  const char *p = command ? command : "";
  for (;;) {
    while (is_blank(*p)) p++;
    if (!*p) break;
    size_t len = 0;
    while (*p && !is_blank(*p)) {
      if (*p == '\'') {
        const char *end = strchr(p + 1, '\'');
        if (!end) {
          snprintf(why, whylen, "unterminated ' quote");
          goto fail;
        }
        memcpy(word + len, p + 1, (size_t)(end - p - 1));
        len += (size_t)(end - p - 1);
        p = end + 1;
      } else if (*p == '"') {
        p++;
        while (*p && *p != '"') {
          if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
          word[len++] = *p++;
        }
        if (!*p) {
          snprintf(why, whylen, "unterminated \" quote");
          goto fail;
        }
        p++;
      } else if (*p == '\\') {
        if (!p[1]) {
          snprintf(why, whylen, "a backslash ends the command (escaping nothing)");
          goto fail;
        }
        word[len++] = p[1];
        p += 2;
      } else {
        word[len++] = *p++;
      }
    }
    char *copy = malloc(len + 1);
    if (!copy) goto nomem;
    memcpy(copy, word, len);
    copy[len] = '\0';
    if (push_word(&a, &cap, copy)) {
      free(copy);
      goto nomem;
    }
  }
  free(word);
  if (a.argc == 0) {
    snprintf(why, whylen, "no program given (the command is empty)");
    return 1;
  }
  *out = a;
  return 0;
nomem:
  snprintf(why, whylen, "out of memory");
fail:
  free(word);
  bn__exec_argv_free(&a);
  return 1;
}
