# bulkhead — thin wrapper around Meson/Ninja. The two commands that matter:
#   make demo    install what is needed, build, boot the default guest, run a command in it
#   make check   install what is needed, build, run every test
# Everything installs itself (Debian packages via apt-get) on first use.

BUILD     ?= build
BUILD_SAN ?= build-san
BUILD_FUZZ ?= build-fuzz
CACHE     ?= $(CURDIR)/.cache

.PHONY: all build build-san deps demo check unit guest-tests fuzz fuzz-smoke guest exec-guest clean bench \
	install uninstall deb

all: build

deps:
	@scripts/deps.sh build

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(BUILD_SAN)/build.ninja:
	meson setup $(BUILD_SAN) --buildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false -Dhardening=false

$(BUILD_FUZZ)/build.ninja:
	CC=clang meson setup $(BUILD_FUZZ) --buildtype=debug -Dfuzz=true -Db_lundef=false \
		-Dhardening=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-san: deps $(BUILD_SAN)/build.ninja
	ninja -C $(BUILD_SAN)

# The default guest: kernel + initramfs + command line under $(CACHE)/guests/default,
# and a content-addressed copy in ~/.cache/bulkhead/guests (what --guest default boots).
guest: build
	@scripts/deps.sh demo
	@scripts/prepare-guest.sh $(CACHE)

# `bulkhead exec`'s guest (kernel + an initramfs with the agent) and its
# default root filesystem (Debian 12 via mmdebstrap, EROFS), in $(CACHE) and
# the user's ~/.cache/bulkhead (scripts/prepare-exec.sh).
exec-guest: build
	@scripts/deps.sh demo
	@scripts/prepare-exec.sh $(BUILD) $(CACHE) >/dev/null

demo: build guest
	@scripts/demo.sh $(BUILD) $(CACHE)

unit: build-san
	meson test -C $(BUILD_SAN) --print-errorlogs

fuzz: deps $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)

bench: build
	@scripts/deps.sh bench
	@bench/run.sh $(BUILD) $(CACHE)

# make install [PREFIX=/usr] [DESTDIR=/tmp/root]: binaries, man pages,
# completion, systemd units, sysusers.d, OpenAPI file (meson install; the
# prefix defaults to /usr/local). make uninstall removes what it installed.
install: build
	@if [ -n "$(PREFIX)" ]; then meson configure $(BUILD) --prefix=$(PREFIX); ninja -C $(BUILD); fi
	DESTDIR="$(DESTDIR)" meson install -C $(BUILD) --no-rebuild

uninstall:
	ninja -C $(BUILD) uninstall

# The Debian package (dpkg-buildpackage -us -uc -b from debian/) into $(BUILD)/deb/.
deb:
	@scripts/deps.sh check
	@scripts/build-deb.sh $(BUILD)/deb

check:
	@scripts/deps.sh check
	@tests/check.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
