#!/usr/bin/env bash
# Runs every fuzz target in DIR for SECONDS each, starting from its checked-in corpus
# (fuzz/corpus/NAME) and saving what it learns to a scratch corpus. A crash fails the run;
# its reproducer is left in the working directory to become a regression test.
set -euo pipefail
bindir=${1:?usage: run-fuzz.sh BINDIR SECONDS}
seconds=${2:-30}
top=$(cd "$(dirname "$0")/.." && pwd)
status=0
for fuzzer in "$bindir"/fuzz_*; do
	[ -x "$fuzzer" ] || continue
	name=$(basename "$fuzzer")
	seeds="$top/fuzz/corpus/$name"
	work="$top/build-fuzz/corpus-$name"
	mkdir -p "$work"
	[ -d "$seeds" ] || seeds=
	export IPCX_DIR
	IPCX_DIR=$(mktemp -d /tmp/ipcx-fuzz.XXXXXX)
	echo "== $name for ${seconds}s"
	if ! "$fuzzer" -max_len=16384 -max_total_time="$seconds" -print_final_stats=1 "$work" $seeds 2>"$work.log"; then
		echo "$name: crash, see $work.log"
		tail -30 "$work.log"
		status=1
	fi
	grep -E 'stat::number_of_executed_units|stat::peak_rss' "$work.log" || true
	rm -rf "$IPCX_DIR"
done
exit $status
