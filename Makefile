# mpsafe: a thin wrapper around CMake presets (CMakePresets.json).
# The real build is CMake; every target here is a short sequence of
# cmake/ctest commands you can also type yourself.  `make` alone lists them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
CMAKE ?= cmake
CTEST ?= ctest
CLANG_FORMAT ?= clang-format

# The long torture tier (scripts/torture.sh): total seconds, native and
# under qemu-aarch64.
TORTURE_SECONDS ?= 600
TORTURE_AARCH64_SECONDS ?= 120

# Tests that only run on request (label stress-long).
CTEST_EXCLUDE := -LE '^stress-long$$'

# C sources and headers the project owns (generated and build trees are
# not in these directories).
FORMAT_DIRS := $(wildcard include src tests bench docs/examples)
FORMAT_FILES = $(shell find $(FORMAT_DIRS) \
	\( -name build -o -name 'build-*' -o -name '.*' \) -prune -o \
	-type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) -print \
	2>/dev/null | LC_ALL=C sort)

BENCH_SUITE := bench/run-suite.sh
BENCH_RESULTS := bench/update-results.sh

# The sanitizer runtimes of gcc 12 and clang 14 (ThreadSanitizer above all)
# cannot lay out their shadow memory when vm.mmap_rnd_bits is above 28, as
# some distributions now set it (32): then run sanitized tests without
# address-space randomisation.
SAN_LAUNCH = $(shell bits=$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0); \
	if [ "$$bits" -gt 28 ] && command -v setarch >/dev/null; then \
	echo "setarch $$(uname -m) -R"; fi)

.PHONY: help deps build debug test test-debug test-release test-tsan test-asan \
	test-fuzz fuzz stress-long torture torture-aarch64 portability mutation bench bench-full results format format-check install clean

help:
	@echo "mpsafe: userspace MP-safe primitives after NetBSD (see README.md)"
	@echo ""
	@echo "  make deps          install missing build dependencies (Debian 12; apt-get)"
	@echo "  make build         configure and build the release preset (build/release)"
	@echo "  make debug         configure and build the debug preset (build/debug)"
	@echo "  make test          all CI test tiers: debug, release, tsan, asan, fuzz"
	@echo "  make test-debug    only the debug preset's tests"
	@echo "  make test-release  only the release preset's tests (no contract checks)"
	@echo "  make test-tsan     only the tsan preset's tests"
	@echo "  make test-asan     only the asan (address+undefined) preset's tests"
	@echo "  make test-fuzz     the short fuzz run of make test (10 s per harness)"
	@echo "  make fuzz          run every libFuzzer harness FUZZ_SECONDS (60) each"
	@echo "  make stress-long   the long stress tests (label stress-long; not in CI)"
	@echo "  make torture       long torture tier: every torture program, random delays"
	@echo "                     (MPSAFE_DEBUG_YIELD), both modes, TORTURE_SECONDS in all"
	@echo "                     (now $(TORTURE_SECONDS)), then torture-aarch64"
	@echo "  make torture-aarch64  the torture programs cross-built for aarch64, under"
	@echo "                     qemu-aarch64, TORTURE_AARCH64_SECONDS (now $(TORTURE_AARCH64_SECONDS); 0 skips)"
	@echo "  make portability   gcc and clang -Werror builds, i386 build and tests,"
	@echo "                     aarch64 cross build, its tests and torture under qemu"
	@echo "  make mutation      weaken each memory order of the core library in turn"
	@echo "                     and run its tests under ThreadSanitizer (about an hour);"
	@echo "                     MUTATION_FILES=\"src/net/*.[ch] include/mpsafe/net/*.h\" the stack"
	@echo "                     (about two hours), or FILE[:FIRST[-LAST]] of your choice"
	@echo "  make bench         build release and run the default benchmark suite"
	@echo "  make bench-full    the full benchmark suite (long)"
	@echo "  make results       update docs/results from the last make bench"
	@echo "  make format        clang-format -i every C source and header"
	@echo "  make format-check  fail if any C source or header is not formatted"
	@echo "  make install       build release and install to PREFIX (now $(PREFIX))"
	@echo "  make clean         remove build/"
	@echo ""
	@echo "Variables: JOBS=$(JOBS) PREFIX=$(PREFIX) CC=... (compiler for new build trees)"

deps:
	@sh scripts/deps.sh

# --- build -------------------------------------------------------------------

# configure-<preset>, build-<preset> for each preset of CMakePresets.json.
PRESETS := debug release asan tsan ubsan fuzz

define preset_rules
configure-$(1): deps
	$$(CMAKE) --preset $(1)

build-$(1): configure-$(1)
	$$(CMAKE) --build --preset $(1) --parallel $$(JOBS)
endef
$(foreach p,$(PRESETS),$(eval $(call preset_rules,$(p))))
.PHONY: $(addprefix configure-,$(PRESETS)) $(addprefix build-,$(PRESETS))

build: build-release

debug: build-debug

# --- test --------------------------------------------------------------------

test-debug: build-debug
	$(CTEST) --preset debug $(CTEST_EXCLUDE) --parallel $(JOBS)

# The release preset as users build it (-O2, no contract checks): the
# unit, stress and net tests against the code paths MPSAFE_DIAGNOSTIC
# compiles out (death tests need the checks and are not built there; the
# models do not depend on the build and run in test-debug).  Not through
# the test preset: its label filter replaces a -LE given here.
test-release: build-release
	$(CTEST) --test-dir build/release -LE '^(stress-long|model)$$' \
	    --output-on-failure --parallel $(JOBS)

