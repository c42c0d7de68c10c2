/* gemm.c — single-precision GEMM for the CPU backend:
 *   C[M x N] (ldc) = A[M x K] (lda) * B[K x N] (ldb)  (+ C) (+ bias[N]) then activation.
 * Row-major, arbitrary strides; nn_sgemm_at reads A transposed (stored [K x M], lda >= M), which
 * the micro-kernel takes as a column step (no packing). Goto/BLIS-style cache blocking (K split in KC blocks, N in NC
 * blocks, M in MC blocks) around a register-blocked FMA micro-kernel that broadcasts A from its
 * rows and streams B rows: AVX-512 14x32 (with a ymm remainder for 8-column tails), AVX2 6x16,
 * picked at run time with __builtin_cpu_supports, NEON 8x12 on AArch64, plus a portable scalar path. Edge tiles use
 * masked loads/stores, so nothing is padded and no uninitialised memory is read. B is packed into
 * NR-wide panels only when many row panels reuse it; A is read in place unless its row stride
 * would thrash L1 (then rows are copied to a padded stride). Work is split over M (or N when M is
 * small) between pool threads; each thread packs into its own slice of ws, so one run needs one
 * pool launch and no barrier. */
#include <stdint.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GEMM_X86 1
#else
#define GEMM_X86 0
#endif
#if defined(__aarch64__)
#include "neon.h"
#define GEMM_NEON 1
#else
#define GEMM_NEON 0
#endif

/* Blocking. MC_MAX and NC_MAX are multiples of every MR and NR below; ws sizing relies on it. */
enum {
    KC_MAX = 256,      /* K block when K is split */
    KC_ONE = 320,      /* K up to this is not split */
    MC_MAX = 336,      /* rows of A per packed block (L2) */
    NC_MAX = 1024,     /* columns of B per packed block */
    MR_BOUND = 28,     /* >= every MR */
    NR_BOUND = 32,     /* >= every NR */
    WS_ALIGN = 16,     /* floats (64 bytes) */
    PAR_MIN_MNK = 1 << 17, /* below this many multiply-adds (~2 us), run on one thread */
};

typedef struct {
    int M, N, K;
    const float *A;
    int lda;
    const float *B;
    int ldb;
    float *C;
    int ldc;
    const float *bias;
    bool accumulate;
    nn_act act;
    float alpha;
    bool at;          /* A is stored transposed: A(i,k) = A[k*lda + i] */
} gemm_job;

/* One micro-kernel call: C tile [mr x nr] over kc steps. A(i,k) = a[i*rsa + k*csa];
 * B(k,j) = b[k*ldbk + j]. bias/act only on the last K block. */
typedef struct {
    int kc, nr;
    const float *a;
    ptrdiff_t rsa, csa;
    const float *b;
    ptrdiff_t ldbk;
    float *c;
    ptrdiff_t ldc;
    bool loadc;
    const float *bias;
    nn_act act;
    float alpha;
} ktile;

typedef void (*kernel_fn)(const ktile *t);

/* An instruction-set flavour of the driver: micro-tile size and kernel lookup. A last column panel
 * of up to nr_wide columns is done in one pass with mr_wide-row tiles (0: no such tiles). */
typedef struct {
    int mr, nr;
    int mr_wide, nr_wide;
    kernel_fn (*pick)(int mr, int nr);
} gemm_isa;

static int kc_for(int K)
{
    if (K <= KC_ONE) return K;
    int nk = (K + KC_MAX - 1) / KC_MAX;
    return (K + nk - 1) / nk;
}

/* ---------------- AVX-512 micro-kernel (MR = 14, NR = 32: up to 28 zmm accumulators) ----------------
 * The tile's nr columns are covered by NZ zmm vectors plus, when H, one trailing ymm vector (an
 * 8-column remainder then costs half an FMA slot, not a whole one: Zen 4 splits zmm FMAs in two).
 * Variants by nr: <=8 (0 zmm + ymm), <=16 (1 zmm), <=24 (1 zmm + ymm), <=32 (2 zmm); the last
 * vector is masked to nr. */
