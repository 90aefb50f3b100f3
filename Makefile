# Switchboard: the commands the README names.

CARGO ?= cargo
CONFIG ?= config.toml

.PHONY: build run test test-crash lint fmt bench clean fuzz

build:
	$(CARGO) build --release

run:
	$(CARGO) run --release -- serve --config $(CONFIG)

test:
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

# The crash harness at full length: 20 SIGKILLs at random moments while
# JAM and OriginChats clients send (`make test` runs 3).
CRASH_ROUNDS ?= 20
test-crash:
	CRASH_ROUNDS=$(CRASH_ROUNDS) $(CARGO) test --test crash -- --nocapture

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Every scenario of the load generator against a release build; the report
# goes to docs/bench/ (see docs/performance.md). BENCH="fanout --receivers
# 1000" (say) runs one scenario instead.
BENCH ?= all
bench:
	$(CARGO) build --release -p switchboard --bin switchboard
	$(CARGO) run --release -p switchboard-bench -- $(BENCH)

clean:
	$(CARGO) clean

# Fuzz one decoder for FUZZ_SECONDS (default 60). cargo-fuzz needs nightly
# features; RUSTC_BOOTSTRAP lets the stable toolchain provide them.
FUZZ_TARGET ?= jam_frame
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(FUZZ_TARGET) -- -max_total_time=$(FUZZ_SECONDS)
