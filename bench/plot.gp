# bench/plot.gp — one bar chart per benchmark group, called by bench/run.sh:
#   gnuplot -e "datafile='X.dat'; outfile='X.png'; chart_title='...'" plot.gp
# X.dat: "label" bh_median bh_min bh_max qemu_median qemu_min qemu_max
# Bars are medians, whiskers min..max. Each group shares one unit, so one axis.
set terminal pngcairo size 900,480 noenhanced font ",10"
set output outfile
set title chart_title
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key top left
set xtics noenhanced
plot datafile using 2:3:4:xtic(1) title "bulkhead" lc rgb "#1f77b4", \
     '' using 5:6:7 title "QEMU microvm" lc rgb "#ff7f0e"
