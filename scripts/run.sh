#!/usr/bin/env bash
# The main job behind `make run`: the quick side-by-side benchmark when it is built,
# otherwise the demo of two processes sharing objects.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x build/bin/ipcx-bench ]; then
	exec build/bin/ipcx bench --quick
fi
exec scripts/demo.sh
