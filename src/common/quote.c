/* quote.c — the rule of quote.h: show short identifier/number tokens, describe everything else. */
#include "common/quote.h"

#include <stdio.h>
#include <string.h>

bool cm_quote_char(unsigned char b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_' || b == '.' ||
           b == '+' || b == '-';
}

bool cm_quote_safe(const char *s, size_t len)
{
    if (len > CM_QUOTE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!cm_quote_char((unsigned char)s[i]))
            return false;
    return true;
}

const char *cm_quote(char buf[CM_QUOTE_LEN], const char *s)
{
    if (!s) {
        snprintf(buf, CM_QUOTE_LEN, "<none>");
        return buf;
    }
    size_t n = strlen(s);
    if (cm_quote_safe(s, n))
        snprintf(buf, CM_QUOTE_LEN, "'%s'", s);
    else
        snprintf(buf, CM_QUOTE_LEN, "<%zu bytes, not shown>", n);
    return buf;
}
