/* The format's tables as Markdown, generated from the schema (schema.c), so the document
 * cannot drift from the code: docs/checkpoint-format.md embeds this output between
 * markers, and a test (tests/checkpoint/schema_doc.sh) compares the two. Printed by
 * `banyan inspect --schema`. */
#include <stdio.h>

#include "checkpoint/checkpoint_impl.h"

static const char *type_name(bn__ftype t) {
  static const char *const names[] = {"uint8", "uint16", "uint32", "uint64", "int32", "float64", "string", "uint8[state_size]"};
  return names[t];
}

static void put_table(FILE *out, const bn__table *t) {
  fprintf(out, "\n### `%s`\n\n%s.\n\n| field | type | meaning |\n|---|---|---|\n", t->path, t->doc);
  for (size_t i = 0; i < t->n_fields; i++) {
    const bn__field *f = &t->fields[i];
    if (f->type == BN__F_STR)
      fprintf(out, "| `%s` | string[%zu] | %s |\n", f->name, f->size, f->doc);
    else
      fprintf(out, "| `%s` | %s | %s |\n", f->name, type_name(f->type), f->doc);
  }
}

void bn__schema_markdown(FILE *out) {
  size_t n = 0;
  const bn__attr *attrs = bn__root_attrs(&n);
  fprintf(out, "### Root attributes\n\nAll scalars.\n\n| name | type | bounds | meaning |\n|---|---|---|---|\n");
  for (size_t i = 0; i < n; i++) {
    const bn__attr *a = &attrs[i];
    char bounds[64] = "";
    if (a->type != BN__F_STR && a->type != BN__F_F64 && !(a->lo == 0 && a->hi == UINT64_MAX))
      snprintf(bounds, sizeof bounds, "%llu .. %llu", (unsigned long long)a->lo, (unsigned long long)a->hi);
    fprintf(out, "| `%s` | %s | %s | %s |\n", bn__attr_file_name(a), type_name(a->type), bounds, a->doc);
  }
  const bn__array *arrays = bn__arrays(&n);
  fprintf(out, "\n### Arrays\n\n| dataset | type | shape | meaning |\n|---|---|---|---|\n");
  static const char *const counts[] = {"nodes", "edges", "pending", "top"};
  static const char *const widths[] = {"", " x state_size", " x path_cap"};
  for (size_t i = 0; i < n; i++) {
    const bn__array *a = &arrays[i];
    fprintf(out, "| `%s` | %s | %s%s | %s |\n", a->path, type_name(a->type), counts[a->count], widths[a->width], a->doc);
  }
  fprintf(out, "\nThe group `/tree` has one attribute, `backprops` (uint64): results applied to the graph.\n");
  const bn__table *const *tables = bn__snapshot_tables(&n);
  put_table(out, &bn__results_table);
  put_table(out, &bn__result_failures_table);
  for (size_t i = 0; i < n; i++) put_table(out, tables[i]);
}

void bn_checkpoint_print_schema(FILE *out) { bn__schema_markdown(out); }
