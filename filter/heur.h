/* The built-in document rules: Gopher quality and repetition (on by default), C4
 * and FineWeb line rules (opt-in sets). Each rule has a name, the name users see
 * in the summary and in "filter_reason", and one threshold they can change.
 * The definitions follow datatrove; filter/README.md lists where we differ. */
#ifndef HEUR_H
#define HEUR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum {
    /* Gopher repetition (datatrove GopherRepetitionFilter), run first as in FineWeb */
    R_DUP_PARA_FRAC, R_DUP_PARA_CHAR_FRAC, R_DUP_LINE_FRAC, R_DUP_LINE_CHAR_FRAC,
    R_TOP_2_GRAM, R_TOP_3_GRAM, R_TOP_4_GRAM,
    R_DUP_5_GRAM, R_DUP_6_GRAM, R_DUP_7_GRAM, R_DUP_8_GRAM, R_DUP_9_GRAM, R_DUP_10_GRAM,
    /* Gopher quality (datatrove GopherQualityFilter) */
    R_GOPHER_MIN_WORDS, R_GOPHER_MAX_WORDS, R_GOPHER_MIN_MEAN_WORD, R_GOPHER_MAX_MEAN_WORD,
    R_GOPHER_HASH_RATIO, R_GOPHER_ELLIPSIS_RATIO, R_GOPHER_BULLET_LINES,
    R_GOPHER_ELLIPSIS_LINES, R_GOPHER_ALPHA_WORDS, R_GOPHER_STOP_WORDS,
    /* C4 (datatrove C4QualityFilter): line rules remove lines, the others drop */
    R_C4_LONG_WORD, R_C4_CITATIONS, R_C4_TERMINAL_PUNCT, R_C4_MIN_LINE_WORDS,
    R_C4_LOREM_IPSUM, R_C4_JAVASCRIPT, R_C4_CURLY_BRACKET, R_C4_POLICY, R_C4_MIN_SENTENCES,
    /* FineWeb (datatrove FineWebQualityFilter) */
    R_FW_LINE_PUNCT, R_FW_SHORT_LINES, R_FW_CHAR_DUP, R_FW_LIST_RATIO,
    N_RULES
} RuleId;

typedef enum { KIND_DOC, KIND_LINE } RuleKind;

typedef struct RuleInfo {
    const char *name;
    const char *set;    /* "gopher", "c4" or "fineweb" */
    RuleKind kind;      /* KIND_LINE: removes lines instead of dropping the document */
    int is_flag;        /* 1: on or off, no value */
    double def;         /* published threshold */
    const char *help;   /* what drops, with "V" for the value */
    int below;          /* 1: fails when its value < V; 0: when > V (see heur_fails) */
} RuleInfo;

extern const RuleInfo heur_rules[N_RULES];

/* Reason given to a document that some line rules emptied. */
#define HEUR_EMPTY_REASON "empty"

typedef struct HeurConf {
    unsigned char on[N_RULES];
    double v[N_RULES];
} HeurConf;

/* The defaults: Gopher rules on, C4 and FineWeb off, every value published. */
void heur_conf_default(HeurConf *c);
/* Every rule off (--preset none); values stay as they are. */
void heur_conf_none(HeurConf *c);
/* Turn on every rule of a set ("gopher", "c4", "fineweb"). -1: no such set. */
int heur_enable_set(HeurConf *c, const char *set);
/* Index of the rule named name[0..n), or -1. */
int heur_find(const char *name, size_t n);

#define HEUR_POW_TAB 64

/* A text of more bytes goes down heur.c's long-document road: the same
 * values in memory of about 1.3 times the text (filter/README.md, "Long
 * documents"), where the road of normal documents takes about 25. */
#define HEUR_LONG_BYTES ((size_t)1 << 20)

/* Per-thread working memory; zero it before first use, free with heur_scratch_free. */
typedef struct HeurScratch {
    void *tok;
    size_t tok_cap;
    uint64_t *pre;
    size_t pre_cap;
    uint64_t *set;
    size_t set_cap;
    uint32_t *rep;
    size_t rep_cap;
    Buf tmp;
    uint64_t bpow[HEUR_POW_TAB], ibpow[HEUR_POW_TAB]; /* powers of the joined-bytes hash base */
    int pow_ready;
    /* For the tests, 0 in normal use: long_bytes, when set, replaces
     * HEUR_LONG_BYTES; long_fp_mask keeps only these bits of the long road's
     * fingerprints, so that many collide; long_cap, when set, is the number of
     * n-grams it counts exactly at once before it must look further. */
    size_t long_bytes;
    uint32_t long_fp_mask;
    size_t long_cap;
} HeurScratch;
void heur_scratch_free(HeurScratch *s);

/* Apply the rules that are on to text[0..n) (valid UTF-8). Returns the RuleId
 * that drops the document, N_RULES for "emptied by line rules", or -1 to keep.
 * When line rules changed the text, the new text is put in *out and *changed
 * set to 1 (else *changed is 0; out may have been written). line_drops[r]
 * counts lines removed by rule r. -2: out of memory. */
int heur_apply(const HeurConf *c, HeurScratch *s, const char *text, size_t n, Buf *out,
               int *changed, uint64_t *line_drops);

/* heur_apply, and also:
 * - *value gets the value the dropping rule measured (NAN for "empty" and for
 *   on/off rules, whose value is 1), the one `filter --rejects` writes;
 * - with val not NULL (`filter stats`), every rule is measured, on or off, to
 *   the end of the document, into val[0..N_RULES), NAN where a rule has
 *   nothing to measure (the mean word length of no words...). A doc rule's
 *   value is the one it compares with V, on the text the rules that are on
 *   leave to it; a line rule's is the lines it removes (or, off, would remove
 *   were it alone turned on); c4_citations: lines it cuts a marker out of;
 *   c4_lorem_ipsum, c4_curly_bracket: 1 when a kept line has it, else 0. The
 *   verdict, the text and line_drops are those heur_apply gives. Slower:
 *   no rule is skipped. */
int heur_judge(const HeurConf *c, HeurScratch *s, const char *text, size_t n, Buf *out, int *changed,
               uint64_t *line_drops, double *value, double *val);

/* Whether value x fails rule r at threshold c->v[r] (whether r is on or not):
 * x < V for the rules marked below, x > V for the others; a NAN fails nothing.
 * For on/off rules and line rules (whose values are counts), x > 0. */
int heur_fails(const HeurConf *c, int r, double x);

/* Statistics used by the rules, exposed for the tests. */
typedef struct HeurTok {
    size_t off, len;     /* bytes into the text */
    uint32_t n_chars;    /* code points */
    uint8_t alpha;       /* has a letter (Unicode L*) */
    uint8_t symbol_only; /* every character is punctuation, a symbol or a control */
} HeurTok;
/* Split text into words (see README: white space, then leading and trailing
 * punctuation split off one character at a time, "..." kept whole). *toks is
 * grown with realloc; returns the count or -1 when out of memory. */
long heur_words(const char *text, size_t n, HeurTok **toks, size_t *cap);

#endif
