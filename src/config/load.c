/* Reading INI files and strings into raw entries with libinih, and recording --set
 * overrides. Nothing is validated here: keys, values and problems are recorded with their
 * source and line, and bn_config_finalize reports them. The syntax accepted is documented
 * at the top of config.c.
 *
 * inih does not tell the handler the line number (Debian builds it with
 * INI_HANDLER_LINENO 0) and returns only the first syntax error. So every physical line is
 * given to inih on its own, between a sentinel section header and a probe key:
 *     [\x01]        sentinel: if the probe is still in this section, the line opened none
 *     <the line>    a syntax error in it comes back as inih's line 2
 *     p = 1         probe
 * This yields the exact line of every key, syntax error and section header, and rules out
 * inih's continuation lines (a key's value never spans lines). */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banyan/log.h"
#include "config_impl.h"

#define SENTINEL_SECTION "\x01"

/* One line handed to inih, and what inih made of it. */
typedef struct line_feed {
  const char *line;
  int pos;         /* lines handed to inih so far */
  int limit;       /* longest line inih can take */
  bool too_long;   /* the line did not fit inih's buffer: an empty line was given instead */
  bool nomem;
  char *key;       /* the line was `key = value` */
  char *value;
  char *section;   /* the line was a section header: its name as inih read it */
} line_feed;

/* Where a source is being read: the current section and line. */
typedef struct source_state {
  bn_config *cfg;
  int source;
  int line;
  char *section;    /* owned; NULL before the first header */
  bool section_bad; /* the last header was wrong: its keys are skipped */
} source_state;

/* inih's fgets-like reader: sentinel header, the line, probe, end. */
static char *feed_line(char *str, int num, void *stream) {
  line_feed *f = stream;
  const char *src;
  switch (f->pos) {
  case 0: src = "[" SENTINEL_SECTION "]"; break;
  case 1: src = f->line; break;
  case 2: src = "p = 1"; break;
  default: return NULL;
  }
  f->pos++;
  size_t len = strlen(src);
  f->limit = num - 3; /* inih's rule: the buffer holds the line, "\r\n" and '\0' */
  if (num < 3 || len > (size_t)f->limit) {
    f->too_long = true;
    len = 0;
  }
  memcpy(str, src, len);
  str[len] = '\n';
  str[len + 1] = '\0';
  return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value) {
  line_feed *f = user;
  if (f->pos == 2) { /* the line itself is a key */
    free(f->key);
    free(f->value);
    f->key = strdup(name);
    f->value = strdup(value ? value : "");
    f->nomem |= !f->key || !f->value;
  } else if (f->pos == 3 && strcmp(section, SENTINEL_SECTION)) { /* the line was a header */
    free(f->section);
    f->section = strdup(section);
    f->nomem |= !f->section;
  }
  return 1;
}

static bn_err problem(source_state *st, const char *name, const char *what) {
  return bn__config_add_entry(st->cfg, BN__CFG_PROBLEM, st->source, st->line, name, what);
}

static bn_err open_section(source_state *st, const char *raw) {
  /* inih copies at most 49 characters: a name that long may have been cut */
  if (strlen(raw) > BN__CFG_MAX_SECTION) {
    st->section_bad = true;
    return problem(st, NULL, "section name longer than 48 characters");
  }
  char *name = bn__config_strip_dup(raw, strlen(raw));
  BN_CHECK(name, BN_ERR_NOMEM, "config: out of memory");
  free(st->section);
  st->section = name;
  st->section_bad = !*name;
  return *name ? BN_OK : problem(st, NULL, "empty section name");
}

static bn_err add_key(source_state *st, const char *key, const char *value) {
  if (st->section_bad) return BN_OK; /* the header was reported */
  if (!st->section) return problem(st, key, "key before any [section]");
  size_t ns = strlen(st->section), nk = strlen(key);
  char *name = malloc(ns + nk + 2);
  BN_CHECK(name, BN_ERR_NOMEM, "config: out of memory");
  memcpy(name, st->section, ns);
  name[ns] = '.';
  memcpy(name + ns + 1, key, nk + 1);
  bn_err err = bn__config_add_entry(st->cfg, BN__CFG_KEY, st->source, st->line, name, value);
  free(name);
  return err;
}

