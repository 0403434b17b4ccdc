# The README's two commands: `make run` and `make test`. Both install what is missing first.
BUILD_DIR      ?= build
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
JOBS           ?= $(shell nproc)
ARGS           ?=
PREFIX         ?= /usr/local
# The stock Debian kernels `make vmtest` boots, and those `make test` runs it on (docs/testing.md,
# "Kernel matrix").
KERNELS        ?= 5.10 6.1 6.12 6.1-selinux 6.1-systemd
TEST_KERNELS   ?= $(KERNELS)

.PHONY: all deps build build-asan build-tsan run install deb image test test-unit test-asan vmtest bench soak format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/Makefile: CMakeLists.txt tests/CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN_BUILD_DIR)/Makefile: CMakeLists.txt tests/CMakeLists.txt | deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DIPCWATCH_SANITIZE=ON

$(TSAN_BUILD_DIR)/Makefile: CMakeLists.txt tests/CMakeLists.txt | deps
	cmake -S . -B $(TSAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DIPCWATCH_TSAN=ON

build: deps $(BUILD_DIR)/Makefile
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-asan: deps $(ASAN_BUILD_DIR)/Makefile
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS) --target ipcwatch_unit_tests

build-tsan: deps $(TSAN_BUILD_DIR)/Makefile
	cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target ipcwatch_unit_tests ipcwatch ipcwatch_threads_e2e_tests

# Starts the agent with its embedded default configuration (root needed for the BPF probes).
run: build
	./$(BUILD_DIR)/ipcwatch $(ARGS)

# Installs the agent, its configuration (only when there is none), the systemd unit, the docs and
# the examples (README, "Install on a host"); DESTDIR=DIR stages the tree under DIR.
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The Debian package, the Debian way (debian/, dpkg-buildpackage; README, "Install the Debian
# package"): $(BUILD_DIR)/ipcwatch_<version>_amd64.deb, lintian-clean.
deb: deps
	./scripts/build-deb.sh $(BUILD_DIR)

# The OCI image, from Debian packages alone (README, "Install on Kubernetes"):
# $(BUILD_DIR)/ipcwatch_<version>.oci.tar, ipcwatch:<version> and ipcwatch:latest.
image: deb
	./scripts/build-image.sh $(BUILD_DIR)

# Every test: unit and end-to-end tests (e2e needs root and skips without it), then the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and the tests of state shared
# between threads and the agent's real threads end to end under ThreadSanitizer.
test: build build-asan build-tsan image
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300
	cd $(ASAN_BUILD_DIR) && ctest --output-on-failure --timeout 300 -L unit
	cd $(TSAN_BUILD_DIR) && ctest --output-on-failure --timeout 300 -R '^(Concurrency|AgentThreadsE2E)\.'
	./scripts/vm/matrix.sh $(BUILD_DIR) "$(TEST_KERNELS)"

# The guest suite on stock Debian kernels, each booted once in QEMU with this machine's root
# shared read-only (as root; kernels fetched once into ~/.cache/ipcwatch/vm). One kernel:
# `make vmtest KERNELS=6.1`.
vmtest: build image
	./scripts/vm/matrix.sh $(BUILD_DIR) "$(KERNELS)"


test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h' | grep -v '^bpf/vmlinux.h$$')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR)

# What the probes cost other processes, how /metrics scales and what a scrape costs next to
# node_exporter on a generated big host, measured in one run (as root); results and options
# (e.g. ARGS="--only bighost") are in docs/benchmarks.md.
# Then the probe backends side by side in a guest on each kernel of VMBENCH (TCG: fewer
# iterations); `make bench VMBENCH=` leaves the guest out.
VMBENCH ?= 6.1
bench: build
	./$(BUILD_DIR)/tests/ipcwatch_bench $(ARGS)
	for series in $(VMBENCH); do \
	  IPCWATCH_VM_BENCH=--only,backends,--reps,9,--iterations,20000 \
	    ./scripts/vm/run.sh $$series $(BUILD_DIR) - $(BUILD_DIR)/vmbench/$$series || exit 1; \
	done

# An event storm (EPIPE writers, blocked FIFO opens) and concurrent scrapes for a minute, as
# root: generated versus counted events, lost events, scrape latency and peak RSS (results in
# docs/benchmarks.md). ARGS="--seconds N --writers N --fifo-pairs N --scrapers N".
soak: build
	./$(BUILD_DIR)/tests/ipcwatch_soak $(ARGS)
