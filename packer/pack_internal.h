/* Inside packer: a source's documents (offsets in memory, tokens mapped or
 * spilled), the seeded random numbers, the mixing plan and best-fit packing.
 * Not for main.c; tests may use it. */
#ifndef PACK_INTERNAL_H
#define PACK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "packer.h"
#include "progress.h"
#include "tokfile.h"

/* ---- sources (pack_source.c) ---- */

/* A source's tokens laid out as in the stream: each document's ids, then its
 * end-of-text; `width` bytes an id, little-endian. */
typedef struct Source {
    const char *path;
    uint64_t n_docs;
    uint64_t *off;   /* n_docs + 1 token offsets: document d is tokens [off[d], off[d+1] - 1),
                        then an end-of-text at off[d+1] - 1 (8 bytes a document) */
    const unsigned char *tokens; /* off[n_docs] tokens */
    uint32_t width;
    PackStore store;
    void *map;       /* munmap(map, map_bytes) when mapped or spilled */
    size_t map_bytes;
    unsigned char *mem; /* the copy of a piped input that fitted in --mem */
} Source;

/* The memory budget for piped tokens, shared by every source, and where spill
 * files go (an unlinked temporary file, so that no exit leaves it behind). */
typedef struct SpillBudget {
    uint64_t mem_left;
    const char *dir;
} SpillBudget;

/* The -t tokenizer that every stream's fingerprint is checked against. */
typedef struct TokCheck {
    const char *path; /* NULL: no -t */
    uint64_t fp;      /* its fingerprint; 0: it did not load as a tokenizer (why: in load_err) */
    Err load_err;
    int noted;        /* the note that a stream cannot be checked was given */
    const char *fp_path; /* the first source that recorded a fingerprint, NULL: none yet */
} TokCheck;

/* Read the stream at path, then the n_more streams in more (one source, as if
 * they were appended to it), and keep its documents. hdr_path NULL: the first
 * source, whose header fills *hdr; else vocab_size and eot_id must agree with
 * *hdr, read from hdr_path, and so must a fingerprint both record (hdr takes
 * the first one recorded). A recorded fingerprint must equal tc's tokenizer's;
 * a stream that records none gets a note when there is a tokenizer to check.
 * p, done_bytes: progress over all inputs. 0, or -1 with e naming the file and
 * offset. */
int pack_source_read(Source *s, const char *path, const char *const *more, size_t n_more,
                     TokHeader *hdr, const char *hdr_path, TokCheck *tc, SpillBudget *budget,
                     Progress *p, uint64_t *done_bytes, Err *e);
void pack_source_free(Source *s);

static inline uint64_t doc_tokens(const Source *s, uint64_t d) /* ids + end-of-text */
{
    return s->off[d + 1] - s->off[d];
}

/* ---- random numbers (pack_plan.c) ---- */

typedef struct Rng {
    uint64_t s[4];
} Rng;

/* An independent stream for each (seed, purpose, a, b): the order in which a
 * run asks for streams never changes what each one gives. */
void rng_init(Rng *r, uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);
uint64_t rng_next(Rng *r);
uint64_t rng_below(Rng *r, uint64_t n); /* uniform in [0, n), n > 0 */
void rng_shuffle(Rng *r, uint64_t *v, size_t n);

enum { RNG_VAL_SPLIT = 1, RNG_EPOCH, RNG_INTERLEAVE, RNG_VAL_ORDER, RNG_WINDOWS };

/* ---- the plan (pack_plan.c) ---- */

typedef struct Plan {
    uint64_t *train, *val; /* PACK_ENTRY values in output order */
    size_t n_train, n_val;
} Plan;

/* Choose the validation documents and the training documents (epochs and a
 * sample for the fractional part), and their order. Fills the per-source
 * counts in rep->sources (allocated by the caller, n_src long). */
int pack_plan(const Source *src, size_t n_src, const PackOpts *o, Plan *plan,
              PackSourceReport *rep, Err *e);
void pack_plan_free(Plan *plan);

/* ---- best-fit windows (pack_plan.c) ---- */

/* A piece of a document inside a window: ids [start, start + n_ids) of the
 * document, preceded by end-of-text when eot_first. */
typedef struct Piece {
    uint64_t entry; /* PACK_ENTRY */
    uint64_t start;
    uint32_t n_ids;
    uint32_t eot_first;
} Piece;

typedef struct Windows {
    Piece *pieces;      /* grouped by window, windows in output order */
    uint64_t *first;    /* window w holds pieces[first[w] .. first[w+1]) */
    uint64_t n_windows;
    uint64_t n_split;   /* documents longer than a window */
} Windows;

/* Pack entries (in order) into windows of `window` tokens by best-fit
 * decreasing; the windows are then shuffled with the seed (kept in order
 * with no_shuffle). */
int pack_best_fit(const Source *src, const uint64_t *entries, size_t n, uint32_t window,
                  uint64_t seed, uint64_t purpose, int no_shuffle, Windows *w, Err *e);
void pack_windows_free(Windows *w);

#endif
