/* dedup decontam on planted evaluation passages: the exact span cut (the
 * 13-gram plus 200 characters each side, words matched without case or
 * punctuation), short pieces dropped and written to --removed, the over-split
 * document dropped whole, a frequent 13-gram ignored, and the counts. */
#include <stdlib.h>

#include "../../dedup/dedup.h"
#include "check.h"
#include "lib/testutil.h"

static const char *gram13 = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike";
static const char *planted = "Alpha, BRAVO! charlie delta echo foxtrot golf (hotel) india juliet kilo lima mike";
static const char *count13 = "one two three four five six seven eight nine ten eleven twelve thirteen";

/* n characters of filler words that hold no evaluation gram. */
static void filler(char *out, size_t n, int salt)
{
    size_t k = 0;
    for (int w = 0; k < n; w++) {
        char word[32];
        int l = snprintf(word, sizeof word, "w%dx%d ", salt, w);
        for (int i = 0; i < l && k < n; i++) out[k++] = word[i];
    }
    out[n] = 0;
}

static DecontamCounts run(DecontamOpts *o, const char *train, char **out, char **rej, char **rem)
{
    const char *tp = scratch("train.jsonl"), *op = scratch("out.jsonl"), *rp = scratch("rej.jsonl"),
               *mp = scratch("rem.jsonl");
    write_file(tp, train, strlen(train));
    o->out = op;
    o->rejects = rp;
    o->removed = mp;
    o->common.progress = PROGRESS_QUIET;
    DecontamCounts c;
    Err e = { { 0 } };
    if (decontam_run(o, &tp, 1, &c, &e)) fprintf(stderr, "decontam_run: %s\n", e.msg);
    *out = read_file(op, NULL);
    *rej = read_file(rp, NULL);
    *rem = read_file(mp, NULL);
    return c;
}

