/* lib/json.c: fixed cases, then a differential test against jansson on
 * generated and mutated JSON lines: both must accept and reject the same lines
 * and extract the same text. The seed is printed; TEST_SEED=N repeats a run. */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "json.h"

static int valid(const char *s)
{
    const char *why;
    size_t at;
    return json_validate(s, strlen(s), &why, &at) == 0;
}

/* The text json_doc_scan extracts from s, or the error message, in out. */
static int scan(const char *s, char *out, size_t cap, size_t *at)
{
    Buf text = { 0 };
    JsonSpan span;
    const char *why;
    size_t where = 0;
    int rc = json_doc_scan(s, strlen(s), "text", 4, &span, &text, &why, &where);
    if (rc == 0) snprintf(out, cap, "%.*s", (int)text.len, text.data ? text.data : "");
    else snprintf(out, cap, "%s", why);
    if (at) *at = where;
    buf_free(&text);
    return rc;
}

static void fixed_cases(void)
{
    static const char *good[] = {
        "{}", "[]", "0", "-0", "1.5e+3", "1E5", "-12.25e-2", "\"\"", "true", "false", "null",
        " { \"a\" : [ 1 , 2 , { } ] } ", "\"\\u00e9\\ud83d\\ude00\"", "\"\\/\\b\\f\\n\\r\\t\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "\"\\u0000\"", "[\"\x7f\"]", "\r\n\t 1\r\n",
    };
    static const char *bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{,}", "01", "1.", ".5", "+1", "1e", "1e+",
        "-", "tru", "nul", "True", "NaN", "Infinity", "'a'", "\"abc", "\"a\\x\"", "\"\\u12\"",
        "\"\\uZZZZ\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"",
        "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xff\"", "\"\xe2\x82\"",
        "{\"a\" 1}", "{1:2}", "[1 2]", "1 2", "{}x", "[]]", "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!CHECK(valid(good[i]))) fprintf(stderr, "  should accept: %s\n", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!CHECK(!valid(bad[i]))) fprintf(stderr, "  should reject: %s\n", bad[i]);

    char out[256];
    size_t at;
    CHECK_INT(0, scan("{\"id\":7,\"text\":\"a\\nb \\\"q\\\" \\u00e9\\ud83d\\ude00\"}", out, sizeof out, NULL));
    CHECK_STR("a\nb \"q\" \xc3\xa9\xf0\x9f\x98\x80", out);
    CHECK_INT(0, scan("{\"te\\u0078t\":\"escaped key\"}", out, sizeof out, NULL));
    CHECK_STR("escaped key", out);
    CHECK_INT(-1, scan("{\"id\":1}", out, sizeof out, NULL));
    CHECK_STR(json_no_field, out);
    CHECK_INT(-1, scan("{\"text\":5}", out, sizeof out, NULL));
    CHECK_STR(json_field_not_string, out);
    CHECK_INT(-1, scan("{\"text\":\"a\",\"text\":\"b\"}", out, sizeof out, NULL));
    CHECK_STR(json_field_twice, out);
    CHECK_INT(-1, scan("[\"text\"]", out, sizeof out, NULL));
    CHECK_STR("not a JSON object", out);
    CHECK_INT(-1, scan("{\"text\":\"ok\",\"n\":01}", out, sizeof out, &at));
    CHECK_INT(18, at); /* the offending '1' after the 0 */
    CHECK_INT(-1, scan("{\"text\":\"tab\there\"}", out, sizeof out, &at));
    CHECK_STR("control character in string (must be escaped)", out);
    CHECK_INT(12, at);
    /* A nested "text" is not the document's text. */
    CHECK_INT(-1, scan("{\"meta\":{\"text\":\"inner\"}}", out, sizeof out, NULL));
    CHECK_STR(json_no_field, out);

    /* The span lets a writer splice a new value in. */
    const char *line = "{\"a\":1, \"text\" : \"x\\ty\" ,\"b\":[2]}";
    Buf text = { 0 };
    JsonSpan sp;
    const char *why;
    CHECK_INT(0, json_doc_scan(line, strlen(line), "text", 4, &sp, &text, &why, &at));
    CHECK_MEM("\"x\\ty\"", line + sp.val_off, sp.val_end - sp.val_off);
    CHECK_INT(strlen(line) - 1, sp.close_off);
    buf_free(&text);

    Buf esc = { 0 };
    json_escape(&esc, "q\"b\\n\n\x01\x1f\xc3\xa9", 10);
    CHECK_MEM("\"q\\\"b\\\\n\\n\\u0001\\u001f\xc3\xa9\"", esc.data, esc.len);
    buf_free(&esc);
}

