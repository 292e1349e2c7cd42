#!/usr/bin/env bash
# Checks model/chan.pml with spin (see model/README.md); exits non-zero on any error.
#   scripts/model-check.sh [extra -D options for spin, e.g. -DMAXDEATH=2]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)/model/chan.pml
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cp "$src" chan.pml
spin -a "$@" chan.pml
# Bitstate hashing (2^28 bits, 32 MiB): the full state space does not fit in the
# time budget; see model/README.md for the coverage this gives.
gcc -O2 -DBITSTATE -o pan pan.c
./pan -m100000 -w28 | tee pan.out | grep -v '^Depth='
if ! grep -q 'errors: 0$' pan.out; then
	spin -t -p -g chan.pml | tail -80 || true
	echo "model: spin found an error (trail above)" >&2
	exit 1
fi
echo "model: chan: no errors"

# The wake-all protocol of src/wait.c (model/wake.pml): small enough for a full search,
# with both kinds of waker.
for opt in "" -DBUMP; do
	cp "$(dirname "$src")/wake.pml" wake.pml
	spin -a $opt wake.pml
	gcc -O2 -o pan pan.c
	./pan -m100000 | tee pan.out | grep -v '^Depth='
	if ! grep -q 'errors: 0$' pan.out; then
		spin -t -p -g wake.pml | tail -80 || true
		echo "model: wake $opt: spin found an error (trail above)" >&2
		exit 1
	fi
done
echo "model: wake: no errors"
