/* gnuplot through popen (plot.h). Not a drawing library: the scripts are the
 * callers'; this owns the pipe, the temporary PNG and a missing gnuplot. */
#include "plot.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iofile.h"

int plot_open(Plot *p, const char *png)
{
    memset(p, 0, sizeof *p);
    if (strchr(png, '\'')) return -1; /* gnuplot's strings are quoted with ' */
    snprintf(p->png, sizeof p->png, "%s", png);
    snprintf(p->tmp, sizeof p->tmp, "%s.tmp.%ld", png, (long)getpid());
    p->slot = -1;
    struct sigaction ign = { 0 };
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &p->old_pipe);
    if (!(p->g = popen("gnuplot 2>/dev/null", "w"))) {
        sigaction(SIGPIPE, &p->old_pipe, NULL);
        return -1;
    }
    /* Ctrl-C stops gnuplot too (one process group), and its half-written
     * PNG would stay: the signal handler removes it with our own files. */
    p->slot = out_cleanup_add(p->tmp);
    return 0;
}

int plot_close(Plot *p)
{
    static int told; /* the note about a missing gnuplot, once a process */
    int st = pclose(p->g);
    sigaction(SIGPIPE, &p->old_pipe, NULL);
    int done = st == 0 && rename(p->tmp, p->png) == 0;
    if (!done) unlink(p->tmp);
    out_cleanup_drop(p->slot);
    if (done) return 1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !told) {
        told = 1;
        fprintf(stderr, "model: gnuplot is not installed, so no PNG plots (the CSV files have the numbers; "
                        "Debian: apt-get install gnuplot-nox)\n");
    }
    return 0;
}
