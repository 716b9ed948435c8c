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

lint: setup
	bash scripts/lint.sh

bench: build
	bash scripts/bench.sh
	bash scripts/bench-pipeline.sh
	bash scripts/bench-frame.sh
	cargo test --release -p lode-tests --test queue_bench -- --ignored --nocapture
	cargo test --release -p lode-tests --test chat_bench -- --ignored --nocapture
	cargo run --release -p lode-metrics --example record
