#!/usr/bin/env bash
# make-seeds.sh [BUILD_DIR] — regenerate the committed fuzz_boot seed corpus
# (tests/fuzz/corpus/boot) with make_seeds, and the virtio ones
# (corpus/virtq, corpus/blk) with make_virtio_seeds, from a -Dfuzz=true build
# (default build-fuzz). Seeds are small crafted kernels (< 64 KiB each).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build-fuzz}"
ninja -C "$build" tests/fuzz/make_seeds tests/fuzz/make_virtio_seeds
mkdir -p tests/fuzz/corpus/boot
"$build/tests/fuzz/make_seeds" tests/fuzz/corpus/boot
ls -l tests/fuzz/corpus/boot
# fuzz_virtq / fuzz_blk scripts (corpus/virtq, corpus/blk)
"$build/tests/fuzz/make_virtio_seeds" tests/fuzz/corpus
ls -l tests/fuzz/corpus/virtq tests/fuzz/corpus/blk
