/* Configuration: a table of declared options, INI files, command-line overrides,
 * validation and broadcast to all ranks.
 *
 * Every option is declared once (bn_option: name, type, default, bounds, help). Options are
 * named "section.key" after the INI section they live in ("search.c" is key `c` of
 * `[search]`; "domain.circuit.root" is key `root` of `[domain.circuit]`).
 *
 * Lifecycle on rank 0:  create -> declare(core + domains) -> load_file -> set(--set ...)
 *                       -> finalize (validate; errors printed as "file:line: key: what")
 * Options that depend on what was loaded (a plug-in's, named by domain.plugin) are declared
 * inside finalize by a declarer (bn_config_set_declarer).
 * then bn_config_broadcast() makes every rank hold the same validated config. After
 * finalize the config is read-only; getters are thread-safe. */
#ifndef BANYAN_CONFIG_H
#define BANYAN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <mpi.h>

#include "banyan/error.h"

typedef enum bn_opt_type {
  BN_OPT_BOOL,   /* true/false, yes/no, on/off, 1/0 */
  BN_OPT_INT,    /* 64-bit signed integer within [min, max] */
  BN_OPT_REAL,   /* finite double within [min, max] */
  BN_OPT_STRING, /* any text (leading/trailing blanks stripped) */
  BN_OPT_ENUM    /* one of the '|'-separated words in `choices` */
} bn_opt_type;

typedef struct bn_option {
  const char *name;    /* "section.key" */
  bn_opt_type type;
  const char *def;     /* default value, as it would be written in the INI file */
  double min, max;     /* inclusive bounds for INT and REAL (ignored otherwise) */
  const char *choices; /* ENUM only: "virtual_loss|wu_uct" */
  const char *help;    /* one line */
} bn_option;

typedef struct bn_config bn_config;

/* The options of the runtime itself (search.*, engine.*, domain.name, ...). */
BN_API const bn_option *bn_config_core_options(size_t *n);

/* Create an empty config with no declared options. *cfg written on success only. */
BN_API BN_NODISCARD bn_err bn_config_create(bn_config **cfg);
/* Free; accepts NULL and *cfg == NULL; sets *cfg = NULL. */
BN_API void bn_config_destroy(bn_config **cfg);

/* Declare options (the table is borrowed and must outlive cfg; static tables are normal).
 * BN_ERR_ARG if a name is declared twice or a default does not validate. */
BN_API BN_NODISCARD bn_err bn_config_declare(bn_config *cfg, const bn_option *opts, size_t n);

/* Read an INI file into raw entries (not validated until finalize). BN_ERR_IO (message
 * "FILE: cannot ...: why" printed) if it cannot be opened or read, is not a regular file (a
 * FIFO, a device or a directory is refused at once, before a byte is read) or holds more
 * than BN_CONFIG_MAX_FILE_BYTES; syntax errors are recorded and reported by finalize. */
#define BN_CONFIG_MAX_FILE_BYTES (1u << 20)
BN_API BN_NODISCARD bn_err bn_config_load_file(bn_config *cfg, const char *path);
/* Same for INI text in memory; `origin` names it in messages. */
BN_API BN_NODISCARD bn_err bn_config_load_string(bn_config *cfg, const char *text, const char *origin);
/* A command-line override "section.key=value" (later entries win). Recorded; a malformed
 * assignment is reported by finalize. */
BN_API BN_NODISCARD bn_err bn_config_set(bn_config *cfg, const char *assignment);

/* Raw (unvalidated) value last given for `name`, or NULL. Borrowed until destroy. */
BN_API const char *bn_config_raw(const bn_config *cfg, const char *name);

/* Options that depend on the configuration itself, like the options of the plug-in that
 * domain.plugin names. bn_config_finalize calls the declarer once every file and --set is
 * loaded and before any entry is validated. It may read raw values (bn_config_raw,
 * bn_config_raw_where), adjust them (bn_config_raw_absolute_path, bn_config_raw_imply) and
 * declare options. It prints what is wrong to `errors` as "FILE:LINE: section.key: what is
 * wrong" and returns BN_ERR_CONFIG (or another code for NOMEM and the like): finalize then
 * returns that code without validating the rest. The options it declared are dropped when
 * the next finalize runs it again. */
typedef bn_err (*bn_config_declarer)(bn_config *cfg, FILE *errors, void *ctx);
/* Attach a declarer (NULL: none) before finalize; `ctx` is borrowed. */
BN_API void bn_config_set_declarer(bn_config *cfg, bn_config_declarer declarer, void *ctx);

/* Where the raw value of `name` in effect was given, for messages before finalize:
 * "FILE:LINE" or "--set". false (and "(default)") if it was not given. Always
 * NUL-terminates buf. */
BN_API bool bn_config_raw_where(const bn_config *cfg, const char *name, char *buf, size_t n);
/* Rewrite the raw value of `name` in effect, a path, as an absolute one: a relative path
 * written in a config file is relative to that file's directory; one given with --set or in
 * text loaded with bn_config_load_string, to the current directory. The entry keeps its
 * file and line. BN_OK (nothing done) when `name` was not given or is empty. */
