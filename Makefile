# The two set-up commands of the README. Both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# ccache hits across clones in different folders (CI builds a fresh clone).
export CCACHE_BASEDIR := $(CURDIR)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test run clean sanitize fuzz bench netsim

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

run: build
	@scripts/run-local.sh $(BUILD_DIR)

bench: build
	@$(BUILD_DIR)/bench/cheese-bench

# The network simulator (tests/netsim/README.md; needs root): NETSIM_ARGS="--nodes 100 --prefix cs".
NETSIM_ARGS ?= --nodes 12 --scenario partition --partition-seconds 30
netsim: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target cheesed cheese-tracker
	@python3 tests/netsim/netsim.py --build-dir $(BUILD_DIR) $(NETSIM_ARGS)

# ASan + UBSan build of everything, in its own folder.
sanitize:
	@$(MAKE) test BUILD_DIR=build-sanitize BUILD_TYPE=Debug CMAKE_FLAGS="-DCHEESE_SANITIZE=ON"

# libFuzzer targets with clang, in their own folder.
fuzz:
	@CHEESE_FUZZ_DEPS=1 scripts/install-deps.sh
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCHEESE_FUZZ=ON -DCHEESE_SANITIZE=ON -DCHEESE_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)
