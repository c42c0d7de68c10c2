/* explain.c — the arithmetic behind `steerctl explain` (see explain.h): for one configuration
 * (HxWxC input, K, N, padding) the output shape, weights and multiply-accumulates of
 *   standard:            K x K conv C -> N
 *   spatially separable: 1 x K conv C -> C, then K x 1 conv C -> N
 *   depthwise separable: K x K depthwise conv (one K x K filter per channel), then 1 x 1 conv C -> N
 *   EffNet block:        1x1 conv C -> M (M = N/2), depthwise 1x3, max-pool 2x1 stride 2x1,
 *                        depthwise 3x1, 2x1 conv M -> N stride (1,2)   (fixed kernels, 'same')
 * with every formula kept as text, symbolic and with the numbers substituted. No printing, no
 * global state but getopt's (the option parsing is steerctl's, common/opts.h); counts are checked
 * against 64-bit overflow. */
#include "tools/explain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/opts.h"

void explain_config_default(explain_config *cfg)
{
    cfg->h = 12;
    cfg->w = 12;
    cfg->c = 3;
    cfg->k = 5;
    cfg->n = 256;
    cfg->pad = EXPLAIN_PAD_VALID;
}

const char *explain_pad_name(explain_pad pad)
{
    return pad == EXPLAIN_PAD_SAME ? "same" : "valid";
}

static int fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int explain_config_check(const explain_config *cfg, char *err, size_t err_len)
{
    if (cfg->h < 1 || cfg->h > EXPLAIN_MAX_SIDE || cfg->w < 1 || cfg->w > EXPLAIN_MAX_SIDE)
        return fail(err, err_len, "input height and width must be 1..%d (got %dx%d)", EXPLAIN_MAX_SIDE,
                    cfg->h, cfg->w);
    if (cfg->c < 1 || cfg->c > EXPLAIN_MAX_CHANNELS)
        return fail(err, err_len, "input channels must be 1..%d (got %d)", EXPLAIN_MAX_CHANNELS, cfg->c);
    if (cfg->k < 1 || cfg->k > EXPLAIN_MAX_KERNEL)
        return fail(err, err_len, "kernel must be 1..%d (got %d)", EXPLAIN_MAX_KERNEL, cfg->k);
    if (cfg->n < 1 || cfg->n > EXPLAIN_MAX_CHANNELS)
        return fail(err, err_len, "filters must be 1..%d (got %d)", EXPLAIN_MAX_CHANNELS, cfg->n);
    if (cfg->pad != EXPLAIN_PAD_VALID && cfg->pad != EXPLAIN_PAD_SAME)
        return fail(err, err_len, "padding must be valid or same (got %d)", (int)cfg->pad);
    if (cfg->pad == EXPLAIN_PAD_VALID && (cfg->k > cfg->h || cfg->k > cfg->w))
        return fail(err, err_len, "a %dx%d kernel does not fit a %dx%d input with valid padding", cfg->k,
                    cfg->k, cfg->h, cfg->w);
    return 0;
}

/* ---- counting and formula text ---- */

/* Product of v[0..n-1]; sets *ovf when it does not fit 64 bits. */
static uint64_t prod(bool *ovf, const uint64_t *v, size_t n)
{
    uint64_t r = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t t;
        if (__builtin_mul_overflow(r, v[i], &t)) {
            *ovf = true;
            return 0;
        }
        r = t;
    }
    return r;
}

static uint64_t sum(bool *ovf, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        *ovf = true;
        return 0;
    }
    return r;
}

/* Appends printf-style text at buf[*used], truncating silently at len. */
static void add(char *buf, size_t len, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (k > 0)
        *used += (size_t)k < len - *used ? (size_t)k : len - *used;
}

/* "<sym> = v0*v1*... = <value>", value = product of v; returns the value. */
static uint64_t formula(char *buf, size_t len, bool *ovf, const char *sym, const uint64_t *v, size_t n)
{
    uint64_t r = prod(ovf, v, n);
    size_t used = 0;
    buf[0] = '\0';
    add(buf, len, &used, "%s = ", sym);
    for (size_t i = 0; i < n; i++)
        add(buf, len, &used, "%s%llu", i ? "*" : "", (unsigned long long)v[i]);
    add(buf, len, &used, " = %llu", (unsigned long long)r);
    return r;
}

