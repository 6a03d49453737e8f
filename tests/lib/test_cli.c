/* lib/cli.c number parsing and lib/utf8.c: ranges, suffixes, junk refused;
 * UTF-8 validity edges and NFKC/case folding through utf8proc. */
#include <stdlib.h>

#include "check.h"
#include "cli.h"
#include "utf8.h"

static void numbers(void)
{
    uint64_t v = 7;
    CHECK_INT(0, cli_u64("300M", 0, UINT64_MAX, &v));
    CHECK_INT(300000000, v);
    CHECK_INT(0, cli_u64("2Ki", 0, UINT64_MAX, &v));
    CHECK_INT(2048, v);
    CHECK_INT(0, cli_u64("12", 12, 12, &v));
    CHECK_INT(-1, cli_u64("13", 0, 12, &v));
    CHECK_INT(12, v); /* untouched on failure */
    CHECK_INT(-1, cli_u64("-1", 0, 100, &v));
    CHECK_INT(-1, cli_u64("1.5", 0, 100, &v));
    CHECK_INT(-1, cli_u64("10x", 0, 100, &v));
    CHECK_INT(-1, cli_u64("", 0, 100, &v));
    CHECK_INT(-1, cli_u64("99999999999999999999", 0, UINT64_MAX, &v));
    CHECK_INT(-1, cli_u64("20000000T", 0, UINT64_MAX, &v));
    /* decimals with a suffix, when the value is whole (issue 13, item 11) */
    CHECK_INT(0, cli_u64("1.2M", 0, UINT64_MAX, &v));
    CHECK_INT(1200000, v);
    CHECK_INT(0, cli_u64("1.5Ki", 0, UINT64_MAX, &v));
    CHECK_INT(1536, v);
    CHECK_INT(0, cli_u64("0.25k", 0, UINT64_MAX, &v));
    CHECK_INT(250, v);
    CHECK_INT(0, cli_u64("2.500B", 0, UINT64_MAX, &v));
    CHECK_INT(2500000000, v);
    CHECK_INT(0, cli_u64("7.0", 0, UINT64_MAX, &v));
    CHECK_INT(7, v);
    CHECK_INT(0, cli_u64("18446744073.709551615G", 0, UINT64_MAX, &v));
    CHECK(v == UINT64_MAX);
    v = 3;
    CHECK_INT(-1, cli_u64("1.0000001M", 0, UINT64_MAX, &v)); /* 1000000.1 */
    CHECK_INT(-1, cli_u64("1.5", 0, UINT64_MAX, &v));
    CHECK_INT(-1, cli_u64("1.M", 0, UINT64_MAX, &v));
    CHECK_INT(-1, cli_u64(".5M", 0, UINT64_MAX, &v));
    CHECK_INT(-1, cli_u64("1.2.3M", 0, UINT64_MAX, &v));
    CHECK_INT(-1, cli_u64("18446744073.709551616G", 0, UINT64_MAX, &v)); /* one over */
    CHECK_INT(-1, cli_u64("1.5M", 0, 1000000, &v));
    CHECK_INT(3, v);
    double d = 0;
    CHECK_INT(0, cli_double("0.5%", 0, 1, &d));
    CHECK(d == 0.005);
    CHECK_INT(0, cli_double("1e-3", 0, 1, &d));
    CHECK(d == 0.001);
    CHECK_INT(-1, cli_double("nan", 0, 1, &d));
    CHECK_INT(-1, cli_double("2", 0, 1, &d));
    CHECK_INT(-1, cli_double("0.5x", 0, 1, &d));
}

static void utf8(void)
{
    static const struct { const char *s; size_t n, valid; } cases[] = {
        { "plain ascii text, longer than eight", 35, 35 },
        { "caf\xc3\xa9", 5, 5 },
        { "\xf0\x9f\x98\x80!", 5, 5 },
        { "ab\xc0\xafxyz", 7, 2 },             /* overlong '/' */
        { "abc\xed\xa0\x80", 6, 3 },           /* surrogate */
        { "\xf4\x90\x80\x80", 4, 0 },          /* above U+10FFFF */
        { "12345678\xe2\x82", 10, 8 },         /* cut short */
        { "\x80", 1, 0 },                      /* stray continuation */
        { "\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7, 7 }, /* U+FFFF, U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_INT(cases[i].valid, utf8_valid_prefix(cases[i].s, cases[i].n));
    char enc[4];
    uint32_t cp;
    for (uint32_t c = 0; c < 0x110000; c += 97) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        size_t k = utf8_encode(c, enc);
        if (utf8_decode(enc, k, &cp) != k || cp != c) {
            CHECK_INT(c, cp);
            break;
        }
    }
    size_t n;
    const char *mixed = "\xef\xac\x81le \xe2\x84\x8c STRASSE Stra\xc3\x9f" "e";
    char *s = utf8_nfkc(mixed, strlen(mixed), 1, &n);
    CHECK_MEM("file h strasse strasse", s, n); /* the "fi" ligature, black-letter H, sharp s */
    free(s);
    s = utf8_nfkc("Cafe\xcc\x81", 6, 0, &n);
    CHECK_MEM("Caf\xc3\xa9", s, n); /* composed */
    free(s);
}

/* -j N, -jN and --threads N (issue 13, item 11: -j1 was refused). */
static void threads(void)
{
    static const struct { const char *argv[3]; int argc, rc, at; unsigned threads; } cases[] = {
        { { "-j", "4" }, 2, 1, 1, 4 },
        { { "-j4" }, 1, 1, 0, 4 },
        { { "-j1" }, 1, 1, 0, 1 },
        { { "--threads", "3" }, 2, 1, 1, 3 },
        { { "-j0" }, 1, 2, 0, 0 },
        { { "-jx" }, 1, 2, 0, 0 },
        { { "-j2000" }, 1, 2, 0, 0 },
        { { "-j" }, 1, 2, 0, 0 },
        { { "--json" }, 1, 0, 0, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        CommonOpts c = { 0 };
        int i = 0;
        FILE *saved = stderr;
        stderr = fopen("/dev/null", "w"); /* the bad-usage lines */
        int rc = cli_common_option("test", &c, cases[k].argc, (char **)cases[k].argv, &i);
        fclose(stderr);
        stderr = saved;
        CHECK_INT(cases[k].rc, rc);
        if (cases[k].rc == 1) {
            CHECK_INT(cases[k].at, i);
            CHECK_INT(cases[k].threads, c.threads);
        }
    }
}

int main(void)
{
    numbers();
    threads();
    utf8();
    return check_done("test_cli");
}
