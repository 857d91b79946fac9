#!/bin/sh
# report.sh LOG OUTDIR: turn the demo's console log into a timeline on
# stdout, OUTDIR/run{1,2}.dat and OUTDIR/oom-demo.png (gnuplot).
set -eu
log=$1 out=$2
mkdir -p "$out"
tr -d '\000\r' <"$log" | sed -n 's/^# //p' >"$out/demo.txt"
for r in 1 2; do
	awk -v r=$r '$1 == "T" && $2 == r { print $3 / 1000, $4 / 1024, $5 / 1024, $6 / 1024 }' \
		"$out/demo.txt" >"$out/run$r.dat"
done
awk '
	$1 == "#" && $2 == "run" { print; next }
	$1 == "E" { sub(/^E [0-9]+ /, ""); t = $1; $1 = ""; printf "  %7.1f s  event:%s\n", t / 1000, $0; next }
	$1 == "T" {
		if ($2 != run) { run = $2; last = -1e9
			printf "run %d: %8s %12s %14s %10s\n", run, "time", "service Rss", "MemAvailable", "hog Rss" }
		if ($3 - last >= 250) { last = $3
			printf "         %7.1f s %8.1f MiB %10.1f MiB %6.1f MiB\n", $3 / 1000, $4 / 1024, $5 / 1024, $6 / 1024 }
	}
	$1 == "ok" || $1 == "not" { print }
' "$out/demo.txt"
if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal pngcairo size 1100,500 noenhanced
set output "$out/oom-demo.png"
set multiplot layout 1,2 title "liballoc + memnotify: a hog needs more than MemAvailable while a service holds 120 MiB of free cache"
set xlabel "seconds"; set ylabel "MiB"; set key top right; set grid; set yrange [0:*]
set title "with memnotify (0 OOM kills)"
plot "$out/run1.dat" u 1:2 w l lw 2 t "service Rss", "" u 1:3 w l lw 2 t "MemAvailable", "" u 1:4 w l lw 2 t "hog Rss"
set title "control: module unloaded, monitor off (OOM kill)"
plot "$out/run2.dat" u 1:2 w l lw 2 t "service Rss", "" u 1:3 w l lw 2 t "MemAvailable", "" u 1:4 w l lw 2 t "hog Rss"
unset multiplot
GP
	echo "plot: $out/oom-demo.png"
else
	echo "gnuplot not found: no plot (data in $out/run1.dat, run2.dat)"
fi