#if GEMM_X86
#define T512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define T256 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

enum { MR512 = 14, NR512 = 32, MR256 = 6, NR256 = 16 };

INLINE T512 __m512 act512(__m512 x, nn_act act, __m512 alpha)
{
    if (act == NN_ACT_RELU) return _mm512_max_ps(x, _mm512_setzero_ps());
    if (act == NN_ACT_LEAKY) {
        __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(x, neg, x, alpha);
    }
    return x;
}

INLINE T512 __m256 act512h(__m256 x, nn_act act, __m512 alpha)
{
    if (act == NN_ACT_RELU) return _mm256_max_ps(x, _mm256_setzero_ps());
    if (act == NN_ACT_LEAKY) {
        __mmask8 neg = _mm256_cmp_ps_mask(x, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_mask_mul_ps(x, neg, x, _mm512_castps512_ps256(alpha));
    }
    return x;
}

INLINE T512 void k512_body(const int MR, const int NZ, const bool H, const ktile *t)
{
    __m512 acc[MR512][2];
    __m256 acch[MR512];
    const int nr = t->nr;
    const __mmask16 mlast = H ? (__mmask16)0xFFFF : (__mmask16)((1u << (nr - 16 * (NZ - 1))) - 1u);
    const __mmask16 m0 = NZ == 1 ? mlast : (__mmask16)0xFFFF, m1 = mlast;
    const __mmask8 mh = H ? (__mmask8)((1u << (nr - 16 * NZ)) - 1u) : 0;
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        acch[i] = _mm256_setzero_ps();
    }
    const float *a = t->a, *b = t->b;
    const ptrdiff_t rsa = t->rsa, csa = t->csa, ldbk = t->ldbk;
    const int kc = t->kc;
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = NZ >= 1 ? _mm512_maskz_loadu_ps(m0, b) : _mm512_setzero_ps();
        const __m512 b1 = NZ == 2 ? _mm512_maskz_loadu_ps(m1, b + 16) : b0;
        const __m256 bh = H ? _mm256_maskz_loadu_ps(mh, b + 16 * NZ) : _mm256_setzero_ps();
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            const __m512 ai = _mm512_set1_ps(a[i * rsa]);
            if (NZ >= 1) acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (NZ == 2) acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            if (H) acch[i] = _mm256_fmadd_ps(_mm512_castps512_ps256(ai), bh, acch[i]);
        }
        a += csa;
        b += ldbk;
    }
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    __m256 biash = _mm256_setzero_ps();
    if (t->bias) {
        if (NZ >= 1) bias0 = _mm512_maskz_loadu_ps(m0, t->bias);
        if (NZ == 2) bias1 = _mm512_maskz_loadu_ps(m1, t->bias + 16);
        if (H) biash = _mm256_maskz_loadu_ps(mh, t->bias + 16 * NZ);
    }
    const __m512 alpha = _mm512_set1_ps(t->alpha);
    float *c = t->c;
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++, c += t->ldc) {
        if (NZ >= 1) {
            __m512 x0 = _mm512_add_ps(acc[i][0], bias0);
            if (t->loadc) x0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), x0);
            _mm512_mask_storeu_ps(c, m0, act512(x0, t->act, alpha));
        }
        if (NZ == 2) {
            __m512 x1 = _mm512_add_ps(acc[i][1], bias1);
            if (t->loadc) x1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), x1);
            _mm512_mask_storeu_ps(c + 16, m1, act512(x1, t->act, alpha));
        }
        if (H) {
            __m256 xh = _mm256_add_ps(acch[i], biash);
            if (t->loadc) xh = _mm256_add_ps(_mm256_maskz_loadu_ps(mh, c + 16 * NZ), xh);
            _mm256_mask_storeu_ps(c + 16 * NZ, mh, act512h(xh, t->act, alpha));
        }
    }
}