/* ---- generator ---- */

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

static void put(Buf *b, const char *s) { buf_append(b, s, strlen(s)); }

static void gen_string(Buf *b)
{
    static const char *pieces[] = {
        "a", "b", "Z", " ", "the ", "0", "\\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t",
        "\\u0041", "\\u00e9", "\\u20ac", "\\ud83d\\ude00", "\\u0000", "\\u001f", "\xc3\xa9",
        "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f", "{", "]", ":", ",",
    };
    buf_putc(b, '"');
    for (uint32_t k = rnd(12); k; k--) put(b, pieces[rnd(sizeof pieces / sizeof *pieces)]);
    buf_putc(b, '"');
}

static void gen_value(Buf *b, int depth)
{
    static const char *nums[] = { "0", "-0", "7", "-15", "3.25", "1e5", "-2.5E-3", "10e+2", "123456" };
    uint32_t k = rnd(depth > 4 ? 5 : 8);
    switch (k) {
    case 0: case 1: gen_string(b); break;
    case 2: put(b, nums[rnd(sizeof nums / sizeof *nums)]); break;
    case 3: put(b, rnd(3) == 0 ? "true" : rnd(2) ? "false" : "null"); break;
    case 4: put(b, rnd(2) ? " " : ""); gen_string(b); break;
    case 5: case 6: {
        buf_putc(b, '[');
        for (uint32_t n = rnd(4), i = 0; i < n; i++) {
            if (i) put(b, rnd(4) ? "," : " , ");
            gen_value(b, depth + 1);
        }
        buf_putc(b, ']');
        break;
    }
    default: {
        buf_putc(b, '{');
        for (uint32_t n = rnd(4), i = 0; i < n; i++) {
            if (i) buf_putc(b, ',');
            gen_string(b);
            put(b, rnd(4) ? ":" : " : ");
            gen_value(b, depth + 1);
        }
        buf_putc(b, '}');
    }
    }
}

/* A document line: an object with a "text" member among others. */
static void gen_doc(Buf *b)
{
    b->len = 0;
    buf_putc(b, '{');
    uint32_t n = 1 + rnd(4), text_at = rnd(n);
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        if (i == text_at) {
            put(b, rnd(10) ? "\"text\":" : "\"te\\u0078t\":");
            if (rnd(20)) gen_string(b);
            else gen_value(b, 1);
        } else {
            put(b, rnd(2) ? "\"id\":" : "\"meta\":");
            gen_value(b, 1);
        }
    }
    buf_putc(b, '}');
}

static void mutate(Buf *b)
{
    static const char bytes[] = "\"\\{}[],:0123456789eE.-+ tfnu\x80\xbf\xc0\xc3\xe2\xed\xf0\xf4\xff\t\r\x01";
    for (uint32_t m = 1 + rnd(3); m; m--) {
        if (!b->len) return;
        size_t at = rnd((uint32_t)b->len);
        switch (rnd(4)) {
        case 0: /* delete */
            memmove(b->data + at, b->data + at + 1, b->len - at - 1);
            b->len--;
            break;
        case 1: /* insert */
            buf_reserve(b, 1);
            memmove(b->data + at + 1, b->data + at, b->len - at);
            b->data[at] = bytes[rnd(sizeof bytes - 1)];
            b->len++;
            break;
        case 2: /* replace */
            b->data[at] = bytes[rnd(sizeof bytes - 1)];
            break;
        default: /* truncate */
            b->len = at;
        }
    }
}