/* One physical line (without its '\n'; modified in place). */
static bn_err read_line(source_state *st, char *line) {
  bn_err err = BN_OK;
  size_t len = strlen(line);
  if (len && line[len - 1] == '\r') line[--len] = '\0';
  if (st->line == 1 && !strncmp(line, "\xEF\xBB\xBF", 3)) line += 3;
  line_feed f = {.line = line};
  int rc = ini_parse_stream(feed_line, &f, on_pair, &f);
  BN_CHECK_GOTO(!f.nomem && rc != -2, BN_ERR_NOMEM, "config: out of memory");
  if (f.too_long) {
    char msg[64];
    snprintf(msg, sizeof msg, "line longer than %d characters", f.limit);
    err = problem(st, NULL, msg);
  } else if (rc == 2 || (rc == 0 && f.key && !*f.key)) {
    st->section_bad |= line[strspn(line, " \t")] == '['; /* skip the keys of "[section" */
    err = problem(st, NULL, "syntax error");
  } else if (rc != 0) {
    BN_CHECK_GOTO(false, BN_ERR_INTERNAL, "config: inih failed on its line %d", rc);
  } else if (f.section) {
    err = open_section(st, f.section);
  } else if (f.key) {
    err = add_key(st, f.key, f.value);
  }
fail:
  free(f.key);
  free(f.value);
  free(f.section);
  return err;
}

/* Start a source named `origin` (a file's path, or a string's name); *source written on
 * success. */
static bn_err add_origin(bn_config *cfg, const char *origin, bool is_file, int *source) {
  BN_CHECK(!cfg->finalized, BN_ERR_ARG, "config: %s loaded after finalize", origin);
  BN_CHECK(cfg->norigins < 1u << 30, BN_ERR_ARG, "config: too many sources");
  if (cfg->norigins == cfg->caporigins) {
    size_t cap = cfg->caporigins ? 2 * cfg->caporigins : 8;
    char **o = realloc(cfg->origins, cap * sizeof *o);
    BN_CHECK(o, BN_ERR_NOMEM, "config: out of memory");
    cfg->origins = o;
    bool *f = realloc(cfg->origin_is_file, cap * sizeof *f);
    BN_CHECK(f, BN_ERR_NOMEM, "config: out of memory");
    cfg->origin_is_file = f;
    cfg->caporigins = cap;
  }
  char *copy = strdup(origin);
  BN_CHECK(copy, BN_ERR_NOMEM, "config: out of memory");
  cfg->origins[cfg->norigins] = copy;
  cfg->origin_is_file[cfg->norigins] = is_file;
  *source = (int)cfg->norigins++;
  return BN_OK;
}

/* Forget what a failed load recorded: entries from `mark` on, and its origin. */
static void roll_back(bn_config *cfg, size_t mark, int source) {
  while (cfg->nentries > mark) {
    bn__cfg_entry *e = &cfg->entries[--cfg->nentries];
    free(e->name);
    free(e->text);
  }
  if (source >= 0 && (size_t)source + 1 == cfg->norigins) free(cfg->origins[--cfg->norigins]);
}

/* What kind of file st_mode is, for a refusal. */
static const char *file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

/* Open a config file for reading: a regular file of at most BN_CONFIG_MAX_FILE_BYTES. A
 * FIFO, a device or a directory is refused at once (opened without blocking, looked at
 * before a byte is read). NULL with the reason printed as "FILE: what" otherwise. */
