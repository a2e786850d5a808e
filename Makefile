# ddpm.cpp — the two commands of the README:
#   make run    set up, build, train the default Fashion-MNIST model, sample a grid
#   make test   set up, build, run the test suite
BUILD ?= build
JOBS ?= $(shell nproc)
RUN_DIR ?= runs/fashion-mnist
CMAKE_FLAGS ?=

.PHONY: all setup configure build test run bench clean format format-check test-sanitize

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	@echo "== training the fashion-mnist preset into $(RUN_DIR) (Ctrl-C checkpoints; make run again resumes)"
	@if [ -d $(RUN_DIR)/checkpoints/latest ]; then \
	  ./$(BUILD)/ddpm train --out $(RUN_DIR) --resume; \
	else \
	  ./$(BUILD)/ddpm train --preset fashion-mnist --out $(RUN_DIR); \
	fi
	@echo "== sampling 64 images with DDIM-50 from the EMA weights"
	./$(BUILD)/ddpm sample --model $(RUN_DIR) --n 64 --out $(RUN_DIR)/samples/final-ddim50.png

bench: build
	./$(BUILD)/ddpm_bench

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

# Fails listing every file whose formatting differs from .clang-format (run `make format`).
format-check: setup
	@git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

# The library and the tests built with AddressSanitizer + UndefinedBehaviorSanitizer (GCC, -O1,
# frame pointers kept) in their own build folder, then the whole suite; any report fails it.
# LibTorch itself is not instrumented; its one-time allocations at exit are not leaks of ours,
# so leak detection is off (ASan still reports use-after-free, overflows, double frees).
SANITIZE_BUILD ?= build-sanitize
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
test-sanitize: setup
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 $(SANITIZE_FLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE_FLAGS)" $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS) -- --no-print-directory
	cd $(SANITIZE_BUILD) && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# libFuzzer targets for every loader and parser (fuzz/README.md), built with clang in build-fuzz/
# and run FUZZ_SECONDS each on their seed corpus.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: setup
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD)
