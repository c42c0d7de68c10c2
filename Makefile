# Thin wrappers over meson for the README's two commands (and a few extras).
#   make run    install what is missing, build, run the main job
#   make test   install what is missing, build with ASan+UBSan, run every test (and the arm64
#               build's under qemu: make test-arm64)
#   make cross-arm64   cross-compile for 64-bit ARM into build-arm64/
#   make deb    the Debian packages in dist/ (scripts/deb.sh; scripts/deb-check.sh checks them);
#               make deb ARCH=arm64 cross-builds the arm64 ones (scripts/deb-check.sh --arch arm64)
#   make install  build/ installed under its prefix (/usr/local; PREFIX=... and DESTDIR=... work)
BUILD ?= build
# nvcc (CUDA 13) lives here; meson builds the CUDA backend (kernels/) when it finds it.
export PATH := $(PATH):/usr/local/cuda/bin
TEST_BUILD ?= build-test

.PHONY: run test build bench fuzz clean deb install cross-arm64 test-arm64

build:
	@scripts/deps.sh build
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dtests=disabled >/dev/null
	@ninja -C $(BUILD) >/dev/null

run: build
	@scripts/main-job.sh $(BUILD)

test:
	@scripts/deps.sh test
	@[ -f $(TEST_BUILD)/build.ninja ] || meson setup $(TEST_BUILD) -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all >/dev/null
	ninja -C $(TEST_BUILD)
	meson test -C $(TEST_BUILD) --print-errorlogs
	@$(MAKE) --no-print-directory test-arm64

bench: build
	@scripts/deps.sh bench
	scripts/bench.sh

# 64-bit ARM (Raspberry Pi, Jetson): cross-compiled into build-arm64/ against the arm64 sysroot
# (scripts/arm64-linux.ini); CUDA is built on a Jetson itself (README, ARM64). -O2, not release's
# -O3: Debian 12's aarch64 gcc 12 stops with an internal error in the -O3 vectorizer
# (tests/test_cpu_kernels.c, vect_transform_reduction).
ARM64_BUILD ?= build-arm64
cross-arm64:
	@scripts/deps.sh cross-arm64
	@mkdir -p $(ARM64_BUILD) && printf "[constants]\ntop = '%s'\n" "$(CURDIR)" > $(ARM64_BUILD)/top.ini
	@[ -f $(ARM64_BUILD)/build.ninja ] || meson setup $(ARM64_BUILD) --cross-file $(ARM64_BUILD)/top.ini \
		--cross-file scripts/arm64-linux.ini -Dbuildtype=debugoptimized -Dcuda=disabled >/dev/null
	ninja -C $(ARM64_BUILD)

# The arm64 build under qemu-user (tests/arm64/, part of `make test`), compared with the x86 test build.
test-arm64: cross-arm64
	STEERD_X86_STEERCTL=$(CURDIR)/$(TEST_BUILD)/steerctl meson test -C $(ARM64_BUILD) --suite arm64 --print-errorlogs

fuzz:
	@scripts/deps.sh fuzz
	tests/fuzz/run.sh all 600

deb:
	@scripts/deps.sh deb
	@[ -z "$(ARCH)" ] || [ "$(ARCH)" = "$$(dpkg-architecture -qDEB_BUILD_ARCH)" ] || scripts/deps.sh cross-arm64
	scripts/deb.sh $(if $(ARCH),--arch $(ARCH))

install: build
	@[ -z "$(PREFIX)" ] || meson configure $(BUILD) --prefix=$(PREFIX) >/dev/null
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(ARM64_BUILD) dist
