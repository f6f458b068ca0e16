/* Validated reads of HDF5 objects for the checkpoint reader: check the link, the class,
 * the element size and sign, the rank and the sizes of an object before reading it, and
 * turn every problem into BN_ERR_CORRUPT with a one-line reason (see h5check.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/h5check.h"

bn_err bn__rd_fail(bn__rd *r, bn_err e, const char *fmt, ...) {
  if (r->why && r->whylen > 0 && r->why[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, r->whylen, fmt, ap);
    va_end(ap);
    bn_debug("checkpoint read: %s", r->why);
  }
  return e;
}

bn_err bn__rd_h5fail(bn__rd *r, const char *fmt, ...) {
  char what[256], msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  bn__h5_message(msg, sizeof msg);
  bn__h5_report(BN_LOG_DEBUG, __FILE__, __LINE__, __func__, what);
  if (msg[0]) return bn__rd_fail(r, BN_ERR_CORRUPT, "%s: %s", what, msg);
  return bn__rd_fail(r, BN_ERR_CORRUPT, "%s", what);
}

bn_err bn__rd_alloc(bn__rd *r, uint64_t count, size_t size, const char *what, void **out) {
  size_t bytes;
  if (count > SIZE_MAX || __builtin_mul_overflow((size_t)count, size, &bytes))
    return bn__rd_fail(r, BN_ERR_CORRUPT, "%s: %llu elements of %zu bytes overflow", what,
                       (unsigned long long)count, size);
  void *p = calloc(bytes ? bytes : 1, 1);
  if (!p) return bn__rd_fail(r, BN_ERR_NOMEM, "%s: no memory for %zu bytes", what, bytes);
  *out = p;
  return BN_OK;
}

/* --- types -------------------------------------------------------------------------- */

static const char *ftype_name(bn__ftype t) {
  static const char *const names[] = {"uint8", "uint16", "uint32", "uint64", "int32", "float64", "string", "state"};
  return names[t];
}

/* Is `type` (an HDF5 datatype) exactly the numeric kind `t` (any byte order)? */
static int numeric_matches(hid_t type, bn__ftype t) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (t == BN__F_F64) return cls == H5T_FLOAT && size == 8;
  if (cls != H5T_INTEGER) return 0;
  const H5T_sign_t sign = H5Tget_sign(type);
  switch (t) {
    case BN__F_U8: return size == 1 && sign == H5T_SGN_NONE;
    case BN__F_U16: return size == 2 && sign == H5T_SGN_NONE;
    case BN__F_U32: return size == 4 && sign == H5T_SGN_NONE;
    case BN__F_U64: return size == 8 && sign == H5T_SGN_NONE;
    case BN__F_I32: return size == 4 && sign == H5T_SGN_2;
    default: return 0;
  }
}

/* Does a compound member type fit field `f`? */
static int member_matches(hid_t type, const bn__field *f, uint64_t state_size) {
  if (f->type == BN__F_STR)
    return H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0 && H5Tget_size(type) == f->size;
  if (f->type != BN__F_STATE) return numeric_matches(type, f->type);
  if (H5Tget_class(type) != H5T_ARRAY || H5Tget_array_ndims(type) != 1) return 0;
  hsize_t dim = 0;
  if (H5Tget_array_dims2(type, &dim) != 1 || dim != state_size) return 0;
  hid_t base = H5Tget_super(type);
  if (base < 0) return 0;
  const int ok = numeric_matches(base, BN__F_U8);
  (void)bn__h5_close(&base);
  return ok;
}

/* --- links and objects -------------------------------------------------------------- */

/* Check that every link along the absolute `path` exists and is a hard link. */
static bn_err check_links(bn__rd *r, const char *path) {
  char buf[256];
  const size_t len = strlen(path);
  if (len >= sizeof buf) return bn__rd_fail(r, BN_ERR_INTERNAL, "path too long: %s", path);
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    const char c = buf[i];
    buf[i] = '\0';
    htri_t e = H5Lexists(r->file, buf, H5P_DEFAULT);
    if (e < 0) return bn__rd_h5fail(r, "cannot look up %s", buf);
    if (e == 0) return bn__rd_fail(r, BN_ERR_CORRUPT, "%s is missing", buf);
    H5L_info_t info;
    if (H5Lget_info(r->file, buf, &info, H5P_DEFAULT) < 0) return bn__rd_h5fail(r, "cannot inspect link %s", buf);
    if (info.type != H5L_TYPE_HARD) return bn__rd_fail(r, BN_ERR_CORRUPT, "%s is a soft or external link", buf);
    buf[i] = c;
  }
  return BN_OK;
}

