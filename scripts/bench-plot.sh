#!/usr/bin/env bash
# Runs the benchmark (the table and the latency-vs-size sweep) and draws its plots with gnuplot.
#   scripts/bench-plot.sh [--quick] [--no-run] [OUTDIR]
# OUTDIR (default docs/bench) receives:
#   latest.txt   the table, as ipcx-bench prints it
#   latest.csv   the same run as CSV (case,p50_ns,p99_ns,mean_ns,msgs_per_s,gb_per_s)
#   sweep.csv    round-trip latency against message size (case,size,p50_ns,p99_ns,mean_ns)
#   rtt.png      round-trip latency per mechanism (p50 bars, p99 marks), log scale
#   size.png     round-trip latency (p50) against message size, log-log
# and, if OUTDIR/README.md has the markers <!-- table:begin --> and <!-- table:end -->,
# puts the new table between them (and in the top-level README.md too, for docs/bench).
# --no-run redraws the plots from the CSV files already in OUTDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=${IPCX_BENCH:-build/bin/ipcx-bench}
out=docs/bench
quick=()
run=1
for a in "$@"; do
	case "$a" in
	--quick) quick=(--quick) ;;
	--no-run) run=0 ;;
	-h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "usage: $0 [--quick] [--no-run] [OUTDIR]" >&2; exit 2 ;;
	*) out=$a ;;
	esac
done
command -v gnuplot >/dev/null || { echo "gnuplot is missing (scripts/install-deps.sh bench)" >&2; exit 1; }
mkdir -p "$out"

if [ "$run" = 0 ] && [ ! -f "$out/latest.csv" ]; then
	echo "$out/latest.csv is missing: run without --no-run first" >&2
	exit 1
fi
if [ "$run" = 1 ]; then
	[ -x "$bench" ] || { echo "$bench is not built (make build)" >&2; exit 1; }
	"$bench" "${quick[@]}" --csv-out "$out/latest.csv" >"$out/latest.txt"
	"$bench" "${quick[@]}" --sweep --csv >"$out/sweep.csv"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine="${cpu:-unknown CPU}, $(nproc) CPUs, Linux $(uname -r)"
when=$(date -u -r "$out/latest.csv" '+%Y-%m-%d')

# Round trips that ran: name, p50 and p99 in microseconds, in table order.
# Colour by group: floors grey, the kernel blue, peer libraries orange, ipcx green.
awk -F, 'NR > 1 && $1 ~ /\.rtt/ && $2 != "" {
	c = 4882107
	if ($1 ~ /^floor\./) c = 10066329
	else if ($1 ~ /^ipcx\./) c = 2924588
	else if ($1 ~ /^(zmq|nng|iceoryx)\./) c = 16744206
	printf "%s %.4f %.4f %d\n", $1, $2 / 1000, $3 / 1000, c
}' "$out/latest.csv" >"$tmp/rtt.dat"
# What could not run is named under the plot rather than silently left out.
missing=$(awk -F, 'NR > 1 && $1 ~ /\.rtt/ && $2 == "" { printf "%s%s", sep, $1; sep = ", " }' \
	"$out/latest.csv" | fold -s -w 160 | sed -e ":a" -e "N" -e "\$!ba" -e "s/\n/\\\\n/g")

if [ -s "$tmp/rtt.dat" ]; then
	n=$(wc -l <"$tmp/rtt.dat")
	gnuplot <<-GP
	set terminal pngcairo size 1200,640 font "Sans,10"
	set output "$out/rtt.png"
	set title "Round-trip latency between two processes on two CPUs\n{/*0.8 $machine, $when; bars p50, marks p99; log scale}"
	set ylabel "round trip (us)"
	set logscale y
	set yrange [0.05:*]
	set grid ytics
	set style fill solid 0.7 border -1
	set boxwidth 0.7
	set xtics rotate by -35 left noenhanced
	set xrange [-0.7:$n - 0.3]
	set key at screen 0.5, screen 0.075 center center horizontal maxrows 1 samplen 2
	set bmargin 9
	set label 1 "not run: ${missing:-none}" at screen 0.01, screen 0.02 font ",8" noenhanced
	plot "$tmp/rtt.dat" using 0:2:4:xtic(1) with boxes lc rgb variable notitle, \
	     NaN with boxes lc rgb "#999999" title "floor (p50)", \
	     NaN with boxes lc rgb "#4a7ebb" title "kernel (p50)", \
	     NaN with boxes lc rgb "#ff7f0e" title "peer library (p50)", \
	     NaN with boxes lc rgb "#2ca02c" title "ipcx (p50)", \
	     "" using 0:3 with points pt 7 ps 0.8 lc rgb "#c0392b" title "p99", \
	     "" using 0:2:(sprintf("%.3g", \$2)) with labels offset 0,0.7 font ",8" notitle
	GP
fi

# One file per case for the sweep: size in bytes, p50 in microseconds.
cases=""
if [ -s "$out/sweep.csv" ]; then
	for c in $(awk -F, 'NR > 1 && $3 != "" { print $1 }' "$out/sweep.csv" | uniq); do
		awk -F, -v c="$c" 'NR > 1 && $1 == c && $3 != "" { printf "%s %.4f\n", $2, $3 / 1000 }' \
			"$out/sweep.csv" >"$tmp/$c.dat"
		cases="$cases $c"
	done
fi
if [ -n "$cases" ]; then
	gnuplot <<-GP
	set terminal pngcairo size 1000,640 font "Sans,10"
	set output "$out/size.png"
	set title "Round-trip latency against message size (p50)\n{/*0.8 $machine, $when; log-log}"
	set xlabel "message size (bytes)"
	set ylabel "round trip (us)"
	set logscale xy
	set grid xtics ytics
	set xtics ("64" 64, "256" 256, "1K" 1024, "4K" 4096, "16K" 16384, "64K" 65536, \
		"256K" 262144, "1M" 1048576, "4M" 4194304)
	set key top left noenhanced
	set linetype 1 lc rgb "#7b3294" lw 2
	set linetype 2 lc rgb "#1b9e77" lw 2
	set linetype 3 lc rgb "#2c7bb6" lw 2
	set linetype 4 lc rgb "#d95f02" lw 2
	set linetype 5 lc rgb "#e7298a" lw 2
	set linetype 6 lc rgb "#000000" lw 3
	set linetype 7 lc rgb "#66a61e" lw 2
	set linetype 8 lc rgb "#a6761d" lw 2
	set bmargin 6
	set label 1 "pipe, uds, zmq and nng copy each message in and out; iceoryx (and ipcx zero-copy) loan shared-memory chunks and only write a header." at screen 0.01, screen 0.02 font ",8" noenhanced
	cases = "$cases"
	plot for [c in cases] "$tmp/".c.".dat" using 1:2 with linespoints pt 7 ps 0.8 title c
	GP
fi
# The page beside the plots, and the project's README when the plots are the project's, show
# the same table: replace what sits between their markers.
pages=("$out/README.md")
[ "$out" = docs/bench ] && pages+=(README.md)
for page in "${pages[@]}"; do
	if [ -f "$page" ] && grep -q '<!-- table:begin -->' "$page"; then
		awk -v table="$out/latest.txt" '
			/<!-- table:end -->/ { skip = 0 }
			!skip { print }
			/<!-- table:begin -->/ {
				skip = 1; print "```"
				while ((getline line < table) > 0) print line
				print "```"
			}' "$page" >"$tmp/page" && cat "$tmp/page" >"$page"
	fi
done
echo "wrote $out/latest.txt $out/latest.csv $out/sweep.csv $out/rtt.png $out/size.png"
