#!/usr/bin/env bash
# `make bench`, part 2: embedding, ingestion and search numbers, side by side.
# Prints numbers; asserts nothing.
#   - embedding throughput (sentences/s, batch 1 and 32): native tract, ONNX
#     Runtime (Python, one thread) as the outside reference, and in-Wasm tract
#     through lode-host (batch 32 = one document of 32 one-sentence chunks);
#   - a one-sentence query embedded in a fresh instance of the embed step
#     (instantiation + embed call), with and without pre-initialisation;
#   - a one-sentence query through lode-host, with and without the embed
#     step's pre-initialisation (p50/p99 of POST /api/search/vector, which
#     includes instantiation, embedding and a search of a small index);
#   - ingest throughput (pages/s) of a 137-page PDF through /api/documents/upload;
#   - search latency p50/p99 at 10k and 100k chunks per mode (native lode-index).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${LODE_CRANFIELD:-../shared/data/cranfield}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# The Cranfield queries as sentences, one per line.
awk '/^\.I/ { if (q != "") print q; q = "" } /^\.W/ { w = 1; next } /^\./ { w = 0 } w { q = q (q == "" ? "" : " ") $0 }
     END { if (q != "") print q }' "$data/cran.qry" | head -200 > "$work/sentences.txt"
echo "sentences: $(wc -l < "$work/sentences.txt") Cranfield queries (mean $(awk '{ w += NF } END { printf "%.0f", w / NR }' "$work/sentences.txt") words)"

cargo run --release -q -p lode-embed --example throughput -- "$work/sentences.txt" models
if ! python3 -c 'import onnxruntime, tokenizers, numpy' 2>/dev/null; then
  pip install -q onnxruntime==1.31.1 tokenizers numpy >/dev/null
fi
python3 scripts/bench_onnxruntime.py "$work/sentences.txt" models

# --- the embed step alone: one query in a fresh instance each time -------------
# (lode-host's engine: pooling allocator, copy-on-write memory images)
cargo build --release -q -p lode-host --example embed_startup
for q in "how does a wing produce lift at low airspeed" \
         "what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft"; do
  for step in lode_step_embed_tract.wizened lode_step_embed_tract; do
    echo "wasm    embed step $step.wasm:"
    LODE_COMPILE_CACHE="$PWD/target/lode-test-compile-cache" \
      target/release/examples/embed_startup "target/wasm32-wasip2/release/$step.wasm" 30 "$q" | sed -n '2,$p'
  done
done

# --- through lode-host ---------------------------------------------------------
start_host() { # manifest port
  SPIN_VARIABLE_ADMIN_API_KEY=bench-admin-key-0123456789 LODE_COMPILE_CACHE="$PWD/target/lode-test-compile-cache" \
    target/release/lode-host up --from "$1" --listen "127.0.0.1:$2" --state-dir "$work/state-$2" \
    >"$work/out-$2.log" 2>"$work/err-$2.log" &
  pids+=($!)
  until curl -sf "http://127.0.0.1:$2/health" >/dev/null; do sleep 0.1; done
}
api() { # port method path [curl args...]
  local port=$1 method=$2 path=$3; shift 3
  curl -s -X "$method" "http://127.0.0.1:$port$path" -H 'Authorization: Bearer bench-admin-key-0123456789' "$@"
}
query_latency() { # port label
  local port=$1 label=$2
  api "$port" POST /api/documents -H 'Content-Type: application/json' \
    -d '{"title":"seed","content":"Aerofoils generate lift.","content_type":"text/plain"}' >/dev/null
  head -100 "$work/sentences.txt" | while IFS= read -r s; do
    body=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "k": 5}))' "$s")
    api "$port" POST /api/search/vector -H 'Content-Type: application/json' -d "$body" -o /dev/null -w '%{time_total}\n'
  done | sort -n | awk -v label="$label" '{ t[NR] = $1 * 1000 } END {
      printf "wasm    one-sentence query %-22s p50 %6.1f ms  p99 %6.1f ms\n", label, t[int(NR * 0.5)], t[int(NR * 0.99)] }'
}

start_host spin.toml 3101
query_latency 3101 "(pre-initialised)"
for batch in 1 32; do
  n=0; total=0
  for round in 1 2 3; do
    content=$(sed -n "$(( round * 40 + 1 )),$(( round * 40 + batch ))p" "$work/sentences.txt" | awk '{ printf "# s%d\n\n%s\n\n", NR, $0 }')
    body=$(python3 -c 'import json,sys; print(json.dumps({"title": "b", "content": sys.argv[1], "content_type": "text/markdown"}))' "$content")
    t=$(api 3101 POST /api/documents -H 'Content-Type: application/json' -d "$body" -o /dev/null -w '%{time_total}')
    n=$(( n + batch )); total=$(python3 -c "print($total + $t)")
  done
  python3 -c "print(f'wasm    batch {$batch:<2} ingest throughput  {$n / $total:8.1f} sentences/s (chunk + embed + index, per request)')"
done
pdf=target/pdf-corpus/pypdf-issue-604.pdf
if [ -f "$pdf" ]; then
  pages=137
  t=$(api 3101 POST /api/documents/upload -H 'Content-Type: application/pdf' --data-binary "@$pdf" -o "$work/pdf.json" -w '%{time_total}')
  chunks=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("chunk_count"))' "$work/pdf.json")
  python3 -c "print(f'ingest  {$pages}-page PDF ({$chunks} chunks) in {$t:.1f} s: {$pages / $t:.2f} pages/s')"
fi

sed 's/lode_step_embed_tract.wizened.wasm/lode_step_embed_tract.wasm/' spin.toml > .bench-no-preinit.toml
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work" .bench-no-preinit.toml' EXIT
start_host .bench-no-preinit.toml 3102
query_latency 3102 "(not pre-initialised)"

cargo run --release -q -p lode-eval --example search_latency -- "$data" 10000 100000
