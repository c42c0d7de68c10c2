/* neon.h — AArch64 Advanced SIMD helpers shared by the CPU kernels' NEON flavours: loads and
 * stores of n = 1..4 floats that touch nothing past the n-th (lane by lane when n < 4; with a
 * constant n the branches fold away), and the activation epilogue with the scalar path's
 * semantics. Only included under __aarch64__. */
#ifndef STEERD_NN_CPU_NEON_H
#define STEERD_NN_CPU_NEON_H

#include <arm_neon.h>

#include "cpu.h"

#define NEON_INLINE static inline __attribute__((always_inline))

NEON_INLINE float32x4_t neon_ld(const float *p, const int n)
{
    if (n >= 4) return vld1q_f32(p);
    float32x4_t v = vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}

NEON_INLINE void neon_st(float *p, float32x4_t v, const int n)
{
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    vst1q_lane_f32(p, v, 0);
    if (n > 1) vst1q_lane_f32(p + 1, v, 1);
    if (n > 2) vst1q_lane_f32(p + 2, v, 2);
}

/* relu: x > 0 ? x : 0 (a NaN gives 0, as the scalar select); leaky: x < 0 ? x*alpha : x. */
NEON_INLINE float32x4_t neon_act(float32x4_t x, nn_act act, float32x4_t alpha)
{
    if (act == NN_ACT_RELU) return vbslq_f32(vcgtzq_f32(x), x, vdupq_n_f32(0.0f));
    if (act == NN_ACT_LEAKY) return vbslq_f32(vcltzq_f32(x), vmulq_f32(x, alpha), x);
    return x;
}

#endif
