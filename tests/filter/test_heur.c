/* The built-in rules: each rule has a document that trips it and one that
 * passes (with only that rule on), golden values for datatrove's exact
 * definitions (jumping duplicate n-grams, Counter tie-breaking, code-point
 * lengths), the word splitter, the PCRE2 rules file, and the long-document
 * road giving every value the other road gives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "docio.h"
#include "../../filter/heur.h"
#include "lib/testutil.h"
#include "../../filter/urules.h"

static HeurScratch hs;
static Buf out;
static uint64_t drops[N_RULES];

/* Only rule r on (at value v when v >= 0). */
static int only(int r, double v, const char *text)
{
    HeurConf c;
    heur_conf_default(&c);
    heur_conf_none(&c);
    c.on[r] = 1;
    if (v >= 0) c.v[r] = v;
    int changed;
    memset(drops, 0, sizeof drops);
    return heur_apply(&c, &hs, text, strlen(text), &out, &changed, drops);
}

/* The rule removed a line or rewrote the text. */
static int line_rule_fires(int r, const char *text)
{
    HeurConf c;
    heur_conf_none(&c);
    for (int k = 0; k < N_RULES; k++) c.v[k] = heur_rules[k].def;
    c.on[r] = 1;
    int changed;
    memset(drops, 0, sizeof drops);
    int k = heur_apply(&c, &hs, text, strlen(text), &out, &changed, drops);
    return k == -1 && changed && (r == R_C4_CITATIONS || drops[r] > 0);
}

static const char *BASE =
    "The history of the river valley is long and it is told in many old books.\n"
    "Farmers came to the plain with their cattle and built houses of stone and wood.\n"
    "Later a railway reached the town, and trade grew quickly along the new line.\n"
    "\n"
    "Today the valley is known for its orchards, its quiet lanes and a small museum.\n"
    "Visitors walk the old paths that lead from the church to the water mill.\n"
    "Each autumn the people hold a market that draws families from the whole region.";

/* BASE's first paragraph: no blank line, which C4 would remove */
static const char *PARA =
    "The history of the river valley is long and it is told in many old books.\n"
    "Farmers came to the plain with their cattle and built houses of stone and wood.";

static char *cat(const char *a, const char *b, int times)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb * (size_t)times + 1);
    memcpy(s, a, la);
    for (int i = 0; i < times; i++) memcpy(s + la + lb * (size_t)i, b, lb);
    s[la + lb * (size_t)times] = 0;
    return s;
}

