#!/usr/bin/env bash
# docs/checkpoint-format.md embeds the format's tables as `banyan inspect --schema` prints
# them (from src/checkpoint/schema.c); fail when the two differ.
#   schema_doc.sh BANYAN DOC
set -euo pipefail
banyan=$1 doc=$2
want=$(mktemp) have=$(mktemp)
trap 'rm -f "$want" "$have"' EXIT
"$banyan" inspect --schema >"$want"
sed -n '/<!-- schema begin/,/<!-- schema end -->/p' "$doc" | sed '1d;$d' >"$have"
if ! diff -u "$have" "$want"; then
  echo "FAIL $doc is out of date: replace its schema block with \`banyan inspect --schema\`" >&2
  exit 1
fi
echo "ok   $doc holds the schema as banyan declares it ($(wc -l <"$want") lines)"