#define NV(...) (const uint64_t[]){__VA_ARGS__}, sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)

/* Starts step i of r: name, in and out shapes. */
static explain_step *step(explain_result *r, int in_h, int in_w, int in_c, int out_h, int out_w, int out_c,
                          const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static explain_step *step(explain_result *r, int in_h, int in_w, int in_c, int out_h, int out_w, int out_c,
                          const char *fmt, ...)
{
    explain_step *s = &r->steps[r->n_steps++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->what, sizeof s->what, fmt, ap);
    va_end(ap);
    s->in_h = in_h;
    s->in_w = in_w;
    s->in_c = in_c;
    s->out_h = out_h;
    s->out_w = out_w;
    s->out_c = out_c;
    return s;
}

/* Totals of r from its steps. One counted step: its own formula. Several:
 * "<sym> + <sym> = <value> + <value> = <total>". */
static void totals(explain_result *r, bool *ovf)
{
    const explain_step *last = &r->steps[r->n_steps - 1];
    r->out_h = last->out_h;
    r->out_w = last->out_w;
    r->out_c = last->out_c;
    for (int pass = 0; pass < 2; pass++) {
        char *buf = pass ? r->macs_formula : r->params_formula;
        size_t len = pass ? sizeof r->macs_formula : sizeof r->params_formula;
        const char *f[EXPLAIN_MAX_STEPS];
        uint64_t v[EXPLAIN_MAX_STEPS], total = 0;
        int n = 0;
        for (int i = 0; i < r->n_steps; i++) {
            const explain_step *s = &r->steps[i];
            const char *text = pass ? s->macs_formula : s->params_formula;
            if (!text[0])
                continue;
            f[n] = text;
            v[n] = pass ? s->macs : s->params;
            total = sum(ovf, total, v[n]);
            n++;
        }
        size_t used = 0;
        buf[0] = '\0';
        if (n == 1) {
            add(buf, len, &used, "%s", f[0]);
        } else {
            for (int i = 0; i < n; i++) /* the symbolic part: up to " = " */
                add(buf, len, &used, "%s%.*s", i ? " + " : "", (int)(strstr(f[i], " = ") - f[i]), f[i]);
            for (int i = 0; i < n; i++)
                add(buf, len, &used, "%s%llu", i ? " + " : " = ", (unsigned long long)v[i]);
            add(buf, len, &used, " = %llu", (unsigned long long)total);
        }
        if (pass)
            r->macs = total;
        else
            r->params = total;
    }
}

/* ---- the four methods ---- */

static void standard(const explain_config *c, int ho, int wo, explain_result *r, bool *ovf)
{
    uint64_t C = (uint64_t)c->c, K = (uint64_t)c->k, N = (uint64_t)c->n;
    r->name = "standard conv";
    snprintf(r->definition, sizeof r->definition, "%dx%d conv %d -> %d: every filter is a %dx%dx%d kernel",
             c->k, c->k, c->c, c->n, c->k, c->k, c->c);
    explain_step *s = step(r, c->h, c->w, c->c, ho, wo, c->n, "%dx%d conv %d->%d", c->k, c->k, c->c, c->n);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "K*K*C*N", NV(K, K, C, N));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "Ho*Wo*N*K*K*C",
                      NV((uint64_t)ho, (uint64_t)wo, N, K, K, C));
    totals(r, ovf);
}

static void spatial(const explain_config *c, int ho, int wo, explain_result *r, bool *ovf)
{
    uint64_t H = (uint64_t)c->h, C = (uint64_t)c->c, K = (uint64_t)c->k, N = (uint64_t)c->n;
    uint64_t Ho = (uint64_t)ho, Wo = (uint64_t)wo;
    r->name = "spatial separable";
    snprintf(r->definition, sizeof r->definition, "1x%d conv %d -> %d, then %dx1 conv %d -> %d", c->k, c->c,
             c->c, c->k, c->c, c->n);
    explain_step *s = step(r, c->h, c->w, c->c, c->h, wo, c->c, "1x%d conv %d->%d", c->k, c->c, c->c);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "K*C*C", NV(K, C, C));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "H*Wo*C*K*C", NV(H, Wo, C, K, C));
    s = step(r, c->h, wo, c->c, ho, wo, c->n, "%dx1 conv %d->%d", c->k, c->c, c->n);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "K*C*N", NV(K, C, N));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "Ho*Wo*N*K*C", NV(Ho, Wo, N, K, C));
    totals(r, ovf);
}

