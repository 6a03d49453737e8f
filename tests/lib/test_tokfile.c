/* lib/tokfile.c: token streams (their tokenizer fingerprint included) and
 * llm.c shards round-trip, a version 1 stream still reads, and every bad file
 * is refused with its name and offset: bad magic, bad version, truncation, ids
 * outside the vocabulary, a size that disagrees with the header. */
#include <stdint.h>

#include "check.h"
#include "testutil.h"
#include "tokfile.h"

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

static void stream_round_trip(uint32_t vocab, uint32_t eot, uint64_t fingerprint)
{
    const char *path = scratch("s.tok");
    Err e;
    TokWriter *w = tokw_open(path, vocab, eot, fingerprint, &e);
    CHECK(w != NULL);
    uint32_t top = eot == vocab - 1 ? vocab - 2 : vocab - 1, zero = eot == 0 ? 1 : 0;
    uint32_t a[] = { 1, 2, top }, b[] = { zero };
    CHECK_INT(0, tokw_doc(w, a, 3, &e));
    CHECK_INT(0, tokw_doc(w, NULL, 0, &e)); /* an empty document is just end-of-text */
    CHECK_INT(0, tokw_doc(w, b, 1, &e));
    uint32_t out_of_range = vocab;
    CHECK_INT(-1, tokw_doc(w, &out_of_range, 1, &e));
    CHECK_HAS("outside the vocabulary", e.msg);
    CHECK_INT(-1, tokw_doc(w, &eot, 1, &e)); /* it would split the document in two */
    CHECK_HAS("end-of-text inside a document", e.msg);
    CHECK_INT(0, tokw_close(w, &e));

    size_t n;
    char *raw = read_file(path, &n);
    uint32_t width = vocab <= 65536 ? 2 : 4;
    CHECK_INT(TOK_HEADER_BYTES + width * 7, n); /* 3 ids + eot, eot, 1 id + eot */
    CHECK(!memcmp(raw, TOK_MAGIC, 8));
    uint32_t version;
    uint64_t fp_raw;
    memcpy(&version, raw + 8, 4);
    memcpy(&fp_raw, raw + 24, 8); /* docs/formats.md: the fingerprint at offset 24, little-endian */
    CHECK_INT(2, version);
    CHECK(fp_raw == fingerprint);
    free(raw);

    TokReader *r = tokr_open(path, &e);
    CHECK(r != NULL);
    CHECK_INT(width, tokr_header(r)->width);
    CHECK_INT(vocab, tokr_header(r)->vocab_size);
    CHECK_INT(eot, tokr_header(r)->eot_id);
    CHECK_INT(2, tokr_header(r)->version);
    CHECK(tokr_header(r)->fingerprint == fingerprint);
    const uint32_t *ids;
    size_t k;
    CHECK_INT(1, tokr_doc(r, &ids, &k, &e));
    CHECK(k == 3 && ids[0] == 1 && ids[1] == 2 && ids[2] == top);
    CHECK_INT(1, tokr_doc(r, &ids, &k, &e));
    CHECK_INT(0, k);
    CHECK_INT(1, tokr_doc(r, &ids, &k, &e));
    CHECK(k == 1 && ids[0] == zero);
    CHECK_INT(0, tokr_doc(r, &ids, &k, &e));
    tokr_close(r);
}

/* A version 1 header of 2-byte ids: magic, version, width, vocabulary, end-of-text. */
static void v1_header(unsigned char *h, uint32_t vocab, uint32_t eot)
{
    memcpy(h, TOK_MAGIC, 8);
    put_u32(h + 8, 1);
    put_u32(h + 12, 2);
    put_u32(h + 16, vocab);
    put_u32(h + 20, eot);
}

static void stream_errors(void)
{
    const char *path = scratch("bad.tok");
    Err e;
    unsigned char h[TOK_HEADER_BYTES + 8] = { 0 };
    v1_header(h, 100, 99);
    uint16_t toks[4] = { 5, 6, 99, 7 }; /* the last document lacks end-of-text */
    memcpy(h + TOK_HEADER_BYTES, toks, 8);
    write_file(path, h, sizeof h);
    TokReader *r = tokr_open(path, &e);
    CHECK(r != NULL); /* a version 1 header */
    if (!r) return;
    const uint32_t *ids;
    size_t k;
    CHECK_INT(1, tokr_doc(r, &ids, &k, &e));
    CHECK_INT(-1, tokr_doc(r, &ids, &k, &e));
    CHECK_HAS("bad.tok: offset 40: truncated token stream: the last document (1 tokens) has no end-of-text", e.msg);
    tokr_close(r);

    write_file(path, h, sizeof h - 1); /* half an id */
    r = tokr_open(path, &e);
    CHECK_INT(1, tokr_doc(r, &ids, &k, &e));
    CHECK_INT(-1, tokr_doc(r, &ids, &k, &e));
    CHECK_HAS("offset 38: truncated token stream: 1 stray bytes", e.msg);
    tokr_close(r);

    toks[1] = 100;
    memcpy(h + TOK_HEADER_BYTES, toks, 8);
    write_file(path, h, sizeof h);
    r = tokr_open(path, &e);
    CHECK_INT(-1, tokr_doc(r, &ids, &k, &e));
    CHECK_HAS("bad.tok: offset 34: token id 100 is outside the vocabulary of 100", e.msg);
    tokr_close(r);

    put_u32(h + 8, 3);
    write_file(path, h, sizeof h);
    CHECK(tokr_open(path, &e) == NULL);
    CHECK_HAS("bad.tok: offset 8: token stream version 3, this build reads versions 1 to 2", e.msg);
    put_u32(h + 8, 0);
    write_file(path, h, sizeof h);
    CHECK(tokr_open(path, &e) == NULL);
    CHECK_HAS("bad.tok: offset 8: token stream version 0", e.msg);
    put_u32(h + 8, 1);
    put_u32(h + 20, 100);
    write_file(path, h, sizeof h);
    CHECK(tokr_open(path, &e) == NULL);
    CHECK_HAS("offset 20: end-of-text id 100 is outside the vocabulary of 100", e.msg);
    h[0] = 'X';
    write_file(path, h, sizeof h);
    CHECK(tokr_open(path, &e) == NULL);
    CHECK_HAS("bad.tok: offset 0: not a token stream (bad magic", e.msg);
    write_file(path, "", 0);
    CHECK(tokr_open(path, &e) == NULL);
    CHECK_HAS("bad.tok: empty input", e.msg);
}