typedef struct Tally {
    long cases, accepted, rejected, excluded, texts;
} Tally;

static void compare(const char *s, size_t n, Tally *t)
{
    json_error_t jerr;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    /* jansson rejects numbers its C types cannot hold and keys holding \u0000
     * (its keys are C strings); RFC 8259 allows both and so do we: limits of
     * jansson's tree, not disagreements about the syntax. */
    if (!j && (strstr(jerr.text, "too big") || strstr(jerr.text, "overflow") ||
               strstr(jerr.text, "NUL byte in object key"))) {
        t->excluded++;
        return;
    }
    const char *why = "";
    size_t at;
    int ours = json_validate(s, n, &why, &at) == 0;
    t->cases++;
    if (ours) t->accepted++;
    else t->rejected++;
    if (!check_report(ours == (j != NULL), __FILE__, __LINE__, "json_validate disagrees with jansson")) {
        fprintf(stderr, "  input (%zu bytes): %.*s\n  jansson: %s\n  ours: %s at %zu\n", n, (int)n, s,
                j ? "valid" : jerr.text, ours ? "valid" : why, at);
    }
    if (!j) return;
    Buf text = { 0 };
    JsonSpan span;
    int rc = json_doc_scan(s, n, "text", 4, &span, &text, &why, &at);
    json_t *jt = json_is_object(j) ? json_object_get(j, "text") : NULL;
    if (rc && why == json_field_twice) {
        t->excluded++; /* jansson keeps the last of duplicate keys; we refuse them */
    } else if (jt && json_is_string(jt)) {
        t->texts++;
        size_t len = json_string_length(jt);
        int same = rc == 0 && text.len == len && (!len || !memcmp(text.data, json_string_value(jt), len));
        if (!check_report(same, __FILE__, __LINE__, "extracted text differs from jansson's"))
            fprintf(stderr, "  input: %.*s\n", (int)n, s);
    } else {
        const char *want = !json_is_object(j) ? "not a JSON object" : jt ? json_field_not_string : json_no_field;
        if (!check_report(rc != 0 && !strcmp(why, want), __FILE__, __LINE__, "wrong error for a valid line"))
            fprintf(stderr, "  input: %.*s\n  want: %s\n  got: %s\n", (int)n, s, want, rc ? why : "ok");
    }
    buf_free(&text);
    json_decref(j);
}

static void depth_limit(Tally *t)
{
    /* jansson and we both allow 2048 nested values, not one more. */
    for (int depth = 2047; depth <= 2049; depth++) {
        Buf b = { 0 };
        for (int i = 0; i < depth; i++) buf_putc(&b, '[');
        for (int i = 0; i < depth; i++) buf_putc(&b, ']');
        compare(b.data, b.len, t);
        buf_free(&b);
    }
}

int main(void)
{
    fixed_cases();
    const char *env = getenv("TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("test_json: seed %llu (TEST_SEED=%llu repeats this run)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    rng = seed * 2654435761u + 1;
    Tally t = { 0 };
    depth_limit(&t);
    Buf b = { 0 };
    int before = check_failed;
    for (int i = 0; i < 200000 && check_failed - before < 10; i++) {
        if (rnd(8) == 0) { b.len = 0; gen_value(&b, 0); }
        else gen_doc(&b);
        if (rnd(2)) mutate(&b);
        compare(b.data, b.len, &t);
    }
    buf_free(&b);
    printf("test_json: %ld differential cases: %ld accepted, %ld rejected, %ld texts compared, "
           "%ld excluded (jansson's number and key limits, duplicate text keys)\n",
           t.cases, t.accepted, t.rejected, t.texts, t.excluded);
    CHECK(t.accepted > 20000 && t.rejected > 20000 && t.texts > 10000);
    return check_done("test_json");
}