#define K512_DEF(MR, NZ, H, V) static T512 void k512_##MR##_##V(const ktile *t) { k512_body(MR, NZ, H, t); }
#define K512_ROW(MR) K512_DEF(MR, 0, true, 0) K512_DEF(MR, 1, false, 1) K512_DEF(MR, 1, true, 2) K512_DEF(MR, 2, false, 3)
K512_ROW(1) K512_ROW(2) K512_ROW(3) K512_ROW(4) K512_ROW(5) K512_ROW(6) K512_ROW(7)
K512_ROW(8) K512_ROW(9) K512_ROW(10) K512_ROW(11) K512_ROW(12) K512_ROW(13) K512_ROW(14)
#define K512_ENT(MR) {k512_##MR##_0, k512_##MR##_1, k512_##MR##_2, k512_##MR##_3}
static const kernel_fn k512_tab[MR512][4] = {
    K512_ENT(1), K512_ENT(2), K512_ENT(3), K512_ENT(4), K512_ENT(5), K512_ENT(6), K512_ENT(7),
    K512_ENT(8), K512_ENT(9), K512_ENT(10), K512_ENT(11), K512_ENT(12), K512_ENT(13), K512_ENT(14),
};
/* 33..40 columns: 2 zmm + 1 ymm per row, 9 rows (27 accumulators). */
enum { MR512W = 9, NR512W = 40 };
#define K512W_DEF(MR) static T512 void k512w_##MR(const ktile *t) { k512_body(MR, 2, true, t); }
K512W_DEF(1) K512W_DEF(2) K512W_DEF(3) K512W_DEF(4) K512W_DEF(5) K512W_DEF(6) K512W_DEF(7) K512W_DEF(8) K512W_DEF(9)
static const kernel_fn k512w_tab[MR512W] = {k512w_1, k512w_2, k512w_3, k512w_4, k512w_5, k512w_6, k512w_7, k512w_8, k512w_9};
static kernel_fn k512_pick(int mr, int nr) { return nr > NR512 ? k512w_tab[mr - 1] : k512_tab[mr - 1][(nr + 7) / 8 - 1]; }

/* ---------------- AVX2 micro-kernel (MR = 6, NR = 16: 12 ymm accumulators) ---------------- */
INLINE T256 __m256 act256(__m256 x, nn_act act, __m256 alpha)
{
    if (act == NN_ACT_RELU) return _mm256_max_ps(x, _mm256_setzero_ps());
    if (act == NN_ACT_LEAKY) {
        __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(x, _mm256_mul_ps(x, alpha), neg);
    }
    return x;
}

INLINE T256 __m256i lanes256(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE T256 void k256_body(const int MR, const int NV, const ktile *t)
{
    __m256 acc[MR256][2];
    const __m256i ml = lanes256(t->nr - 8 * (NV - 1));
    const __m256i m0 = NV == 1 ? ml : _mm256_set1_epi32(-1);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        acc[i][0] = _mm256_setzero_ps();
        acc[i][1] = _mm256_setzero_ps();
    }
    const float *a = t->a, *b = t->b;
    const ptrdiff_t rsa = t->rsa, csa = t->csa, ldbk = t->ldbk;
    const int kc = t->kc;
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_maskload_ps(b, m0);
        __m256 b1 = NV == 2 ? _mm256_maskload_ps(b + 8, ml) : b0;
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * rsa);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            if (NV == 2) acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += csa;
        b += ldbk;
    }
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    if (t->bias) {
        bias0 = _mm256_maskload_ps(t->bias, m0);
        if (NV == 2) bias1 = _mm256_maskload_ps(t->bias + 8, ml);
    }
    const __m256 alpha = _mm256_set1_ps(t->alpha);
    float *c = t->c;
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++, c += t->ldc) {
        __m256 x0 = _mm256_add_ps(acc[i][0], bias0);
        if (t->loadc) x0 = _mm256_add_ps(_mm256_maskload_ps(c, m0), x0);
        _mm256_maskstore_ps(c, m0, act256(x0, t->act, alpha));
        if (NV == 2) {
            __m256 x1 = _mm256_add_ps(acc[i][1], bias1);
            if (t->loadc) x1 = _mm256_add_ps(_mm256_maskload_ps(c + 8, ml), x1);
            _mm256_maskstore_ps(c + 8, ml, act256(x1, t->act, alpha));
        }
    }
}

