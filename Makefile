# The front door: every target installs what it lacks, configures CMake and builds.
# Binaries land in build/bin, libraries in build/lib.

JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
CTEST = ctest --output-on-failure --timeout 600 -j $(JOBS)
FUZZ_SECONDS ?= 30
PREFIX ?= /usr/local

SECONDS ?= 60

.PHONY: all build run test asan tsan fuzz bench install clean format conformance stress stress-msg deps-build deps-test deps-bench deps-fuzz model

all: build

deps-build:
	@scripts/install-deps.sh build
deps-test:
	@scripts/install-deps.sh test
deps-bench:
	@scripts/install-deps.sh bench
deps-fuzz:
	@scripts/install-deps.sh fuzz

build/CMakeCache.txt:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: deps-test build/CMakeCache.txt
	cmake --build build -j $(JOBS)

# The main job: the quick side-by-side benchmark (or the demo while it is not there).
run: deps-test deps-bench build
	scripts/run.sh

test: deps-test build
	cd build && $(CTEST)

# The long differential run of semaphore sets against the kernel's System V semaphores.
CONFORMANCE_SEQS ?= 5000
conformance: build
	IPCX_CONFORMANCE_SEQS=$(CONFORMANCE_SEQS) build/bin/test_sem_conformance --verbose

asan: deps-test
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIPCX_SANITIZE=asan -DIPCX_BENCH=OFF >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST)

tsan: deps-test
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DIPCX_SANITIZE=tsan -DIPCX_BENCH=OFF >/dev/null
	cmake --build build-tsan -j $(JOBS)
	# report_mutex_bugs=0: TSan models a mutex by its address in one process, but ipcx's
	# robust mutexes live in shared memory, mapped at several addresses and locked and
	# unlocked by several processes (a child unlocking its parent's lock gets EPERM on
	# purpose), which TSan reports as unlocks of unlocked mutexes. Data races are still
	# reported.
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:report_mutex_bugs=0 $(CTEST)

fuzz: deps-fuzz
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DIPCX_FUZZ=ON -DIPCX_TESTS=OFF \
		-DIPCX_BENCH=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	scripts/run-fuzz.sh build-fuzz/bin $(FUZZ_SECONDS)

# The chaos soak (tests/stress/): every kind of object, participants SIGKILLed at random
# and restarted, every guarantee checked; fails on any violation. STRESS_ARGS adds options
# (--seed N, --slack SECONDS, --inject-fault KIND).
stress: deps-test build
	build/bin/stress --seconds $(SECONDS) $(STRESS_ARGS)

# A long run of the channel and topic stress tests (SIGKILLs at random, every message
# checked), in rounds of at most 20 s so each round's bookkeeping stays small.
stress-msg: deps-test build
	@end=$$(( $$(date +%s) + $(SECONDS) )); round=0; \
	while [ $$(date +%s) -lt $$end ]; do \
		left=$$(( end - $$(date +%s) )); [ $$left -gt 20 ] && left=20; \
		round=$$((round + 1)); echo "stress-msg: round $$round ($$left s)"; \
		for t in chan_crash topic_crash; do \
			IPCX_STRESS_SECONDS=$$left build/bin/test_$$t --filter "$$t/stress*" \
				--verbose >build/stress-msg.log 2>&1; st=$$?; \
			grep -E 'stress|FAIL|Assert|Synthesis' build/stress-msg.log; \
			[ $$st -eq 0 ] || { echo "stress-msg: failed, see build/stress-msg.log"; exit 1; }; \
		done; \
	done

bench: deps-bench build
	build/bin/ipcx bench $(BENCH_ARGS)

install: build
	cmake --install build --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz

# The spin model of the chan protocol (model/README.md); fails if spin reports any error.
model:
	@scripts/install-deps.sh model
	scripts/model-check.sh
