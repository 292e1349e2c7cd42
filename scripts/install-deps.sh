#!/usr/bin/env bash
# Installs the Debian packages ipcx needs, and only those that are missing.
#   scripts/install-deps.sh [build|test|bench|fuzz|model|all]
# "build" is enough to compile the library and tool; "test" adds Criterion;
# "bench" adds the peer libraries the benchmark compares against and gnuplot;
# "fuzz" adds clang's libFuzzer runtime; "model" the spin model checker (make model).
set -euo pipefail

want=${1:-all}
build=(cmake make gcc g++ pkg-config)
test=(libcriterion-dev clang-format)
bench=(libzmq3-dev libnng-dev libiceoryx-binding-c-dev iceoryx gnuplot-nox)
fuzz=(clang libclang-rt-14-dev)
model=(spin gcc)

case "$want" in
build) pkgs=("${build[@]}") ;;
test) pkgs=("${build[@]}" "${test[@]}") ;;
bench) pkgs=("${build[@]}" "${bench[@]}") ;;
fuzz) pkgs=("${build[@]}" "${test[@]}" "${fuzz[@]}") ;;
model) pkgs=("${model[@]}") ;;
all) pkgs=("${build[@]}" "${test[@]}" "${bench[@]}" "${fuzz[@]}" "${model[@]}") ;;
*) echo "usage: $0 [build|test|bench|fuzz|model|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