test-tsan: build-tsan
	$(SAN_LAUNCH) $(CTEST) --preset tsan $(CTEST_EXCLUDE) --parallel $(JOBS)

test-asan: build-asan
	$(SAN_LAUNCH) $(CTEST) --preset asan $(CTEST_EXCLUDE) --parallel $(JOBS)

# Fuzzing (tests/fuzz, the clang fuzz preset): the short run below is
# part of make test; `make fuzz FUZZ_SECONDS=N` runs each harness longer.
FUZZ_SECONDS ?= 60

test-fuzz: build-fuzz
	$(SAN_LAUNCH) $(CTEST) --preset fuzz $(CTEST_EXCLUDE) --parallel 1

fuzz: configure-fuzz
	$(CMAKE) -S . -B build/fuzz -DMPSAFE_FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(CMAKE) --build --preset fuzz --parallel $(JOBS)
	$(SAN_LAUNCH) $(CTEST) --preset fuzz --parallel 1
	$(CMAKE) -S . -B build/fuzz -DMPSAFE_FUZZ_SECONDS=10 >/dev/null

# Every tier that belongs in CI, sanitizers included.  Stops at the first
# failing preset.
test: deps
	$(MAKE) --no-print-directory test-debug
	$(MAKE) --no-print-directory test-release
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-fuzz
	@echo "make test: debug, release, tsan, asan and fuzz presets passed"

stress-long: build-release
	$(CTEST) --preset stress-long --parallel 1

# Long torture tier: see docs/design/verification.md ("Long torture").
torture: deps
	$(CMAKE) --preset torture
	$(CMAKE) --build --preset torture --parallel $(JOBS)
	TORTURE_SECONDS=$(TORTURE_SECONDS) sh scripts/torture.sh build/torture
	$(MAKE) --no-print-directory torture-aarch64

torture-aarch64:
	@if [ "$(TORTURE_AARCH64_SECONDS)" = 0 ]; then \
		echo "torture-aarch64: TORTURE_AARCH64_SECONDS=0, skipped"; \
	elif ! command -v aarch64-linux-gnu-gcc >/dev/null || \
	    ! command -v qemu-aarch64 >/dev/null; then \
		echo "torture-aarch64: no aarch64-linux-gnu-gcc or qemu-aarch64;" \
		    "MPSAFE_DEPS_PORTABILITY=1 make deps installs them" >&2; \
		exit 1; \
	else \
		$(CMAKE) --preset aarch64-torture && \
		$(CMAKE) --build --preset aarch64-torture --parallel $(JOBS) && \
		TORTURE_SECONDS=$(TORTURE_AARCH64_SECONDS) \
		TORTURE_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
		sh scripts/torture.sh build/aarch64-torture; \
	fi

# Portability tier: see docs/design/verification.md ("Portability").
portability:
	MPSAFE_DEPS_PORTABILITY=1 sh scripts/deps.sh
	JOBS=$(JOBS) sh scripts/portability.sh

# Mutation tier: see docs/design/verification.md ("Mutation").
MUTATION_FILES ?=
mutation: deps
	bash scripts/mutation.sh $(MUTATION_FILES)

# --- benchmarks --------------------------------------------------------------

define need_script
	@if [ ! -f $(1) ]; then \
		echo "make $@: $(1) does not exist yet (it belongs to bench/)" >&2; \
		exit 1; \
	fi
endef

bench: build-release
	$(call need_script,$(BENCH_SUITE))
	bash $(BENCH_SUITE) build/release build/release/bench-results

bench-full: build-release
	$(call need_script,$(BENCH_SUITE))
	bash $(BENCH_SUITE) --full build/release build/release/bench-results-full

results:
	$(call need_script,$(BENCH_RESULTS))
	@if [ ! -d build/release/bench-results ]; then \
		echo "make results: no build/release/bench-results; run make bench first" >&2; \
		exit 1; \
	fi
	bash $(BENCH_RESULTS) build/release/bench-results docs/results

# --- formatting --------------------------------------------------------------

format: deps
	@files="$(FORMAT_FILES)"; \
	if [ -n "$$files" ]; then $(CLANG_FORMAT) -i $$files; fi; \
	echo "format: $$(echo $$files | wc -w) files"

# Lists the files that need formatting, then the first differences.
format-check: deps
	@files="$(FORMAT_FILES)"; \
	if [ -z "$$files" ]; then echo "format-check: no files"; exit 0; fi; \
	$(CLANG_FORMAT) --version; \
	bad=""; \
	for f in $$files; do \
		$(CLANG_FORMAT) --dry-run -Werror "$$f" >/dev/null 2>&1 || bad="$$bad $$f"; \
	done; \
	if [ -z "$$bad" ]; then \
		echo "format-check: $$(echo $$files | wc -w) files formatted"; \
		exit 0; \
	fi; \
	echo "format-check: not formatted (.clang-format):" >&2; \
	for f in $$bad; do echo "  $$f" >&2; done; \
	$(CLANG_FORMAT) --dry-run -Werror $$bad 2>&1 | head -n 40 >&2 || true; \
	echo "format-check: run 'make format' and commit the result" >&2; \
	exit 1

# --- install, clean ----------------------------------------------------------

install: build-release
	$(CMAKE) --install build/release --prefix $(PREFIX)

clean:
	rm -rf build
