/* isa.c — the CPU kernels' instruction-set flavours: names, what this CPU runs (x86-64:
 * __builtin_cpu_supports at run time; AArch64: Advanced SIMD is part of the architecture, so
 * neon always), and the choice a context makes (forced, $STEERD_ISA, or the best). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static const char *const isa_names[] = {"auto", "scalar", "avx2", "avx512", "neon"};
enum { ISA_COUNT = sizeof isa_names / sizeof isa_names[0] };

const char *nn_cpu_isa_name(nn_cpu_isa isa)
{
    return (unsigned)isa < ISA_COUNT ? isa_names[isa] : "?";
}

bool nn_cpu_isa_parse(const char *s, nn_cpu_isa *out)
{
    for (int i = 0; s && i < ISA_COUNT; i++)
        if (strcmp(s, isa_names[i]) == 0) {
            *out = (nn_cpu_isa)i;
            return true;
        }
    return false;
}

bool nn_cpu_isa_supported(nn_cpu_isa isa)
{
    switch (isa) {
    case NN_CPU_ISA_AUTO:
    case NN_CPU_ISA_SCALAR:
        return true;
#if defined(__x86_64__) || defined(__i386__)
    case NN_CPU_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case NN_CPU_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               nn_cpu_isa_supported(NN_CPU_ISA_AVX2);
#endif
#if defined(__aarch64__)
    case NN_CPU_ISA_NEON:
        return true;
#endif
    default:
        return false;
    }
}

nn_cpu_isa nn_cpu_isa_best(void)
{
    static const nn_cpu_isa order[] = {NN_CPU_ISA_AVX512, NN_CPU_ISA_AVX2, NN_CPU_ISA_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (nn_cpu_isa_supported(order[i])) return order[i];
    return NN_CPU_ISA_SCALAR;
}

const char *nn_cpu_isa_list(char *buf, size_t n)
{
    static const nn_cpu_isa order[] = {NN_CPU_ISA_AVX512, NN_CPU_ISA_AVX2, NN_CPU_ISA_NEON, NN_CPU_ISA_SCALAR};
    size_t len = 0;
    if (n) buf[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (nn_cpu_isa_supported(order[i]) && len < n) {
            int k = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", nn_cpu_isa_name(order[i]));
            len += k > 0 ? (size_t)k : 0;
        }
    return buf;
}

nn_status nn_cpu_isa_from_name(const char *name, const char *what, nn_cpu_isa *out, nn_err *err)
{
    nn_cpu_isa isa;
    const char *sep = strcmp(what, NN_CPU_ISA_ENV) == 0 ? "=" : " "; /* STEERD_ISA=x, --isa x */
    if (!nn_cpu_isa_parse(name, &isa))
        return nn_fail(err, NN_E_ARG, "%s%s%s: unknown instruction set (expected auto, scalar, avx2, avx512 or neon)",
                       what, sep, name ? name : "(none)");
    if (!nn_cpu_isa_supported(isa)) {
        char have[64];
        return nn_fail(err, NN_E_ARG, "%s%s%s: this CPU does not support %s (it supports %s)", what, sep, name, name,
                       nn_cpu_isa_list(have, sizeof have));
    }
    *out = isa;
    return NN_OK;
}

nn_status nn_cpu_isa_resolve(nn_cpu_isa req, nn_cpu_isa *out, nn_err *err)
{
    if (req == NN_CPU_ISA_AUTO) {
        const char *env = getenv(NN_CPU_ISA_ENV);
        if (env && env[0]) {
            nn_status s = nn_cpu_isa_from_name(env, NN_CPU_ISA_ENV, &req, err);
            if (s) return s;
        }
    } else if (!nn_cpu_isa_supported(req)) {
        return nn_cpu_isa_from_name(nn_cpu_isa_name(req), "isa", &req, err);
    }
    *out = req == NN_CPU_ISA_AUTO ? nn_cpu_isa_best() : req;
    return NN_OK;
}