static void depthwise(const explain_config *c, int ho, int wo, explain_result *r, bool *ovf)
{
    uint64_t C = (uint64_t)c->c, K = (uint64_t)c->k, N = (uint64_t)c->n;
    uint64_t Ho = (uint64_t)ho, Wo = (uint64_t)wo;
    r->name = "depthwise separable";
    snprintf(r->definition, sizeof r->definition,
             "%dx%d depthwise (one %dx%d filter per channel), then 1x1 conv %d -> %d", c->k, c->k, c->k,
             c->k, c->c, c->n);
    explain_step *s = step(r, c->h, c->w, c->c, ho, wo, c->c, "%dx%d depthwise %d", c->k, c->k, c->c);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "K*K*C", NV(K, K, C));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "Ho*Wo*C*K*K", NV(Ho, Wo, C, K, K));
    s = step(r, ho, wo, c->c, ho, wo, c->n, "1x1 conv %d->%d", c->c, c->n);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "C*N", NV(C, N));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "Ho*Wo*N*C", NV(Ho, Wo, N, C));
    totals(r, ovf);
}

static void effnet(const explain_config *c, explain_result *r, bool *ovf)
{
    r->name = "EffNet block";
    int m = c->n / 2, hp = c->h / 2, wp = (c->w + 1) / 2;
    snprintf(r->definition, sizeof r->definition,
             "1x1 conv %d -> M=%d, dw 1x3, max-pool 2x1, dw 3x1, 2x1 conv M -> %d stride (1,2) "
             "(fixed kernels, same padding)",
             c->c, m, c->n);
    if (m < 1 || hp < 1) {
        r->applicable = false;
        snprintf(r->not_applicable, sizeof r->not_applicable,
                 "needs input height >= 2 and filters >= 2 (got height %d, filters %d)", c->h, c->n);
        return;
    }
    uint64_t H = (uint64_t)c->h, W = (uint64_t)c->w, C = (uint64_t)c->c, N = (uint64_t)c->n;
    uint64_t M = (uint64_t)m, Hp = (uint64_t)hp, Wp = (uint64_t)wp;
    explain_step *s = step(r, c->h, c->w, c->c, c->h, c->w, m, "1x1 conv %d->%d", c->c, m);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "C*M", NV(C, M));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "H*W*M*C", NV(H, W, M, C));
    s = step(r, c->h, c->w, m, c->h, c->w, m, "1x3 depthwise %d", m);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "3*M", NV(3, M));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "H*W*M*3", NV(H, W, M, 3));
    step(r, c->h, c->w, m, hp, c->w, m, "max-pool 2x1 stride 2x1");
    s = step(r, hp, c->w, m, hp, c->w, m, "3x1 depthwise %d", m);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "3*M", NV(3, M));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "Hp*W*M*3", NV(Hp, W, M, 3));
    s = step(r, hp, c->w, m, hp, wp, c->n, "2x1 conv %d->%d stride 1x2", m, c->n);
    s->params = formula(s->params_formula, sizeof s->params_formula, ovf, "2*M*N", NV(2, M, N));
    s->macs = formula(s->macs_formula, sizeof s->macs_formula, ovf, "Hp*Wp*N*2*M", NV(Hp, Wp, N, 2, M));
    totals(r, ovf);
}

int explain_compute(const explain_config *cfg, explain_result res[EXPLAIN_N_METHODS], char *err,
                    size_t err_len)
{
    if (explain_config_check(cfg, err, err_len))
        return -1;
    int ho = cfg->pad == EXPLAIN_PAD_SAME ? cfg->h : cfg->h - cfg->k + 1;
    int wo = cfg->pad == EXPLAIN_PAD_SAME ? cfg->w : cfg->w - cfg->k + 1;
    bool ovf = false;
    for (int i = 0; i < EXPLAIN_N_METHODS; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].method = (explain_method)i;
        res[i].applicable = true;
    }
    standard(cfg, ho, wo, &res[EXPLAIN_STANDARD], &ovf);
    spatial(cfg, ho, wo, &res[EXPLAIN_SPATIAL], &ovf);
    depthwise(cfg, ho, wo, &res[EXPLAIN_DEPTHWISE], &ovf);
    effnet(cfg, &res[EXPLAIN_EFFNET], &ovf);
    if (ovf)
        return fail(err, err_len, "configuration too large: a count does not fit 64 bits");
    const explain_result *std = &res[EXPLAIN_STANDARD];
    for (int i = 0; i < EXPLAIN_N_METHODS; i++) {
        if (!res[i].applicable)
            continue;
        res[i].params_ratio = (double)res[i].params / (double)std->params;
        res[i].macs_ratio = (double)res[i].macs / (double)std->macs;
    }
    return 0;
}

