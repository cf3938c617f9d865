#!/usr/bin/env bash
# scripts/prepare-exec.sh BUILD_DIR CACHE_DIR [--rootfs-only|--guest-only|--stock-guest]
#
# Prepares what `bulkhead exec` boots (make exec-guest):
#   1. the exec guest: scripts/prepare-guest.sh --exec with the agent of
#      BUILD_DIR (guest/agent/bulkhead-agent): CACHE_DIR/guests/exec and the
#      user's ~/.cache/bulkhead/guests/exec (what `bulkhead exec` uses);
#   2. the default root filesystem: a minimal Debian 12 (coreutils, bash,
#      dash, python3) built with mmdebstrap from the Debian mirror, plus an
#      unprivileged user 1000 ("user", home /home/user), packed read-only as
#      EROFS: CACHE_DIR/rootfs/debian12.erofs, copied to
#      ~/.cache/bulkhead/rootfs/debian12.erofs. Built once (a few minutes,
#      ~50 MB download); a second run is instant and offline.
# --stock-guest: only the exec guest on the stock kernel whatever the host
# (CACHE_DIR/guests/exec-stock: what the exec suite boots in the nested KVM
# host; not installed in the user's cache); prints its directory.
# Needs root (mmdebstrap's root mode), mmdebstrap and erofs-utils
# (scripts/deps.sh check installs them).
set -euo pipefail
build=${1:?usage: prepare-exec.sh BUILD_DIR CACHE_DIR [--rootfs-only|--guest-only|--stock-guest]}
cache=${2:?usage: prepare-exec.sh BUILD_DIR CACHE_DIR [--rootfs-only|--guest-only|--stock-guest]}
what=${3:-all}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
agent=$build/guest/agent/bulkhead-agent

user_cache() {
	local base=${XDG_CACHE_HOME:-${HOME:-}/.cache}
	[ "$base" != /.cache ] || return 1
	echo "$base/bulkhead"
}

if [ "$what" != --rootfs-only ]; then
	[ -x "$agent" ] || { echo "prepare-exec.sh: $agent missing (ninja -C $build)" >&2; exit 1; }
	if ldd "$agent" >/dev/null 2>&1; then
		echo "prepare-exec.sh: $agent is not static (a sanitizer build?): use the plain build" >&2
		exit 1
	fi
	# stripped: every KiB of the initramfs costs boot time in a slow guest
	mkdir -p "$cache/guests"
	stripped=$cache/guests/.bulkhead-agent
	if [ ! -f "$stripped" ] || [ "$agent" -nt "$stripped" ]; then
		strip -o "$stripped.tmp" "$agent" && mv "$stripped.tmp" "$stripped"
	fi
	if [ "$what" = --stock-guest ]; then
		exec "$here/prepare-guest.sh" --stock --exec "$stripped" "$cache"
	fi
	"$here/prepare-guest.sh" --exec "$stripped" "$cache" >/dev/null
fi

[ "$what" != --guest-only ] || exit 0
img=$cache/rootfs/debian12.erofs
if [ ! -s "$img" ]; then
	command -v mmdebstrap >/dev/null || { echo "prepare-exec.sh: mmdebstrap missing (scripts/deps.sh check)" >&2; exit 1; }
	command -v mkfs.erofs >/dev/null || { echo "prepare-exec.sh: mkfs.erofs missing (erofs-utils)" >&2; exit 1; }
	mkdir -p "$cache/rootfs"
	stage=$(mktemp -d "$cache/rootfs/.stage.XXXXXX")
	trap 'rm -rf "$stage" "$img.tmp"' EXIT
	echo "prepare-exec.sh: building the default exec root filesystem (Debian 12 minbase + python3) with mmdebstrap" >&2
	# Documentation, man pages, locales and apt's lists are left out: the
	# image only has to run programs.
	mmdebstrap --quiet --variant=minbase --include=python3 \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--customize-hook='echo "user:x:1000:1000:bulkhead exec:/home/user:/bin/bash" >> "$1/etc/passwd"' \
		--customize-hook='echo "user:x:1000:" >> "$1/etc/group"' \
		--customize-hook='echo "user:*:19000:0:99999:7:::" >> "$1/etc/shadow"' \
		--customize-hook='mkdir -p "$1/home/user" && chown 1000:1000 "$1/home/user"' \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
		bookworm "$stage/root" http://deb.debian.org/debian
	mkfs.erofs "$img.tmp" "$stage/root" >/dev/null
	mv "$img.tmp" "$img"
	rm -rf "$stage"
	trap - EXIT
	echo "prepare-exec.sh: $img ($(($(stat -c %s "$img") / 1048576)) MiB)" >&2
fi
if uc=$(user_cache) && [ -z "${BULKHEAD_GUESTS_LINK+x}" ]; then
	mkdir -p "$uc/rootfs"
	if ! cmp -s "$img" "$uc/rootfs/debian12.erofs"; then
		cp "$img" "$uc/rootfs/.debian12.erofs.$$"
		mv -f "$uc/rootfs/.debian12.erofs.$$" "$uc/rootfs/debian12.erofs"
	fi
fi
echo "$img"
