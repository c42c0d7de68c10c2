/* quote.h — the one rule for putting a token read from an input file into a message (issue 12,
 * defect 11: file contents must never be echoed). A token is shown, in single quotes, only when it
 * is short and made of identifier / number characters ([A-Za-z0-9_.+-], at most CM_QUOTE_MAX
 * bytes): a key, a layer name, a dtype, a number. Anything else is described, never shown:
 * `<37 bytes, not shown>`. Every parser of untrusted files formats its tokens through cm_quote. */
#ifndef STEERD_COMMON_QUOTE_H
#define STEERD_COMMON_QUOTE_H

#include <stdbool.h>
#include <stddef.h>

#define CM_QUOTE_MAX 64
#define CM_QUOTE_LEN (CM_QUOTE_MAX + 3) /* quotes + NUL */

/* True when byte b may appear in a shown token. */
bool cm_quote_char(unsigned char b);
/* True when s[0..len) would be shown. */
bool cm_quote_safe(const char *s, size_t len);
/* Writes 'token' or <N bytes, not shown> into buf and returns buf. s may be NULL ("<none>"). */
const char *cm_quote(char buf[CM_QUOTE_LEN], const char *s);

#endif
