/* Private structures of the configuration module, shared by the .c files of src/config only.
 *
 * A bn_config holds the declared options (slots, with a hash index by name), the raw
 * entries recorded by load_file / load_string / set (key = value pairs and problems found
 * while reading, both reported by finalize), and the names of the sources they came from. */
#ifndef BN_CONFIG_IMPL_H
#define BN_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "banyan/config.h"

/* inih keeps the section name in char[MAX_SECTION = 50] and truncates longer names
 * silently; a name of 49 characters may therefore be truncated and is refused. */
#define BN__CFG_MAX_SECTION 48
#define BN__CFG_MAX_NAME 100 /* "section.key" */
#define BN__CFG_MAX_WORD 64  /* one ENUM choice */

/* Entries from --set carry this source; files and strings carry their index in origins. */
#define BN__CFG_SOURCE_SET (-1)

typedef union bn__cfg_value {
  int64_t i; /* INT */
  double r;  /* REAL */
  bool b;    /* BOOL */
  int e;     /* ENUM: index in choices */
} bn__cfg_value;

typedef struct bn__cfg_slot {
  const bn_option *opt; /* borrowed from the declared table */
  size_t section_len;   /* bytes of opt->name before its last '.' */
  bn__cfg_value def;    /* parsed default */
  char *def_str;        /* STRING: default with blanks stripped (owned) */
  bn__cfg_value val;    /* value after finalize */
  const char *str;      /* STRING: value after finalize (def_str or an entry's text) */
  int set_source;       /* finalize: source and line of the entry that set it */
  int set_line;
  int from_source;      /* finalize: where the value in effect came from (--set included) */
  int from_line;
} bn__cfg_slot;

typedef enum bn__cfg_entry_kind {
  BN__CFG_KEY,    /* name = text */
  BN__CFG_PROBLEM /* text says what is wrong with name (NULL: the whole line) */
} bn__cfg_entry_kind;

typedef struct bn__cfg_entry {
  bn__cfg_entry_kind kind;
  int source; /* index in origins, or BN__CFG_SOURCE_SET */
  int line;   /* 1-based line in the source; 0 for --set */
  char *name; /* owned, may be NULL for a problem */
  char *text; /* owned: value (KEY) or message (PROBLEM) */
} bn__cfg_entry;

struct bn_config {
  bn__cfg_slot *slots;
  size_t nslots, capslots;
  uint32_t *index; /* open addressing by XXH3 of the name: slot + 1, 0 = empty */
  size_t index_cap; /* power of two */
  bn__cfg_entry *entries;
  size_t nentries, capentries;
  char **origins; /* file names / string origins, owned */
  bool *origin_is_file; /* parallel to origins: relative paths in a file are relative to its
                           directory (bn_config_raw_absolute_path) */
  size_t norigins, caporigins;
  bn_config_declarer declarer; /* NULL: none (deferred.c) */
  void *declarer_ctx;
  size_t declarer_from, declarer_count; /* slots the declarer declared at its last run */
  bool finalized;
};

/* config.c: slot of a declared name, or NULL. Thread-safe (read-only). */
bn__cfg_slot *bn__config_find(const bn_config *cfg, const char *name);
/* config.c: copy of s[0, n) without leading and trailing blanks; caller frees. NULL on NOMEM. */
char *bn__config_strip_dup(const char *s, size_t n);
/* config.c: the raw entry whose value is in effect for `name` (the last --set, else the
 * last one from files and strings), or NULL. */
bn__cfg_entry *bn__config_raw_entry(const bn_config *cfg, const char *name);
/* config.c: forget the slots from `n` on (options declared last). */
void bn__config_drop_slots(bn_config *cfg, size_t n);
/* deferred.c: drop the options the declarer gave last time and run it again; called by
 * finalize before any entry is validated. */
BN_NODISCARD bn_err bn__config_run_declarer(bn_config *cfg, FILE *errors);
/* config.c: record an entry; name and text are copied (either may be NULL). */
BN_NODISCARD bn_err bn__config_add_entry(bn_config *cfg, bn__cfg_entry_kind kind, int source,
                                         int line, const char *name, const char *text);

/* value.c: parse `text` (blanks already stripped) as a value of `opt`. On failure return
 * false and write what is wrong to why[n] ("\"abc\" is not a number"). STRING values always
 * parse; check them with bn__config_string_problem. */
bool bn__config_parse(const bn_option *opt, const char *text, bn__cfg_value *out, char *why,
                      size_t n);
/* value.c: why a STRING value could not be written back as "key = value" (NULL if it can). */
const char *bn__config_string_problem(const char *key, const char *value);
/* pools.c: options whose text has a grammar of its own (engine.pools): false with the
 * reason in why[n] when `text` does not parse; true for every other option. */
bool bn__config_check_text(const char *name, const char *text, char *why, size_t n);
/* value.c: shortest of %.15g/%.16g/%.17g that reads back as x exactly. */
void bn__config_format_real(char *buf, size_t n, double x);
/* value.c: a bound of an INT or REAL option for messages and the table ("1e15"). */
void bn__config_format_bound(char *buf, size_t n, double bound, bn_opt_type type);
/* value.c: the index-th word of an ENUM's choices; false if there is none. */
bool bn__config_enum_word(const char *choices, int index, const char **word, size_t *len);
/* value.c: "int", "real", ... */
const char *bn__config_type_name(bn_opt_type type);

#endif
