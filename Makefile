# ddpm.cpp — the two commands of the README:
#   make run    set up, build, train the default Fashion-MNIST model, sample a grid
#   make test   set up, build, run the test suite
BUILD ?= build
JOBS ?= $(shell nproc)
RUN_DIR ?= runs/fashion-mnist
CMAKE_FLAGS ?=

.PHONY: all setup configure build test run bench clean format

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

# libFuzzer targets for every loader and parser (fuzz/README.md), built with clang in build-fuzz/
# and run FUZZ_SECONDS each on their seed corpus.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD)