static void each_rule_trips_and_passes(void)
{
    /* the base document passes every rule, alone and all together */
    for (int r = 0; r < N_RULES; r++) {
        int k = only(r, -1, BASE);
        if (heur_rules[r].kind == KIND_DOC) CHECK_INT(-1, k);
    }
    HeurConf all;
    heur_conf_default(&all);
    heur_enable_set(&all, "c4");
    heur_enable_set(&all, "fineweb");
    int changed;
    CHECK_INT(-1, heur_apply(&all, &hs, BASE, strlen(BASE), &out, &changed, drops));
    /* C4 removes the blank line between the paragraphs (no terminal punctuation) */
    CHECK_INT(1, changed);
    CHECK_INT(strlen(BASE) - 1, out.len);
    CHECK_INT(1, drops[R_C4_TERMINAL_PUNCT]);

    char *s;
    s = cat("", "One paragraph that repeats.\n\n", 4);
    CHECK_INT(R_DUP_PARA_FRAC, only(R_DUP_PARA_FRAC, -1, s));
    free(s);
    s = cat(BASE, "\n\nThis longer paragraph repeats itself word for word in the document.", 4);
    CHECK_INT(R_DUP_PARA_CHAR_FRAC, only(R_DUP_PARA_CHAR_FRAC, -1, s));
    free(s);
    s = cat(BASE, "\nA line that repeats.", 10);
    CHECK_INT(R_DUP_LINE_FRAC, only(R_DUP_LINE_FRAC, -1, s));
    CHECK_INT(R_DUP_LINE_CHAR_FRAC, only(R_DUP_LINE_CHAR_FRAC, -1, s));
    free(s);
    s = cat(BASE, " hello world", 30);
    CHECK_INT(R_TOP_2_GRAM, only(R_TOP_2_GRAM, -1, s));
    free(s);
    s = cat(BASE, " buy cheap pills", 25);
    CHECK_INT(R_TOP_3_GRAM, only(R_TOP_3_GRAM, -1, s));
    free(s);
    s = cat(BASE, " buy cheap pills now", 20);
    CHECK_INT(R_TOP_4_GRAM, only(R_TOP_4_GRAM, -1, s));
    free(s);
    s = cat(BASE, " the same ten words come back here again and again", 4);
    for (int r = R_DUP_5_GRAM; r <= R_DUP_10_GRAM; r++) CHECK_INT(r, only(r, -1, s));
    free(s);
    CHECK_INT(R_GOPHER_MIN_WORDS, only(R_GOPHER_MIN_WORDS, -1, "Too short to be a document of the web."));
    s = cat("", "word ", 100001);
    CHECK_INT(R_GOPHER_MAX_WORDS, only(R_GOPHER_MAX_WORDS, -1, s));
    free(s);
    s = cat("", "a b c ", 30);
    CHECK_INT(R_GOPHER_MIN_MEAN_WORD, only(R_GOPHER_MIN_MEAN_WORD, -1, s));
    free(s);
    s = cat("", "incomprehensibilities ", 60);
    CHECK_INT(R_GOPHER_MAX_MEAN_WORD, only(R_GOPHER_MAX_MEAN_WORD, -1, s));
    free(s);
    s = cat(BASE, " #tag", 30);
    CHECK_INT(R_GOPHER_HASH_RATIO, only(R_GOPHER_HASH_RATIO, -1, s));
    free(s);
    s = cat(BASE, " wait...", 30);
    CHECK_INT(R_GOPHER_ELLIPSIS_RATIO, only(R_GOPHER_ELLIPSIS_RATIO, -1, s));
    free(s);
    s = cat("", "- an item of the list\n", 20);
    CHECK_INT(R_GOPHER_BULLET_LINES, only(R_GOPHER_BULLET_LINES, -1, s));
    free(s);
    s = cat(BASE, "\nand then\xe2\x80\xa6", 6);
    CHECK_INT(R_GOPHER_ELLIPSIS_LINES, only(R_GOPHER_ELLIPSIS_LINES, -1, s));
    free(s);
    s = cat(BASE, " 1234", 60);
    CHECK_INT(R_GOPHER_ALPHA_WORDS, only(R_GOPHER_ALPHA_WORDS, -1, s));
    free(s);
    CHECK_INT(R_GOPHER_STOP_WORDS, only(R_GOPHER_STOP_WORDS, -1, "Cats sleep all day. Dogs run in parks. Birds sing."));
    /* datatrove compares stop words case-sensitively: "The" is not "the" */
    CHECK_INT(R_GOPHER_STOP_WORDS, only(R_GOPHER_STOP_WORDS, -1, "The cat. The dog. The bird."));
    CHECK_INT(-1, only(R_GOPHER_STOP_WORDS, -1, "The cat and the dog."));

    /* C4: line rules remove lines, the others drop */
    char *w = malloc(1100);
    memset(w, 'x', 1001);
    strcpy(w + 1001, " is long.\n");
    s = cat(BASE, w, 1);
    CHECK(line_rule_fires(R_C4_LONG_WORD, s));
    CHECK(!line_rule_fires(R_C4_LONG_WORD, BASE));
    free(s);
    free(w);
    CHECK(line_rule_fires(R_C4_CITATIONS, "Paris is the capital[1] of France.[citation needed]"));
    CHECK_MEM("Paris is the capital of France.", out.data, out.len);
    CHECK(!line_rule_fires(R_C4_CITATIONS, BASE));
    CHECK(line_rule_fires(R_C4_TERMINAL_PUNCT, "Home | About | Contact\nA sentence that ends well."));
    CHECK_MEM("A sentence that ends well.", out.data, out.len);
    CHECK(line_rule_fires(R_C4_TERMINAL_PUNCT, "It trails off...\nA sentence that ends well."));
    CHECK(!line_rule_fires(R_C4_TERMINAL_PUNCT, PARA));
    CHECK(line_rule_fires(R_C4_MIN_LINE_WORDS, "Hello there.\nThis line has words enough."));
    CHECK(!line_rule_fires(R_C4_MIN_LINE_WORDS, PARA));
    CHECK(line_rule_fires(R_C4_JAVASCRIPT, "Please enable JavaScript to view this.\nThe rest is fine."));
    CHECK(!line_rule_fires(R_C4_JAVASCRIPT, BASE));
    CHECK(line_rule_fires(R_C4_POLICY, "Read our Privacy Policy here.\nThe rest is fine."));
    CHECK(!line_rule_fires(R_C4_POLICY, BASE));
    s = cat(BASE, "\nLorem ipsum dolor sit amet.", 1);
    CHECK_INT(R_C4_LOREM_IPSUM, only(R_C4_LOREM_IPSUM, -1, s));
    free(s);
    s = cat(BASE, "\nThe function is { return 1; }.", 1);
    CHECK_INT(R_C4_CURLY_BRACKET, only(R_C4_CURLY_BRACKET, -1, s));
    free(s);
    CHECK_INT(R_C4_MIN_SENTENCES, only(R_C4_MIN_SENTENCES, -1, "One sentence here. And a second one."));
    CHECK_INT(-1, only(R_C4_MIN_SENTENCES, 2, "One sentence here. And a second one."));

    /* FineWeb */
    CHECK_INT(R_FW_LINE_PUNCT, only(R_FW_LINE_PUNCT, -1, "Home\nAbout us\nContact\nProducts and services\nLog in"));
    s = cat(BASE, "\nShort line", 20);
    CHECK_INT(R_FW_SHORT_LINES, only(R_FW_SHORT_LINES, -1, s));
    free(s);
    s = cat(BASE, "\nThe farmers came to the plain with cattle.", 2);
    CHECK_INT(R_FW_CHAR_DUP, only(R_FW_CHAR_DUP, -1, s));
    free(s);
    s = cat(BASE, "\none", 60);
    CHECK_INT(R_FW_LIST_RATIO, only(R_FW_LIST_RATIO, -1, s));
    free(s);
    CHECK_INT(N_RULES, only(R_FW_LINE_PUNCT, -1, " \n\n \t\n"));
}

