/* Argument parsing helpers. They print only bad-usage messages, and only when a
 * main hands them an argument to parse. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The digits after a decimal point, as frac / 10^k with trailing zeros
 * dropped; *end past them. -1 when there is no digit or more than 19 count. */
static int fraction(const char *s, const char **end, uint64_t *frac, uint64_t *pow10)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9') p++;
    const char *last = p;
    while (last > s && last[-1] == '0') last--;
    if (p == s || last - s > 19) return -1;
    *frac = 0;
    *pow10 = 1;
    for (const char *q = s; q < last; q++) {
        *frac = *frac * 10 + (uint64_t)(*q - '0');
        *pow10 *= 10;
    }
    *end = p;
    return 0;
}

int cli_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno) return -1;
    /* "1.2M": a fraction is taken when the whole value is a whole number */
    uint64_t frac = 0, pow10 = 1;
    if (*end == '.') {
        const char *after;
        if (fraction(end + 1, &after, &frac, &pow10)) return -1;
        end = (char *)after;
    }
    uint64_t mul = 1;
    if (!strcmp(end, "k") || !strcmp(end, "K")) mul = 1000ull;
    else if (!strcmp(end, "M")) mul = 1000000ull;
    else if (!strcmp(end, "G") || !strcmp(end, "B")) mul = 1000000000ull;
    else if (!strcmp(end, "T")) mul = 1000000000000ull;
    else if (!strcmp(end, "Ki")) mul = 1ull << 10;
    else if (!strcmp(end, "Mi")) mul = 1ull << 20;
    else if (!strcmp(end, "Gi")) mul = 1ull << 30;
    else if (*end) return -1;
    if (v > UINT64_MAX / mul) return -1;
    v *= mul;
    if (frac) { /* frac < 10^19 and mul <= 10^12: the product fits in 128 bits */
        unsigned __int128 part = (unsigned __int128)frac * mul;
        if (part % pow10) return -1; /* "1.5" or "1.0000001M": not a whole number */
        uint64_t add = (uint64_t)(part / pow10);
        if (v > UINT64_MAX - add) return -1;
        v += add;
    }
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

