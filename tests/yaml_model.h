/* yaml_model.h — the small random models of the training tests (test_grad_fd, test_cuda_train):
 * a reproducible uniform draw, and a model loaded from YAML text with He weights and non-trivial
 * 1-D tensors. Include after <cmocka.h>. */
#ifndef STEERD_TESTS_YAML_MODEL_H
#define STEERD_TESTS_YAML_MODEL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "nn/graph.h"

/* The next uniform float in [-1, 1) of the LCG whose state is *s. */
static inline float lcg_urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) * 0x1.0p-24) * 2.0f - 1.0f;
}

/* Writes yaml to a temporary file and loads it (failing the test on an error), He-initialised with
 * he_seed; then adds 0.3 u, u = lcg_urand(rng) drawn per element in parameter order, to every
 * trainable 1-D tensor (biases, batch-norm affine) and, with stats, 0.3 |u| to the non-trainable
 * 1-D ones too (batch-norm running statistics: variances stay positive). */
static inline nn_model *yaml_model_load(const char *yaml, uint64_t he_seed, uint64_t *rng, bool stats)
{
    char path[] = "/tmp/steerd-test-model-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    nn_err err;
    nn_model *m;
    nn_status s = nn_model_load_spec(&m, path, &err);
    unlink(path);
    if (s)
        fail_msg("%s", err.msg);
    nn_model_init_he(m, he_seed);
    for (int i = 0; i < m->g.n_params; i++) {
        const nn_param *p = &m->g.params[i];
        if (p->ndim != 1 || !(p->trainable || stats))
            continue;
        for (size_t k = 0; k < p->count; k++) {
            const float u = lcg_urand(rng);
            m->params[p->offset + k] += 0.3f * (p->trainable ? u : fabsf(u));
        }
    }
    return m;
}

#endif
