/* conv2d.c — 2-D convolution forward, NHWC, grouped, explicit (possibly asymmetric) zero padding.
 *   in  [batch][IH][IW][cin]      weight [G][kh][kw][cin/G][cout/G]      bias [cout] or NULL
 *   out [batch][OH][OW][cout]     output channel of group g: g*(cout/G) + j
 * A 1x1 stride-1 unpadded conv is a GEMM straight on the NHWC rows ([batch*H*W, cin] x [cin, cout]
 * per group). Anything else goes through im2col: the patch of each output pixel, ordered
 * [G][kh][kw][cin/G], is gathered into per-thread scratch a bounded chunk of output rows at a
 * time, then one GEMM per group with the bias and activation fused in its epilogue. Threads split
 * the output pixels (or, when there are few, the output channels) and each runs its own
 * im2col + GEMM on its own scratch slice, so one pool launch covers the whole layer. */
#include <stdint.h>
#include <string.h>

#include "cpu.h"

enum {
    COL_BUDGET = 96 * 1024, /* floats of im2col per chunk (stays in L2) */
    ROW_ALIGN = 28,         /* chunk / split granularity in output pixels (multiple of every MR) */
    SCRATCH_ALIGN = 16,     /* floats */
};

typedef struct {
    const nn_layer *l;
    int batch, G, cin, cout, cin_g, cout_g, K;
    int IH, IW, OH, OW;
    int M;            /* batch * OH * OW output pixels */
    bool direct;      /* 1x1, stride 1, no padding: A is the input itself */
    int R;            /* output pixels per im2col chunk */
    size_t col;       /* im2col floats per thread */
    size_t ws;        /* GEMM workspace floats per thread */
    size_t per_thread;
} conv_plan;

static void plan_conv(conv_plan *c, const nn_layer *l, int batch)
{
    memset(c, 0, sizeof *c);
    c->l = l;
    c->batch = batch;
    c->G = l->groups > 0 ? l->groups : 1;
    c->cin = l->in.c;
    c->cout = l->out.c;
    c->cin_g = c->cin / c->G;
    c->cout_g = c->cout / c->G;
    c->K = l->kh * l->kw * c->cin_g;
    c->IH = l->in.h, c->IW = l->in.w, c->OH = l->out.h, c->OW = l->out.w;
    c->M = batch * c->OH * c->OW;
    c->direct = l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1 && l->pad_top == 0 && l->pad_bottom == 0 &&
                l->pad_left == 0 && l->pad_right == 0 && c->OH == c->IH && c->OW == c->IW;
    if (c->direct) {
        c->R = c->M;
        c->col = 0;
    } else {
        size_t rows = COL_BUDGET / ((size_t)c->G * (size_t)c->K);
        rows = rows / ROW_ALIGN * ROW_ALIGN;
        if (rows < ROW_ALIGN) rows = ROW_ALIGN;
        c->R = rows < (size_t)c->M ? (int)rows : c->M;
        c->col = (size_t)c->R * c->G * c->K;
    }
    c->ws = nn_sgemm_ws_floats(c->R, c->cout_g, c->K, 1);
    c->per_thread = c->col + c->ws + 2 * SCRATCH_ALIGN;
}

size_t cpu_conv2d_scratch_floats(const nn_layer *l, int batch, int threads)
{
    conv_plan c;
    plan_conv(&c, l, batch < 1 ? 1 : batch);
    return (size_t)(threads < 1 ? 1 : threads) * c.per_thread;
}

static float *align_up(float *p)
{
    uintptr_t u = ((uintptr_t)p + SCRATCH_ALIGN * sizeof(float) - 1) & ~(uintptr_t)(SCRATCH_ALIGN * sizeof(float) - 1);
    return (float *)u;
}

#define INLINE static inline __attribute__((always_inline))

/* d[n] <- s[n], or zeros when s is NULL. Fixed 64-byte chunks compile to whole-vector moves for
 * the instruction set of the function this is inlined into (no library call per pixel). */
INLINE void copy_or_zero(float *restrict d, const float *restrict s, int n)
{
    int i = 0;
    if (!s) {
        for (; i + 16 <= n; i += 16) memset(d + i, 0, 64);
        for (; i < n; i++) d[i] = 0.0f;
        return;
    }
    for (; i + 16 <= n; i += 16) memcpy(d + i, s + i, 64);
    if (i + 8 <= n) memcpy(d + i, s + i, 32), i += 8;
    if (i + 4 <= n) memcpy(d + i, s + i, 16), i += 4;
    for (; i < n; i++) d[i] = s[i];
}