int cli_double(const char *s, double min, double max, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno) return -1;
    if (!strcmp(end, "%")) v /= 100.0;
    else if (*end) return -1;
    if (!isfinite(v) || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int bad_usage(const char *prog, const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry '%s --help'\n", cmd);
    return 2;
}

int cli_bad_usage(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bad_usage(prog, prog, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_bad_usage_for(const char *prog, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bad_usage(prog, cmd, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_version(const char *prog)
{
    printf("%s (%s) %s\n", prog, TOOLKIT_NAME, TOOLKIT_VERSION);
    return 0;
}

unsigned cli_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* The value after argv[*i], or NULL (with the message printed) when missing. */
static const char *value(const char *prog, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_bad_usage(prog, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

const char cli_doc_help[] =
    "Input documents:\n"
    "  FILE...              JSON Lines (one object a line) or plain text (a document a\n"
    "                       file); none or '-' reads stdin. Files ending .gz are\n"
    "                       decompressed. A FOLDER stands for the files under it, in\n"
    "                       byte order of their paths; names starting with '.', links\n"
    "                       to folders and binary files (a NUL byte) are skipped and\n"
    "                       counted in the summary; --rejects, where a program has\n"
    "                       it, also lists each binary file ({\"text\":\"\",\"path\":FILE,\n"
    "                       REASON:\"binary\"})\n"
    "  --format F           auto (default: *.jsonl *.json are JSON Lines, *.txt *.text\n"
    "                       *.md plain text, any other file JSON Lines when its first\n"
    "                       non-blank line is a JSON object, else plain text), jsonl,\n"
    "                       or text\n"
    "  --field NAME         JSON member holding the text (default: text)\n"
    "  --sep LINE           plain text: a line equal to LINE ends a document (default:\n"
    "                       one document per file)\n"
    "  --encoding E         of plain text: utf8 (default: invalid UTF-8 is a bad\n"
    "                       file), or latin1 (each byte is a character, converted to\n"
    "                       UTF-8). JSON Lines are always UTF-8\n"
    "  --on-error stop|skip a line that is not valid JSON or UTF-8 (in plain text: the\n"
    "                       file), or is over --max-line: stop with exit 1 (default),\n"
    "                       or skip it, count it and go on\n"
    "  --bad-lines FILE     with --on-error skip: copy each bad line here, byte for byte\n"
    "  --max-line BYTES     longest line accepted (default 256Mi)\n"
    "  Plain-text documents come out as {\"text\":...,\"path\":FILE}.\n";

const char cli_common_help[] =
    "Reporting:\n"
    "  --progress           show progress even when stderr is not a terminal\n"
    "  --quiet              no progress, no summary (errors are still shown)\n"
    "  -j N                 threads, for the programs that use them (default: every core)\n"
    "  -h, --help           this help;  --version  the version\n";

int cli_doc_option(const char *prog, DocOpts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--field")) {
        if (!(v = value(prog, argc, argv, i))) return 2;
        if (!*v) return cli_bad_usage(prog, "--field needs a non-empty name");
        o->field = v;
    } else if (!strcmp(a, "--format")) {
        if (!(v = value(prog, argc, argv, i))) return 2;
        if (!strcmp(v, "auto")) o->format = DOC_AUTO;
        else if (!strcmp(v, "jsonl")) o->format = DOC_JSONL;
        else if (!strcmp(v, "text")) o->format = DOC_TEXT;
        else return cli_bad_usage(prog, "--format is auto, jsonl or text, not '%s'", v);
    } else if (!strcmp(a, "--encoding")) {
        if (!(v = value(prog, argc, argv, i))) return 2;
        if (!strcmp(v, "utf8") || !strcmp(v, "utf-8") || !strcmp(v, "UTF-8")) o->encoding = DOC_UTF8;
        else if (!strcmp(v, "latin1") || !strcmp(v, "latin-1") || !strcmp(v, "iso-8859-1") ||
                 !strcmp(v, "ISO-8859-1"))
            o->encoding = DOC_LATIN1;
        else return cli_bad_usage(prog, "--encoding is utf8 or latin1, not '%s'", v);
    } else if (!strcmp(a, "--sep")) {
        if (!(v = value(prog, argc, argv, i))) return 2;
        o->sep = v;
    } else if (!strcmp(a, "--on-error")) {
        if (!(v = value(prog, argc, argv, i))) return 2;
        if (!strcmp(v, "stop")) o->on_error = ON_ERROR_STOP;
        else if (!strcmp(v, "skip")) o->on_error = ON_ERROR_SKIP;
        else return cli_bad_usage(prog, "--on-error is stop or skip, not '%s'", v);
    } else if (!strcmp(a, "--bad-lines")) {
        if (!(v = value(prog, argc, argv, i))) return 2;
        o->bad_lines = v;
    } else if (!strcmp(a, "--max-line")) {
        uint64_t n;
        if (!(v = value(prog, argc, argv, i))) return 2;
        if (cli_u64(v, 16, (uint64_t)1 << 40, &n))
            return cli_bad_usage(prog, "--max-line needs a byte count of at least 16, not '%s'", v);
        o->max_line = (size_t)n;
    } else {
        return 0;
    }
    return 1;
}

int cli_common_option(const char *prog, CommonOpts *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--progress")) c->progress = PROGRESS_ON;
    else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) c->progress = PROGRESS_QUIET;
    else if (!strcmp(a, "-j") || !strcmp(a, "--threads") || (!strncmp(a, "-j", 2) && a[2])) {
        uint64_t n;
        if (a[2] && a[1] == 'j') v = a + 2; /* the attached form, -j4 */
        else if (!(v = value(prog, argc, argv, i))) return 2;
        if (cli_u64(v, 1, 1024, &n)) return cli_bad_usage(prog, "-j needs 1..1024, not '%s'", v);
        c->threads = (unsigned)n;
    } else {
        return 0;
    }
    return 1;
}