#define K256_DEF(MR, NV) static T256 void k256_##MR##_##NV(const ktile *t) { k256_body(MR, NV, t); }
#define K256_ROW(MR) K256_DEF(MR, 1) K256_DEF(MR, 2)
K256_ROW(1) K256_ROW(2) K256_ROW(3) K256_ROW(4) K256_ROW(5) K256_ROW(6)
#define K256_ENT(MR) {k256_##MR##_1, k256_##MR##_2}
static const kernel_fn k256_tab[MR256][2] = {
    K256_ENT(1), K256_ENT(2), K256_ENT(3), K256_ENT(4), K256_ENT(5), K256_ENT(6),
};
static kernel_fn k256_pick(int mr, int nr) { return k256_tab[mr - 1][nr > 8]; }

static const gemm_isa isa_avx512 = {MR512, NR512, MR512W, NR512W, k512_pick};
static const gemm_isa isa_avx2 = {MR256, NR256, 0, 0, k256_pick};
#endif /* GEMM_X86 */

/* ---------------- NEON micro-kernel (AArch64: MR = 8, NR = 12, 24 of the 32 q registers) ----------------
 * B rows are loaded as NV = ceil(nr/4) vectors, the last one holding TL = 1..4 lanes (partial
 * vectors are loaded and stored lane by lane: nothing past column nr is touched); A elements are
 * broadcast (ld1r) from their rows and multiplied in with vfmaq_f32. A last panel of 13..16
 * columns runs 6-row tiles of 4 vectors (again 24 accumulators). One function per (mr, nr). */
#if GEMM_NEON
enum { MRN = 8, NRN = 12, MRNW = 6, NRNW = 16 };

NEON_INLINE void kneon_body(const int MR, const int NV, const int TL, const ktile *t)
{
    float32x4_t acc[MRN][4];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = vdupq_n_f32(0.0f);
    const float *a = t->a, *b = t->b;
    const ptrdiff_t rsa = t->rsa, csa = t->csa, ldbk = t->ldbk;
    for (int k = 0; k < t->kc; k++) {
        float32x4_t bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = v == NV - 1 ? neon_ld(b + 4 * v, TL) : vld1q_f32(b + 4 * v);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const float32x4_t ai = vld1q_dup_f32(a + i * rsa);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = vfmaq_f32(acc[i][v], bv[v], ai);
        }
        a += csa;
        b += ldbk;
    }
    float32x4_t bias[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        bias[v] = !t->bias ? vdupq_n_f32(0.0f) : v == NV - 1 ? neon_ld(t->bias + 4 * v, TL) : vld1q_f32(t->bias + 4 * v);
    const float32x4_t alpha = vdupq_n_f32(t->alpha);
    float *c = t->c;
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++, c += t->ldc)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            const int n = v == NV - 1 ? TL : 4;
            float32x4_t x = vaddq_f32(acc[i][v], bias[v]);
            if (t->loadc) x = vaddq_f32(n == 4 ? vld1q_f32(c + 4 * v) : neon_ld(c + 4 * v, TL), x);
            x = neon_act(x, t->act, alpha);
            if (n == 4) vst1q_f32(c + 4 * v, x);
            else neon_st(c + 4 * v, x, TL);
        }
}

