# Switchboard: the commands the README names.

CARGO ?= cargo
CONFIG ?= config.toml

.PHONY: build run test lint fmt bench clean

build:
	$(CARGO) build --release

run:
	$(CARGO) run --release -- serve --config $(CONFIG)

test:
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench:
	@echo "make bench: no load generator yet (see issue 9)"

clean:
	$(CARGO) clean
