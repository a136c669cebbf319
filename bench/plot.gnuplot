# Bar chart of MiB/s per tool, clustered by scenario.
# usage: gnuplot -e "datafile='summary-chart.tsv'; outfile='x.png'; ncols=3" bench/plot.gnuplot
# datafile: header "tool<TAB>scenario...", one row per tool, NaN = n/a or FAIL.
if (!exists("datafile")) datafile = 'summary-chart.tsv'
if (!exists("outfile")) outfile = 'bench-download.png'
if (!exists("ncols")) ncols = 3
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1000,560 font "Sans,10"
} else {
    set terminal png size 1000,560
}
set output outfile
set datafile separator "\t"
set datafile missing "NaN"
set title "Download Atlas bench: throughput on loopback (correct results only)"
set ylabel "MiB/s (higher is better)"
set yrange [0:*]
set grid ytics
set key outside right top
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -20
plot for [i=2:ncols+1] datafile using i:xtic(1) title columnheader(i)
