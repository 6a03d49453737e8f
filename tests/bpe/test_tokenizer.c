/* lib/tokenizer.c and lib/pretok.c: the byte-level map, building a tokenizer
 * by merges, save/load round trips, the merge order (lowest rank, leftmost),
 * long pieces (the heap path) against short ones, decode(encode(x)) == x on
 * random bytes, bad regexes. Parity with tiktoken/HF is test_parity.sh. */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "lib/testutil.h"
#include "tokenizer.h"

static void ids_str(const IdBuf *b, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < b->len && k + 12 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, i ? " %u" : "%u", b->ids[i]);
}

static void test_bytelevel(void)
{
    int ok = 1;
    for (int b = 0; b < 256; b++) ok &= tok_char_byte(tok_byte_char((uint8_t)b)) == b;
    CHECK(ok);
    CHECK_INT('A', tok_byte_char('A'));
    CHECK_INT(0x120, tok_byte_char(' ')); /* GPT-2's "Ġ" */
    CHECK_INT(0x10a, tok_byte_char('\n')); /* "Ċ" */
    CHECK_INT(-1, tok_char_byte(0x20));
    Buf b = { 0 };
    tok_bytelevel(" a\n", 3, &b);
    CHECK_MEM("\xc4\xa0" "a" "\xc4\x8a", b.data, b.len);
    buf_free(&b);
}

static void test_build_save_load(void)
{
    Err e = { 0 };
    Tokenizer *t = tok_new_bytes(pretok_builtin("gpt2"), &e);
    CHECK(t != NULL);
    if (!t) return;
    CHECK_INT(256, t->n_vocab);
    CHECK_INT(0, t->byte_id['!']); /* GPT-2's order: "!" is id 0 */
    uint32_t ab, abc, aa;
    int64_t a = t->byte_id['a'], b = t->byte_id['b'], c = t->byte_id['c'];
    CHECK_INT(0, tok_add_merge(t, (uint32_t)a, (uint32_t)b, -1, &ab, &e));
    CHECK_INT(0, tok_add_merge(t, ab, (uint32_t)c, -1, &abc, &e));
    CHECK_INT(0, tok_add_merge(t, (uint32_t)a, (uint32_t)a, -1, &aa, &e));
    CHECK_INT(0, tok_add_special(t, "<|endoftext|>", 13, NULL, &e));
    CHECK_INT(0, tok_finish(t, &e));
    CHECK_INT(260, t->n_vocab);
    CHECK_INT(259, t->eot_id);
    TokEncoder *enc = tok_encoder_new(t, &e);
    IdBuf ids = { 0 };
    char s[256], want[256];
    /* "aaab": (a a) ranks below nothing else but (a b) is rank 0: a a ab? No:
     * ranks: ab 0, abc 1, aa 2. Pairs in a,a,a,b: aa(2) aa(2) ab(0) -> a a ab,
     * then aa(2) at the left -> aa ab. */
    CHECK_INT(0, tok_encode(enc, "aaab", 4, 0, &ids, &e));
    snprintf(want, sizeof want, "%u %u", aa, ab);
    ids_str(&ids, s, sizeof s);
    CHECK_STR(want, s);
    ids.len = 0;
    CHECK_INT(0, tok_encode(enc, "abc<|endoftext|>", 16, 1, &ids, &e));
    snprintf(want, sizeof want, "%u 259", abc);
    ids_str(&ids, s, sizeof s);
    CHECK_STR(want, s);

    const char *path = scratch("tok.json");
    CHECK_INT(0, tok_save_json(t, path, &e));
    Tokenizer *u = tok_load_json(path, &e);
    CHECK(u != NULL);
    if (u) {
        CHECK_INT(t->n_vocab, u->n_vocab);
        CHECK_INT(t->n_merges, u->n_merges);
        CHECK_INT(259, u->eot_id);
        CHECK_STR(pretok_builtin("gpt2"), u->regex);
        TokEncoder *enc2 = tok_encoder_new(u, &e);
        IdBuf ids2 = { 0 };
        ids.len = 0;
        const char *text = "abcaab aaab c, aa!";
        tok_encode(enc, text, strlen(text), 0, &ids, &e);
        tok_encode(enc2, text, strlen(text), 0, &ids2, &e);
        CHECK(ids.len == ids2.len && !memcmp(ids.ids, ids2.ids, ids.len * 4));
        idbuf_free(&ids2);
        tok_encoder_free(enc2);
        tok_free(u);
    }
    idbuf_free(&ids);
    tok_encoder_free(enc);
    tok_free(t);
}

