/* The test harness: CHECK macros that print "file:line: expected X, got Y" and
 * count, and check_done() that prints "name: N passed, M failed" (the line
 * tests/run.sh adds up) and gives main's exit status. Header-only. */
#ifndef CHECK_H
#define CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

static inline int check_report(int ok, const char *file, int line, const char *what)
{
    if (ok) check_passed++;
    else {
        check_failed++;
        fprintf(stderr, "%s:%d: %s\n", file, line, what);
    }
    return ok;
}

#define CHECK(cond) check_report(!!(cond), __FILE__, __LINE__, "expected " #cond ", got false")

#define CHECK_INT(expected, got)                                                               \
    do {                                                                                       \
        long long e_ = (long long)(expected), g_ = (long long)(got);                           \
        char m_[256];                                                                          \
        snprintf(m_, sizeof m_, "expected %s = %lld, got %lld", #got, e_, g_);                 \
        check_report(e_ == g_, __FILE__, __LINE__, m_);                                        \
    } while (0)

#define CHECK_STR(expected, got)                                                               \
    do {                                                                                       \
        const char *e_ = (expected), *g_ = (got);                                              \
        char m_[4096];                                                                         \
        snprintf(m_, sizeof m_, "expected %s = \"%.1500s\", got \"%.1500s\"", #got, e_, g_ ? g_ : "(null)"); \
        check_report(g_ && !strcmp(e_, g_), __FILE__, __LINE__, m_);                           \
    } while (0)

/* As CHECK_INT, as an expression that is true when it passed. */
#define CHECK_INT_RC(expected, got)                                                            \
    check_report((long long)(expected) == (long long)(got), __FILE__, __LINE__,                \
                 "expected " #got " = " #expected)

/* expected is a NUL-terminated string; got is got_len bytes. */
#define CHECK_MEM(expected, got, got_len)                                                      \
    do {                                                                                       \
        const char *e_ = (expected);                                                           \
        size_t gl_ = (got_len);                                                                \
        char m_[4096];                                                                         \
        snprintf(m_, sizeof m_, "expected %s = \"%.1500s\", got \"%.*s\"", #got, e_, (int)(gl_ > 1500 ? 1500 : gl_),      \
                 (const char *)(got));                                                         \
        check_report(strlen(e_) == gl_ && !memcmp(e_, (got), gl_), __FILE__, __LINE__, m_);    \
    } while (0)

/* got contains the NUL-terminated needle. */
#define CHECK_HAS(needle, got)                                                                 \
    do {                                                                                       \
        const char *n_ = (needle), *g_ = (got);                                                \
        char m_[4096];                                                                         \
        snprintf(m_, sizeof m_, "expected %s to contain \"%.1500s\", got \"%.1500s\"", #got, n_, g_);    \
        check_report(strstr(g_, n_) != NULL, __FILE__, __LINE__, m_);                          \
    } while (0)

static inline int check_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
