#!/usr/bin/env bash
# scripts/build-deb.sh OUTDIR
#
# Builds the Debian package (debian/: debhelper + meson) with
# `dpkg-buildpackage -us -uc -b` in a scratch copy of this source tree
# (uncommitted changes included, build directories left out), so that neither
# debian/'s build products nor the ../*.deb files dpkg-buildpackage writes
# land in the work tree. Leaves bulkhead_*.deb (and .buildinfo, .changes) in
# OUTDIR and prints the .deb's path. Needs: dpkg-dev, debhelper, the build
# dependencies of debian/control (scripts/deps.sh check installs them).
set -euo pipefail
out=${1:?usage: build-deb.sh OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bulkhead-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/bulkhead"

echo "build-deb.sh: copying the source tree to $scratch" >&2
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and new (not ignored) files, as they are in the work tree
	(cd "$top" && git ls-files -z -co --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -xf - -C "$scratch/bulkhead"
else
	tar -C "$top" --exclude=./build --exclude=./build-san --exclude=./build-fuzz \
		--exclude=./.cache --exclude=./.git -cf - . | tar -xf - -C "$scratch/bulkhead"
fi

echo "build-deb.sh: dpkg-buildpackage -us -uc -b (log: $out/build.log)" >&2
start=$(date +%s)
if ! (cd "$scratch/bulkhead" &&
	DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed (full log: $out/build.log)" >&2
	exit 1
fi
echo "build-deb.sh: built in $(($(date +%s) - start)) s" >&2
rm -f "$out"/bulkhead*.deb "$out"/bulkhead*.buildinfo "$out"/bulkhead*.changes
mv "$scratch"/bulkhead*.deb "$scratch"/bulkhead*.buildinfo "$scratch"/bulkhead*.changes "$out"/
ls "$out"/bulkhead_*.deb