/* r50k: random byte strings (invalid UTF-8 among them) decode back exactly;
 * a long piece (heap merging) gives what its parts give when cut where the
 * merges cannot cross (spaces between letters of one class do not help, so
 * compare against the same text one piece at a time instead). */
static void test_r50k_roundtrip(void)
{
    Err e = { 0 };
    Tokenizer *t = tok_load_tiktoken("node_modules/gpt-tokenizer/data/r50k_base.tiktoken", "r50k", &e);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    TokEncoder *enc = tok_encoder_new(t, &e);
    unsigned seed = (unsigned)time(NULL);
    printf("seed %u\n", seed);
    srand(seed);
    IdBuf ids = { 0 };
    Buf back = { 0 };
    char text[2000];
    int bad = 0;
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand() % (int)sizeof text);
        for (size_t i = 0; i < n; i++)
            text[i] = (char)(round % 2 ? rand() % 256 : " ab1\n\xc3\xa9"[rand() % 7]);
        ids.len = back.len = 0;
        if (tok_encode(enc, text, n, 0, &ids, &e) || tok_decode(t, ids.ids, ids.len, &back, &e) ||
            back.len != n || memcmp(back.data, text, n))
            bad++;
    }
    CHECK_INT(0, bad);
    /* Heap path (> 256 bytes) against the linear one: 600 digits are one r50k
     * piece; encoding 300 + 300 as two pieces may differ only at the cut, so
     * check the heap result decodes back and uses no more tokens than the halves. */
    char digits[600];
    for (int i = 0; i < 600; i++) digits[i] = (char)('0' + (i * 7) % 10);
    IdBuf whole = { 0 }, halves = { 0 };
    tok_encode_piece(enc, digits, 600, &whole, &e);
    tok_encode_piece(enc, digits, 300, &halves, &e);
    tok_encode_piece(enc, digits + 300, 300, &halves, &e);
    back.len = 0;
    tok_decode(t, whole.ids, whole.len, &back, &e);
    CHECK(back.len == 600 && !memcmp(back.data, digits, 600));
    CHECK(whole.len <= halves.len);
    /* A periodic piece merges the same in each period: "1234" x 150 is
     * 150 x the ids of "1234" when "1234" is whole tokens in both paths. */
    char per[600];
    for (int i = 0; i < 600; i++) per[i] = "1234"[i % 4];
    IdBuf one = { 0 }, many = { 0 };
    tok_encode_piece(enc, per, 4, &one, &e);
    tok_encode_piece(enc, per, 600, &many, &e);
    CHECK_INT(150 * one.len, many.len);
    idbuf_free(&whole);
    idbuf_free(&halves);
    idbuf_free(&one);
    idbuf_free(&many);
    /* decode: an id past the vocabulary is an error naming it. */
    uint32_t badid[2] = { 15496, 70000 };
    CHECK_INT(-1, tok_decode(t, badid, 2, &back, &e));
    CHECK_HAS("token 2: id 70000 is not in the vocabulary", e.msg);
    idbuf_free(&ids);
    buf_free(&back);
    tok_encoder_free(enc);
    tok_free(t);
}

static void test_files(void)
{
    Err e = { 0 };
    const char *bad = scratch("bad.json");
    write_file(bad, "{\"model\": {\n  \"type\": \"BPE\",\n  oops\n}}", 38);
    CHECK(tok_load_json(bad, &e) == NULL);
    CHECK_HAS("bad.json:3: not a tokenizer.json", e.msg);
    Tokenizer *t = tok_new_bytes(pretok_builtin("gpt4"), &e);
    CHECK_INT(0, tok_finish(t, &e));
    const char *nowhere = scratch("no/such/dir/tok.json");
    CHECK_INT(-1, tok_save_json(t, nowhere, &e));
    CHECK(!file_or_temp_exists(nowhere));
    const char *good = scratch("good.json");
    CHECK_INT(0, tok_save_json(t, good, &e));
    char *text = read_file(good, NULL);
    CHECK(text && strstr(text, "\"type\": \"Split\""));
    CHECK(text && strstr(text, "\"use_regex\": false"));
    free(text);
    tok_free(t);
}

/* t saved and loaded again: the same fingerprint (so the same ids, kinds,
 * bytes, merges, pattern and add_prefix_space). 1 when it holds. */
