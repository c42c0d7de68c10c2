/* backend_cuda.cu — the CUDA executor of an inference plan (src/nn/cuda_exec.h) and the per-engine
 * environment (cu_env: stream, cuDNN/cuBLAS handles, workspace).
 * Sized once at create: one device arena = folded parameters (uploaded once; conv2d weights
 * repacked for cuDNN) + the activations at the plan's offsets + the layers' shared workspace;
 * pinned host input/output buffers. A run uploads the input asynchronously, runs the steps,
 * downloads the output and waits. The first run at each batch size runs eagerly (loading
 * kernels, filling conv algorithm slots) and then captures upload + forward + download in a CUDA
 * Graph; later runs at that size replay it (one launch). Eager mode (tests, benchmarks) and
 * profiling (events between steps) skip the graphs. Nothing is allocated per run. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"
#include "cuda_preprocess.h"
#include "nn/cuda_exec.h"
#include "nn/dev_layout.h"
#include "nn/resample.h"

#define BLAS_WS_BYTES ((size_t)32 << 20) /* cuBLAS's recommendation for Hopper */
#define ARENA_ALIGN NN_DEV_ALIGN

static size_t align_up(size_t n) { return nn_dev_align(n); }

/* ---------------------------------------------------------------- cu_env */
static void vline(const char *what, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "nn cuda: %s%s\n", what, line);
}

void cu_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("warning: ", fmt, ap);
    va_end(ap);
}

