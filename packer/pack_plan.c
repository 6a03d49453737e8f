/* The plan: which documents go to validation, how many passes over each
 * source the weights ask for, the seeded order of everything, and best-fit
 * decreasing packing into windows. Works on document offsets only; reading and
 * writing tokens is pack_source.c's and packer.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pack_internal.h"

/* ---- random numbers: xoshiro256** seeded through splitmix64 ---- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_init(Rng *r, uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b)
{
    uint64_t x = mix64(mix64(mix64(mix64(seed) ^ purpose) ^ a) ^ b);
    for (int i = 0; i < 4; i++) r->s[i] = x = mix64(x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(Rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Lemire's multiply-and-reject: unbiased for every n. */
uint64_t rng_below(Rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t floor = -n % n;
        while (low < floor) {
            m = (unsigned __int128)rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void rng_shuffle(Rng *r, uint64_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        uint64_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* ---- the plan ---- */

/* One source's training documents as a stream: epoch after epoch, each a
 * fresh seeded permutation of the pool, so that no document comes back before
 * every other one of its source has had its turn. */
typedef struct Stream {
    const uint64_t *pool; /* the documents left for training, in pool order */
    uint64_t n_pool;
    uint64_t *perm;       /* this epoch's order */
    uint64_t epoch, pos;
    size_t src;
} Stream;

static void stream_epoch(Stream *st, const PackOpts *o)
{
    memcpy(st->perm, st->pool, st->n_pool * sizeof *st->perm);
    if (!o->no_shuffle) {
        Rng r;
        rng_init(&r, o->seed, RNG_EPOCH, st->src, st->epoch);
        rng_shuffle(&r, st->perm, st->n_pool);
    }
    st->pos = 0;
}

static uint64_t stream_next(Stream *st, const PackOpts *o)
{
    if (st->pos == st->n_pool) {
        st->epoch++;
        stream_epoch(st, o);
    }
    return st->perm[st->pos++];
}

int pack_plan(const Source *src, size_t n_src, const PackOpts *o, Plan *plan,
              PackSourceReport *rep, Err *e)
{
    memset(plan, 0, sizeof *plan);
    int rc = -1;
    uint64_t **perm = calloc(n_src, sizeof *perm);
    Stream *st = calloc(n_src, sizeof *st);
    if (!perm || !st) {
        err_set(e, "out of memory");
        goto out;
    }
    uint64_t all_tokens = 0, all_docs = 0;
    for (size_t s = 0; s < n_src; s++) {
        all_tokens += src[s].off[src[s].n_docs];
        all_docs += src[s].n_docs;
    }
    /* It moved every document but one of each source to validation, silently. */
    if (o->val_by_tokens && all_tokens && o->val_tokens >= all_tokens) {
        err_set(e, "--val-tokens %llu is not less than all the inputs hold (%llu tokens in %llu documents): "
                   "nothing would be left to train on; give fewer",
                (unsigned long long)o->val_tokens, (unsigned long long)all_tokens, (unsigned long long)all_docs);
        goto out;
    }

    /* Validation first, from the front of each source's seeded permutation;
     * the rest is the training pool. */
    for (size_t s = 0; s < n_src; s++) {
        const Source *x = &src[s];
        PackSourceReport *r = &rep[s];
        r->docs_in = x->n_docs;
        r->tokens_in = x->off[x->n_docs];
        r->store = x->store;
        if (!(perm[s] = malloc((x->n_docs ? x->n_docs : 1) * sizeof **perm))) {
            err_set(e, "out of memory for %llu documents", (unsigned long long)x->n_docs);
            goto out;
        }
        for (uint64_t d = 0; d < x->n_docs; d++) {
            perm[s][d] = d;
            if (doc_tokens(x, d) > r->max_doc_tokens) r->max_doc_tokens = doc_tokens(x, d);
        }
        if (!o->no_shuffle) {
            Rng rg;
            rng_init(&rg, o->seed, RNG_VAL_SPLIT, s, 0);
            rng_shuffle(&rg, perm[s], x->n_docs);
        }
        double want = o->val_by_tokens
                          ? (all_tokens ? (double)o->val_tokens * (double)r->tokens_in / (double)all_tokens : 0)
                          : o->val_frac * (double)r->tokens_in;
        /* Stop at the target (overshooting by less than one document), and
         * always leave one document to train on. */
        while ((double)r->val_tokens < want && r->val_docs + 1 < x->n_docs) {
            r->val_tokens += doc_tokens(x, perm[s][r->val_docs]);
            r->val_docs++;
        }
        r->pool_docs = x->n_docs - r->val_docs;
        r->pool_tokens = r->tokens_in - r->val_tokens;
        if ((double)r->val_tokens < want && r->val_docs) { /* the last document kept it short */
            Err w;
            err_set(&w, "warning: %s: validation takes %llu of its %llu documents (%llu of %llu tokens, short of "
                        "the %.0f asked), leaving one to train on", r->name,
                    (unsigned long long)r->val_docs, (unsigned long long)x->n_docs,
                    (unsigned long long)r->val_tokens, (unsigned long long)r->tokens_in, want);
            err_warn(&w);
        }
    }

    /* Targets: shares of --tokens by weight (by size when no weights), or
     * every pool once. */
    double weight_sum = 0;
    for (size_t s = 0; s < n_src; s++) {
        const PackInput *in = &o->inputs[s];
        rep[s].weight = in->has_weight ? in->weight : 1.0;
        weight_sum += in->has_weight ? in->weight : (double)rep[s].pool_tokens;
    }
    if (o->total_tokens && !(weight_sum > 0)) {
        err_set(e, "the weights sum to zero (or every source is empty): nothing to pack");
        goto out;
    }
    size_t n_train = 0;
    for (size_t s = 0; s < n_src; s++) {
        PackSourceReport *r = &rep[s];
        const Source *x = &src[s];
        if (o->total_tokens) {
            double w = o->inputs[s].has_weight ? o->inputs[s].weight : (double)r->pool_tokens;
            r->target_tokens = (uint64_t)llround((double)o->total_tokens * w / weight_sum);
        } else {
            r->target_tokens = r->pool_tokens;
        }
        st[s].src = s;
        st[s].pool = perm[s] + r->val_docs;
        st[s].n_pool = r->pool_docs;
        if (!r->target_tokens) continue;
        if (!r->pool_docs) {
            err_set(e, "%s: no documents left for training, but its share is %llu tokens",
                    err_name(x->path), (unsigned long long)r->target_tokens);
            goto out;
        }
        if (!(st[s].perm = malloc(r->pool_docs * sizeof *st[s].perm))) {
            err_set(e, "out of memory for %llu documents", (unsigned long long)r->pool_docs);
            goto out;
        }
        r->full_epochs = r->target_tokens / r->pool_tokens;
        uint64_t rem = r->target_tokens - r->full_epochs * r->pool_tokens;
        r->train_docs = r->full_epochs * r->pool_docs;
        r->train_tokens = r->full_epochs * r->pool_tokens;
        /* The fractional part: the front of the next epoch's permutation, a
         * document taken while that brings the total nearer the target, so
         * the share ends within half a document of it. */
        st[s].epoch = r->full_epochs;
        stream_epoch(&st[s], o);
        uint64_t got = 0;
        for (uint64_t i = 0; i < r->pool_docs && got < rem; i++) {
            uint64_t t = doc_tokens(x, st[s].perm[i]);
            if (2 * (rem - got) <= t) break;
            got += t;
            r->train_docs++;
        }
        r->train_tokens += got;
        st[s].epoch = 0;
        stream_epoch(&st[s], o);
        r->epochs = (double)r->train_tokens / (double)r->pool_tokens;
        n_train += r->train_docs;
    }

    if (!(plan->train = malloc((n_train ? n_train : 1) * sizeof *plan->train))) {
        err_set(e, "out of memory for a plan of %zu documents", n_train);
        goto out;
    }
    plan->n_train = n_train;
    /* Interleave: a shuffled sequence of source labels, each label then taking
     * its source's next document, so every stretch of the output has the mix. */
    size_t at = 0;
    for (size_t s = 0; s < n_src; s++)
        for (uint64_t i = 0; i < rep[s].train_docs; i++) plan->train[at++] = s;
    if (!o->no_shuffle) {
        Rng rg;
        rng_init(&rg, o->seed, RNG_INTERLEAVE, 0, 0);
        rng_shuffle(&rg, plan->train, n_train);
    }
    for (size_t i = 0; i < n_train; i++) {
        size_t s = (size_t)plan->train[i];
        plan->train[i] = PACK_ENTRY(s, stream_next(&st[s], o));
    }

    size_t n_val = 0;
    for (size_t s = 0; s < n_src; s++) n_val += rep[s].val_docs;
    if (!(plan->val = malloc((n_val ? n_val : 1) * sizeof *plan->val))) {
        err_set(e, "out of memory for a plan of %zu documents", n_val);
        goto out;
    }
    plan->n_val = n_val;
    at = 0;
    for (size_t s = 0; s < n_src; s++)
        for (uint64_t i = 0; i < rep[s].val_docs; i++) plan->val[at++] = PACK_ENTRY(s, perm[s][i]);
    if (!o->no_shuffle) {
        Rng rg;
        rng_init(&rg, o->seed, RNG_VAL_ORDER, 0, 0);
        rng_shuffle(&rg, plan->val, n_val);
    }
    rc = 0;
out:
    for (size_t s = 0; perm && s < n_src; s++) free(perm[s]);
    for (size_t s = 0; st && s < n_src; s++) free(st[s].perm);
    free(perm);
    free(st);
    if (rc) pack_plan_free(plan);
    return rc;
}

void pack_plan_free(Plan *plan)
{
    free(plan->train);
    free(plan->val);
    memset(plan, 0, sizeof *plan);
}

/* ---- best-fit decreasing ---- */

#define NONE UINT64_MAX

/* Open windows by the room left in them: a stack of windows for each room
 * r in [1, W), and a two-level bitmap of the non-empty stacks, so that "the
 * least room that still holds z tokens" is a few word scans. */
typedef struct Rooms {
    uint64_t *head;  /* W entries: top window of stack r, or NONE */
    uint64_t *l0, *l1;
    size_t n_l0, n_l1;
} Rooms;

static void rooms_mark(Rooms *m, uint32_t r, int on)
{
    if (on) {
        m->l0[r >> 6] |= 1ull << (r & 63);
        m->l1[r >> 12] |= 1ull << ((r >> 6) & 63);
    } else {
        m->l0[r >> 6] &= ~(1ull << (r & 63));
        if (!m->l0[r >> 6]) m->l1[r >> 12] &= ~(1ull << ((r >> 6) & 63));
    }
}

/* The least r >= z with a non-empty stack, or 0 when there is none. */
static uint32_t rooms_find(const Rooms *m, uint32_t z)
{
    size_t w = z >> 6;
    uint64_t bits = m->l0[w] & (~0ull << (z & 63));
    if (bits) return (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
    size_t w1 = (w + 1) >> 6;
    if (w1 >= m->n_l1) return 0;
    uint64_t b1 = m->l1[w1] & (((w + 1) & 63) ? (~0ull << ((w + 1) & 63)) : ~0ull);
    for (;;) {
        if (b1) {
            size_t w0 = w1 * 64 + (size_t)__builtin_ctzll(b1);
            return (uint32_t)(w0 * 64 + (size_t)__builtin_ctzll(m->l0[w0]));
        }
        if (++w1 >= m->n_l1) return 0;
        b1 = m->l1[w1];
    }
}

int pack_best_fit(const Source *src, const uint64_t *entries, size_t n, uint32_t window,
                  uint64_t seed, uint64_t purpose, int no_shuffle, Windows *w, Err *e)
{
    memset(w, 0, sizeof *w);
    const uint64_t W = window;
    /* Pieces: a document of n ids that fits (n + 1 <= W, with its leading
     * end-of-text) is one piece. A longer one is cut from its start into a
     * full window (end-of-text + W - 1 ids), then full windows of W ids, then a
     * tail, which gets an end-of-text in front of it like a document. */
    size_t n_pieces = 0;
    for (size_t i = 0; i < n; i++) {
        const Source *x = &src[PACK_ENTRY_SRC(entries[i])];
        uint64_t ids = doc_tokens(x, PACK_ENTRY_DOC(entries[i])) - 1;
        if (ids + 1 <= W) {
            n_pieces++;
            continue;
        }
        uint64_t r = ids - (W - 1);
        n_pieces += 1 + r / W + (r % W ? 1 : 0);
        w->n_split++;
    }
    int rc = -1;
    Piece *pc = malloc((n_pieces ? n_pieces : 1) * sizeof *pc);
    uint64_t *order = malloc((n_pieces ? n_pieces : 1) * sizeof *order);
    uint64_t *bin_of = malloc((n_pieces ? n_pieces : 1) * sizeof *bin_of);
    uint64_t *count = calloc(W + 1, sizeof *count);
    uint64_t *next = malloc((n_pieces ? n_pieces : 1) * sizeof *next);
    uint32_t *room = malloc((n_pieces ? n_pieces : 1) * sizeof *room);
    uint64_t *bin_pos = NULL, *fill = NULL;
    Rooms m = { 0 };
    m.n_l0 = (size_t)(W >> 6) + 1;
    m.n_l1 = (m.n_l0 >> 6) + 1;
    m.head = malloc(W * sizeof *m.head);
    m.l0 = calloc(m.n_l0, sizeof *m.l0);
    m.l1 = calloc(m.n_l1, sizeof *m.l1);
    if (!pc || !order || !bin_of || !count || !next || !room || !m.head || !m.l0 || !m.l1) {
        err_set(e, "out of memory for %zu best-fit pieces", n_pieces);
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const Source *x = &src[PACK_ENTRY_SRC(entries[i])];
        uint64_t ids = doc_tokens(x, PACK_ENTRY_DOC(entries[i])) - 1;
        if (ids + 1 <= W) {
            pc[k++] = (Piece){ entries[i], 0, (uint32_t)ids, 1 };
            continue;
        }
        pc[k++] = (Piece){ entries[i], 0, (uint32_t)(W - 1), 1 };
        uint64_t at = W - 1;
        for (; ids - at >= W; at += W) pc[k++] = (Piece){ entries[i], at, (uint32_t)W, 0 };
        if (ids > at) pc[k++] = (Piece){ entries[i], at, (uint32_t)(ids - at), 1 };
    }
    /* Decreasing size, ties in plan order: a stable counting sort. */
    for (size_t i = 0; i < n_pieces; i++) count[pc[i].n_ids + pc[i].eot_first]++;
    uint64_t sum = 0;
    for (uint64_t z = W; z >= 1; z--) {
        uint64_t c = count[z];
        count[z] = sum;
        sum += c;
    }
    for (size_t i = 0; i < n_pieces; i++) order[count[pc[i].n_ids + pc[i].eot_first]++] = i;

    for (uint64_t r = 0; r < W; r++) m.head[r] = NONE;
    uint64_t n_bins = 0;
    for (size_t i = 0; i < n_pieces; i++) {
        const Piece *p = &pc[order[i]];
        uint32_t z = p->n_ids + p->eot_first;
        uint32_t r = z < W ? rooms_find(&m, z) : 0;
        uint64_t b;
        if (r) { /* the fullest window that still has room */
            b = m.head[r];
            m.head[r] = next[b];
            if (m.head[r] == NONE) rooms_mark(&m, r, 0);
        } else {
            b = n_bins++;
            r = (uint32_t)W;
        }
        bin_of[order[i]] = b;
        room[b] = r - z;
        if (room[b]) {
            next[b] = m.head[room[b]];
            if (next[b] == NONE) rooms_mark(&m, room[b], 1);
            m.head[room[b]] = b;
        }
    }

    /* Windows in shuffled order, each holding its pieces in the order they
     * were placed (largest first). */
    uint64_t *win = malloc((n_bins ? n_bins : 1) * sizeof *win);
    bin_pos = malloc((n_bins + 1) * sizeof *bin_pos);
    fill = calloc(n_bins + 1, sizeof *fill);
    w->first = malloc((n_bins + 1) * sizeof *w->first);
    w->pieces = malloc((n_pieces ? n_pieces : 1) * sizeof *w->pieces);
    if (!win || !bin_pos || !fill || !w->first || !w->pieces) {
        free(win);
        err_set(e, "out of memory for %llu windows", (unsigned long long)n_bins);
        goto out;
    }
    for (uint64_t b = 0; b < n_bins; b++) win[b] = b;
    if (!no_shuffle) {
        Rng rg;
        rng_init(&rg, seed, RNG_WINDOWS, purpose, 0);
        rng_shuffle(&rg, win, n_bins);
    }
    for (size_t i = 0; i < n_pieces; i++) fill[bin_of[i]]++;
    /* bin_pos[b]: where window b starts among the pieces in output order. */
    uint64_t at = 0;
    for (uint64_t j = 0; j < n_bins; j++) {
        w->first[j] = at;
        bin_pos[win[j]] = at;
        at += fill[win[j]];
    }
    w->first[n_bins] = at;
    free(win);
    for (size_t i = 0; i < n_pieces; i++) w->pieces[bin_pos[bin_of[order[i]]]++] = pc[order[i]];
    w->n_windows = n_bins;
    rc = 0;
out:
    free(pc);
    free(order);
    free(bin_of);
    free(count);
    free(next);
    free(room);
    free(bin_pos);
    free(fill);
    free(m.head);
    free(m.l0);
    free(m.l1);
    if (rc) pack_windows_free(w);
    return rc;
}

void pack_windows_free(Windows *w)
{
    free(w->pieces);
    free(w->first);
    memset(w, 0, sizeof *w);
}
