/* An LD_PRELOAD shim that fails one chosen allocation made by banyan's own code (SQLite's
 * malloc-failure testing): malloc, calloc, realloc, strdup, strndup, aligned_alloc,
 * realpath(path, NULL) and mmap called from the banyan executable or libbanyan.so are
 * counted, and the Nth of them fails (NULL / MAP_FAILED, errno ENOMEM). Allocations of the
 * libraries banyan uses (libc's own, HDF5, Open MPI, ...) are neither counted nor failed:
 * the test is about banyan's handling of a failure, not theirs.
 *
 * Environment:
 *   BANYAN_FAIL_ALLOC=N        fail the Nth counted allocation (1-based; 0 or unset: none)
 *   BANYAN_FAIL_ALLOC_ALL=1    ... and every one after it (a memory that stays full)
 *   BANYAN_ALLOC_COUNT=FILE    at exit, append the number of counted allocations to FILE
 *   BANYAN_ALLOC_VERBOSE=1     say on stderr which allocation failed, and where
 *
 * It forwards to the next definition (dlsym RTLD_NEXT), so it also works in front of
 * AddressSanitizer's allocator (ASAN_OPTIONS=verify_asan_link_order=0). Test code only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef char *(*strdup_fn)(const char *);
typedef char *(*strndup_fn)(const char *, size_t);
typedef void *(*aligned_alloc_fn)(size_t, size_t);
typedef char *(*realpath_fn)(const char *, char *);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static malloc_fn real_malloc;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static strdup_fn real_strdup;
static strndup_fn real_strndup;
static aligned_alloc_fn real_aligned_alloc;
static realpath_fn real_realpath;
static mmap_fn real_mmap;
static void (*real_free)(void *);

/* dlsym may allocate (calloc) before real_calloc is known: serve that from here. */
static _Alignas(16) unsigned char bootstrap[8192];
static size_t bootstrap_used;
static int resolving;

static long long fail_at;  /* 0: never */
static int fail_all, verbose;
static const char *count_path;
static atomic_llong counted;

/* Executable code ranges of the banyan executable and libbanyan.so. */
enum { MAX_RANGES = 16 };
static uintptr_t range_lo[MAX_RANGES], range_hi[MAX_RANGES];
static int n_ranges;
static atomic_int ranges_state; /* 0: not looked up, 1: looking, 2: libbanyan found */
static atomic_int ready;        /* the constructor has run (so has AddressSanitizer's set-up) */

/* Plain loops and raw system calls here: this runs inside malloc, possibly before
 * AddressSanitizer's interceptors of string functions and readlink are set up. */
static const char *base_name(const char *path) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if (*p == '/') base = p + 1;
  return base;
}

static int starts_with(const char *s, const char *prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return 0;
  return 1;
}

static int is_banyan_object(const char *name) {
  if (!name || !name[0]) return 1; /* the main program */
  return starts_with(base_name(name), "libbanyan.so");
}

static int add_ranges(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  int *found_lib = data;
  if (!is_banyan_object(info->dlpi_name)) return 0;
  if (info->dlpi_name && info->dlpi_name[0]) *found_lib = 1;
  else {
    /* The main program: only if it is banyan (not python or mpirun). */
    char exe[PATH_MAX];
    long n = syscall(SYS_readlink, "/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    const char *base = base_name(exe);
    if (!starts_with(base, "banyan") || base[6] != '\0') return 0;
  }
  for (int i = 0; i < info->dlpi_phnum && n_ranges < MAX_RANGES; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    range_lo[n_ranges] = info->dlpi_addr + ph->p_vaddr;
    range_hi[n_ranges] = range_lo[n_ranges] + ph->p_memsz;
    n_ranges++;
  }
  return 0;
}

static void look_up_ranges(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&ranges_state, &expected, 1)) return;
  int found_lib = 0;
  n_ranges = 0;
  dl_iterate_phdr(add_ranges, &found_lib);
  atomic_store(&ranges_state, found_lib ? 2 : 0);
}

static int from_banyan(const void *caller) {
  if (!atomic_load(&ready)) return 0;
  if (atomic_load(&ranges_state) != 2) look_up_ranges();
  if (atomic_load(&ranges_state) != 2) return 0;
  uintptr_t a = (uintptr_t)caller;
  for (int i = 0; i < n_ranges; i++)
    if (a >= range_lo[i] && a < range_hi[i]) return 1;
  return 0;
}

/* One line per banyan process (a run under mpirun has several; resume starts a reader
 * process): processes without libbanyan (orted, started by a one-process MPI_Init) write
 * nothing. */
static void write_count(void) {
  if (!count_path || atomic_load(&ranges_state) != 2) return;
  FILE *f = fopen(count_path, "a");
  if (!f) return;
  fprintf(f, "%lld\n", (long long)atomic_load(&counted));
  fclose(f);
}