int main(void)
{
    /* scratch() names live in a ring of 8: keep copies */
    char *e1 = strdup(scratch("eval1.jsonl")), *e2 = strdup(scratch("eval2.jsonl"));
    char line[1024];
    snprintf(line, sizeof line, "{\"text\":\"%s november oscar\"}\n", gram13);
    write_file(e1, line, strlen(line));
    snprintf(line, sizeof line, "{\"text\":\"%s\"}\n", count13);
    write_file(e2, line, strlen(line));
    const char *evals[] = { e1, e2 };
    DecontamOpts o = { .evals = evals, .n_evals = 2, .gram = 13, .window = 200, .min_piece = 200,
                       .max_pieces = 10, .max_doc_freq = 10 };

    static char train[65536], f500[600], g250[300], t1[2048], piece[600], span[800];
    filler(f500, 500, 1);
    filler(g250, 250, 2);
    /* doc 1: one hit; the piece before is 300 characters (kept), the one after 51 (dropped) */
    snprintf(t1, sizeof t1, "%s%s %s", f500, planted, g250);
    size_t at = (size_t)(strstr(t1, "Alpha") - t1), end = (size_t)(strstr(t1, "mike") - t1) + 4;
    snprintf(piece, sizeof piece, "%.*s", (int)(at - 200), t1);
    snprintf(span, sizeof span, "%.*s", (int)(end + 200 - (at - 200)), t1 + at - 200);
    size_t len = (size_t)snprintf(train, sizeof train, "{\"text\":\"%s\",\"id\":1}\n", t1);
    /* doc 2: eleven hits 450 characters apart: a piece before each (the last hit
     * reaches the end), eleven, more than 10: dropped whole */
    len += (size_t)snprintf(train + len, sizeof train - len, "{\"text\":\"");
    for (int h = 0; h < 11; h++) {
        char f[460];
        filler(f, 450, 10 + h);
        len += (size_t)snprintf(train + len, sizeof train - len, "%s %s ", f, gram13);
    }
    len += (size_t)snprintf(train + len, sizeof train - len, "x\",\"id\":2}\n");
    /* doc 3: no hit */
    len += (size_t)snprintf(train + len, sizeof train - len, "{\"text\":\"%s\",\"id\":3}\n", f500);
    /* doc 4: a hit with little around it: no piece long enough */
    len += (size_t)snprintf(train + len, sizeof train - len, "{\"text\":\"before %s after\",\"id\":4}\n", gram13);
    /* docs 5..15: eval set 2's 13-gram in eleven documents: more than --max-doc-freq 10 */
    for (int d = 5; d <= 15; d++)
        len += (size_t)snprintf(train + len, sizeof train - len, "{\"text\":\"%s %s\",\"id\":%d}\n", f500, count13, d);

    char *out, *rej, *rem;
    DecontamCounts c = run(&o, train, &out, &rej, &rem);
    CHECK(out && rej && rem);
    if (!out || !rej || !rem) return check_done("test_decontam");
    CHECK_INT(15, c.in);
    CHECK_INT(12, c.kept); /* doc 3 and docs 5..15 */
    CHECK_INT(1, c.cut);
    CHECK_INT(1, c.pieces);
    CHECK_INT(2, c.dropped);
    CHECK_INT(1, c.over_split);
    CHECK_INT(1, c.too_short);
    CHECK_INT(c.in, c.kept + c.cut + c.dropped);
    CHECK_INT(3, c.touched[0]); /* docs 1, 2, 4 */
    CHECK_INT(0, c.touched[1]); /* its only gram is frequent: ignored */
    CHECK_INT(1, c.frequent_grams);
    CHECK_INT(4, c.eval_grams); /* three from set 1, one from set 2 */
    char want[1024];
    snprintf(want, sizeof want, "{\"text\":\"%s\",\"id\":1,\"decontam_piece\":1}\n", piece);
    CHECK_MEM(want, out, strlen(want));
    CHECK_INT(300, strlen(piece));
    snprintf(want, sizeof want, "{\"text\":\"%s\",\"doc\":\"%s:1\",\"removed\":\"match\",\"eval\":\"%s\"}\n",
             span, scratch("train.jsonl"), e1);
    CHECK_MEM(want, rem, strlen(want));
    snprintf(want, sizeof want, "{\"text\":\"%s\",\"doc\":\"%s:1\",\"removed\":\"short\"}\n",
             t1 + end + 200, scratch("train.jsonl"));
    CHECK_HAS(want, rem);
    CHECK_INT(51, strlen(t1 + end + 200));
    CHECK_HAS("\"id\":2,\"dedup_reason\":\"decontam\"", rej);
    CHECK_HAS("\"decontam_why\":\"over-split\",\"decontam_pieces\":11}", rej);
    CHECK_HAS("\"id\":4,\"dedup_reason\":\"decontam\"", rej);
    CHECK_HAS("\"decontam_why\":\"no-long-piece\"", rej);
    CHECK_HAS("\"id\":3}", out);
    CHECK_HAS("\"id\":15}", out);
    free(out), free(rej), free(rem);

    /* the same gram in at most --max-doc-freq documents counts: all eleven are cut */
    o.max_doc_freq = 11;
    decontam_counts_free(&c);
    c = run(&o, train, &out, &rej, &rem);
    CHECK_INT(11, c.touched[1]);
    CHECK_INT(0, c.frequent_grams);
    CHECK_INT(12, c.cut);
    CHECK_INT(1, c.kept);
    free(out), free(rej), free(rem);
    /* and with no limit (one pass) too */
    o.max_doc_freq = 0;
    decontam_counts_free(&c);
    c = run(&o, train, &out, &rej, &rem);
    CHECK_INT(12, c.cut);
    free(out), free(rej), free(rem);
    decontam_counts_free(&c);

    /* a missing evaluation file: an error, and no output left */
    const char *missing = scratch("nope.jsonl");
    o.evals = &missing;
    o.n_evals = 1;
    Err e = { { 0 } };
    const char *tp = scratch("train.jsonl");
    o.out = scratch("never.jsonl");
    o.rejects = o.removed = NULL;
    CHECK_INT(-1, decontam_run(&o, &tp, 1, &c, &e));
    CHECK_HAS("nope.jsonl", e.msg);
    CHECK(!file_or_temp_exists(o.out));
    decontam_counts_free(&c);
    free(e1), free(e2);
    scratch_cleanup();
    return check_done("test_decontam");
}
