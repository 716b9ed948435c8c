# Lode's two entry points on a fresh machine:
#   make up    — install what is missing, build, and serve Lode on http://127.0.0.1:3000
#   make test  — install what is missing, build, and run every test
.PHONY: setup host build up test fmt lint bench

setup:
	@bash scripts/setup.sh

host:
	cargo build --release -p lode-host

# Builds the components through the manifest, exactly as `spin build` would.
build: setup host
	target/release/lode-host build

up: build
	bash scripts/up.sh $(ARGS)

test: setup
	bash scripts/test.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --release --all-targets -- -D warnings
	cargo clippy --release --target wasm32-wasip2 -p lode-health -p lode-documents -p lode-ingest -p lode-jobs-api -p lode-worker -p lode-keys -p lode-auth-api -p lode-metrics-api -p lode-settings -p lode-not-found -p lode-search -p lode-chat -p lode-llm-client -p lode-usage -p lode-tools-api -p lode-tool-run -p lode-tool-worker -p lode-step-extract -p lode-step-chunk -p lode-step-embed-llm -p lode-step-embed-openai -p lode-step-embed-tract -p lode-test-probe -p lode-test-redis-sink -p lode-test-greeter -- -D warnings

bench: build
	bash scripts/bench.sh
	bash scripts/bench-pipeline.sh
	cargo test --release -p lode-tests --test queue_bench -- --ignored --nocapture
	cargo test --release -p lode-tests --test chat_bench -- --ignored --nocapture
	cargo run --release -p lode-metrics --example record
