/* parse_num.c — strict, finite strtod (see parse_num.h). */
#include "common/parse_num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

bool cm_parse_finite(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    /* strtod reports ERANGE both on overflow (±HUGE_VAL, refused by isfinite) and on underflow
     * (a denormal or 0, which are valid numbers). */
    if (end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}