void cu_note(const cu_env *env, const char *fmt, ...)
{
    if (!env->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline("", fmt, ap);
    va_end(ap);
}

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

nn_status cu_env_create(cu_env *env, nn_err *err)
{
    memset(env, 0, sizeof *env);
    env->conv_direct_macs = NN_CUDA_CONV_DIRECT_MACS;
    env->verbose = env_flag("STEERD_CUDA_VERBOSE");
    env->pin_gemm = env_flag("STEERD_CUDA_PIN_GEMM");
    env->conv_own = env_flag("STEERD_CUDA_CONV_OWN");
    CU_TRY(cudaStreamCreateWithFlags(&env->stream, cudaStreamNonBlocking));
    CUDNN_TRY(cudnnCreate(&env->dnn));
    CUDNN_TRY(cudnnSetStream(env->dnn, env->stream));
    CUBLAS_TRY(cublasCreate(&env->blas));
    CUBLAS_TRY(cublasSetStream(env->blas, env->stream));
    CUBLAS_TRY(cublasSetMathMode(env->blas, CUBLAS_DEFAULT_MATH)); /* float32 FMA, no TF32 */
    CU_TRY(cudaMalloc(&env->blas_ws, BLAS_WS_BYTES));
    env->blas_ws_bytes = BLAS_WS_BYTES;
    CUBLAS_TRY(cublasSetWorkspace(env->blas, env->blas_ws, env->blas_ws_bytes));
    return NN_OK;
}

nn_status cu_env_reserve(cu_env *env, size_t bytes, nn_err *err)
{
    if (bytes <= env->ws_bytes)
        return NN_OK;
    if (env->ws_owned)
        CU_TRY(cudaFree(env->ws));
    env->ws = NULL;
    env->ws_bytes = 0;
    env->ws_owned = false;
    CU_TRY(cudaMalloc(&env->ws, bytes));
    env->ws_bytes = bytes;
    env->ws_owned = true;
    return NN_OK;
}

void cu_env_free(cu_env *env)
{
    /* Teardown: errors are not actionable here, every handle is released regardless. */
    if (env->stream)
        (void)cudaStreamSynchronize(env->stream);
    if (env->blas)
        (void)cublasDestroy(env->blas);
    if (env->dnn)
        (void)cudnnDestroy(env->dnn);
    if (env->ws_owned)
        (void)cudaFree(env->ws);
    if (env->blas_ws)
        (void)cudaFree(env->blas_ws);
    if (env->stream)
        (void)cudaStreamDestroy(env->stream);
    memset(env, 0, sizeof *env);
}

/* ---------------------------------------------------------------- executor */
struct nn_cuda_exec {
    cu_env env;
    int max_batch, n_steps, in_size, out_size;
    nn_plan_step *steps;         /* copy of the plan's steps, p_off[] rewritten to device offsets */
    nn_dev_params dp;            /* the parameters' device layout: every tensor on NN_DEV_ALIGN bytes */
    cu_plan **plans;             /* [n_steps] */
    char *d_arena;               /* params | activations | workspace */
    float *d_params, *d_act;
    size_t input_off, output_off;
    float *h_in, *h_out;         /* pinned [max_batch * in_size], [max_batch * out_size] */
    cudaGraphExec_t *graphs;     /* [max_batch + 1], by batch size: upload + forward + download */
    cudaGraphExec_t frame_graph; /* batch 1 without the upload (the input was preprocessed on the GPU) */
    bool eager, profile;
    long conv_direct_macs;       /* 0: the environment's default */
    cudaEvent_t *ev;             /* [n_steps + 1] when profiling */
    /* GPU preprocessing */
    nn_preprocess pre;
    int in_h, in_w, in_c;
    size_t frame_cap;            /* bytes of h_frame / d_frame */
    uint8_t *h_frame, *d_frame;  /* pinned staging, device copy of the rows the tables use */
    int *h_tabs_i, *d_tabs_i;    /* y0 y1 x0 x1 */
    float *h_tabs_f, *d_tabs_f;  /* wy wx */
    int tab_w, tab_h;            /* frame size the tables are for (0: none) */
    int row0, row1;              /* source rows the tables read */
    bool frame_pending;          /* the device input holds a preprocessed frame for the next run */
};

/* The device image of the folded parameters: each tensor at its aligned offset (x->dp), conv2d
 * weights repacked for cuDNN; uploaded once and waited for. */
static nn_status upload_params(nn_cuda_exec *x, const nn_plan *p, nn_err *err)
{
    float *img = (float *)malloc(x->dp.dev_floats * sizeof(float));
    float *tmp = NULL;
    size_t tmp_n = 0;
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].l.op == NN_OP_CONV2D && nn_layer_param_floats(&p->steps[i].l, 0) > tmp_n)
            tmp_n = nn_layer_param_floats(&p->steps[i].l, 0);
    if (tmp_n)
        tmp = (float *)malloc(tmp_n * sizeof(float));
    if (!img || (tmp_n && !tmp)) {
        free(img);
        free(tmp);
        return nn_fail(err, NN_E_NOMEM, "out of memory while preparing %zu parameters for the GPU", p->n_params);
    }
    nn_dev_params_pack(&x->dp, img, p->params);
    for (int i = 0; i < p->n_steps; i++) {
        const nn_plan_step *st = &p->steps[i];
        if (st->l.op != NN_OP_CONV2D || !st->has_p[0])
            continue;
        float *w = img + x->steps[i].p_off[0];
        cu_conv2d_pack_weights(tmp, w, &st->l);
        memcpy(w, tmp, nn_layer_param_floats(&st->l, 0) * sizeof(float));
    }
    /* On the executor's stream (a non-blocking stream does not wait for the legacy default
     * stream), then waited for: the host copy is freed right after. */
    cudaError_t e = cudaMemcpyAsync(x->d_params, img, x->dp.dev_floats * sizeof(float), cudaMemcpyHostToDevice,
                                    x->env.stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(x->env.stream);
    free(img);
    free(tmp);
    if (e != cudaSuccess)
        return nn_fail(err, NN_E_DEVICE, "uploading %zu parameters: %s", p->n_params, cudaGetErrorString(e));
    return NN_OK;
}

/* Lays the parameters out for the device and rewrites the step copies' p_off to device offsets. */
static nn_status param_layout(nn_cuda_exec *x, const nn_plan *p, nn_err *err)
{
    size_t n = 4 * (size_t)p->n_steps + 1;
    size_t *off = (size_t *)calloc(n, sizeof *off), *cnt = (size_t *)calloc(n, sizeof *cnt);
    int m = 0;
    nn_status s = NN_OK;
    if (!off || !cnt)
        s = nn_fail(err, NN_E_NOMEM, "out of memory");
    for (int i = 0; !s && i < p->n_steps; i++)
        for (int k = 0; k < 4; k++)
            if (p->steps[i].has_p[k])
                off[m] = p->steps[i].p_off[k], cnt[m++] = nn_layer_param_floats(&p->steps[i].l, k);
    if (!s)
        s = nn_dev_params_build(&x->dp, off, cnt, m, p->n_params, err);
    for (int i = 0; !s && i < p->n_steps; i++)
        for (int k = 0; k < 4; k++)
            if (p->steps[i].has_p[k])
                x->steps[i].p_off[k] = nn_dev_params_map(&x->dp, p->steps[i].p_off[k]);
    free(off);
    free(cnt);
    return s;
}

