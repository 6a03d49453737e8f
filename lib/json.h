/* A strict JSON (RFC 8259) validator for one line of JSON Lines, which also finds
 * one top-level string member (the document text) and unescapes it. It exists
 * because jansson builds a tree for every line; see bench/json_read for both timed. */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>

#include "buf.h"

#define JSON_MAX_DEPTH 2048 /* jansson's limit, so that both accept the same inputs */

/* Where the text member sits in the line, so a writer can replace its value and
 * append members without re-serialising the rest. Offsets are bytes into the line. */
typedef struct JsonSpan {
    size_t val_off, val_end; /* the value, from its opening quote to just past its closing one */
    size_t close_off;        /* the object's closing '}' */
} JsonSpan;

/* Check that s[0..n) is exactly one JSON value (any type; whitespace around it
 * allowed). 0 when valid; otherwise -1, *why says what is wrong (a static
 * string) and *at the byte offset in s where it was found. */
int json_validate(const char *s, size_t n, const char **why, size_t *at);

/* Check that s[0..n) is one JSON object holding exactly one member named
 * field[0..field_len) whose value is a string, and unescape that string into
 * *text (its previous contents are replaced; it is not NUL-terminated). Errors
 * as json_validate, plus: not an object, member missing, not a string, duplicated. */
/* The `why` of json_doc_scan's three errors about the member itself (compare
 * pointers), so that callers can word them with the member's name. */
extern const char json_no_field[], json_field_not_string[], json_field_twice[];

int json_doc_scan(const char *s, size_t n, const char *field, size_t field_len, JsonSpan *span,
                  Buf *text, const char **why, size_t *at);

/* Append s[0..n) (valid UTF-8) to out as a JSON string with its quotes:
 * '"', '\\' and control characters escaped, everything else as is. */
int json_escape(Buf *out, const char *s, size_t n);

#endif
