/* model/rundir.c: a checkpoint header through its JSON and back (every field
 * by the strict reader a resume uses, the few the lenient one reads for
 * sample, eval and export), corrupt headers named at the JSON's offset, and a
 * run folder: saves that move RUN/latest and prune to --keep, the checkpoint a
 * save wrote read back whole, the leftovers of an interrupted save removed,
 * and a latest that names no checkpoint refused with the file and line. */
#include <stdio.h>
#include <sys/stat.h>

#include "check.h"
#include "../../model/ckpt.h"
#include "../../model/rundir.h"
#include "lib/testutil.h"

/* A header with no field at its default, so a field lost on the way shows. */
static RunHeader some_header(void)
{
    RunHeader h = { .cfg = { .n_layer = 2, .n_embd = 32, .n_head = 2, .n_mlp = 96, .vocab_size = 300, .context = 16 },
                    .eot_id = 299, .T = 16, .B = 4, .accum = 3, .best_fit = 1,
                    .step = 7, .tokens = 7 * 192, .epoch = 2, .index = 5 };
    train_opts_init(&h.o);
    snprintf(h.data_dir, sizeof h.data_dir, "/data/packed \"run\"");
    h.o.steps = 100;
    h.o.lr = 3.25e-3;
    h.o.schedule = SCHED_WSD;
    h.o.min_frac = 0.05;
    h.o.decay_frac = 0.3;
    h.o.dropout = 0.125;
    h.o.warmup = 6;
    h.o.adam = (AdamOpts){ 0.8f, 0.99f, 1e-7f, 0.05f, 0.5f };
    h.o.eval_every = 9;
    h.o.eval_batches = 11;
    h.o.ckpt_every = 18;
    h.o.keep = 3;
    h.o.seed = 4242;
    Err e;
    gpt_config_check(&h.cfg, &e); /* padded_vocab, as a parsed header has it */
    return h;
}

static void header_round_trip(void)
{
    RunHeader h = some_header();
    char *json = rundir_header_json(&h);
    CHECK(json != NULL);
    if (!json) return;
    RunHeader b = { 0 };
    Err e = { { 0 } };
    CHECK_INT(0, rundir_header_parse(&b, json, "x.bin", &e));
    CHECK_INT(h.cfg.n_layer, b.cfg.n_layer);
    CHECK_INT(h.cfg.n_embd, b.cfg.n_embd);
    CHECK_INT(h.cfg.n_head, b.cfg.n_head);
    CHECK_INT(h.cfg.n_mlp, b.cfg.n_mlp);
    CHECK_INT(h.cfg.vocab_size, b.cfg.vocab_size);
    CHECK_INT(h.cfg.padded_vocab, b.cfg.padded_vocab);
    CHECK_INT(16, b.cfg.context);
    CHECK_INT(299, b.eot_id);
    CHECK_INT(16, b.T);
    CHECK_INT(4, b.B);
    CHECK_INT(3, b.accum);
    CHECK_INT(1, b.best_fit);
    CHECK_STR(h.data_dir, b.data_dir);
    CHECK_INT(100, b.o.steps);
    CHECK(b.o.lr == h.o.lr);
    CHECK_INT(SCHED_WSD, b.o.schedule);
    CHECK(b.o.min_frac == h.o.min_frac && b.o.decay_frac == h.o.decay_frac && b.o.dropout == h.o.dropout);
    CHECK_INT(6, b.o.warmup);
    CHECK(b.o.adam.beta1 == h.o.adam.beta1 && b.o.adam.beta2 == h.o.adam.beta2 && b.o.adam.eps == h.o.adam.eps);
    CHECK(b.o.adam.weight_decay == h.o.adam.weight_decay && b.o.adam.clip == h.o.adam.clip);
    CHECK_INT(9, b.o.eval_every);
    CHECK_INT(11, b.o.eval_batches);
    CHECK_INT(18, b.o.ckpt_every);
    CHECK_INT(3, b.o.keep);
    CHECK_INT(4242, b.o.seed);
    CHECK_INT(7, b.step);
    CHECK_INT(7 * 192, b.tokens);
    CHECK_INT(2, b.epoch);
    CHECK_INT(5, b.index);
    /* and the same text again: nothing was rounded */
    char *again = rundir_header_json(&b);
    CHECK_STR(json, again);
    free(again);

    /* the lenient reader: the shape and the few fields sample, eval and export use */
    RunHeader p;
    CHECK_INT(0, rundir_header_peek(&p, json, "x.bin", &e));
    CHECK_INT(2, p.cfg.n_layer);
    CHECK_INT(h.cfg.padded_vocab, p.cfg.padded_vocab);
    CHECK_INT(16, p.T);
    CHECK_INT(299, p.eot_id);
    CHECK_INT(4, p.B);
    CHECK_INT(11, p.o.eval_batches);
    CHECK_INT(1, p.best_fit);
    CHECK_INT(7, p.step);
    CHECK_INT(0, p.o.steps); /* not read */
    free(json);
}