/* Every device tensor the steps read or write starts on NN_DEV_ALIGN bytes (cuDNN / cuBLAS
 * vector loads; the review found a conv weight 100 bytes into the block). An internal error,
 * never the user's: checked once at create. */
static nn_status check_aligned(const nn_cuda_exec *x, nn_err *err)
{
    const char *what = NULL;
    const nn_plan_step *bad = NULL;
    if (!nn_dev_aligned(x->d_params) || !nn_dev_aligned(x->d_act) || (x->env.ws && !nn_dev_aligned(x->env.ws)) ||
        !nn_dev_aligned(x->d_act + x->input_off) || !nn_dev_aligned(x->d_act + x->output_off))
        what = "arena";
    for (int i = 0; !what && i < x->n_steps; i++) {
        const nn_plan_step *st = &x->steps[i];
        bad = st;
        if (!nn_dev_aligned(x->d_act + st->out_off))
            what = "output";
        for (int k = 0; !what && k < st->l.n_inputs; k++)
            if (!nn_dev_aligned(x->d_act + st->in_off[k]))
                what = "input";
        for (int k = 0; !what && k < 4; k++)
            if (st->has_p[k] && !nn_dev_aligned(x->d_params + st->p_off[k]))
                what = "parameter";
    }
    if (what)
        return nn_fail(err, NN_E_DEVICE, "internal: %s%s%s not on %zu bytes on the device", what,
                       bad ? " of step " : "", bad ? bad->l.name : "", NN_DEV_ALIGN);
    return NN_OK;
}

static nn_status exec_init(nn_cuda_exec *x, const nn_plan *p, nn_err *err)
{
    x->steps = (nn_plan_step *)malloc(((size_t)p->n_steps + 1) * sizeof *x->steps); /* +1: a plan may have no steps */
    x->plans = (cu_plan **)calloc((size_t)p->n_steps + 1, sizeof *x->plans);
    x->graphs = (cudaGraphExec_t *)calloc((size_t)p->max_batch + 1, sizeof *x->graphs);
    if (!x->steps || !x->plans || !x->graphs)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    memcpy(x->steps, p->steps, (size_t)p->n_steps * sizeof *x->steps);
    nn_status s = param_layout(x, p, err);
    if (!s)
        s = cu_env_create(&x->env, err);
    if (s)
        return s;
    if (x->conv_direct_macs)
        x->env.conv_direct_macs = x->conv_direct_macs;
    size_t ws = 0;
    for (int i = 0; i < p->n_steps; i++) {
        if ((s = cu_plan_create(&x->plans[i], &x->env, &x->steps[i].l, p->max_batch, err)))
            return s;
        size_t w = cu_plan_ws_bytes(x->plans[i]);
        if (w > ws)
            ws = w;
    }
    size_t params_bytes = align_up(x->dp.dev_floats * sizeof(float)), act_bytes = align_up(p->act_floats * sizeof(float));
    ws = align_up(ws);
    CU_TRY(cudaMalloc((void **)&x->d_arena, params_bytes + act_bytes + ws + ARENA_ALIGN));
    x->d_params = (float *)x->d_arena;
    x->d_act = (float *)(x->d_arena + params_bytes);
    x->env.ws = ws ? x->d_arena + params_bytes + act_bytes : NULL;
    x->env.ws_bytes = ws;
    x->env.ws_owned = false;
    if ((s = check_aligned(x, err)))
        return s;
    CU_TRY(cudaMemsetAsync(x->d_act, 0, act_bytes, x->env.stream));
    if ((s = upload_params(x, p, err)))
        return s;
    size_t in_bytes = (size_t)p->max_batch * p->in_size * sizeof(float);
    size_t out_bytes = (size_t)p->max_batch * p->out_size * sizeof(float);
    CU_TRY(cudaHostAlloc((void **)&x->h_in, in_bytes, cudaHostAllocDefault));
    CU_TRY(cudaHostAlloc((void **)&x->h_out, out_bytes, cudaHostAllocDefault));
    memset(x->h_in, 0, in_bytes);
    memset(x->h_out, 0, out_bytes);
    if (x->profile) {
        x->ev = (cudaEvent_t *)calloc((size_t)p->n_steps + 1, sizeof *x->ev);
        if (!x->ev)
            return nn_fail(err, NN_E_NOMEM, "out of memory");
        for (int i = 0; i <= p->n_steps; i++)
            CU_TRY(cudaEventCreate(&x->ev[i]));
    }
    CU_TRY(cudaDeviceSynchronize()); /* algorithm searches, uploads and cuBLAS/cuDNN set-up all done */
    return NN_OK;
}