BN_API BN_NODISCARD bn_err bn_config_raw_absolute_path(bn_config *cfg, const char *name);
/* When `name` was not given, give it the raw value `text` as if it was written where the
 * raw value of `like` was (same file and line, or --set). Nothing is done if `name` was
 * given or `like` was not. */
BN_API BN_NODISCARD bn_err bn_config_raw_imply(bn_config *cfg, const char *name, const char *text,
                                               const char *like);

/* Validate every entry against the declared table: unknown keys, unparsable values,
 * out-of-range numbers, bad enum words, syntax errors. Each problem is printed to `errors`
 * as "FILE:LINE: section.key: what is wrong" (or "--set: ..." for overrides). Returns
 * BN_ERR_CONFIG if there was any problem; after success the getters work. */
BN_API BN_NODISCARD bn_err bn_config_finalize(bn_config *cfg, FILE *errors);

/* Getters (after a successful finalize). Asking for an undeclared name or the wrong type
 * is a programming error: it logs and aborts. Thread-safe. */
BN_API int64_t bn_config_int(const bn_config *cfg, const char *name);
BN_API double bn_config_real(const bn_config *cfg, const char *name);
BN_API bool bn_config_bool(const bn_config *cfg, const char *name);
/* Borrowed until destroy. */
BN_API const char *bn_config_string(const bn_config *cfg, const char *name);
/* Index of the chosen word in the option's `choices`. */
BN_API int bn_config_enum(const bn_config *cfg, const char *name);

/* Where the finalized value of `name` came from, for messages about it: "FILE:LINE",
 * "--set" or "(default)". Always NUL-terminates buf. */
BN_API void bn_config_where(const bn_config *cfg, const char *name, char *buf, size_t n);

/* The effective configuration (every declared option with its value) as INI text that
 * load_string + finalize reproduce exactly. Caller frees with free(). NULL on NOMEM. */
BN_API char *bn_config_effective_text(const bn_config *cfg);

/* Print the option table (name, type, default, bounds/choices, help) for `config --list`. */
BN_API void bn_config_print_table(const bn_config *cfg, FILE *out);

/* Engine pools (engine.pools): "KIND:AMOUNT, KIND:AMOUNT" with KIND reward or simulate,
 * each job kind in exactly one pool. AMOUNT is a share of the engines (a number with a
 * decimal point, e.g. 0.25; the shares add up to 1) or a count of engines (a whole number
 * without a point, e.g. 3; the counts add up to the engines of the run). Empty: one pool
 * takes every kind (n = 0). A pool is named by its kinds as a bit set: bit (kind - 1) for
 * each job kind it takes (1 reward, 2 simulate, 3 both: the single pool). */
#define BN_POOLS_MAX 2
#define BN_POOL_ALL 3u
typedef struct bn_pool_spec {
  int n;                       /* pools listed; 0: one pool, every kind */
  bool counts;                 /* amounts are engine counts, not shares */
  uint8_t kinds[BN_POOLS_MAX]; /* the job kinds of pool i, as a bit set */
  double amount[BN_POOLS_MAX]; /* its share (0..1] or count (>= 1) */
} bn_pool_spec;

/* Parse `text` (an engine.pools value). false with the reason in why[n] (unknown kind, a
 * kind listed twice or not at all, shares not adding up to 1, a zero or malformed amount);
 * *out written on success only. Thread-safe. */
BN_API bool bn_pools_parse(const char *text, bn_pool_spec *out, char *why, size_t n);
/* Engines of each pool for a run with `engines` engines: counts as given (they must add up
 * to `engines`); shares rounded by largest remainder, then every pool given at least one
 * engine (taken from the largest pool). false with the reason in why[n] when the counts do
 * not add up or there are fewer engines than pools. With engines == 0 (rank 0 runs every
 * job itself) there is nothing to share: true, sizes all 0. sizes[BN_POOLS_MAX] OUT. */
BN_API bool bn_pools_assign(const bn_pool_spec *spec, int engines, int *sizes, char *why, size_t n);
/* "reward", "simulate" or "all" for a pool's kind set (as written in engine.pools). */
BN_API const char *bn_pool_name(unsigned kinds);

/* Make every rank of `comm` hold the same validated config. MPI-collective over `comm`
 * (which must have MPI_ERRORS_RETURN); call from one thread per rank.
 * Root passes its finalized config and the status of loading/finalizing it (BN_OK or the
 * error); every other rank passes a config with the same declarations and nothing loaded.
 * The root broadcasts the status and, if BN_OK, the effective text, which the other ranks
 * load and finalize (their problems are printed to stderr).
 * Returns BN_OK on every rank, or the root's status on every rank when it was not BN_OK (so
 * all ranks can exit alike), or BN_ERR_CONFIG on every rank when some rank could not
 * reproduce the root's config (different declarations), BN_ERR_NOMEM when one ran out of
 * memory (a `cfg` of NULL on a rank other than the root stands for that). BN_ERR_MPI if an MPI
 * call failed on this rank: the caller must MPI_Abort, as the other ranks may be waiting. */
BN_API BN_NODISCARD bn_err bn_config_broadcast(bn_config *cfg, bn_err root_status, int root,
                                               MPI_Comm comm);

#endif
