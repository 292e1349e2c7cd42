#!/usr/bin/env bash
# A short demo: separate processes create and use objects, and the tool shows them.
# Runs in its own namespace directory, which it removes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ipcx=build/bin/ipcx
IPCX_DIR=$(mktemp -d /tmp/ipcx-demo.XXXXXX)
export IPCX_DIR
trap 'rm -rf "$IPCX_DIR"' EXIT

say() { printf '\n$ %s\n' "$*"; }
run() { say "$*"; "$@"; }

run $ipcx event ready create
run $ipcx mutex lock create

say "$ipcx event ready wait --timeout 5 &   (two waiting processes)"
for i in 1 2; do
	( $ipcx event ready wait --timeout 5 && echo "waiter $i: woken" ) &
done
say "$ipcx mutex lock lock --hold 0.5 &   (a process that holds the lock for a while)"
$ipcx mutex lock lock --hold 0.5 &
holder=$!
sleep 0.2

run $ipcx ls
run $ipcx stat ready
run $ipcx stat lock
run $ipcx event ready set
wait "$holder"
wait
run $ipcx rm ready lock
run $ipcx ls