static FILE *open_config(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    bn_error("%s: cannot open the config file: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  const char *why = NULL;
  char size[128];
  bool irregular = false;
  if (fstat(fd, &st) != 0) {
    why = strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = file_kind(st.st_mode);
    irregular = true;
  } else if (st.st_size > (off_t)BN_CONFIG_MAX_FILE_BYTES) {
    snprintf(size, sizeof size, "%lld bytes, more than a config file may hold (%u)", (long long)st.st_size,
             (unsigned)BN_CONFIG_MAX_FILE_BYTES);
    why = size;
  }
  FILE *f = NULL;
  if (!why && fcntl(fd, F_SETFL, 0) != 0) why = strerror(errno); /* blocking reads from here */
  if (!why && !(f = fdopen(fd, "r"))) why = strerror(errno);
  if (why) {
    bn_error("%s: cannot read the config file: %s%s", path, why,
             irregular ? " (configurations are read from regular files only)" : "");
    close(fd);
  }
  return f;
}

bn_err bn_config_load_file(bn_config *cfg, const char *path) {
  bn_err err = BN_OK;
  BN_CHECK(cfg && path, BN_ERR_ARG, "config: NULL argument");
  size_t mark = cfg->nentries;
  source_state st = {.cfg = cfg, .source = -1};
  char *line = NULL;
  size_t cap = 0, total = 0;
  ssize_t got;
  FILE *f = NULL;
  BN_TRY(add_origin(cfg, path, true, &st.source));
  f = open_config(path);
  if (!f) {
    err = BN_ERR_IO;
    goto fail;
  }
  while ((got = getline(&line, &cap, f)) >= 0) {
    total += (size_t)got;
    if (total > BN_CONFIG_MAX_FILE_BYTES) { /* it grew since it was looked at */
      bn_error("%s: cannot read the config file: more than a config file may hold (%u bytes)", path,
               (unsigned)BN_CONFIG_MAX_FILE_BYTES);
      err = BN_ERR_IO;
      goto fail;
    }
    st.line++;
    if (got && line[got - 1] == '\n') line[--got] = '\0';
    if ((size_t)got != strlen(line)) BN_TRY(problem(&st, NULL, "line contains a NUL byte"));
    else BN_TRY(read_line(&st, line));
  }
  if (ferror(f)) {
    bn_error("%s: cannot read the config file: %s", path, strerror(errno));
    err = BN_ERR_IO;
    goto fail;
  }
  fclose(f);
  free(line);
  free(st.section);
  return BN_OK;
fail:
  if (f) fclose(f);
  free(line);
  free(st.section);
  roll_back(cfg, mark, st.source);
  return err;
}

bn_err bn_config_load_string(bn_config *cfg, const char *text, const char *origin) {
  bn_err err = BN_OK;
  BN_CHECK(cfg && text, BN_ERR_ARG, "config: NULL argument");
  size_t mark = cfg->nentries, cap = 0;
  source_state st = {.cfg = cfg, .source = -1};
  char *line = NULL;
  BN_TRY(add_origin(cfg, origin ? origin : "(string)", false, &st.source));
  for (const char *p = text; *p;) {
    size_t len = strcspn(p, "\n");
    if (len + 1 > cap) {
      char *bigger = realloc(line, len + 1);
      BN_CHECK_GOTO(bigger, BN_ERR_NOMEM, "config: out of memory");
      line = bigger;
      cap = len + 1;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    st.line++;
    BN_TRY(read_line(&st, line));
    p += len + (p[len] == '\n');
  }
  free(line);
  free(st.section);
  return BN_OK;
fail:
  free(line);
  free(st.section);
  roll_back(cfg, mark, st.source);
  return err;
}

bn_err bn_config_set(bn_config *cfg, const char *assignment) {
  BN_CHECK(cfg && assignment, BN_ERR_ARG, "config: NULL argument");
  BN_CHECK(!cfg->finalized, BN_ERR_ARG, "config: --set %s after finalize", assignment);
  const int set = BN__CFG_SOURCE_SET;
  const char *eq = strchr(assignment, '=');
  if (!eq)
    return bn__config_add_entry(cfg, BN__CFG_PROBLEM, set, 0, assignment,
                                "missing '=' (expected --set section.key=value)");
  char *name = bn__config_strip_dup(assignment, (size_t)(eq - assignment));
  char *value = bn__config_strip_dup(eq + 1, strlen(eq + 1));
  bn_err err = BN_ERR_NOMEM;
  if (name && value)
    err = *name ? bn__config_add_entry(cfg, BN__CFG_KEY, set, 0, name, value)
                : bn__config_add_entry(cfg, BN__CFG_PROBLEM, set, 0, assignment,
                                       "missing option name before '='");
  else
    bn_error("config: out of memory");
  free(name);
  free(value);
  return err;
}