static void golden_definitions(void)
{
    /* find_all_duplicate jumps past a repeat: "a b c d e" x3 has 10 repeated
     * characters (not 5 + every later window) of 29 */
    const char *t = "a b c d e a b c d e a b c d e";
    CHECK_INT(R_DUP_5_GRAM, only(R_DUP_5_GRAM, 0.344, t));
    CHECK_INT(-1, only(R_DUP_5_GRAM, 0.345, t));
    /* Counter.most_common(1): ties go to the first seen ("aa b", 4 chars x 2),
     * not the shorter "b c": 8/13 = 0.615 */
    t = "aa b c aa b c";
    CHECK_INT(R_TOP_2_GRAM, only(R_TOP_2_GRAM, 0.61, t));
    CHECK_INT(-1, only(R_TOP_2_GRAM, 0.62, t));
    /* lengths are code points: 3 duplicate characters of 7, not 6 bytes of 13 */
    t = "\xc3\xa9\xc3\xa9\xc3\xa9\n\xc3\xa9\xc3\xa9\xc3\xa9";
    CHECK_INT(R_DUP_LINE_CHAR_FRAC, only(R_DUP_LINE_CHAR_FRAC, 0.42, t));
    CHECK_INT(-1, only(R_DUP_LINE_CHAR_FRAC, 0.43, t));
    /* re.split("\n+", text) keeps the empty strings at both ends: "\nx\n" is
     * ["", "x", ""], one duplicate of 3 */
    CHECK_INT(R_DUP_LINE_FRAC, only(R_DUP_LINE_FRAC, 0.33, "\nx\n"));
    CHECK_INT(-1, only(R_DUP_LINE_FRAC, 0.34, "\nx\n"));
    /* bullets: after lstrip, '-' or U+2022; 2 of 3 lines */
    t = "  - one\n\xe2\x80\xa2 two\nthree";
    CHECK_INT(R_GOPHER_BULLET_LINES, only(R_GOPHER_BULLET_LINES, 0.66, t));
    CHECK_INT(-1, only(R_GOPHER_BULLET_LINES, 0.67, t));
}

/* heur_judge measuring: the verdict is heur_apply's; rules that are off are
 * measured (a C4 line rule off counts the lines it would remove), and the
 * pass goes on after the rule that drops the document. */
