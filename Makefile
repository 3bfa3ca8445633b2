# The two commands: `make run` and `make test`. Both install what is missing.
BUILD      ?= build
DATA       ?= ./pickaxe-data
LISTEN     ?= 127.0.0.1:8080
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS  += --no-print-directory

.PHONY: all deps build run test test-asan fuzz bench clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/pickaxe serve --data $(DATA) --listen $(LISTEN) --bootstrap

test: build
	@bash scripts/npm-deps.sh
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The same suite built with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) test BUILD=build-asan CMAKE_ARGS="-DPX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

# libFuzzer targets (clang); run one with e.g. build-fuzz/fuzz/fuzz_batch fuzz/corpus/batch
fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DPX_FUZZ=ON -DPX_SANITIZE=ON
	cmake --build build-fuzz -j $(JOBS)

bench: build
	@echo "see bench/README.md"

clean:
	rm -rf build build-asan build-fuzz