/* ---- option parsing ---- */

/* Parses a decimal integer lo..hi that is the whole of s (digits only). */
static int parse_int(const char *s, int lo, int hi, int *out)
{
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* "HxWxC" (x or X) with each part within bounds. */
static int parse_input(const char *s, explain_config *cfg)
{
    char part[3][16];
    int n = 0;
    size_t len = 0;
    for (const char *p = s;; p++) {
        if (*p == 'x' || *p == 'X' || *p == '\0') {
            if (n == 3 || len == 0)
                return -1;
            part[n++][len] = '\0';
            len = 0;
            if (!*p)
                break;
        } else {
            if (n == 3 || len + 1 >= sizeof part[0])
                return -1;
            part[n][len++] = *p;
        }
    }
    if (n != 3)
        return -1;
    if (parse_int(part[0], 1, EXPLAIN_MAX_SIDE, &cfg->h) || parse_int(part[1], 1, EXPLAIN_MAX_SIDE, &cfg->w) ||
        parse_int(part[2], 1, EXPLAIN_MAX_CHANNELS, &cfg->c))
        return -1;
    return 0;
}

explain_args explain_parse_args(int argc, char **argv, explain_config *cfg, char *err, size_t err_len)
{
    static const struct option opts[] = {{"input", required_argument, 0, 'i'},   {"kernel", required_argument, 0, 'k'},
                                         {"filters", required_argument, 0, 'f'}, {"padding", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    explain_config_default(cfg);
    opts_parser p;
    opts_start(&p, "steerctl", "explain", argc, argv, "i:k:f:p:", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        const char *val = p.arg;
        switch (c) {
        case OPTS_HELP:
            return EXPLAIN_ARGS_HELP;
        case OPTS_VERSION:
            return EXPLAIN_ARGS_VERSION;
        case 'i':
            if (parse_input(val, cfg)) {
                fail(err, err_len, "--input: expected HxWxC with height and width 1..%d and channels 1..%d (got '%s')",
                     EXPLAIN_MAX_SIDE, EXPLAIN_MAX_CHANNELS, val);
                return EXPLAIN_ARGS_ERROR;
            }
            break;
        case 'k':
            if (parse_int(val, 1, EXPLAIN_MAX_KERNEL, &cfg->k)) {
                fail(err, err_len, "--kernel: expected an integer 1..%d (got '%s')", EXPLAIN_MAX_KERNEL, val);
                return EXPLAIN_ARGS_ERROR;
            }
            break;
        case 'f':
            if (parse_int(val, 1, EXPLAIN_MAX_CHANNELS, &cfg->n)) {
                fail(err, err_len, "--filters: expected an integer 1..%d (got '%s')", EXPLAIN_MAX_CHANNELS, val);
                return EXPLAIN_ARGS_ERROR;
            }
            break;
        case 'p':
            if (strcmp(val, "valid") == 0) {
                cfg->pad = EXPLAIN_PAD_VALID;
            } else if (strcmp(val, "same") == 0) {
                cfg->pad = EXPLAIN_PAD_SAME;
            } else {
                fail(err, err_len, "--padding: expected valid or same (got '%s')", val);
                return EXPLAIN_ARGS_ERROR;
            }
            break;
        default: /* an unknown option, a missing value, any positional argument */
            opts_describe(&p, c, "explain", err, err_len);
            return EXPLAIN_ARGS_ERROR;
        }
    }
    if (explain_config_check(cfg, err, err_len))
        return EXPLAIN_ARGS_ERROR;
    return EXPLAIN_ARGS_RUN;
}
