#!/usr/bin/env bash
# smoke.sh [BUILD_DIR] — the fuzz stage of `make check` (tests/check.sh):
# builds every libFuzzer target that has a committed corpus
# (tests/fuzz/corpus/NAME -> BUILD_DIR/tests/fuzz/fuzz_NAME), runs each for
# FUZZ_SMOKE_SECS seconds (default 15) on that corpus, and prints
# "N passed, N failed". New inputs go to a scratch dir, never into the
# committed corpus; a crash reproducer is kept as BUILD_DIR/tests/fuzz/crash-*.
# BUILD_DIR defaults to build-fuzz and is configured (clang) if missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build-fuzz}"
secs="${FUZZ_SMOKE_SECS:-15}"
passed=0
failed=0

if [ ! -f "$build/build.ninja" ]; then
	if ! CC=clang meson setup "$build" --buildtype=debug -Dfuzz=true -Db_lundef=false \
		-Dhardening=false >/dev/null; then
		echo "fuzz: cannot configure $build"
		echo "0 passed, 1 failed"
		exit 1
	fi
fi

# The whole tree with clang and -Werror too: catches what gcc accepts and
# clang does not (the fuzz targets link the same sources).
if ninja -C "$build" >"$build/ninja-all.log" 2>&1; then
	echo "ok   clang -Werror build of the whole tree"
	passed=$((passed + 1))
else
	echo "FAIL clang build of the whole tree:"
	grep -E "error|FAILED" "$build/ninja-all.log" | head -n 20
	failed=$((failed + 1))
fi

for corpus in tests/fuzz/corpus/*/; do
	name=$(basename "$corpus")
	target="tests/fuzz/fuzz_$name"
	if ! ninja -C "$build" "$target" >/dev/null; then
		echo "FAIL fuzz_$name: build failed"
		failed=$((failed + 1))
		continue
	fi
	scratch=$(mktemp -d)
	if "$build/$target" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
		-artifact_prefix="$build/tests/fuzz/" "$scratch" "$corpus" >"$scratch/log" 2>&1; then
		echo "ok   fuzz_$name: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$scratch/log")"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz_$name:"
		tail -n 40 "$scratch/log"
		failed=$((failed + 1))
	fi
	rm -rf "$scratch"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