static int round_trips(Tokenizer *t, const char *name)
{
    Err e = { 0 };
    const char *path = scratch(name);
    if (!CHECK_INT_RC(0, tok_save_json(t, path, &e))) {
        fprintf(stderr, "  %s: %s\n", name, e.msg);
        return 0;
    }
    Tokenizer *u = tok_load_json(path, &e);
    if (!CHECK(u != NULL)) {
        fprintf(stderr, "  %s: %s\n", name, e.msg);
        return 0;
    }
    uint64_t a = 0, b = 0;
    CHECK_INT(0, tok_fingerprint(t, &a, &e));
    CHECK_INT(0, tok_fingerprint(u, &b, &e));
    int same = CHECK(a && a == b);
    CHECK_INT(t->add_prefix_space, u->add_prefix_space);
    tok_free(u);
    return same;
}

/* Issue 13: what tok_save_json writes, tok_load_json reads back as the same
 * tokenizer. An added token whose text is also a vocabulary token under
 * another id ("ab" at 256 and a special "ab" at 257) was written into vocab
 * twice, the second replacing the first, and the file no longer loaded; HF's
 * ByteLevel with add_prefix_space was written inside a Sequence, which the
 * loader refuses. */
static void test_save_load_edges(void)
{
    Err e = { 0 };
    Tokenizer *t = tok_new_bytes(pretok_builtin("gpt2"), &e);
    uint32_t ab, sp;
    CHECK_INT(0, tok_add_merge(t, (uint32_t)t->byte_id['a'], (uint32_t)t->byte_id['b'], -1, &ab, &e));
    CHECK_INT(0, tok_add_special(t, "ab", 2, &sp, &e));
    CHECK_INT(0, tok_finish(t, &e));
    CHECK_INT(256, ab);
    CHECK_INT(257, sp);
    round_trips(t, "special-twice.json");
    tok_free(t);

    /* add_prefix_space with GPT-2's pattern (HF's ByteLevel) and with none */
    t = tok_new_bytes(pretok_builtin("gpt2"), &e);
    CHECK_INT(0, tok_finish(t, &e));
    t->add_prefix_space = 1;
    round_trips(t, "prefix-space.json");
    char *text = read_file(scratch("prefix-space.json"), NULL);
    CHECK(text && !strstr(text, "\"Sequence\"") && strstr(text, "\"use_regex\": true"));
    free(text);
    CHECK_INT(0, tok_set_regex(t, NULL, &e));
    round_trips(t, "prefix-space-none.json");
    /* another pattern: HF would add the space to every piece of the Split */
    CHECK_INT(0, tok_set_regex(t, pretok_builtin("gpt4"), &e));
    const char *other = scratch("prefix-space-gpt4.json");
    CHECK_INT(-1, tok_save_json(t, other, &e));
    CHECK_HAS("cannot write add_prefix_space with a pattern other than GPT-2's", e.msg);
    CHECK(!file_or_temp_exists(other));
    tok_free(t);

    /* a pattern that does not compile: the file and the entry named */
    const char *bad = scratch("bad-regex.json");
    const char *json = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},\n"
                       " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(ab\"},"
                       " \"behavior\": \"Isolated\"}}\n";
    write_file(bad, json, strlen(json));
    CHECK(tok_load_json(bad, &e) == NULL);
    CHECK_HAS("bad-regex.json: pre_tokenizer.pattern: pattern does not compile at offset 3", e.msg);
}

static void test_pretok(void)
{
    Err e = { 0 };
    CHECK(pretok_new("(a", &e) == NULL);
    CHECK_HAS("pattern does not compile at offset 2", e.msg);
    CHECK_STR("gpt4", pretok_builtin_name("cl100k"));
    CHECK(pretok_builtin("gpt5") == NULL);
    /* Gaps between matches are pieces too; invalid UTF-8 never matches. */
    Pretok *p = pretok_new("[a-z]+", &e);
    PretokCursor *c = pretok_cursor_new(p);
    const char *s = "ab, cd\xff!";
    pretok_begin(c, s, strlen(s));
    size_t at, len;
    char got[256] = "";
    while (pretok_next(c, &at, &len, &e) == 1) {
        strncat(got, s + at, len);
        strcat(got, "|");
    }
    CHECK_STR("ab|, |cd|\xff!|", got);
    pretok_cursor_free(c);
    pretok_free(p);
}

int main(void)
{
    test_bytelevel();
    test_build_save_load();
    test_r50k_roundtrip();
    test_pretok();
    test_files();
    test_save_load_edges();
    scratch_cleanup();
    return check_done("test_tokenizer");
}
