/* backend.c — the registry of engine backends (backend.h): one row per backend this build has,
 * the CPU first. The only place that knows which backends were compiled in (NN_HAVE_CUDA);
 * infer.c and train.c find a backend's table here, and AUTO is resolved here. */
#include "nn/backend.h"

#include <stdio.h>
#include <string.h>

#include "nn/cuda_exec.h"

static bool cpu_available(char *why, size_t n)
{
    if (why && n)
        snprintf(why, n, "the CPU");
    return true;
}

static const nn_backend_ops rows[] = {
    {NN_BACKEND_CPU, cpu_available, &nn_cpu_infer_ops, &nn_cpu_train_ops},
#ifdef NN_HAVE_CUDA
    {NN_BACKEND_CUDA, nn_cuda_probe, &nn_cuda_infer_ops, &nn_cuda_train_ops},
#endif
};
#define N_ROWS (sizeof rows / sizeof rows[0])

/* Every nn_backend value, built or not: its name (configs, flags) and title (messages). */
static const struct {
    nn_backend id;
    const char *name, *title;
} names[] = {{NN_BACKEND_AUTO, "auto", "auto"}, {NN_BACKEND_CPU, "cpu", "CPU"}, {NN_BACKEND_CUDA, "cuda", "CUDA"}};
#define N_NAMES (sizeof names / sizeof names[0])

const char *nn_backend_name(nn_backend b)
{
    for (size_t i = 0; i < N_NAMES; i++)
        if (names[i].id == b)
            return names[i].name;
    return "?";
}

const char *nn_backend_title(nn_backend b)
{
    for (size_t i = 0; i < N_NAMES; i++)
        if (names[i].id == b)
            return names[i].title;
    return "?";
}

bool nn_backend_parse(const char *s, nn_backend *out)
{
    for (size_t i = 0; s && i < N_NAMES; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].id;
            return true;
        }
    return false;
}

const nn_backend_ops *nn_backend_table(nn_backend b)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (rows[i].id == b)
            return &rows[i];
    return NULL;
}

bool nn_backend_usable(nn_backend b, char *why, size_t n)
{
    const nn_backend_ops *t = nn_backend_table(b);
    if (t)
        return t->available(why, n);
    if (why && n)
        snprintf(why, n, "this build has no %s backend", nn_backend_title(b));
    return false;
}

bool nn_cuda_available(char *why, size_t n) { return nn_backend_usable(NN_BACKEND_CUDA, why, n); }
bool nn_cuda_built(void) { return nn_backend_table(NN_BACKEND_CUDA) != NULL; }

int nn_cuda_devices(void)
{
#ifdef NN_HAVE_CUDA
    return nn_cuda_device_count();
#else
    return 0;
#endif
}

nn_status nn_cuda_use_device(int index, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    return nn_cuda_set_device(index, err);
#else
    return nn_fail(err, NN_E_UNSUPPORTED, "CUDA device %d: this build has no CUDA backend", index);
#endif
}

nn_status nn_backend_pick(nn_backend want, const nn_backend_ops **out, nn_err *err)
{
    *out = NULL;
    if (want == NN_BACKEND_AUTO) { /* the first available accelerator, else the CPU */
        for (size_t i = 0; i < N_ROWS && !*out; i++)
            if (rows[i].id != NN_BACKEND_CPU && rows[i].available(NULL, 0))
                *out = &rows[i];
        if (!*out)
            *out = nn_backend_table(NN_BACKEND_CPU);
        return NN_OK;
    }
    if (strcmp(nn_backend_name(want), "?") == 0)
        return nn_fail(err, NN_E_ARG, "unknown backend %d (expected auto, cpu or cuda)", (int)want);
    char why[256];
    if (nn_backend_usable(want, why, sizeof why)) {
        *out = nn_backend_table(want);
        return NN_OK;
    }
    return nn_fail(err, nn_backend_table(want) ? NN_E_DEVICE : NN_E_UNSUPPORTED, "backend %s: %s",
                   nn_backend_name(want), why);
}