extern "C" nn_status nn_cuda_exec_create(nn_cuda_exec **out, const nn_plan *p, const nn_preprocess *pre, int in_h,
                                         int in_w, int in_c, bool eager, bool profile, long conv_direct_macs,
                                         nn_err *err)
{
    *out = NULL;
    nn_cuda_exec *x = (nn_cuda_exec *)calloc(1, sizeof *x);
    if (!x)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    x->max_batch = p->max_batch;
    x->n_steps = p->n_steps;
    x->in_size = p->in_size;
    x->out_size = p->out_size;
    x->input_off = p->input_off;
    x->output_off = p->output_off;
    x->eager = eager || profile;
    x->profile = profile;
    x->pre = *pre;
    x->in_h = in_h, x->in_w = in_w, x->in_c = in_c;
    x->conv_direct_macs = conv_direct_macs;
    nn_status s = exec_init(x, p, err);
    if (s) {
        nn_cuda_exec_free(x);
        return s;
    }
    *out = x;
    return NN_OK;
}

extern "C" void nn_cuda_exec_free(nn_cuda_exec *x)
{
    if (!x)
        return;
    if (x->env.stream)
        (void)cudaStreamSynchronize(x->env.stream);
    for (int b = 0; x->graphs && b <= x->max_batch; b++)
        if (x->graphs[b])
            (void)cudaGraphExecDestroy(x->graphs[b]);
    if (x->frame_graph)
        (void)cudaGraphExecDestroy(x->frame_graph);
    for (int i = 0; x->ev && i <= x->n_steps; i++)
        if (x->ev[i])
            (void)cudaEventDestroy(x->ev[i]);
    for (int i = 0; x->plans && i < x->n_steps; i++)
        cu_plan_free(x->plans[i]);
    if (x->d_arena)
        (void)cudaFree(x->d_arena);
    if (x->h_in)
        (void)cudaFreeHost(x->h_in);
    if (x->h_out)
        (void)cudaFreeHost(x->h_out);
    if (x->h_frame)
        (void)cudaFreeHost(x->h_frame);
    if (x->d_frame)
        (void)cudaFree(x->d_frame);
    if (x->d_tabs_i)
        (void)cudaFree(x->d_tabs_i);
    if (x->d_tabs_f)
        (void)cudaFree(x->d_tabs_f);
    free(x->h_tabs_i);
    free(x->h_tabs_f);
    cu_env_free(&x->env);
    free(x->ev);
    free(x->graphs);
    free(x->plans);
    free(x->steps);
    nn_dev_params_free(&x->dp);
    free(x);
}

extern "C" float *nn_cuda_exec_input(nn_cuda_exec *x) { return x->h_in; }
extern "C" const float *nn_cuda_exec_output(const nn_cuda_exec *x) { return x->h_out; }

/* Enqueues every step (events between them when profiling). */
static nn_status enqueue_forward(nn_cuda_exec *x, int batch, bool events, nn_err *err)
{
    for (int i = 0; i < x->n_steps; i++) {
        const nn_plan_step *st = &x->steps[i];
        cu_fwd_args a = {};
        a.env = &x->env;
        a.l = &st->l;
        a.out = x->d_act + st->out_off;
        a.batch = batch;
        a.plan = x->plans[i];
        for (int k = 0; k < st->l.n_inputs; k++) {
            a.in[k] = x->d_act + st->in_off[k];
            a.in_c[k] = st->in_c[k];
        }
        for (int k = 0; k < 4; k++)
            a.p[k] = st->has_p[k] ? x->d_params + st->p_off[k] : NULL;
        nn_status s = cu_forward(&a, err);
        if (s)
            return s;
        if (events)
            CU_TRY(cudaEventRecord(x->ev[i + 1], x->env.stream));
    }
    return NN_OK;
}