static void resolve(void) {
  if (real_malloc || resolving) return;
  resolving = 1;
  real_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
  real_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
  real_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
  real_strdup = (strdup_fn)dlsym(RTLD_NEXT, "strdup");
  real_strndup = (strndup_fn)dlsym(RTLD_NEXT, "strndup");
  real_aligned_alloc = (aligned_alloc_fn)dlsym(RTLD_NEXT, "aligned_alloc");
  real_realpath = (realpath_fn)dlsym(RTLD_NEXT, "realpath");
  real_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
  real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
  resolving = 0;
}

/* The settings, once the environment is there (the first allocations may come before). */
static void read_settings(void) {
  const char *v = getenv("BANYAN_FAIL_ALLOC");
  fail_at = v ? atoll(v) : 0;
  v = getenv("BANYAN_FAIL_ALLOC_ALL");
  fail_all = v && v[0] == '1';
  v = getenv("BANYAN_ALLOC_VERBOSE");
  verbose = v && v[0] == '1';
  count_path = getenv("BANYAN_ALLOC_COUNT");
  if (count_path) atexit(write_count);
}

__attribute__((constructor)) static void init(void) {
  resolve();
  read_settings();
  atomic_store(&ready, 1);
}

/* Count a banyan allocation; true if it must fail. */
static int should_fail(const void *caller, const char *what) {
  if (!from_banyan(caller)) return 0;
  long long n = atomic_fetch_add(&counted, 1) + 1;
  if (fail_at <= 0 || (n != fail_at && !(fail_all && n > fail_at))) return 0;
  if (verbose && n == fail_at) {
    Dl_info di;
    char msg[512];
    int len;
    if (dladdr(caller, &di) && di.dli_sname)
      len = snprintf(msg, sizeof msg, "alloc-shim: failing %s number %lld, called from %s+%#lx\n", what, n,
                     di.dli_sname, (unsigned long)((uintptr_t)caller - (uintptr_t)di.dli_saddr));
    else
      len = snprintf(msg, sizeof msg, "alloc-shim: failing %s number %lld, called from %p\n", what, n, caller);
    if (len > 0) (void)!write(2, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
  }
  errno = ENOMEM;
  return 1;
}

static void *bootstrap_alloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (bootstrap_used + n > sizeof bootstrap) return NULL;
  void *p = bootstrap + bootstrap_used;
  bootstrap_used += n;
  return p;
}

static int in_bootstrap(const void *p) {
  return (const unsigned char *)p >= bootstrap && (const unsigned char *)p < bootstrap + sizeof bootstrap;
}

EXPORT void *malloc(size_t n) {
  if (!real_malloc) {
    resolve();
    if (!real_malloc) return bootstrap_alloc(n);
  }
  if (should_fail(__builtin_return_address(0), "malloc")) return NULL;
  return real_malloc(n);
}

EXPORT void *calloc(size_t k, size_t n) {
  if (!real_calloc) {
    resolve();
    if (!real_calloc) {
      void *p = bootstrap_alloc(k * n);
      if (p) memset(p, 0, k * n);
      return p;
    }
  }
  if (should_fail(__builtin_return_address(0), "calloc")) return NULL;
  return real_calloc(k, n);
}

EXPORT void *realloc(void *p, size_t n) {
  if (!real_realloc) resolve();
  if (p && in_bootstrap(p)) { /* never freed; copy out */
    void *q = real_malloc ? real_malloc(n) : bootstrap_alloc(n);
    if (q) memcpy(q, p, n); /* the bootstrap block is at least as large as what is read */
    return q;
  }
  if (should_fail(__builtin_return_address(0), "realloc")) return NULL;
  return real_realloc(p, n);
}

EXPORT char *strdup(const char *s) {
  if (!real_strdup) resolve();
  if (should_fail(__builtin_return_address(0), "strdup")) return NULL;
  return real_strdup(s);
}

EXPORT char *strndup(const char *s, size_t n) {
  if (!real_strndup) resolve();
  if (should_fail(__builtin_return_address(0), "strndup")) return NULL;
  return real_strndup(s, n);
}

EXPORT void *aligned_alloc(size_t a, size_t n) {
  if (!real_aligned_alloc) resolve();
  if (should_fail(__builtin_return_address(0), "aligned_alloc")) return NULL;
  return real_aligned_alloc(a, n);
}

EXPORT char *realpath(const char *path, char *resolved) {
  if (!real_realpath) resolve();
  if (!resolved && should_fail(__builtin_return_address(0), "realpath")) return NULL;
  return real_realpath(path, resolved);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (!real_mmap) resolve();
  if ((flags & MAP_ANONYMOUS) && should_fail(__builtin_return_address(0), "mmap")) return MAP_FAILED;
  return real_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void free(void *p) {
  if (!p || in_bootstrap(p)) return;
  if (!real_free) {
    resolve();
    if (!real_free) return; /* while resolving: a block of dlsym's own, left alone */
  }
  real_free(p);
}
