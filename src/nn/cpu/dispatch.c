/* dispatch.c — the CPU backend's entry points: one forward call per layer dispatched on l->op,
 * the scratch each layer needs, which layers may run in place, and the activation epilogue. */
#include <string.h>

#include "cpu.h"

size_t cpu_scratch_floats(const nn_layer *l, int batch, int threads)
{
    if (batch < 1) batch = 1;
    if (threads < 1) threads = 1;
    switch (l->op) {
    case NN_OP_CONV2D:
        return cpu_conv2d_scratch_floats(l, batch, threads);
    case NN_OP_DENSE:
        return nn_sgemm_ws_floats(batch, l->units, (int)nn_shape_size(l->in), threads);
    default:
        return 0;
    }
}

bool cpu_forward_in_place(const nn_layer *l)
{
    switch (l->op) {
    case NN_OP_RELU:
    case NN_OP_LEAKY_RELU:
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_ELU:
    case NN_OP_CLIP:
    case NN_OP_DROPOUT:
    case NN_OP_FLATTEN:
    case NN_OP_BATCHNORM:
        return true;
    default:
        return false;
    }
}

void cpu_forward(const cpu_fwd_args *a)
{
    switch (a->l->op) {
    case NN_OP_INPUT: break;
    case NN_OP_CONV2D: cpu_conv2d_forward(a); break;
    case NN_OP_DEPTHWISE: cpu_depthwise_forward(a); break;
    case NN_OP_MAXPOOL: cpu_maxpool_forward(a); break;
    case NN_OP_AVGPOOL: cpu_avgpool_forward(a); break;
    case NN_OP_GLOBAL_AVGPOOL: cpu_global_avgpool_forward(a); break;
    case NN_OP_BATCHNORM: cpu_batchnorm_forward(a); break;
    case NN_OP_RELU: cpu_relu_forward(a); break;
    case NN_OP_LEAKY_RELU: cpu_leaky_relu_forward(a); break;
    case NN_OP_SOFTMAX: cpu_softmax_forward(a); break;
    case NN_OP_DENSE: cpu_dense_forward(a); break;
    case NN_OP_FLATTEN:
    case NN_OP_DROPOUT: cpu_copy_forward(a); break;
    case NN_OP_CHANNEL_SHUFFLE: cpu_channel_shuffle_forward(a); break;
    case NN_OP_ADD: cpu_add_forward(a); break;
    case NN_OP_CONCAT: cpu_concat_forward(a); break;
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_ELU:
    case NN_OP_CLIP: cpu_pointwise_forward(a); break;
    case NN_OP_COUNT: break;
    }
}

nn_cpu_isa cpu_isa(const cpu_fwd_args *a) { return a->isa != NN_CPU_ISA_AUTO ? a->isa : nn_cpu_isa_best(); }
nn_cpu_isa cpu_bwd_isa(const cpu_bwd_args *a) { return a->isa != NN_CPU_ISA_AUTO ? a->isa : nn_cpu_isa_best(); }

/* x[n] <- act(x) in place. */
void cpu_apply_act(float *x, size_t n, nn_act act, float alpha)
{
    if (act == NN_ACT_RELU) {
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    } else if (act == NN_ACT_LEAKY) {
        for (size_t i = 0; i < n; i++) x[i] = x[i] < 0.0f ? x[i] * alpha : x[i];
    }
}

/* Below this many element operations a pool launch (~1 us) costs more than it saves. */
#define CPU_PAR_MIN_WORK 65536.0

void cpu_run(nn_pool *p, double work, int n, nn_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (!p || nn_pool_threads(p) == 1 || work < CPU_PAR_MIN_WORK) fn(ctx, 0, n, 0);
    else nn_pool_run(p, n, fn, ctx);
}

/* ---- training ---- */
size_t cpu_bwd_scratch_floats(const nn_layer *l, int batch, int threads)
{
    if (batch < 1) batch = 1;
    if (threads < 1) threads = 1;
    switch (l->op) {
    case NN_OP_CONV2D:
        return cpu_conv2d_bwd_scratch_floats(l, batch, threads);
    case NN_OP_DENSE:
        return cpu_dense_bwd_scratch_floats(l, batch, threads);
    case NN_OP_DEPTHWISE:
        return cpu_depthwise_bwd_scratch_floats(l, batch, threads);
    case NN_OP_BATCHNORM:
        return cpu_bn_train_scratch_floats(l, batch, threads);
    default:
        return 0;
    }
}

bool cpu_bwd_overwrites(const nn_layer *l)
{
    if (l->n_inputs != 1) return false;
    switch (l->op) {
    case NN_OP_CONV2D:
    case NN_OP_DEPTHWISE:
    case NN_OP_MAXPOOL:
    case NN_OP_AVGPOOL:
    case NN_OP_BATCHNORM:
    case NN_OP_RELU:
    case NN_OP_LEAKY_RELU:
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_ELU:
    case NN_OP_CLIP:
    case NN_OP_DENSE:
    case NN_OP_FLATTEN:
    case NN_OP_DROPOUT:
        return true;
    default:
        return false;
    }
}

size_t cpu_train_aux_floats(const nn_layer *l, int batch)
{
    switch (l->op) {
    case NN_OP_BATCHNORM:
        return 2 * (size_t)l->in.c;
    case NN_OP_DROPOUT:
        return (size_t)(batch < 1 ? 1 : batch) * nn_shape_size(l->out);
    default:
        return 0;
    }
}

void cpu_backward(const cpu_bwd_args *a)
{
    switch (a->l->op) {
    case NN_OP_INPUT: break;
    case NN_OP_CONV2D: cpu_conv2d_backward(a); break;
    case NN_OP_DEPTHWISE: cpu_depthwise_backward(a); break;
    case NN_OP_MAXPOOL: cpu_maxpool_backward(a); break;
    case NN_OP_AVGPOOL: cpu_avgpool_backward(a); break;
    case NN_OP_GLOBAL_AVGPOOL: cpu_global_avgpool_backward(a); break;
    case NN_OP_BATCHNORM: cpu_batchnorm_backward(a); break;
    case NN_OP_RELU: cpu_relu_backward(a); break;
    case NN_OP_LEAKY_RELU: cpu_leaky_relu_backward(a); break;
    case NN_OP_SOFTMAX: cpu_softmax_backward(a); break;
    case NN_OP_DENSE: cpu_dense_backward(a); break;
    case NN_OP_FLATTEN: cpu_copy_backward(a); break;
    case NN_OP_DROPOUT: cpu_dropout_backward(a); break;
    case NN_OP_CHANNEL_SHUFFLE: cpu_channel_shuffle_backward(a); break;
    case NN_OP_ADD: cpu_add_backward(a); break;
    case NN_OP_CONCAT: cpu_concat_backward(a); break;
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_ELU:
    case NN_OP_CLIP: cpu_pointwise_backward(a); break;
    case NN_OP_COUNT: break;
    }
}