/* col[rows][G][kh][kw][cin_g] <- patches of output pixels [r0, r0+rows) (flattened b, oh, ow). */
INLINE void im2col_body(const conv_plan *c, float *restrict col, const float *restrict in, int r0, int rows)
{
    const nn_layer *l = c->l;
    const int KH = l->kh, KW = l->kw, cin = c->cin, cg = c->cin_g, G = c->G, K = c->K;
    int ow = r0 % c->OW, oh = r0 / c->OW % c->OH, b = r0 / (c->OW * c->OH);
    for (int r = 0; r < rows; r++) {
        float *dst = col + (size_t)r * G * K;
        const int ih0 = oh * l->sh - l->pad_top, iw0 = ow * l->sw - l->pad_left;
        const float *img = in + (size_t)b * c->IH * c->IW * cin;
        const bool wfull = iw0 >= 0 && iw0 + KW <= c->IW;
        for (int kh = 0; kh < KH; kh++) {
            const int ih = ih0 + kh;
            const bool hin = ih >= 0 && ih < c->IH;
            const float *srow = hin ? img + ((size_t)ih * c->IW + (wfull ? iw0 : 0)) * cin : NULL;
            if (G == 1 && (!hin || wfull)) { /* one contiguous run of KW pixels */
                if (srow) __builtin_prefetch(srow + (size_t)16 * l->sw * cin); /* strided rows defeat HW prefetch */
                copy_or_zero(dst + (size_t)kh * KW * cin, srow, KW * cin);
                continue;
            }
            for (int kw = 0; kw < KW; kw++) {
                const int iw = iw0 + kw;
                const float *s = hin && iw >= 0 && iw < c->IW ? img + ((size_t)ih * c->IW + iw) * cin : NULL;
                for (int g = 0; g < G; g++)
                    copy_or_zero(dst + (size_t)g * K + (size_t)(kh * KW + kw) * cg, s ? s + (size_t)g * cg : NULL, cg);
            }
        }
        if (++ow == c->OW) {
            ow = 0;
            if (++oh == c->OH) oh = 0, b++;
        }
    }
}

static void im2col_base(const conv_plan *c, float *col, const float *in, int r0, int rows)
{
    im2col_body(c, col, in, r0, rows);
}
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f,avx2,fma"))) static void im2col_512(const conv_plan *c, float *col, const float *in,
                                                                  int r0, int rows)
{
    im2col_body(c, col, in, r0, rows);
}
#endif

static void im2col(const conv_plan *c, nn_cpu_isa isa, float *col, const float *in, int r0, int rows)
{
#if defined(__x86_64__) || defined(__i386__)
    if (isa == NN_CPU_ISA_AVX512) {
        im2col_512(c, col, in, r0, rows);
        return;
    }
#else
    (void)isa; /* one path off x86 */
#endif
    im2col_base(c, col, in, r0, rows);
}

typedef struct {
    const conv_plan *c;
    const cpu_fwd_args *a;
    int parts;
    bool split_m;
} conv_par;

static void conv_task(void *ctx, int begin, int end, int thread)
{
    const conv_par *cp = ctx;
    const conv_plan *c = cp->c;
    const cpu_fwd_args *a = cp->a;
    const nn_layer *l = c->l;
    float *col = align_up(a->scratch + (size_t)thread * c->per_thread);
    float *ws = align_up(col + c->col);
    const float *W = a->p[0], *bias = l->has_bias ? a->p[1] : NULL;
    const nn_cpu_isa isa = cpu_isa(a);
    for (int t = begin; t < end; t++) {
        int m0 = 0, m1 = c->M, n0 = 0, n1 = c->cout_g;
        if (cp->split_m) {
            int units = (c->M + ROW_ALIGN - 1) / ROW_ALIGN;
            m0 = (int)((long long)units * t / cp->parts) * ROW_ALIGN;
            m1 = (int)((long long)units * (t + 1) / cp->parts) * ROW_ALIGN;
            if (m1 > c->M) m1 = c->M;
        } else {
            int units = (c->cout_g + 15) / 16;
            n0 = (int)((long long)units * t / cp->parts) * 16;
            n1 = (int)((long long)units * (t + 1) / cp->parts) * 16;
            if (n1 > c->cout_g) n1 = c->cout_g;
        }
        for (int r = m0; r < m1; r += c->R) {
            const int rows = m1 - r < c->R ? m1 - r : c->R;
            if (!c->direct) im2col(c, isa, col, a->in[0], r, rows);
            for (int g = 0; g < c->G; g++) {
                const float *A = c->direct ? a->in[0] + (size_t)r * c->cin + (size_t)g * c->cin_g
                                           : col + (size_t)g * c->K;
                const int lda = c->direct ? c->cin : c->G * c->K;
                nn_sgemm_isa(isa, NULL, rows, n1 - n0, c->K, A, lda, W + (size_t)g * c->K * c->cout_g + n0, c->cout_g,
                         a->out + (size_t)r * c->cout + (size_t)g * c->cout_g + n0, c->cout,
                         bias ? bias + (size_t)g * c->cout_g + n0 : NULL, false, l->act, l->act_alpha, ws);
            }
        }
    }
}

