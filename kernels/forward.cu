/* forward.cu — the CUDA backend's forward dispatcher: per-layer plans (only conv2d keeps state:
 * cuDNN descriptors and algorithms) and one launcher call per layer dispatched on l->op. */
#include "cuda.h"

nn_status cu_plan_create(cu_plan **out, const cu_env *env, const nn_layer *l, int max_batch, nn_err *err)
{
    *out = NULL;
    if (max_batch < 1)
        return nn_fail(err, NN_E_ARG, "%s: batch size must be >= 1 (got %d)", l->name, max_batch);
    if (l->op == NN_OP_CONV2D)
        return cu_conv2d_plan_create(out, env, l, max_batch, err);
    return NN_OK;
}

size_t cu_plan_ws_bytes(const cu_plan *p) { return cu_conv2d_plan_ws_bytes(p); }
void cu_plan_free(cu_plan *p) { cu_conv2d_plan_free(p); }

nn_status cu_forward(const cu_fwd_args *a, nn_err *err)
{
    switch (a->l->op) {
    case NN_OP_INPUT: return NN_OK;
    case NN_OP_CONV2D: return cu_conv2d_forward(a, err);
    case NN_OP_DEPTHWISE: return cu_depthwise_forward(a, err);
    case NN_OP_MAXPOOL: return cu_maxpool_forward(a, err);
    case NN_OP_AVGPOOL: return cu_avgpool_forward(a, err);
    case NN_OP_GLOBAL_AVGPOOL: return cu_global_avgpool_forward(a, err);
    case NN_OP_BATCHNORM: return cu_batchnorm_forward(a, err);
    case NN_OP_RELU: return cu_relu_forward(a, err);
    case NN_OP_LEAKY_RELU: return cu_leaky_relu_forward(a, err);
    case NN_OP_SOFTMAX: return cu_softmax_forward(a, err);
    case NN_OP_DENSE: return cu_dense_forward(a, err);
    case NN_OP_FLATTEN:
    case NN_OP_DROPOUT: return cu_copy_forward(a, err);
    case NN_OP_CHANNEL_SHUFFLE: return cu_channel_shuffle_forward(a, err);
    case NN_OP_ADD: return cu_add_forward(a, err);
    case NN_OP_CONCAT: return cu_concat_forward(a, err);
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_ELU:
    case NN_OP_CLIP: return cu_pointwise_forward(a, err);
    case NN_OP_COUNT: break;
    }
    return nn_fail(err, NN_E_UNSUPPORTED, "%s: layer type %d has no CUDA forward", a->l->name, (int)a->l->op);
}