static bn_err open_object(bn__rd *r, const char *path, H5I_type_t want, hid_t *out) {
  BN_CALL(check_links(r, path));
  hid_t id = H5Oopen(r->file, path, H5P_DEFAULT);
  if (id < 0) return bn__rd_h5fail(r, "cannot open %s", path);
  if (H5Iget_type(id) != want) {
    (void)bn__h5_close(&id);
    return bn__rd_fail(r, BN_ERR_CORRUPT, "%s is not a %s", path, want == H5I_GROUP ? "group" : "dataset");
  }
  *out = id;
  return BN_OK;
}

bn_err bn__rd_open_dataset(bn__rd *r, const char *path, hid_t *out) { return open_object(r, path, H5I_DATASET, out); }
bn_err bn__rd_open_group(bn__rd *r, const char *path, hid_t *out) { return open_object(r, path, H5I_GROUP, out); }

/* Rank and dimensions of a dataset's simple dataspace. */
static bn_err get_shape(bn__rd *r, hid_t ds, const char *path, int rank, hsize_t dims[2]) {
  hid_t space = H5Dget_space(ds);
  if (space < 0) return bn__rd_h5fail(r, "cannot get the dataspace of %s", path);
  const H5S_class_t cls = H5Sget_simple_extent_type(space);
  const int got = H5Sget_simple_extent_ndims(space);
  bn_err err = BN_OK;
  if (cls != H5S_SIMPLE || got != rank)
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s has rank %d, expected %d", path, got, rank);
  else if (H5Sget_simple_extent_dims(space, dims, NULL) < 0)
    err = bn__rd_h5fail(r, "cannot get the dimensions of %s", path);
  (void)bn__h5_close(&space);
  return err;
}

/* An unfiltered dataset cannot hold more bytes than the file, a filtered (compressed) one
 * not more than 64 Ki times its stored bytes: refuse absurd sizes before allocating. */
static bn_err check_fits(bn__rd *r, hid_t ds, const char *path, uint64_t count, size_t elem) {
  size_t bytes;
  if (count > SIZE_MAX || __builtin_mul_overflow((size_t)count, elem, &bytes))
    return bn__rd_fail(r, BN_ERR_CORRUPT, "%s: %llu elements of %zu bytes overflow", path,
                       (unsigned long long)count, elem);
  hid_t dcpl = H5Dget_create_plist(ds);
  if (dcpl < 0) return bn__rd_h5fail(r, "cannot get the creation properties of %s", path);
  const int filters = H5Pget_nfilters(dcpl);
  (void)bn__h5_close(&dcpl);
  if (filters < 0) return bn__rd_h5fail(r, "cannot get the filters of %s", path);
  if (filters == 0 && bytes > r->file_size)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "%s claims %zu bytes but the file has %llu", path, bytes,
                       (unsigned long long)r->file_size);
  if (filters > 0 && bytes / 65536 > H5Dget_storage_size(ds) + 1)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "%s claims %zu bytes from %llu stored ones", path, bytes,
                       (unsigned long long)H5Dget_storage_size(ds));
  return BN_OK;
}

