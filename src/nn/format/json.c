/* json.c — private, minimal JSON scanner (see json.h): strict syntax, bounded nesting, string
 * decoding to UTF-8 and JSON string quoting. Never reads outside [s, s+len). */
#include "nn/format/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool fail(json_cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(json_cur *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return false;
}

/* Describes the byte at pos for messages: "'x'", "byte 0xNN" or "end of header". */
static const char *what(const json_cur *c, char buf[16])
{
    if (c->pos >= c->len)
        return "end of header";
    uint8_t b = c->s[c->pos];
    if (b >= 0x20 && b < 0x7f)
        snprintf(buf, 16, "'%c'", b);
    else
        snprintf(buf, 16, "byte 0x%02x", b);
    return buf;
}

void json_init(json_cur *c, const void *s, size_t len)
{
    c->s = s;
    c->len = len;
    c->pos = 0;
    c->why[0] = '\0';
}

static void skip_ws(json_cur *c)
{
    while (c->pos < c->len) {
        uint8_t b = c->s[c->pos];
        if (b != ' ' && b != '\t' && b != '\n' && b != '\r')
            break;
        c->pos++;
    }
}

int json_peek(json_cur *c)
{
    skip_ws(c);
    return c->pos < c->len ? c->s[c->pos] : -1;
}