/* Upload (unless the input is already on the device), forward, download, wait. */
static nn_status run_eager(nn_cuda_exec *x, int batch, bool upload, uint64_t *step_ns, nn_err *err)
{
    cudaStream_t st = x->env.stream;
    if (upload)
        CU_TRY(cudaMemcpyAsync(x->d_act + x->input_off, x->h_in, (size_t)batch * x->in_size * sizeof(float),
                               cudaMemcpyHostToDevice, st));
    if (x->profile)
        CU_TRY(cudaEventRecord(x->ev[0], st));
    nn_status s = enqueue_forward(x, batch, x->profile, err);
    if (s)
        return s;
    CU_TRY(cudaMemcpyAsync(x->h_out, x->d_act + x->output_off, (size_t)batch * x->out_size * sizeof(float),
                           cudaMemcpyDeviceToHost, st));
    CU_TRY(cudaStreamSynchronize(st));
    if (x->profile && step_ns)
        for (int i = 0; i < x->n_steps; i++) {
            float ms = 0;
            CU_TRY(cudaEventElapsedTime(&ms, x->ev[i], x->ev[i + 1]));
            step_ns[i] = (uint64_t)((double)ms * 1e6);
        }
    return NN_OK;
}

/* Captures upload (when `upload`) + forward + download at this batch size into *out. */
static nn_status capture(nn_cuda_exec *x, int batch, bool upload, cudaGraphExec_t *out, nn_err *err)
{
    cudaStream_t st = x->env.stream;
    CU_TRY(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    cudaError_t e = cudaSuccess;
    nn_status s = NN_OK;
    if (upload)
        e = cudaMemcpyAsync(x->d_act + x->input_off, x->h_in, (size_t)batch * x->in_size * sizeof(float),
                            cudaMemcpyHostToDevice, st);
    if (e == cudaSuccess)
        s = enqueue_forward(x, batch, false, err);
    if (e == cudaSuccess && !s)
        e = cudaMemcpyAsync(x->h_out, x->d_act + x->output_off, (size_t)batch * x->out_size * sizeof(float),
                            cudaMemcpyDeviceToHost, st);
    cudaGraph_t graph = NULL;
    cudaError_t end = cudaStreamEndCapture(st, &graph); /* always: leaves the stream out of capture mode */
    (void)cudaGetLastError();                            /* capture errors are not sticky: clear them */
    if (!s && e == cudaSuccess && end == cudaSuccess && graph) {
        e = cudaGraphInstantiate(out, graph, 0);
        if (e != cudaSuccess)
            *out = NULL;
    }
    if (graph)
        (void)cudaGraphDestroy(graph);
    if (s) {
        char msg[NN_ERR_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return nn_fail(err, s, "CUDA graph capture of the forward pass (batch %d): %s", batch, msg);
    }
    if (e != cudaSuccess || end != cudaSuccess || !*out)
        return nn_fail(err, NN_E_DEVICE, "CUDA graph capture of the forward pass (batch %d): %s", batch,
                       cudaGetErrorString(e != cudaSuccess ? e : end));
    return NN_OK;
}

extern "C" nn_status nn_cuda_exec_run(nn_cuda_exec *x, int batch, uint64_t *step_ns, nn_err *err)
{
    if (batch < 1 || batch > x->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this inference context", batch, x->max_batch);
    bool frame = x->frame_pending;
    x->frame_pending = false;
    if (frame && batch != 1)
        return nn_fail(err, NN_E_ARG, "a GPU-preprocessed frame is one image: run it with batch 1 (got %d)", batch);
    if (x->eager)
        return run_eager(x, batch, !frame, step_ns, err);
    cudaGraphExec_t *g = frame ? &x->frame_graph : &x->graphs[batch];
    if (!*g) { /* first run at this size: eager (loads kernels, fills conv slots), then capture */
        nn_status s = run_eager(x, batch, !frame, step_ns, err);
        if (s)
            return s;
        nn_err cap_err = {};
        if (capture(x, batch, !frame, g, &cap_err)) { /* the eager result above stands: run eagerly from now on */
            cu_warn("%s; running eagerly from now on", cap_err.msg);
            x->eager = true;
            (void)cudaGetLastError();
        }
        return NN_OK;
    }
    CU_TRY(cudaGraphLaunch(*g, x->env.stream));
    CU_TRY(cudaStreamSynchronize(x->env.stream));
    return NN_OK;
}

/* ---------------------------------------------------------------- GPU preprocessing */
extern "C" nn_status nn_cuda_exec_frame_reserve(nn_cuda_exec *x, size_t max_frame_bytes, nn_err *err)
{
    if (max_frame_bytes < 3)
        return nn_fail(err, NN_E_ARG, "frame buffer of %zu bytes is too small", max_frame_bytes);
    if (!x->h_tabs_i) {
        size_t ni = 2 * ((size_t)x->in_h + x->in_w), nf = (size_t)x->in_h + x->in_w;
        x->h_tabs_i = (int *)malloc(ni * sizeof(int));
        x->h_tabs_f = (float *)malloc(nf * sizeof(float));
        if (!x->h_tabs_i || !x->h_tabs_f)
            return nn_fail(err, NN_E_NOMEM, "out of memory");
        CU_TRY(cudaMalloc((void **)&x->d_tabs_i, ni * sizeof(int)));
        CU_TRY(cudaMalloc((void **)&x->d_tabs_f, nf * sizeof(float)));
    }
    if (max_frame_bytes <= x->frame_cap)
        return NN_OK;
    CU_TRY(cudaStreamSynchronize(x->env.stream));
    if (x->h_frame)
        CU_TRY(cudaFreeHost(x->h_frame));
    if (x->d_frame)
        CU_TRY(cudaFree(x->d_frame));
    x->h_frame = NULL;
    x->d_frame = NULL;
    x->frame_cap = 0;
    CU_TRY(cudaHostAlloc((void **)&x->h_frame, max_frame_bytes, cudaHostAllocDefault));
    CU_TRY(cudaMalloc((void **)&x->d_frame, max_frame_bytes));
    x->frame_cap = max_frame_bytes;
    return NN_OK;
}

/* Sampling tables for a width x height frame, uploaded (only when the frame size changes). */
static nn_status frame_tables(nn_cuda_exec *x, int width, int height, nn_err *err)
{
    const int oh = x->in_h, ow = x->in_w;
    int *ti = x->h_tabs_i;
    float *tf = x->h_tabs_f;
    nn_status s = nn_resample_tables(&x->pre, width, height, oh, ow, ti, ti + oh, tf, ti + 2 * oh, ti + 2 * oh + ow,
                                     tf + oh, err);
    if (s)
        return s;
    x->row0 = height;
    x->row1 = 0;
    for (int i = 0; i < 2 * oh; i++) {
        if (ti[i] < x->row0) x->row0 = ti[i];
        if (ti[i] > x->row1) x->row1 = ti[i];
    }
    /* In stream order (after the previous frame's kernel, before this one's); waited for, since
     * the host tables are rewritten by the next size change. */
    CU_TRY(cudaMemcpyAsync(x->d_tabs_i, ti, 2 * ((size_t)oh + ow) * sizeof(int), cudaMemcpyHostToDevice,
                           x->env.stream));
    CU_TRY(cudaMemcpyAsync(x->d_tabs_f, tf, ((size_t)oh + ow) * sizeof(float), cudaMemcpyHostToDevice,
                           x->env.stream));
    CU_TRY(cudaStreamSynchronize(x->env.stream));
    x->tab_w = width;
    x->tab_h = height;
    return NN_OK;
}

extern "C" nn_status nn_cuda_exec_frame(nn_cuda_exec *x, const uint8_t *rgb, int width, int height, int stride,
                                        nn_err *err)
{
    if (!x->h_frame)
        return nn_fail(err, NN_E_ARG, "GPU preprocessing: nn_infer_frame_reserve was not called");
    if (!rgb || width < 1 || height < 1 || stride < width * 3)
        return nn_fail(err, NN_E_ARG, "preprocess: bad frame %dx%d (stride %d)", width, height, stride);
    if (x->frame_pending) /* the previous frame's upload may still read the staging buffer */
        CU_TRY(cudaStreamSynchronize(x->env.stream));
    if (width != x->tab_w || height != x->tab_h) {
        x->tab_w = x->tab_h = 0;
        nn_status s = frame_tables(x, width, height, err);
        if (s)
            return s;
    }
    const size_t pitch = (size_t)width * 3, rows = (size_t)(x->row1 - x->row0 + 1);
    if (rows * pitch > x->frame_cap)
        return nn_fail(err, NN_E_ARG, "preprocess: a %dx%d frame needs %zu staging bytes, %zu were reserved", width,
                       height, rows * pitch, x->frame_cap);
    for (size_t r = 0; r < rows; r++)
        memcpy(x->h_frame + r * pitch, rgb + (size_t)(x->row0 + (int)r) * (size_t)stride, pitch);
    CU_TRY(cudaMemcpyAsync(x->d_frame, x->h_frame, rows * pitch, cudaMemcpyHostToDevice, x->env.stream));
    nn_status s = cu_preprocess(&x->env, x->d_act + x->input_off, x->d_frame, pitch, x->row0, x->d_tabs_i,
                                x->d_tabs_f, x->in_h, x->in_w, x->in_c, x->pre.scale, x->pre.offset, err);
    if (s)
        return s;
    x->frame_pending = true;
    return NN_OK;
}