static void measured_values(void)
{
    const char *t = "Home | About\nRead our privacy policy.\nThe farmers came to the plain with their cattle.\n"
                    "Lorem ipsum dolor sit amet.";
    double val[N_RULES], value;
    int changed;
    HeurConf c;
    heur_conf_default(&c); /* Gopher on, C4 off */
    CHECK_INT(R_GOPHER_MIN_WORDS, heur_judge(&c, &hs, t, strlen(t), &out, &changed, drops, &value, val));
    CHECK_INT(R_GOPHER_MIN_WORDS, heur_apply(&c, &hs, t, strlen(t), &out, &changed, drops));
    CHECK(value == 20); /* "|" is not a word */
    CHECK(val[R_GOPHER_MIN_WORDS] == 20 && val[R_GOPHER_MAX_WORDS] == 20);
    CHECK_INT(0, changed); /* C4 is off: its lines stay */
    CHECK(val[R_C4_TERMINAL_PUNCT] == 1); /* "Home | About" */
    CHECK(val[R_C4_POLICY] == 1);
    CHECK(val[R_C4_MIN_LINE_WORDS] == 0); /* "Home | About" has 3 */
    CHECK(val[R_C4_LOREM_IPSUM] == 1 && val[R_C4_CURLY_BRACKET] == 0);
    CHECK(val[R_C4_MIN_SENTENCES] == 4);
    CHECK(val[R_FW_LINE_PUNCT] == 0.75); /* FineWeb on the text as it came */
    heur_conf_none(&c);
    heur_enable_set(&c, "c4");
    CHECK_INT(R_C4_LOREM_IPSUM, heur_judge(&c, &hs, t, strlen(t), &out, &changed, drops, &value, val));
    CHECK_INT(R_C4_LOREM_IPSUM, heur_apply(&c, &hs, t, strlen(t), &out, &changed, drops));
    CHECK(isnan(value)); /* an on/off rule has no value to report */
    CHECK(val[R_C4_TERMINAL_PUNCT] == 1 && val[R_C4_POLICY] == 1);
    CHECK(val[R_C4_MIN_SENTENCES] == 2); /* the farmers and the lorem ipsum line, counted past the drop */
    CHECK(val[R_FW_LINE_PUNCT] == 1);      /* FineWeb on the two lines C4 kept */
    CHECK(val[R_GOPHER_MIN_WORDS] == 20);  /* off, measured all the same */
    /* emptied by C4 (with no minimum of sentences, which would fail first):
     * "empty", and FineWeb has no line to measure */
    c.on[R_C4_MIN_SENTENCES] = 0;
    CHECK_INT(N_RULES, heur_apply(&c, &hs, "Home | About", 12, &out, &changed, drops));
    CHECK_INT(N_RULES, heur_judge(&c, &hs, "Home | About", 12, &out, &changed, drops, &value, val));
    CHECK(isnan(val[R_FW_LINE_PUNCT]) && isnan(value));
    /* a rule fails strictly past its threshold, the same in both passes */
    heur_conf_none(&c);
    c.on[R_GOPHER_ALPHA_WORDS] = 1, c.v[R_GOPHER_ALPHA_WORDS] = 0.8;
    CHECK_INT(-1, heur_judge(&c, &hs, "a b c d e f g h 1 2", 19, &out, &changed, drops, &value, val));
    CHECK(val[R_GOPHER_ALPHA_WORDS] == 0.8);
    CHECK(!heur_fails(&c, R_GOPHER_ALPHA_WORDS, 0.8) && heur_fails(&c, R_GOPHER_ALPHA_WORDS, 0.79));
    c.v[R_GOPHER_ALPHA_WORDS] = 0.81;
    CHECK_INT(R_GOPHER_ALPHA_WORDS, heur_apply(&c, &hs, "a b c d e f g h 1 2", 19, &out, &changed, drops));
}