bn_err bn__rd_array(bn__rd *r, const char *path, bn__ftype type, int rank, uint64_t width, uint64_t *n,
                    void **out) {
  bn_err err = BN_OK;
  hid_t ds = -1, ft = -1;
  void *buf = NULL;
  hsize_t dims[2] = {0, 0};
  const size_t elem = H5Tget_size(bn__ftype_native(type));
  BN_TRY(bn__rd_open_dataset(r, path, &ds));
  ft = H5Dget_type(ds);
  if (ft < 0) {
    err = bn__rd_h5fail(r, "cannot get the type of %s", path);
    goto fail;
  }
  if (!numeric_matches(ft, type)) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s is not %s", path, ftype_name(type));
    goto fail;
  }
  BN_TRY(get_shape(r, ds, path, rank, dims));
  if (rank == 2 && dims[1] != width) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s has %llu columns, expected %llu", path, (unsigned long long)dims[1],
                      (unsigned long long)width);
    goto fail;
  }
  if (*n != UINT64_MAX && dims[0] != *n) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s has %llu rows, expected %llu", path, (unsigned long long)dims[0],
                      (unsigned long long)*n);
    goto fail;
  }
  uint64_t count = dims[0];
  if (rank == 2 && __builtin_mul_overflow(count, width, &count)) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s: dimensions overflow", path);
    goto fail;
  }
  BN_TRY(check_fits(r, ds, path, count, elem));
  BN_TRY(bn__rd_alloc(r, count, elem, path, &buf));
  if (count > 0 && H5Dread(ds, bn__ftype_native(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    err = bn__rd_h5fail(r, "cannot read %s", path);
    goto fail;
  }
  (void)bn__h5_close(&ft);
  (void)bn__h5_close(&ds);
  *n = dims[0];
  *out = buf;
  return BN_OK;
fail:
  free(buf);
  (void)bn__h5_close(&ft);
  (void)bn__h5_close(&ds);
  return err;
}

/* --- compound tables ---------------------------------------------------------------- */

bn_err bn__rd_table_open(bn__rd *r, const bn__table *t, uint64_t state_size, hid_t *out, uint64_t *n,
                         uint64_t *absent) {
  bn_err err = BN_OK;
  uint64_t skip = 0;
  hid_t ds = -1, ft = -1, mt = -1;
  hsize_t dims[2] = {0, 0};
  BN_TRY(bn__rd_open_dataset(r, t->path, &ds));
  ft = H5Dget_type(ds);
  if (ft < 0) {
    err = bn__rd_h5fail(r, "cannot get the type of %s", t->path);
    goto fail;
  }
  if (H5Tget_class(ft) != H5T_COMPOUND) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s is not a compound dataset", t->path);
    goto fail;
  }
  for (size_t i = 0; i < t->n_fields; i++) {
    const bn__field *f = &t->fields[i];
    const int idx = H5Tget_member_index(ft, f->name);
    if (idx < 0 && f->optional && absent) {
      skip |= (uint64_t)1 << i;
      continue;
    }
    if (idx < 0) {
      err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s has no field %s", t->path, f->name);
      goto fail;
    }
    mt = H5Tget_member_type(ft, (unsigned)idx);
    if (mt < 0 || !member_matches(mt, f, state_size)) {
      err = f->type == BN__F_STATE
                ? bn__rd_fail(r, BN_ERR_CORRUPT, "%s field state is not uint8[%llu]", t->path,
                              (unsigned long long)state_size)
            : f->type == BN__F_STR
                ? bn__rd_fail(r, BN_ERR_CORRUPT, "%s field %s is not a %zu-byte string", t->path, f->name, f->size)
                : bn__rd_fail(r, BN_ERR_CORRUPT, "%s field %s is not %s", t->path, f->name, ftype_name(f->type));
      goto fail;
    }
    (void)bn__h5_close(&mt);
  }
  BN_TRY(get_shape(r, ds, t->path, 1, dims));
  size_t packed = bn__table_packed_size(t, state_size);
  for (size_t i = 0; i < t->n_fields; i++)
    if (skip & ((uint64_t)1 << i)) packed -= t->fields[i].size;
  BN_TRY(check_fits(r, ds, t->path, dims[0], packed));
  (void)bn__h5_close(&ft);
  *out = ds;
  *n = dims[0];
  if (absent) *absent = skip;
  return BN_OK;
fail:
  (void)bn__h5_close(&mt);
  (void)bn__h5_close(&ft);
  (void)bn__h5_close(&ds);
  return err;
}

bn_err bn__rd_table(bn__rd *r, const bn__table *t, uint64_t *n, void **out) {
  bn_err err = BN_OK;
  hid_t ds = -1, mt = -1;
  void *buf = NULL;
  uint64_t rows = 0, absent = 0;
  if (t->optional) {
    const htri_t e = H5Lexists(r->file, t->path, H5P_DEFAULT);
    if (e == 0) { /* a file written before the table existed */
      *n = 0;
      *out = NULL;
      return BN_OK;
    }
  }
  BN_TRY(bn__rd_table_open(r, t, 1, &ds, &rows, &absent));
  BN_TRY(bn__rd_alloc(r, rows, t->row_size, t->path, &buf));
  for (size_t i = 0; absent && i < t->n_fields; i++)
    if (absent & ((uint64_t)1 << i))
      for (uint64_t k = 0; k < rows; k++)
        memset((unsigned char *)buf + k * t->row_size + t->fields[i].offset, t->fields[i].absent, t->fields[i].size);
  if (rows > 0) {
    BN_TRY(bn__table_type_some(t, 1, BN__LAYOUT_STRUCT, absent, &mt));
    if (H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
      err = bn__rd_h5fail(r, "cannot read %s", t->path);
      goto fail;
    }
  }
  (void)bn__h5_close(&mt);
  (void)bn__h5_close(&ds);
  *n = rows;
  *out = buf;
  return BN_OK;
fail:
  free(buf);
  (void)bn__h5_close(&mt);
  (void)bn__h5_close(&ds);
  return err;
}

/* --- attributes --------------------------------------------------------------------- */