#define KN_DEF(MR, NR) \
    static void kn_##MR##_##NR(const ktile *t) { kneon_body(MR, ((NR) + 3) / 4, (NR) - 4 * (((NR) + 3) / 4 - 1), t); }
#define KN_ROW(MR) KN_DEF(MR, 1) KN_DEF(MR, 2) KN_DEF(MR, 3) KN_DEF(MR, 4) KN_DEF(MR, 5) KN_DEF(MR, 6) \
    KN_DEF(MR, 7) KN_DEF(MR, 8) KN_DEF(MR, 9) KN_DEF(MR, 10) KN_DEF(MR, 11) KN_DEF(MR, 12)
#define KN_ENT(MR) {kn_##MR##_1, kn_##MR##_2, kn_##MR##_3, kn_##MR##_4, kn_##MR##_5, kn_##MR##_6, \
                    kn_##MR##_7, kn_##MR##_8, kn_##MR##_9, kn_##MR##_10, kn_##MR##_11, kn_##MR##_12}
KN_ROW(1) KN_ROW(2) KN_ROW(3) KN_ROW(4) KN_ROW(5) KN_ROW(6) KN_ROW(7) KN_ROW(8)
static const kernel_fn kn_tab[MRN][NRN] = {KN_ENT(1), KN_ENT(2), KN_ENT(3), KN_ENT(4),
                                           KN_ENT(5), KN_ENT(6), KN_ENT(7), KN_ENT(8)};
#define KNW_ROW(MR) KN_DEF(MR, 13) KN_DEF(MR, 14) KN_DEF(MR, 15) KN_DEF(MR, 16)
#define KNW_ENT(MR) {kn_##MR##_13, kn_##MR##_14, kn_##MR##_15, kn_##MR##_16}
KNW_ROW(1) KNW_ROW(2) KNW_ROW(3) KNW_ROW(4) KNW_ROW(5) KNW_ROW(6)
static const kernel_fn knw_tab[MRNW][NRNW - NRN] = {KNW_ENT(1), KNW_ENT(2), KNW_ENT(3),
                                                     KNW_ENT(4), KNW_ENT(5), KNW_ENT(6)};
static kernel_fn kn_pick(int mr, int nr) { return nr > NRN ? knw_tab[mr - 1][nr - NRN - 1] : kn_tab[mr - 1][nr - 1]; }

static const gemm_isa isa_neon = {MRN, NRN, MRNW, NRNW, kn_pick};
#endif /* GEMM_NEON */

/* ---------------- packing ---------------- */

/* The kernel reads A rows in place; a row stride that is a multiple of 2 KiB maps the MR rows onto
 * one or two L1 sets and thrashes. Such blocks are copied to a stride of a_stride(kc) first
 * (a plain row copy: the micro-kernel broadcasts from any row stride). */
static bool a_stride_bad(int lda) { return lda % 512 == 0; }
static int a_stride(int kc) { return (kc + 15) / 16 * 16 + 16 * ((kc + 15) / 16 % 2 == 0); }

/* Ap[mc][a_stride(kc)] <- A[mc][kc] (row stride lda). */
static void pack_a(float *restrict ap, const float *restrict a, int lda, int mc, int kc)
{
    const int s = a_stride(kc);
    for (int i = 0; i < mc; i++) memcpy(ap + (size_t)i * s, a + (size_t)i * lda, (size_t)kc * sizeof(float));
}

/* Width of the column panel at jr of an nc-wide block: nr, except that a remainder of up to
 * nr_wide columns is one (wide) last panel rather than a full panel plus a thin one. */
static int panel_w(const gemm_isa *isa, int nc, int jr)
{
    const int rem = nc - jr;
    return rem <= isa->nr || rem <= isa->nr_wide ? rem : isa->nr;
}

