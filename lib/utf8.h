/* UTF-8 checks and Unicode normalisation (NFKC, case folding) through utf8proc. */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the longest valid UTF-8 prefix of s[0..n): n when all of it is valid.
 * Valid means RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
size_t utf8_valid_prefix(const char *s, size_t n);

/* Decode one code point at s (n > 0 bytes available). Returns its length in
 * bytes and sets *cp, or returns 0 when the sequence there is invalid. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Encode cp (<= 0x10FFFF) into out[0..4); returns the length. */
size_t utf8_encode(uint32_t cp, char *out);

/* NFKC, and with `casefold` also Unicode case folding (lowercasing that also
 * maps e.g. "ß" to "ss"). Input must be valid UTF-8. Returns a malloc'd,
 * NUL-terminated string (caller frees with free()) and its length in *out_len,
 * or NULL when out of memory or the input is invalid. */
char *utf8_nfkc(const char *s, size_t n, int casefold, size_t *out_len);

#endif