/* Open attribute `name` of `loc` holding exactly one element; its type in *type. */
static bn_err open_attr(bn__rd *r, hid_t loc, const char *where, const char *name, hid_t *attr, hid_t *type) {
  htri_t e = H5Aexists(loc, name);
  if (e < 0) return bn__rd_h5fail(r, "cannot look up attribute %s of %s", name, where);
  if (e == 0) return bn__rd_fail(r, BN_ERR_CORRUPT, "attribute %s of %s is missing", name, where);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return bn__rd_h5fail(r, "cannot open attribute %s of %s", name, where);
  hid_t space = H5Aget_space(a);
  const hssize_t npoints = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  (void)bn__h5_close(&space);
  hid_t t = npoints == 1 ? H5Aget_type(a) : -1;
  if (t < 0) {
    (void)bn__h5_close(&a);
    return bn__rd_fail(r, BN_ERR_CORRUPT, "attribute %s of %s does not hold one value", name, where);
  }
  *attr = a;
  *type = t;
  return BN_OK;
}

bn_err bn__rd_attr_num(bn__rd *r, hid_t loc, const char *where, const char *name, bn__ftype type, void *out) {
  hid_t a = -1, t = -1;
  BN_CALL(open_attr(r, loc, where, name, &a, &t));
  bn_err err = BN_OK;
  if (!numeric_matches(t, type))
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "attribute %s of %s is not %s", name, where, ftype_name(type));
  else if (H5Aread(a, bn__ftype_native(type), out) < 0)
    err = bn__rd_h5fail(r, "cannot read attribute %s of %s", name, where);
  (void)bn__h5_close(&t);
  (void)bn__h5_close(&a);
  return err;
}

bn_err bn__rd_attr_str(bn__rd *r, hid_t loc, const char *where, const char *name, char **out) {
  hid_t a = -1, t = -1, mt = -1;
  BN_CALL(open_attr(r, loc, where, name, &a, &t));
  bn_err err = BN_OK;
  char *text = NULL, *vl = NULL;
  if (H5Tget_class(t) != H5T_STRING) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "attribute %s of %s is not a string", name, where);
    goto done;
  }
  const htri_t variable = H5Tis_variable_str(t);
  mt = H5Tcopy(t); /* same type in memory: the raw bytes, no conversion */
  if (variable < 0 || mt < 0) {
    err = bn__rd_h5fail(r, "cannot inspect attribute %s of %s", name, where);
    goto done;
  }
  if (variable) {
    if (H5Aread(a, mt, &vl) < 0) {
      err = bn__rd_h5fail(r, "cannot read attribute %s of %s", name, where);
      goto done;
    }
    const size_t len = vl ? strnlen(vl, BN__CKPT_MAX_TEXT + 1) : 0;
    if (len > BN__CKPT_MAX_TEXT) {
      err = bn__rd_fail(r, BN_ERR_CORRUPT, "attribute %s of %s is longer than %zu bytes", name, where,
                        BN__CKPT_MAX_TEXT);
      goto done;
    }
    err = bn__rd_alloc(r, len + 1, 1, name, (void **)&text);
    if (err == BN_OK && len) memcpy(text, vl, len);
  } else {
    const size_t size = H5Tget_size(t);
    if (size == 0 || size > BN__CKPT_MAX_TEXT) {
      err = bn__rd_fail(r, BN_ERR_CORRUPT, "attribute %s of %s has an invalid length %zu", name, where, size);
      goto done;
    }
    err = bn__rd_alloc(r, size + 1, 1, name, (void **)&text);
    if (err != BN_OK) goto done;
    if (H5Aread(a, mt, text) < 0) {
      err = bn__rd_h5fail(r, "cannot read attribute %s of %s", name, where);
      goto done;
    }
    /* NULLTERM (what banyan writes) promises a NUL within the length; NULLPAD and SPACEPAD
     * (what h5py and other tools write) may fill it completely. */
    const H5T_str_t pad = H5Tget_strpad(t);
    if (pad == H5T_STR_NULLTERM && !memchr(text, '\0', size))
      err = bn__rd_fail(r, BN_ERR_CORRUPT, "attribute %s of %s is not NUL-terminated", name, where);
    text[size] = '\0';
    if (pad == H5T_STR_SPACEPAD)
      for (size_t n = strlen(text); n > 0 && text[n - 1] == ' '; n--) text[n - 1] = '\0';
  }
done:
  if (vl) (void)H5free_memory(vl);
  (void)bn__h5_close(&mt);
  (void)bn__h5_close(&t);
  (void)bn__h5_close(&a);
  if (err != BN_OK) {
    free(text);
    return err;
  }
  *out = text;
  return BN_OK;
}