/* Bp[panel][k][w] <- B[kc, nc], panels as panel_w() cuts them, each stored densely. */
static void pack_b(const gemm_isa *isa, float *restrict bp, const float *restrict b, int ldb, int kc, int nc)
{
    for (int j0 = 0, w; j0 < nc; j0 += w) {
        w = panel_w(isa, nc, j0);
        for (int k = 0; k < kc; k++) memcpy(bp + (size_t)k * w, b + (size_t)k * ldb + j0, (size_t)w * sizeof(float));
        bp += (size_t)kc * w;
    }
}

static float *align_ws(float *p)
{
    uintptr_t u = (uintptr_t)p;
    u = (u + WS_ALIGN * sizeof(float) - 1) & ~(uintptr_t)(WS_ALIGN * sizeof(float) - 1);
    return (float *)u;
}

/* Per-thread workspace bound (floats), valid for every ISA flavour. */
static size_t ws_per_thread(int M, int N, int K)
{
    size_t kc = (size_t)kc_for(K);
    size_t mc = (size_t)M + MR_BOUND < MC_MAX ? (size_t)M + MR_BOUND : MC_MAX;
    size_t nc = (size_t)N + NR_BOUND < NC_MAX ? (size_t)N + NR_BOUND : NC_MAX;
    return (kc + 32) * mc + kc * nc + 2 * WS_ALIGN; /* A rows padded by a_stride() */
}

size_t nn_sgemm_ws_floats(int M, int N, int K, int threads)
{
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    if (threads < 1) threads = 1;
    return (size_t)threads * ws_per_thread(M, N, K);
}

size_t nn_sgemm_ws_floats_upto(int M, int N, int Kmax, int threads)
{
    if (M <= 0 || N <= 0 || Kmax <= 0) return 0;
    if (threads < 1) threads = 1;
    /* kc_for() is not monotonic in K: kc = K up to KC_ONE, then at most KC_MAX (< KC_ONE), so its
     * largest value over K <= Kmax is min(Kmax, KC_ONE). */
    _Static_assert(KC_ONE >= KC_MAX, "kc bound below assumes KC_ONE >= KC_MAX");
    const int worst = Kmax < KC_ONE ? Kmax : KC_ONE;
    size_t a = ws_per_thread(M, N, worst), b = ws_per_thread(M, N, Kmax);
    return (size_t)threads * (a > b ? a : b);
}

