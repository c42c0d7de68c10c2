/* json.h — private, minimal JSON scanner used by the safetensors header reader and writer.
 * A cursor walks a byte range; strict RFC 8259 syntax (UTF-8 checked, escapes incl. surrogate
 * pairs decoded to UTF-8), a depth limit on nesting, non-negative integers only as numbers that
 * are read (any number can be skipped). On failure `why` says what was wrong, at byte `pos`. */
#ifndef STEERD_FORMAT_JSON_H
#define STEERD_FORMAT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

typedef struct {
    const uint8_t *s;
    size_t len, pos;
    char why[160];
} json_cur;

void json_init(json_cur *c, const void *s, size_t len);
/* Skips whitespace, returns the next byte or -1 at the end. */
int json_peek(json_cur *c);
/* Skips whitespace and consumes `ch`; false (why set) when the next byte is something else. */
bool json_eat(json_cur *c, char ch);
/* Reads a string value. Decodes into out (cap bytes incl. NUL; out may be NULL when cap is 0);
 * a longer string is truncated in out but fully consumed, and *len (may be NULL) gets the
 * full decoded length, so `*len >= cap` means "too long". \u0000 is rejected. */
bool json_string(json_cur *c, char *out, size_t cap, size_t *len);
/* Reads a non-negative integer (no sign, fraction or exponent) that fits in uint64_t. */
bool json_uint(json_cur *c, uint64_t *out);
/* Skips one value of any type, nesting at most `depth` arrays/objects. */
bool json_skip(json_cur *c, int depth);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
bool json_utf8_valid(const char *s, size_t len);
/* Writes s as a JSON string literal (with quotes) into out; returns the length it needs
 * (excluding NUL) like snprintf, writing at most cap bytes incl. NUL. */
size_t json_quote(char *out, size_t cap, const char *s);

#endif