void cpu_conv2d_forward(const cpu_fwd_args *a)
{
    conv_plan c;
    plan_conv(&c, a->l, a->batch);
    if (c.M == 0 || c.cout == 0) return;
    conv_par cp = {.c = &c, .a = a, .parts = 1, .split_m = true};
    const int T = nn_pool_threads(a->pool);
    const double work = (double)c.M * c.cout * c.K;
    if (T > 1 && work >= 131072.0) { /* ~2 us of FMAs: worth a pool launch */
        const int mu = (c.M + ROW_ALIGN - 1) / ROW_ALIGN, nu = (c.cout_g + 15) / 16;
        if (mu >= 2 * T || mu >= nu) cp.parts = T < mu ? T : mu;
        else cp.parts = T < nu ? T : nu, cp.split_m = false;
    }
    if (cp.parts == 1) conv_task(&cp, 0, 1, 0);
    else nn_pool_run(a->pool, cp.parts, conv_task, &cp);
}

/* ---------------------------------------------------------------------------- backward
 * dy [batch][OH][OW][cout]. Per chunk of output pixels:
 *   dW_g [K][cout_g] += col_g^T [K][rows] * dy_g [rows][cout_g]   (nn_sgemm_at: col read transposed)
 *   d_in += col2im(dy_g [rows][cout_g] * W_g^T [cout_g][K])       (W^T built once per call)
 *   db += column sums of dy.
 * A 1x1 stride-1 unpadded conv needs neither im2col nor col2im: col is the input rows and the
 * input gradient GEMM accumulates straight into d_in. Threads split the samples, so col2im
 * never races; each part sums dW and db over its samples, in order, into its own slice of
 * scratch, and the caller adds the slices in part order (reproducible for a thread count). */

typedef struct {
    conv_plan c;
    size_t wt;         /* floats of W^T (shared, at the start of scratch) */
    size_t dcol, dw, ws, per_thread;
} conv_bplan;

static void plan_conv_bwd(conv_bplan *b, const nn_layer *l, int batch)
{
    plan_conv(&b->c, l, batch);
    const conv_plan *c = &b->c;
    int R = c->R;
    if (c->direct) { /* the forward's plan has no chunking for 1x1: bound it here */
        size_t rows = COL_BUDGET / ((size_t)c->G * (size_t)c->K);
        rows = rows / ROW_ALIGN * ROW_ALIGN;
        if (rows < ROW_ALIGN) rows = ROW_ALIGN;
        R = rows < (size_t)c->M ? (int)rows : c->M;
        b->c.R = R;
        b->c.col = 0;
    }
    b->wt = (size_t)c->G * c->cout_g * c->K + SCRATCH_ALIGN;
    b->dcol = c->direct ? 0 : (size_t)R * c->G * c->K;
    b->dw = (size_t)c->G * c->K * c->cout_g + (size_t)c->cout;
    /* the dW GEMM's K-dimension is a chunk's row count: any value up to R */
    size_t w1 = nn_sgemm_ws_floats_upto(c->K, c->cout_g, R, 1), w2 = nn_sgemm_ws_floats(R, c->K, c->cout_g, 1);
    b->ws = w1 > w2 ? w1 : w2;
    b->per_thread = b->c.col + b->dcol + b->dw + b->ws + 5 * SCRATCH_ALIGN;
}

size_t cpu_conv2d_bwd_scratch_floats(const nn_layer *l, int batch, int threads)
{
    conv_bplan b;
    plan_conv_bwd(&b, l, batch < 1 ? 1 : batch);
    if (threads < 1) threads = 1;
    if (threads > batch) threads = batch < 1 ? 1 : batch;
    return b.wt + (size_t)threads * b.per_thread + SCRATCH_ALIGN;
}

