# Switchboard: the commands the README names.

CARGO ?= cargo
CONFIG ?= config.toml

.PHONY: build run test test-crash lint fmt bench clean fuzz

build:
	$(CARGO) build --release

run:
	$(CARGO) run --release -- serve --config $(CONFIG)

test:
	scripts/install-test-deps
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

# Fuzz every wire decoder (`cargo fuzz list`: fuzz/fuzz_targets/) for
# FUZZ_SECONDS each (default 60), one after another; FUZZ_TARGET=jam_frame
# (say) fuzzes only that one. A target that finds a crash does not stop the
# others; the run fails at the end naming it, the input is in
# fuzz/artifacts/<target>/. cargo-fuzz needs nightly features;
# RUSTC_BOOTSTRAP lets the stable toolchain provide them. See docs/fuzzing.md.
FUZZ_TARGET ?=
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && targets="$(FUZZ_TARGET)"; \
	[ -n "$$targets" ] || targets=$$(RUSTC_BOOTSTRAP=1 $(CARGO) fuzz list); \
	failed=""; \
	for t in $$targets; do \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) \
			|| failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed"; exit 1; fi
