# The two commands a person needs are `make run` and `make test`; everything else is here for developers.
BUILD_DIR      ?= build
SANITIZE_DIR   ?= build-sanitize
TSAN_DIR       ?= build-tsan
BENCH_DIR      ?= build-bench
FUZZ_DIR       ?= build-fuzz
FUZZ_SECONDS   ?= 60
JOBS           ?= $(shell nproc)
CMAKE_FLAGS    ?=
RUN_PORT       ?= 6443

.PHONY: deps build test soak test-sanitize test-tsan fuzz run bench-build bench compare compare-http clean

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@bash scripts/ctest.sh $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 300

# 10,000 concurrent connections, then a minute of mixed traffic with endpoint changes (tests/soak); prints the
# figures and fails on any failed client connection. POOLGATE_SOAK_SECONDS=N shortens or lengthens the minute.
soak: build
	@$(BUILD_DIR)/tests/poolgate_soak

test-sanitize: deps
	@cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPOOLGATE_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SANITIZE_DIR) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1 \
	  bash scripts/ctest.sh $(SANITIZE_DIR) --output-on-failure -j $(JOBS) --timeout 600

# TSan's first report ends the process with status 66. Integration tests run build-tsan/poolgate as a child, which
# inherits TSAN_OPTIONS; the test fixture stops it at the end of every test and fails the test on status 66.
test-tsan: deps
	@cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPOOLGATE_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_DIR) -j $(JOBS)
	@TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
	  bash scripts/ctest.sh $(TSAN_DIR) --output-on-failure -j $(JOBS) --timeout 600

# Every libFuzzer target in fuzz/ (clang, ASan + UBSan) for FUZZ_SECONDS each; any crash, leak or timeout fails.
fuzz:
	@bash scripts/deps.sh --fuzz
	@cmake -S fuzz -B $(FUZZ_DIR) -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS)
	@bash scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# Starts poolgate on 127.0.0.1:$(RUN_PORT) in front of two demo backends; Ctrl-C stops all three.
run: build
	@bash scripts/run-demo.sh $(BUILD_DIR) $(RUN_PORT)

bench-build: deps
	@cmake -S . -B $(BENCH_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOOLGATE_BENCH=ON -DPOOLGATE_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BENCH_DIR) -j $(JOBS)
	@cp $(BENCH_DIR)/poolgate_bench $(BUILD_DIR)/poolgate_bench 2>/dev/null || { mkdir -p $(BUILD_DIR) && cp $(BENCH_DIR)/poolgate_bench $(BUILD_DIR)/; }

bench: bench-build
	@$(BUILD_DIR)/poolgate_bench --benchmark_min_time=0.2

# poolgate side by side with haproxy and nginx on loopback (bench/README.md); extra flags via COMPARE_ARGS="...".
# /usr/bin/python3, not the first python3 on PATH: matplotlib comes from Debian's python3-matplotlib, which a
# pyenv or venv interpreter does not see.
compare: build
	@bash scripts/deps.sh --bench
	@/usr/bin/python3 bench/compare.py --poolgate $(BUILD_DIR)/poolgate $(COMPARE_ARGS)
	@/usr/bin/python3 bench/compare_http.py --poolgate $(BUILD_DIR)/poolgate $(COMPARE_HTTP_ARGS)

# Only the HTTP-mode rows (poolgate --mode http against haproxy mode http and nginx proxy_pass keepalive).
compare-http: build
	@bash scripts/deps.sh --bench
	@/usr/bin/python3 bench/compare_http.py --poolgate $(BUILD_DIR)/poolgate $(COMPARE_HTTP_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(TSAN_DIR) $(BENCH_DIR) $(FUZZ_DIR)
