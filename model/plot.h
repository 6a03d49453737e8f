/* PNG plots through gnuplot, for train's loss.png, sweep's sweep.png and
 * lr-find's lr.png: the caller writes a gnuplot script whose output is a
 * temporary name, and the PNG is renamed into place only when gnuplot
 * succeeds. A machine without gnuplot gets no PNG, one note on stderr, and
 * the run goes on (SIGPIPE is ignored while the script is written: nobody may
 * be reading the pipe). */
#ifndef PLOT_H
#define PLOT_H

#include <signal.h>
#include <stdio.h>

typedef struct Plot {
    FILE *g;               /* gnuplot's stdin: write the script here */
    char png[4096], tmp[4160]; /* the PNG and its temporary name (the script's 'set output') */
    struct sigaction old_pipe;
    int slot;              /* tmp's in lib's removal on SIGINT/SIGTERM (out_cleanup_add) */
} Plot;

/* Start gnuplot for png; 0, or -1 (no plot: a path gnuplot cannot quote, or no pipe). */
int plot_open(Plot *p, const char *png);
/* Finish: the PNG in place when gnuplot succeeded (1), else nothing left behind (0). */
int plot_close(Plot *p);

#endif
