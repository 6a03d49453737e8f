/* gnuplot through popen (plot.h). Not a drawing library: the scripts are the
 * callers'; this owns the pipe, the temporary PNG and a missing gnuplot. */
#include "plot.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int plot_open(Plot *p, const char *png)
{
    memset(p, 0, sizeof *p);
    if (strchr(png, '\'')) return -1; /* gnuplot's strings are quoted with ' */
    snprintf(p->png, sizeof p->png, "%s", png);
    snprintf(p->tmp, sizeof p->tmp, "%s.tmp.%ld", png, (long)getpid());
    struct sigaction ign = { 0 };
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &p->old_pipe);
    if (!(p->g = popen("gnuplot 2>/dev/null", "w"))) {
        sigaction(SIGPIPE, &p->old_pipe, NULL);
        return -1;
    }
    return 0;
}

int plot_close(Plot *p)
{
    static int told; /* the note about a missing gnuplot, once a process */
    int st = pclose(p->g);
    sigaction(SIGPIPE, &p->old_pipe, NULL);
    if (st == 0 && rename(p->tmp, p->png) == 0) return 1;
    unlink(p->tmp);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !told) {
        told = 1;
        fprintf(stderr, "model: gnuplot is not installed, so no PNG plots (the CSV files have the numbers; "
                        "Debian: apt-get install gnuplot-nox)\n");
    }
    return 0;
}