/* d_in[pixels of output rows r0..r0+rows) patches] += dcol (the adjoint of im2col_body). */
INLINE void col2im_body(const conv_plan *c, float *din, const float *dcol, int r0, int rows)
{
    const nn_layer *l = c->l;
    const int KH = l->kh, KW = l->kw, cin = c->cin, cg = c->cin_g, G = c->G, K = c->K;
    int ow = r0 % c->OW, oh = r0 / c->OW % c->OH, b = r0 / (c->OW * c->OH);
    for (int r = 0; r < rows; r++) {
        const float *src = dcol + (size_t)r * G * K;
        const int ih0 = oh * l->sh - l->pad_top, iw0 = ow * l->sw - l->pad_left;
        float *img = din + (size_t)b * c->IH * c->IW * cin;
        for (int kh = 0; kh < KH; kh++) {
            const int ih = ih0 + kh;
            if (ih < 0 || ih >= c->IH) continue;
            for (int kw = 0; kw < KW; kw++) {
                const int iw = iw0 + kw;
                if (iw < 0 || iw >= c->IW) continue;
                float *d = img + ((size_t)ih * c->IW + iw) * cin;
                for (int g = 0; g < G; g++) {
                    const float *restrict s = src + (size_t)g * K + (size_t)(kh * KW + kw) * cg;
                    float *restrict dg = d + (size_t)g * cg;
                    for (int i = 0; i < cg; i++) dg[i] += s[i];
                }
            }
        }
        if (++ow == c->OW) {
            ow = 0;
            if (++oh == c->OH) oh = 0, b++;
        }
    }
}

static void col2im_base(const conv_plan *c, float *din, const float *dcol, int r0, int rows)
{
    col2im_body(c, din, dcol, r0, rows);
}
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f,avx2,fma"))) static void col2im_512(const conv_plan *c, float *din, const float *dcol,
                                                                  int r0, int rows)
{
    col2im_body(c, din, dcol, r0, rows);
}
#endif

static void col2im_add(const conv_plan *c, nn_cpu_isa isa, float *din, const float *dcol, int r0, int rows)
{
#if defined(__x86_64__) || defined(__i386__)
    if (isa == NN_CPU_ISA_AVX512) {
        col2im_512(c, din, dcol, r0, rows);
        return;
    }
#endif
    (void)isa;
    col2im_base(c, din, dcol, r0, rows);
}

/* db[n] += column sums of dy [rows][n] (row stride n). */
INLINE void colsum_body(float *restrict db, const float *restrict dy, int rows, int n)
{
    for (int i = 0; i < rows; i++)
        for (int o = 0; o < n; o++) db[o] += dy[(size_t)i * n + o];
}
static void colsum_base(float *db, const float *dy, int rows, int n) { colsum_body(db, dy, rows, n); }
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f,avx2,fma"))) static void colsum_512(float *db, const float *dy, int rows, int n)
{
    colsum_body(db, dy, rows, n);
}
#endif
static void colsum(nn_cpu_isa isa, float *db, const float *dy, int rows, int n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (isa == NN_CPU_ISA_AVX512) {
        colsum_512(db, dy, rows, n);
        return;
    }
#endif
    (void)isa;
    colsum_base(db, dy, rows, n);
}

void cpu_transpose(float *dst, int ldd, const float *src, int lds, int rows, int cols)
{
    for (int r0 = 0; r0 < rows; r0 += 32)
        for (int c0 = 0; c0 < cols; c0 += 32) {
            const int r1 = r0 + 32 < rows ? r0 + 32 : rows, c1 = c0 + 32 < cols ? c0 + 32 : cols;
            for (int r = r0; r < r1; r++)
                for (int cc = c0; cc < c1; cc++) dst[(size_t)cc * ldd + r] = src[(size_t)r * lds + cc];
        }
}

typedef struct {
    const conv_bplan *b;
    const cpu_bwd_args *a;
    const float *wt;
    int parts;
} conv_bpar;

static float *thread_slice(const conv_bpar *p, int t) { return p->a->scratch + p->b->wt + (size_t)t * p->b->per_thread; }

/* The part's slices: col, dcol, dw (+ db), GEMM workspace. */
static void part_slices(const conv_bpar *p, int t, float **col, float **dcol, float **dw, float **ws)
{
    *col = align_up(thread_slice(p, t));
    *dcol = align_up(*col + p->b->c.col);
    *dw = align_up(*dcol + p->b->dcol);
    *ws = align_up(*dw + p->b->dw);
}