bool json_eat(json_cur *c, char ch)
{
    char b[16];
    if (json_peek(c) != (uint8_t)ch)
        return fail(c, "expected '%c', got %s", ch, what(c, b));
    c->pos++;
    return true;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0 when invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t b = s[0];
    if (b < 0x80)
        return 1;
    size_t k;
    uint32_t cp, min;
    if ((b & 0xe0) == 0xc0) {
        k = 2, cp = b & 0x1f, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        k = 3, cp = b & 0x0f, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        k = 4, cp = b & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

bool json_utf8_valid(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static int hexval(uint8_t b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" at pos (pos points at 'u'); advances past them. */
static bool read_u4(json_cur *c, uint32_t *out)
{
    if (c->len - c->pos < 5)
        return fail(c, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 1; i <= 4; i++) {
        int h = hexval(c->s[c->pos + i]);
        if (h < 0)
            return fail(c, "bad hex digit in \\u escape");
        v = v << 4 | (uint32_t)h;
    }
    c->pos += 5;
    *out = v;
    return true;
}

/* Appends bytes to the (possibly truncated) decode buffer. */
static void put(char *out, size_t cap, size_t *n, const void *p, size_t k)
{
    if (cap > 0 && *n < cap - 1) {
        size_t room = cap - 1 - *n;
        memcpy(out + *n, p, k < room ? k : room);
    }
    *n += k;
}

static size_t utf8_encode(uint32_t cp, uint8_t b[4])
{
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (uint8_t)(0xe0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    b[0] = (uint8_t)(0xf0 | cp >> 18);
    b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

bool json_string(json_cur *c, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    char b0[16];
    if (json_peek(c) != '"')
        return fail(c, "expected a string, got %s", what(c, b0));
    c->pos++;
    for (;;) {
        if (c->pos >= c->len)
            return fail(c, "unterminated string");
        uint8_t b = c->s[c->pos];
        if (b == '"') {
            c->pos++;
            break;
        }
        if (b < 0x20)
            return fail(c, "control character 0x%02x in string", b);
        if (b != '\\') {
            size_t k = utf8_seq(c->s + c->pos, c->len - c->pos);
            if (k == 0)
                return fail(c, "invalid UTF-8 in string");
            put(out, cap, &n, c->s + c->pos, k);
            c->pos += k;
            continue;
        }
        if (++c->pos >= c->len)
            return fail(c, "unterminated string");
        uint8_t e = c->s[c->pos], ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (!read_u4(c, &cp))
                return false;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(c, "lone low surrogate \\u%04x", (unsigned)cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (c->len - c->pos < 2 || c->s[c->pos] != '\\' || c->s[c->pos + 1] != 'u')
                    return fail(c, "high surrogate \\u%04x not followed by a low one", (unsigned)cp);
                c->pos++;
                if (!read_u4(c, &lo))
                    return false;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(c, "high surrogate \\u%04x followed by \\u%04x", (unsigned)cp, (unsigned)lo);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                return fail(c, "\\u0000 in string is not supported");
            uint8_t u[4];
            put(out, cap, &n, u, utf8_encode(cp, u));
            continue;
        }
        default:
            if (e >= 0x20 && e < 0x7f)
                return fail(c, "invalid escape '\\%c'", e);
            return fail(c, "invalid escape (byte 0x%02x)", e);
        }
        put(out, cap, &n, &ch, 1);
        c->pos++;
    }
    if (cap > 0)
        out[n < cap - 1 ? n : cap - 1] = '\0';
    if (len)
        *len = n;
    return true;
}

static bool is_digit(const json_cur *c, size_t i) { return i < c->len && c->s[i] >= '0' && c->s[i] <= '9'; }

/* Scans a JSON number at pos; sets *is_uint when it has no sign, fraction or exponent. */
static bool scan_number(json_cur *c, bool *is_uint)
{
    size_t i = c->pos;
    *is_uint = true;
    if (i < c->len && c->s[i] == '-') {
        *is_uint = false;
        i++;
    }
    if (!is_digit(c, i))
        return fail(c, "invalid number");
    if (c->s[i] == '0')
        i++;
    else
        while (is_digit(c, i))
            i++;
    if (is_digit(c, i))
        return fail(c, "number with a leading zero");
    if (i < c->len && c->s[i] == '.') {
        *is_uint = false;
        if (!is_digit(c, ++i))
            return fail(c, "invalid number (no digits after '.')");
        while (is_digit(c, i))
            i++;
    }
    if (i < c->len && (c->s[i] == 'e' || c->s[i] == 'E')) {
        *is_uint = false;
        i++;
        if (i < c->len && (c->s[i] == '+' || c->s[i] == '-'))
            i++;
        if (!is_digit(c, i))
            return fail(c, "invalid number (no exponent digits)");
        while (is_digit(c, i))
            i++;
    }
    c->pos = i;
    return true;
}

bool json_uint(json_cur *c, uint64_t *out)
{
    int p = json_peek(c);
    if (p != '-' && (p < '0' || p > '9')) {
        char b[16];
        return fail(c, "expected a non-negative integer, got %s", what(c, b));
    }
    size_t start = c->pos;
    bool is_uint;
    if (!scan_number(c, &is_uint))
        return false;
    int n = c->pos - start > 40 ? 40 : (int)(c->pos - start);
    if (!is_uint) {
        c->pos = start;
        return fail(c, "expected a non-negative integer, got %.*s", n, (const char *)c->s + start);
    }
    uint64_t v = 0;
    for (size_t i = start; i < c->pos; i++) {
        uint64_t d = (uint64_t)(c->s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            c->pos = start;
            return fail(c, "integer %.*s is too large", n, (const char *)c->s + start);
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool skip_word(json_cur *c, const char *w)
{
    size_t n = strlen(w);
    if (c->len - c->pos < n || memcmp(c->s + c->pos, w, n) != 0)
        return fail(c, "invalid literal");
    c->pos += n;
    return true;
}

bool json_skip(json_cur *c, int depth)
{
    char b[16];
    int p = json_peek(c);
    bool is_uint;
    switch (p) {
    case '"':
        return json_string(c, NULL, 0, NULL);
    case 't':
        return skip_word(c, "true");
    case 'f':
        return skip_word(c, "false");
    case 'n':
        return skip_word(c, "null");
    case '[':
    case '{':
        if (depth <= 0)
            return fail(c, "nesting deeper than %d levels", JSON_MAX_DEPTH);
        c->pos++;
        if (json_peek(c) == (p == '[' ? ']' : '}')) {
            c->pos++;
            return true;
        }
        for (;;) {
            if (p == '{' && !(json_string(c, NULL, 0, NULL) && json_eat(c, ':')))
                return false;
            if (!json_skip(c, depth - 1))
                return false;
            int q = json_peek(c);
            if (q == ',') {
                c->pos++;
                continue;
            }
            if (q == (p == '[' ? ']' : '}')) {
                c->pos++;
                return true;
            }
            return fail(c, "expected ',' or '%c', got %s", p == '[' ? ']' : '}', what(c, b));
        }
    default:
        if (p == '-' || (p >= '0' && p <= '9'))
            return scan_number(c, &is_uint);
        return fail(c, "expected a value, got %s", what(c, b));
    }
}

size_t json_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    char esc[8];
#define EMIT(ch)                                                                                   \
    do {                                                                                           \
        if (n + 1 < cap)                                                                           \
            out[n] = (ch);                                                                         \
        n++;                                                                                       \
    } while (0)
    EMIT('"');
    for (const uint8_t *p = (const uint8_t *)s; *p; p++) {
        const char *e = NULL;
        switch (*p) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                e = esc;
            }
        }
        if (e)
            for (; *e; e++)
                EMIT(*e);
        else
            EMIT((char)*p);
    }
    EMIT('"');
#undef EMIT
    if (cap > 0)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}
