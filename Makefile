# Thin wrappers over meson for the README's two commands (and a few extras).
#   make run    install what is missing, build, run the main job
#   make test   install what is missing, build with ASan+UBSan, run every test
#   make deb    the Debian packages in dist/ (scripts/deb.sh; scripts/deb-check.sh checks them)
#   make install  build/ installed under its prefix (/usr/local; PREFIX=... and DESTDIR=... work)
BUILD ?= build
# nvcc (CUDA 13) lives here; meson builds the CUDA backend (kernels/) when it finds it.
export PATH := $(PATH):/usr/local/cuda/bin
TEST_BUILD ?= build-test

.PHONY: run test build bench fuzz clean deb install

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

bench: build
	@scripts/deps.sh bench
	scripts/bench.sh

fuzz:
	@scripts/deps.sh fuzz
	tests/fuzz/run.sh all 600

deb:
	@scripts/deps.sh deb
	scripts/deb.sh

install: build
	@[ -z "$(PREFIX)" ] || meson configure $(BUILD) --prefix=$(PREFIX) >/dev/null
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

clean:
	rm -rf $(BUILD) $(TEST_BUILD) dist