static void conv_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread; /* slices are per part: parts <= threads and each part is one thread's */
    const conv_bpar *p = ctx;
    const conv_plan *c = &p->b->c;
    const cpu_bwd_args *a = p->a;
    const int G = c->G, K = c->K, cg_out = c->cout_g, per_sample = c->OH * c->OW;
    const nn_cpu_isa isa = cpu_bwd_isa(a);
    const bool want_b = a->l->has_bias && a->d_p[1];
    for (int t = begin; t < end; t++) {
        float *col, *dcol, *dw, *ws;
        part_slices(p, t, &col, &dcol, &dw, &ws);
        float *db = dw + (size_t)G * K * cg_out;
        memset(dw, 0, p->b->dw * sizeof(float));
        const int s0 = (int)((long long)a->batch * t / p->parts), s1 = (int)((long long)a->batch * (t + 1) / p->parts);
        const int m0 = s0 * per_sample, m1 = s1 * per_sample;
        /* overwrite: the 1x1 GEMM writes d_in (each group its own columns); col2im adds, so the
         * part's samples are zeroed first */
        const bool acc_in = !(a->overwrite && c->direct);
        if (a->overwrite && !c->direct)
            memset(a->d_in[0] + (size_t)s0 * c->IH * c->IW * c->cin, 0,
                   (size_t)(s1 - s0) * c->IH * c->IW * c->cin * sizeof(float));
        for (int r = m0; r < m1; r += c->R) {
            const int rows = m1 - r < c->R ? m1 - r : c->R;
            const float *dy = a->dy + (size_t)r * c->cout;
            if (!c->direct) im2col(c, isa, col, a->in[0], r, rows);
            for (int g = 0; g < G; g++) {
                const float *dyg = dy + (size_t)g * cg_out;
                const float *wtg = p->wt + (size_t)g * cg_out * K;
                if (c->direct) {
                    const size_t xo = (size_t)r * c->cin + (size_t)g * c->cin_g;
                    if (a->d_p[0])
                        nn_sgemm_at_isa(isa, NULL, K, cg_out, rows, a->in[0] + xo, c->cin, dyg, c->cout,
                                    dw + (size_t)g * K * cg_out, cg_out, true, ws);
                    nn_sgemm_isa(isa, NULL, rows, K, cg_out, dyg, c->cout, wtg, K, a->d_in[0] + xo, c->cin, NULL, acc_in,
                             NN_ACT_NONE, 0.0f, ws);
                    continue;
                }
                if (a->d_p[0])
                    nn_sgemm_at_isa(isa, NULL, K, cg_out, rows, col + (size_t)g * K, G * K, dyg, c->cout,
                                dw + (size_t)g * K * cg_out, cg_out, true, ws);
                nn_sgemm_isa(isa, NULL, rows, K, cg_out, dyg, c->cout, wtg, K, dcol + (size_t)g * K, G * K, NULL, false,
                         NN_ACT_NONE, 0.0f, ws);
            }
            if (!c->direct) col2im_add(c, isa, a->d_in[0], dcol, r, rows);
            if (want_b) colsum(isa, db, dy, rows, c->cout);
        }
    }
}

void cpu_conv2d_backward(const cpu_bwd_args *a)
{
    conv_bplan b;
    plan_conv_bwd(&b, a->l, a->batch);
    const conv_plan *c = &b.c;
    if (c->M == 0 || c->cout == 0) {
        if (a->overwrite) memset(a->d_in[0], 0, (size_t)a->batch * nn_shape_size(a->l->in) * sizeof(float));
        return;
    }
    float *wt = align_up(a->scratch);
    for (int g = 0; g < c->G; g++) /* W_g [K][cout_g] -> W_g^T [cout_g][K] */
        cpu_transpose(wt + (size_t)g * c->cout_g * c->K, c->K, a->p[0] + (size_t)g * c->K * c->cout_g, c->cout_g,
                      c->K, c->cout_g);
    const int T = nn_pool_threads(a->pool);
    conv_bpar p = {.b = &b, .a = a, .wt = wt, .parts = T < a->batch ? T : a->batch};
    if (p.parts < 1) p.parts = 1;
    if (p.parts == 1 || (double)c->M * c->cout * c->K < 131072.0) {
        p.parts = 1;
        conv_bwd_task(&p, 0, 1, 0);
    } else {
        nn_pool_run(a->pool, p.parts, conv_bwd_task, &p);
    }
    const size_t nw = (size_t)c->G * c->K * c->cout_g;
    for (int t = 0; t < p.parts; t++) {
        float *col, *dcol, *dw, *ws;
        part_slices(&p, t, &col, &dcol, &dw, &ws);
        const float *db = dw + nw;
        if (a->d_p[0])
            for (size_t i = 0; i < nw; i++) a->d_p[0][i] += dw[i];
        if (a->l->has_bias && a->d_p[1])
            for (int o = 0; o < c->cout; o++) a->d_p[1][o] += db[o];
    }
}
