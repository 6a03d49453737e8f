/* How fast is a JSON Lines line read? jansson (json_loadb, a tree per line,
 * then the "text" member) against lib/json.c's json_doc_scan, on the same
 * lines held in memory, so the figure is parsing alone, without I/O or gzip.
 * Both must extract the same text from every line before anything is timed.
 * usage: json_read FILE.jsonl[.gz] [repeats] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "iofile.h"
#include "json.h"
#include "progress.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: json_read FILE.jsonl[.gz] [repeats]\n");
        return 2;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    Err e;
    InFile *in = in_open(argv[1], (size_t)1 << 30, &e);
    Buf all = { 0 };
    if (!in || in_slurp(in, &all, &e)) {
        err_print("json_read", &e);
        return 1;
    }
    in_close(in);
    /* Line starts, found once, outside the timing. */
    size_t n_lines = 0, cap = 1024;
    size_t *starts = malloc((cap + 1) * sizeof *starts);
    for (size_t i = 0; i < all.len;) {
        char *nl = memchr(all.data + i, '\n', all.len - i);
        size_t end = nl ? (size_t)(nl - all.data) : all.len;
        if (n_lines == cap) starts = realloc(starts, ((cap *= 2) + 1) * sizeof *starts);
        starts[n_lines++] = i;
        i = end + 1;
    }
    starts[n_lines] = all.len + 1;

    /* Agreement first: the same text from every line. */
    Buf text = { 0 };
    for (size_t k = 0; k < n_lines; k++) {
        const char *s = all.data + starts[k];
        size_t len = starts[k + 1] - starts[k] - 1;
        JsonSpan sp;
        const char *why;
        size_t at;
        json_error_t je;
        json_t *j = json_loadb(s, len, 0, &je);
        json_t *t = j ? json_object_get(j, "text") : NULL;
        int ours = json_doc_scan(s, len, "text", 4, &sp, &text, &why, &at);
        if (!t || ours || text.len != json_string_length(t) ||
            memcmp(text.data, json_string_value(t), text.len)) {
            fprintf(stderr, "json_read: %s:%zu: jansson and json_doc_scan disagree\n", argv[1], k + 1);
            return 1;
        }
        json_decref(j);
    }

    double best_j = 1e30, best_o = 1e30;
    uint64_t sink = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = progress_now();
        for (size_t k = 0; k < n_lines; k++) {
            json_error_t je;
            json_t *j = json_loadb(all.data + starts[k], starts[k + 1] - starts[k] - 1, 0, &je);
            sink += json_string_length(json_object_get(j, "text"));
            json_decref(j);
        }
        double t1 = progress_now();
        for (size_t k = 0; k < n_lines; k++) {
            JsonSpan sp;
            const char *why;
            size_t at;
            json_doc_scan(all.data + starts[k], starts[k + 1] - starts[k] - 1, "text", 4, &sp, &text,
                          &why, &at);
            sink += text.len;
        }
        double t2 = progress_now();
        if (t1 - t0 < best_j) best_j = t1 - t0;
        if (t2 - t1 < best_o) best_o = t2 - t1;
    }
    double mb = (double)all.len / 1e6;
    printf("json_read: %s: %.1f MB, %zu lines, best of %d, 1 thread\n", argv[1], mb, n_lines, repeats);
    printf("%-22s %10s %10s %8s\n", "case", "ours_s", "peer_s", "speedup");
    printf("%-22s %10.3f %10.3f %7.1fx\n", "parse+text vs jansson", best_o, best_j, best_j / best_o);
    printf("ours %.0f MB/s, jansson %.0f MB/s (checksum %llu)\n", mb / best_o, mb / best_j,
           (unsigned long long)(sink & 0xff));
    buf_free(&text);
    buf_free(&all);
    free(starts);
    return 0;
}