/* Blocked driver for rows [m0, m1) x columns [n0, n1) of the job, on one thread. */
static void gemm_region(const gemm_isa *isa, const gemm_job *j, int m0, int m1, int n0, int n1, float *ws)
{
    const int MR = isa->mr, NR = isa->nr, K = j->K;
    const int KC = kc_for(K);
    const bool pb = m1 - m0 > 8 * MR;        /* packing B pays off only over many row panels */
    const bool pa = !j->at && n1 - n0 > NR && a_stride_bad(j->lda); /* see a_stride_bad() */
    const size_t mcb = (size_t)j->M + MR_BOUND < MC_MAX ? (size_t)j->M + MR_BOUND : MC_MAX; /* as ws_per_thread */
    float *ap = align_ws(ws);
    float *bp = align_ws(ap + ((size_t)KC + 32) * mcb);
    if (K == 0) { /* C = (C) + bias, act: run the kernel with zero steps */
        for (int ic = m0; ic < m1; ic += MR)
            for (int jc = n0; jc < n1; jc += NR) {
                int mr = m1 - ic < MR ? m1 - ic : MR, nr = n1 - jc < NR ? n1 - jc : NR;
                ktile t = {.kc = 0, .nr = nr, .a = j->A, .rsa = 0, .b = j->B, .ldbk = 0,
                           .c = j->C + (size_t)ic * j->ldc + jc, .ldc = j->ldc, .loadc = j->accumulate,
                           .bias = j->bias ? j->bias + jc : NULL, .act = j->act, .alpha = j->alpha};
                isa->pick(mr, nr)(&t);
            }
        return;
    }
    for (int jc = n0; jc < n1; jc += NC_MAX) {
        const int nc = n1 - jc < NC_MAX ? n1 - jc : NC_MAX;
        for (int pc = 0; pc < K; pc += KC) {
            const int kc = K - pc < KC ? K - pc : KC;
            const bool last = pc + kc == K, loadc = j->accumulate || pc > 0;
            const float *bsrc = j->B + (size_t)pc * j->ldb + jc;
            if (pb) pack_b(isa, bp, bsrc, j->ldb, kc, nc);
            for (int ic = m0; ic < m1; ic += MC_MAX) {
                const int mc = m1 - ic < MC_MAX ? m1 - ic : MC_MAX;
                const float *asrc = j->at ? j->A + (size_t)pc * j->lda + ic : j->A + (size_t)ic * j->lda + pc;
                if (pa) pack_a(ap, asrc, j->lda, mc, kc);
                for (int jr = 0, nr; jr < nc; jr += nr) {
                    nr = panel_w(isa, nc, jr);
                    const int MRp = nr > NR ? isa->mr_wide : MR;
                    ktile t = {.kc = kc, .nr = nr, .ldc = j->ldc, .loadc = loadc,
                               .bias = last && j->bias ? j->bias + jc + jr : NULL,
                               .act = last ? j->act : NN_ACT_NONE, .alpha = j->alpha};
                    t.b = pb ? bp + (size_t)jr * kc : bsrc + jr; /* panels before jr hold jr columns */
                    t.ldbk = pb ? nr : j->ldb;
                    for (int ir = 0; ir < mc; ir += MRp) {
                        const int mr = mc - ir < MRp ? mc - ir : MRp;
                        if (j->at) {
                            t.a = asrc + ir, t.rsa = 1, t.csa = j->lda;
                        } else {
                            t.a = pa ? ap + (size_t)ir * a_stride(kc) : asrc + (size_t)ir * j->lda;
                            t.rsa = pa ? a_stride(kc) : j->lda;
                            t.csa = 1;
                        }
                        t.c = j->C + (size_t)(ic + ir) * j->ldc + jc + jr;
                        isa->pick(mr, nr)(&t);
                    }
                }
            }
        }
    }
}

/* Portable path: row by row, B streamed, C row as the accumulator. */
static void gemm_region_scalar(const gemm_job *j, int m0, int m1, int n0, int n1)
{
    for (int i = m0; i < m1; i++) {
        float *restrict c = j->C + (size_t)i * j->ldc;
        const float *a = j->A + (size_t)i * j->lda;
        if (!j->accumulate)
            for (int n = n0; n < n1; n++) c[n] = 0.0f;
        for (int k = 0; k < j->K; k++) {
            const float av = j->at ? j->A[(size_t)k * j->lda + i] : a[k];
            const float *restrict b = j->B + (size_t)k * j->ldb;
            for (int n = n0; n < n1; n++) c[n] += av * b[n];
        }
        if (j->bias)
            for (int n = n0; n < n1; n++) c[n] += j->bias[n];
        cpu_apply_act(c + n0, (size_t)(n1 - n0), j->act, j->alpha);
    }
}

typedef struct {
    const gemm_isa *isa; /* NULL: scalar */
    const gemm_job *job;
    float *ws;
    size_t ws_stride;
    int parts;
    bool split_m;
    int gran;            /* split granularity (MR or NR) */
} gemm_par;

static void region_of(const gemm_par *g, int t, int *m0, int *m1, int *n0, int *n1)
{
    int total = g->split_m ? g->job->M : g->job->N;
    int units = (total + g->gran - 1) / g->gran;
    int b = (int)((long long)units * t / g->parts) * g->gran;
    int e = (int)((long long)units * (t + 1) / g->parts) * g->gran;
    if (e > total) e = total;
    *m0 = 0, *m1 = g->job->M, *n0 = 0, *n1 = g->job->N;
    if (g->split_m) *m0 = b, *m1 = e;
    else *n0 = b, *n1 = e;
}

