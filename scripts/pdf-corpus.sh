#!/usr/bin/env bash
# Fetch the PDF corpus that crates/extract/tests/pdf_f1.rs compares against
# pdftotext (poppler-utils), and install poppler-utils when pdftotext is missing.
#
# The corpus is the test resources shipped inside two pinned PyPI sdists; each
# archive is checked against the sha256 pinned below before anything is
# extracted. The PDFs are copied flat into the corpus directory, prefixed by
# package name ("pypdf-...", "pikepdf-..."), with spaces and slashes in their
# relative path turned into '_' / '-'.
#
# Licences (we only read these files in tests; nothing is redistributed):
# - pypdf 7.1.0: BSD-3-Clause (LICENSE); its resources/ have no separate notes.
# - pikepdf 10.17.0: MPL-2.0, with per-file test-resource licences listed in the
#   sdist's REUSE.toml (mostly CC-BY-SA-4.0, CC-PDDC, CC0-1.0, Apache-2.0, and a
#   few others; see LICENSES/ in the archive).
#
# Corpus directory: $LODE_PDF_CORPUS, else <workspace>/target/pdf-corpus (kept
# by the CI cache of target/). Idempotent: does nothing when the stamp exists.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${LODE_PDF_CORPUS:-$root/target/pdf-corpus}"
stamp="$corpus/.fetched-v1"

if ! command -v pdftotext >/dev/null 2>&1; then
  echo "pdf-corpus: installing poppler-utils (pdftotext)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq poppler-utils >/dev/null
fi

if [ -f "$stamp" ]; then
  exit 0
fi

# name version url sha256
sources=(
  "pypdf 7.1.0 https://files.pythonhosted.org/packages/60/d3/367aa9baefaededd3321cde46bbcb9f008bb51cef3a6b745608352a99534/pypdf-7.1.0.tar.gz ca3fa902369e98a6d2cb7b56396de902b72ef9bb3c1e8706c1bfc7d8bd0cf0d7"
  "pikepdf 10.17.0 https://files.pythonhosted.org/packages/b8/c3/8fc5695947a711263e17786c1d913b0cea660a1b174a9e0e944ad037732c/pikepdf-10.17.0.tar.gz de4ccaae83628e86c1fd473b384c09c6ff1dd35a583a8dacbf61d2aa4bea843b"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$corpus"

for entry in "${sources[@]}"; do
  read -r name version url sha <<<"$entry"
  archive="$work/$name-$version.tar.gz"
  echo "pdf-corpus: fetching $name $version"
  curl -fsSL --retry 3 --max-time 300 -o "$archive" "$url"
  echo "$sha  $archive" | sha256sum -c --quiet -
  mkdir -p "$work/$name"
  tar -xzf "$archive" -C "$work/$name"
  top="$work/$name/$name-$version"
  count=0
  while IFS= read -r -d '' pdf; do
    rel="${pdf#"$top"/}"
    # Drop the leading resources folder, keep any sub-folder as part of the name.
    rel="${rel#tests/resources/}"
    rel="${rel#resources/}"
    flat="$(printf '%s' "$rel" | tr '/ ' '-_')"
    cp "$pdf" "$corpus/$name-$flat"
    count=$((count + 1))
  done < <(find "$top" \( -path "$top/resources/*" -o -path "$top/tests/resources/*" \) -iname '*.pdf' -print0)
  if [ "$count" -eq 0 ]; then
    echo "pdf-corpus: $name $version has no PDF test resources" >&2
    exit 1
  fi
  echo "pdf-corpus: $count PDFs from $name $version"
done

touch "$stamp"
echo "pdf-corpus: corpus ready in $corpus"