static void words(void)
{
    const char *t = "(Hello, world...) e-mail #tag \xc2\xab" "don't\xc2\xbb 42";
    HeurTok *tk = NULL;
    size_t cap = 0;
    long n = heur_words(t, strlen(t), &tk, &cap);
    const char *want[] = {"(", "Hello", ",", "world", "...", ")", "e-mail", "#", "tag", "\xc2\xab", "don't", "\xc2\xbb", "42"};
    CHECK_INT(13, n);
    for (long i = 0; i < n && i < 13; i++) CHECK_MEM(want[i], t + tk[i].off, tk[i].len);
    if (n == 13) {
        CHECK_INT(1, tk[1].alpha);
        CHECK_INT(0, tk[1].symbol_only);
        CHECK_INT(1, tk[4].symbol_only);
        CHECK_INT(3, tk[4].n_chars);
        CHECK_INT(0, tk[12].alpha);
        CHECK_INT(0, tk[12].symbol_only);
        CHECK_INT(1, tk[9].n_chars);
    }
    free(tk);
}

static void user_rules(void)
{
    const char *p = scratch("rules.txt");
    write_file(p, "# comment\n\nsig drop-line ^-- ?$\nspam\tdrop-doc (?i)click\\s+here\n", 63);
    URules u;
    Err e = {{0}};
    CHECK_INT(0, urules_load(&u, p, &e));
    CHECK_INT(2, u.n);
    URulesCtx c;
    CHECK_INT(0, urules_ctx_init(&c));
    uint64_t ld[2] = {0, 0};
    const char *o;
    size_t on;
    int ch;
    const char *t = "Hello.\n-- \nBob\n--";
    CHECK_INT(-1, urules_apply(&u, &c, t, strlen(t), &o, &on, &ch, ld, &e));
    CHECK_INT(1, ch);
    CHECK_MEM("Hello.\nBob", o, on);
    CHECK_INT(2, ld[0]);
    t = "Please CLICK   here now";
    CHECK_INT(1, urules_apply(&u, &c, t, strlen(t), &o, &on, &ch, ld, &e));
    urules_ctx_free(&c);
    urules_free(&u);

    const char *bad[][2] = {
        {"x drop-doc (unclosed\n", ":1: bad pattern of rule 'x' at offset 9 (column 21): missing closing parenthesis"},
        {"ok drop-doc a\nx drop-page b\n", ":2: action is drop-doc or drop-line, not 'drop-page'"},
        {"x drop-doc a\nx drop-line b\n", ":2: rule 'x' is already defined on line 1"},
        {"gopher_min_words drop-doc a\n", ":1: rule name 'gopher_min_words' is a built-in rule's"},
        {"x drop-doc\n", ":1: expected 'NAME ACTION PATTERN'"},
        {"b@d drop-doc a\n", ":1: rule name may hold only"},
        {"# only a comment\n", "no rules in the file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(p, bad[i][0], strlen(bad[i][0]));
        memset(&e, 0, sizeof e);
        CHECK_INT(-1, urules_load(&u, p, &e));
        CHECK_HAS(bad[i][1], e.msg);
        CHECK_HAS("rules.txt", e.msg);
    }
}

/* Both roads on one text, measuring (every value) and judging: the same
 * verdict, value, text and removed lines. lng's knobs choose how. */
static Buf o1, o2;

static int same_judgement(const HeurConf *c, HeurScratch *lng, const char *t, size_t n, int measure)
{
    double v1[N_RULES], v2[N_RULES], x1, x2;
    uint64_t d1[N_RULES] = {0}, d2[N_RULES] = {0};
    int c1, c2;
    int k1 = heur_judge(c, &hs, t, n, &o1, &c1, d1, &x1, measure ? v1 : NULL);
    int k2 = heur_judge(c, lng, t, n, &o2, &c2, d2, &x2, measure ? v2 : NULL);
    int ok = k1 == k2 && k1 != -2 && c1 == c2 && (x1 == x2 || (isnan(x1) && isnan(x2))) &&
             !memcmp(d1, d2, sizeof d1);
    if (ok && c1) ok = o1.len == o2.len && !memcmp(o1.data, o2.data, o1.len);
    for (int r = 0; ok && measure && r < N_RULES; r++) ok = v1[r] == v2[r] || (isnan(v1[r]) && isnan(v2[r]));
    if (!ok) {
        fprintf(stderr, "long road differs (%zu bytes, verdict %d / %d):\n", n, k1, k2);
        for (int r = 0; measure && r < N_RULES; r++)
            if (!(v1[r] == v2[r] || (isnan(v1[r]) && isnan(v2[r]))))
                fprintf(stderr, "  %s: %.17g / %.17g\n", heur_rules[r].name, v1[r], v2[r]);
    }
    return ok;
}

/* The long-document road (texts over HEUR_LONG_BYTES; here every text) gives
 * what the other gives, on the bundled corpus (each third document, for
 * time: the road is made for long texts): every value `filter stats`
 * reports with every set on, and the verdicts with the defaults. Then, with
 * fingerprints cut to 2 to 5 bits (most keys share one) and room to count
 * only 1 or 3 n-grams at once, on every 21st: the branches that shared
 * fingerprints and text repeated many times take. Then one text of
 * 1,000 documents (many slices of the tokenizer, bins scattered again when
 * the fingerprints keep only 24 bits), and joined n-grams that repeat with
 * other word boundaries. */
static void long_road(void)
{
    const char *paths[] = {"corpora/en.jsonl.gz"};
    DocOpts o = {0};
    Err e = {{0}};
    DocReader *r = doc_open(&o, paths, 1, &e);
    if (!CHECK(r != NULL)) return;
    HeurConf all, def;
    heur_conf_default(&def);
    heur_conf_default(&all);
    heur_enable_set(&all, "c4");
    heur_enable_set(&all, "fineweb");
    static const struct { uint32_t mask; size_t cap; } knobs[] = {{0, 0}, {0x3, 1}, {0x7, 3}, {0x1f, 0}};
    HeurScratch lng[4] = {{0}};
    for (int k = 0; k < 4; k++)
        lng[k].long_bytes = 1, lng[k].long_fp_mask = knobs[k].mask, lng[k].long_cap = knobs[k].cap;
    Buf big = {0};
    size_t n_docs = 0, bad = 0;
    Doc d;
    while (doc_next(r, &d, &e) == 1) {
        if (n_docs % 3 == 0) bad += !same_judgement(&all, &lng[0], d.text, d.text_len, 1);
        if (n_docs % 3 == 1) bad += !same_judgement(&def, &lng[0], d.text, d.text_len, 0);
        for (int k = 1; k < 4 && n_docs % 21 == 2; k++)
            bad += !same_judgement(k & 1 ? &def : &all, &lng[k], d.text, d.text_len, !(k & 1));
        if (n_docs < 1000) /* a paragraph break after every third */
            buf_append(&big, d.text, d.text_len), buf_append(&big, "\n\n", n_docs % 3 ? 1 : 2);
        n_docs++;
    }
    doc_close(r, &e);
    CHECK_INT(29362, n_docs);
    CHECK_INT(0, bad);
    CHECK(big.len > HEUR_LONG_BYTES);
    CHECK(same_judgement(&all, &lng[0], big.data, big.len, 1));
    CHECK(same_judgement(&def, &lng[0], big.data, big.len, 0));
    /* "abc d e f g h" and "a b cd e f gh" are the same 6-gram joined */
    const char *t = "abc d e f g h x y z w a b cd e f gh";
    HeurConf c6;
    heur_conf_default(&c6);
    heur_conf_none(&c6);
    c6.on[R_DUP_6_GRAM] = 1, c6.v[R_DUP_6_GRAM] = 0.01;
    int changed;
    CHECK_INT(R_DUP_6_GRAM, heur_apply(&c6, &lng[0], t, strlen(t), &o2, &changed, drops));
    CHECK(same_judgement(&all, &lng[0], t, strlen(t), 1));
    CHECK(same_judgement(&all, &lng[1], t, strlen(t), 1));
    lng[0].long_fp_mask = 0x00ffffff; /* one bin for all: scattered again by the next byte */
    CHECK(same_judgement(&all, &lng[0], big.data, big.len, 1));
    lng[0].long_fp_mask = 0;
    lng[0].long_bytes = 0; /* the real threshold, which this text passes */
    CHECK(same_judgement(&all, &lng[0], big.data, big.len, 1));
    for (int k = 0; k < 4; k++) heur_scratch_free(&lng[k]);
    buf_free(&big);
    buf_free(&o1);
    buf_free(&o2);
}

int main(void)
{
    each_rule_trips_and_passes();
    golden_definitions();
    measured_values();
    words();
    user_rules();
    long_road();
    heur_scratch_free(&hs);
    buf_free(&out);
    scratch_cleanup();
    return check_done("test_heur");
}