static void gemm_task(void *ctx, int begin, int end, int thread)
{
    const gemm_par *g = ctx;
    for (int t = begin; t < end; t++) {
        int m0, m1, n0, n1;
        region_of(g, t, &m0, &m1, &n0, &n1);
        if (m0 >= m1 || n0 >= n1) continue;
        if (g->isa) gemm_region(g->isa, g->job, m0, m1, n0, n1, g->ws + (size_t)thread * g->ws_stride);
        else gemm_region_scalar(g->job, m0, m1, n0, n1);
    }
}

static const gemm_isa *isa_for(nn_cpu_isa isa)
{
    if (isa == NN_CPU_ISA_AUTO) isa = nn_cpu_isa_best();
#if GEMM_X86
    if (isa == NN_CPU_ISA_AVX512) return &isa_avx512;
    if (isa == NN_CPU_ISA_AVX2) return &isa_avx2;
#endif
#if GEMM_NEON
    if (isa == NN_CPU_ISA_NEON) return &isa_neon;
#endif
    return NULL;
}

static void sgemm_run(nn_cpu_isa isa_req, nn_pool *p, bool at, int M, int N, int K, const float *A, int lda,
                      const float *B, int ldb, float *C, int ldc, const float *bias, bool accumulate, nn_act act,
                      float alpha, float *ws)
{
    if (M <= 0 || N <= 0) return;
    if (K < 0) K = 0;
    const gemm_job job = {M, N, K, A, lda, B, ldb, C, ldc, bias, accumulate, act, alpha, at};
    const gemm_isa *isa = isa_for(isa_req);
    const int mr = isa ? isa->mr : 1, nr = isa ? isa->nr : 16;
    gemm_par g = {.isa = isa, .job = &job, .ws = ws, .ws_stride = ws_per_thread(M, N, K), .parts = 1,
                  .split_m = true, .gran = mr};
    int T = nn_pool_threads(p);
    if (T > 1 && (double)M * N * (K > 0 ? K : 1) >= PAR_MIN_MNK) {
        int mt = (M + mr - 1) / mr, nt = (N + nr - 1) / nr;
        if (mt >= 2 * T || (mt >= T && mt >= nt)) {
            g.parts = T < mt ? T : mt;
        } else if (nt >= 2) {
            g.split_m = false;
            g.gran = nr;
            g.parts = T < nt ? T : nt;
        } else if (mt >= 2) {
            g.parts = T < mt ? T : mt;
        }
    }
    if (g.parts == 1) gemm_task(&g, 0, 1, 0);
    else nn_pool_run(p, g.parts, gemm_task, &g);
}

void nn_sgemm_isa(nn_cpu_isa isa, nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float *C, int ldc, const float *bias, bool accumulate, nn_act act, float alpha,
                  float *ws)
{
    sgemm_run(isa, p, false, M, N, K, A, lda, B, ldb, C, ldc, bias, accumulate, act, alpha, ws);
}

void nn_sgemm_at_isa(nn_cpu_isa isa, nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc, bool accumulate, float *ws)
{
    sgemm_run(isa, p, true, M, N, K, A, lda, B, ldb, C, ldc, NULL, accumulate, NN_ACT_NONE, 0.0f, ws);
}

void nn_sgemm_at(nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, bool accumulate, float *ws)
{
    sgemm_run(NN_CPU_ISA_AUTO, p, true, M, N, K, A, lda, B, ldb, C, ldc, NULL, accumulate, NN_ACT_NONE, 0.0f, ws);
}

void nn_sgemm(nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
              const float *bias, bool accumulate, nn_act act, float alpha, float *ws)
{
    nn_sgemm_isa(NN_CPU_ISA_AUTO, p, M, N, K, A, lda, B, ldb, C, ldc, bias, accumulate, act, alpha, ws);
}
