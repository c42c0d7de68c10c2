/* parse_num.h — the one strict text-to-number conversion used by every parser (YAML documents,
 * driving logs): the whole string must be a finite number; a value too small for a double's
 * normal range (1e-320, a denormal, or 1e-400, which becomes 0) is a number, not an error. */
#ifndef STEERD_COMMON_PARSE_NUM_H
#define STEERD_COMMON_PARSE_NUM_H

#include <stdbool.h>

/* *out = the value of s; false (out untouched) when s is empty, has trailing characters, or is
 * not finite (inf, nan, or beyond ±DBL_MAX). */
bool cm_parse_finite(const char *s, double *out);

#endif