/* A version 1 stream (before fingerprints) still reads, its fingerprint 0
 * ("not recorded") whatever its reserved bytes hold. */
static void stream_version1(void)
{
    const char *path = scratch("old.tok");
    Err e;
    unsigned char h[TOK_HEADER_BYTES + 6] = { 0 };
    v1_header(h, 257, 256);
    memset(h + 24, 0xab, 8); /* reserved in version 1: not a fingerprint */
    uint16_t toks[3] = { 72, 105, 256 };
    memcpy(h + TOK_HEADER_BYTES, toks, 6);
    write_file(path, h, sizeof h);
    TokReader *r = tokr_open(path, &e);
    CHECK(r != NULL);
    if (!r) return;
    CHECK_INT(1, tokr_header(r)->version);
    CHECK(tokr_header(r)->fingerprint == 0);
    CHECK_INT(257, tokr_header(r)->vocab_size);
    const uint32_t *ids;
    size_t k;
    CHECK_INT(1, tokr_doc(r, &ids, &k, &e));
    CHECK(k == 2 && ids[0] == 72 && ids[1] == 105);
    CHECK_INT(0, tokr_doc(r, &ids, &k, &e));
    tokr_close(r);
}

static void bin_round_trip(uint32_t width, uint32_t vocab)
{
    const char *path = scratch(width == 2 ? "train_000000.bin" : "train_u32.bin");
    Err e;
    BinWriter *w = binw_open(path, width, vocab, vocab - 1, &e);
    CHECK(w != NULL);
    uint32_t ids[3000];
    for (int i = 0; i < 3000; i++) ids[i] = (uint32_t)(i * 7919u) % vocab;
    CHECK_INT(0, binw_write(w, ids, 3000, &e));
    CHECK_INT(0, binw_write(w, ids, 1000, &e));
    CHECK(!file_or_temp_exists(path) || access(path, F_OK) != 0);
    CHECK_INT(0, binw_close(w, &e));

    BinFile b;
    CHECK_INT(0, bin_open(&b, path, &e));
    CHECK_INT(width, b.width);
    CHECK_INT(4000, b.n_tokens);
    CHECK_INT(vocab, b.vocab_size);
    CHECK_INT(vocab - 1, b.eot_id);
    int same = 1;
    for (int i = 0; i < 4000; i++) same &= bin_token(&b, (uint64_t)i) == ids[i % 3000];
    CHECK(same);
    bin_close(&b);

    /* llm.c's header fields, read back raw. */
    size_t n;
    char *raw = read_file(path, &n);
    int32_t hdr[3];
    memcpy(hdr, raw, sizeof hdr);
    CHECK_INT(width == 2 ? 20240520 : 20240801, hdr[0]);
    CHECK_INT(width == 2 ? 1 : 7, hdr[1]);
    CHECK_INT(4000, hdr[2]);
    CHECK_INT(1024 + width * 4000, n);

    /* Truncated by one byte: the size check names the file. */
    const char *cut = scratch("cut.bin");
    write_file(cut, raw, n - 1);
    CHECK_INT(-1, bin_open(&b, cut, &e));
    CHECK_HAS("cut.bin: offset 8: header says 4000 tokens", e.msg);
    raw[0] = 1;
    write_file(cut, raw, n);
    CHECK_INT(-1, bin_open(&b, cut, &e));
    CHECK_HAS("cut.bin: offset 0: not an llm.c token shard", e.msg);
    put_u32((unsigned char *)raw, 20240520);
    put_u32((unsigned char *)raw + 4, 7);
    write_file(cut, raw, n);
    CHECK_INT(-1, bin_open(&b, cut, &e));
    CHECK_HAS("cut.bin: offset 4: llm.c shard version 7", e.msg);
    write_file(cut, raw, 100);
    CHECK_INT(-1, bin_open(&b, cut, &e));
    CHECK_HAS("100 bytes, too short", e.msg);
    free(raw);

    w = binw_open(scratch("big.bin"), width, vocab, 0, &e);
    uint32_t bad = vocab;
    CHECK_INT(-1, binw_write(w, &bad, 1, &e));
    CHECK_HAS("token id", e.msg);
    binw_abort(w);
    CHECK(!file_or_temp_exists(scratch("big.bin")));
}

int main(void)
{
    stream_round_trip(50257, 50256, 0x0123456789abcdefull);
    stream_round_trip(65536, 0, 0); /* no tokenizer to fingerprint */
    stream_round_trip(100277, 100257, 0xfedcba9876543210ull);
    stream_version1();
    stream_errors();
    bin_round_trip(2, 50257);
    bin_round_trip(4, 128256);
    Err e;
    CHECK(binw_open(scratch("x.bin"), 2, 70000, 0, &e) == NULL);
    CHECK_HAS("needs 4-byte ids", e.msg);
    scratch_cleanup();
    return check_done("test_tokfile");
}