static void header_errors(void)
{
    char off[32];
    snprintf(off, sizeof off, "x.bin: offset %d: ", CKPT_HEAD_BYTES);
    RunHeader b;
    Err e = { { 0 } };
    CHECK_INT(-1, rundir_header_parse(&b, "{not json", "x.bin", &e));
    CHECK_HAS(off, e.msg);
    CHECK_HAS("bad checkpoint header", e.msg);
    CHECK_INT(-1, rundir_header_peek(&b, "{not json", "x.bin", &e));
    CHECK_HAS(off, e.msg);

    /* a header of only the shape, with a field of a newer trainer: fine for
     * the lenient reader (defaults for the rest), corrupt for a resume */
    const char *few = "{\"config\": {\"layers\": 2, \"width\": 32, \"heads\": 2, \"mlp\": 96, \"vocab_size\": 300,"
                      " \"eot_id\": 300, \"context\": 16}, \"future\": 1}";
    CHECK_INT(0, rundir_header_peek(&b, few, "x.bin", &e));
    CHECK_INT(-1, b.eot_id); /* outside the vocabulary: none */
    CHECK_INT(8, b.B);
    CHECK_INT(20, b.o.eval_batches);
    CHECK_INT(0, b.step);
    CHECK_INT(-1, rundir_header_parse(&b, few, "x.bin", &e));
    CHECK_HAS(off, e.msg);

    /* an impossible shape (width 32 over 3 heads) */
    const char *odd = "{\"config\": {\"layers\": 2, \"width\": 32, \"heads\": 3, \"mlp\": 96, \"vocab_size\": 300,"
                      " \"eot_id\": 0, \"context\": 16}}";
    CHECK_INT(-1, rundir_header_peek(&b, odd, "x.bin", &e));
    CHECK_HAS("impossible shape (2 layers, width 32, 3 heads", e.msg);

    /* settings that do not fit together: batch_tokens is micro_batch x context x accum */
    RunHeader h = some_header();
    char *json = rundir_header_json(&h);
    char *bt = json ? strstr(json, "\"batch_tokens\": 192") : NULL;
    CHECK(bt != NULL);
    if (bt) {
        bt[strlen("\"batch_tokens\": 19")] = '3';
        CHECK_INT(-1, rundir_header_parse(&b, json, "x.bin", &e));
        CHECK_HAS("inconsistent settings", e.msg);
    }
    free(json);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void folder(void)
{
    char dir[256], path[512], name[512];
    snprintf(dir, sizeof dir, "%s", scratch("run"));
    Err e = { { 0 } };
    CHECK_INT(0, rundir_create(dir, &e));
    CHECK_INT(0, rundir_create(dir, &e)); /* there already: fine */
    CHECK_INT(0, rundir_check(dir, &e));
    uint64_t step = 99;
    CHECK_INT(-1, rundir_latest(dir, path, sizeof path, &step, &e));
    CHECK_HAS("/latest: cannot open", e.msg);

    enum { N = 37 };
    float params[N], m[N], v[N];
    RunHeader h = some_header();
    h.o.keep = 2;
    for (uint64_t s = 1; s <= 4; s++) {
        for (int i = 0; i < N; i++) {
            params[i] = (float)(s * 100 + i);
            m[i] = -(float)i;
            v[i] = 0.5f * (float)i;
        }
        h.step = s;
        CHECK_INT(0, rundir_save(dir, &h, params, m, v, N, &e));
        CHECK_INT(0, rundir_latest(dir, path, sizeof path, &step, &e));
        CHECK_INT(s, step);
        snprintf(name, sizeof name, "%s/ckpt-%06d.bin", dir, (int)s);
        CHECK_STR(name, path);
    }
    char *latest = read_file(rundir_latest_path(name, sizeof name, dir), NULL);
    CHECK_STR("ckpt-000004.bin\n", latest);
    free(latest);
    /* --keep 2: the two newest are left */
    for (int s = 1; s <= 4; s++) {
        snprintf(name, sizeof name, "%s/ckpt-%06d.bin", dir, s);
        CHECK_INT(s >= 3, exists(name));
    }

    /* the newest read back: its header and its three arrays */
    CkptFile ck;
    CHECK_INT(0, ckpt_open(&ck, path, &e));
    RunHeader b = { 0 };
    CHECK_INT(0, rundir_header_parse(&b, ck.json, path, &e));
    CHECK_INT(4, b.step);
    CHECK_INT(N, ck.n_params);
    float p2[N], m2[N], v2[N];
    CHECK_INT(0, ckpt_read(&ck, p2, m2, v2, &e));
    CHECK(!memcmp(params, p2, sizeof p2) && !memcmp(m, m2, sizeof m2) && !memcmp(v, v2, sizeof v2));
    ckpt_close(&ck);

    /* what a save killed halfway leaves is removed; the checkpoints stay */
    snprintf(name, sizeof name, "%s/ckpt-000005.bin.tmp.12345", dir);
    write_file(name, "half", 4);
    rundir_remove_stale(dir);
    CHECK(!exists(name));
    snprintf(name, sizeof name, "%s/ckpt-000004.bin", dir);
    CHECK(exists(name));

    /* a latest that names no checkpoint */
    snprintf(name, sizeof name, "%s/latest", dir);
    write_file(name, "ckpt-000004.bin.bak\n", 20);
    CHECK_INT(-1, rundir_latest(dir, path, sizeof path, NULL, &e));
    CHECK_HAS("/latest:1: does not name a checkpoint (ckpt-STEP.bin)", e.msg);

    /* not a folder */
    CHECK_INT(-1, rundir_check(name, &e));
    CHECK_HAS("not a run folder", e.msg);
    CHECK_INT(-1, rundir_check(scratch("nothing"), &e));
    CHECK_HAS("nothing: cannot open the run folder", e.msg);
}

int main(void)
{
    header_round_trip();
    header_errors();
    folder();
    scratch_cleanup();
    return check_done("test_rundir");
}
