#!/usr/bin/env bash
# guest_cache.sh — the user's default guest (issue 19): scripts/prepare-guest.sh
# installs the prepared guest into the user's cache, content-addressed
# (GUESTS/sha256-<hash>/ with copies of kernel, initrd, cmdline), and points
# GUESTS/default at it with a relative symlink — never into a working tree —
# and `bulkhead run --guest default` resolves to that copy. Runs on the host
# with a throw-away XDG_CACHE_HOME and a throw-away cache that borrows CACHE's
# downloaded stock kernel (check.sh fetched it), preparing the stock-kernel
# guest (BULKHEAD_HOST_KIND=hardware): the installation does not depend on
# which kernel, and on a PVM host this avoids building the lab kernel.
#   guest_cache.sh BULKHEAD CACHE_DIR
# Prints PASS/FAIL lines and "N passed, N failed".
set -uo pipefail
BH=$1
CACHE=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
G=$T/xdg/bulkhead/guests
C=$T/cache
mkdir -p "$C"
for d in "$CACHE"/debian-cloud-*; do [ -e "$d" ] && ln -s "$d" "$C/"; done
[ -e "$CACHE/.cloud-resolve" ] && cp "$CACHE/.cloud-resolve" "$C/"
src=$C/guests/default
export BULKHEAD_HOST_KIND=hardware

# A stale link into some working tree, as earlier versions made.
mkdir -p "$G" "$T/old-checkout/guest"
ln -s "$T/old-checkout/guest" "$G/default"
if ! XDG_CACHE_HOME=$T/xdg "$here/scripts/prepare-guest.sh" "$C" >"$T/out" 2>"$T/err"; then
	bad "prepare-guest.sh" "$(tail -n 5 "$T/err")"
	echo "$pass passed, $fail failed"
	exit 1
fi
target=$(readlink "$G/default")
why=""
case "$target" in sha256-*) ;; *) why="default -> '$target', not sha256-<hash>" ;; esac
for f in kernel initrd cmdline; do
	if [ -L "$G/$target/$f" ] || [ ! -f "$G/$target/$f" ]; then
		why="$why; $f is not a regular file of its own"
	elif ! cmp -s "$G/$target/$f" "$src/$f"; then
		why="$why; $f differs from the prepared guest"
	fi
done
if [ -z "$why" ]; then
	ok "default guest in the user's cache: default -> $target (copies, not links)"
else
	bad "default guest in the user's cache" "${why#; }"
fi
# The same content again: the same directory, nothing new.
XDG_CACHE_HOME=$T/xdg "$here/scripts/prepare-guest.sh" "$C" >/dev/null 2>&1
n=$(find "$G" -maxdepth 1 -name 'sha256-*' | wc -l)
if [ "$(readlink "$G/default")" = "$target" ] && [ "$n" = 1 ] &&
	[ -z "$(find "$G" -maxdepth 1 -name '.*' ! -name . | head -n 1)" ]; then
	ok "prepare again: same content, same directory ($n copy, no leftovers)"
else
	bad "prepare again" "default -> $(readlink "$G/default"), $n copies"
fi
# --guest default resolves there (checked before KVM is touched: a too-small
# --mem is refused after the guest's files were found).
XDG_CACHE_HOME=$T/xdg HOME=$T "$BH" run --guest default --mem 1M -v >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" = 2 ] && grep -q -- "--guest default: $G/$target" "$T/err" &&
	grep -q 'at least 8 MiB' "$T/err"; then
	ok "run --guest default resolves to $target in the user's cache"
else
	bad "run --guest default" "exit $rc: $(grep -E 'guest|error' "$T/err" | head -n 3)"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
