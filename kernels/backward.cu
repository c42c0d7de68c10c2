/* backward.cu — the CUDA backward dispatcher (cu_backward, the mirror of the CPU's
 * cpu_backward) and the scratch each layer's training calls need. */
#include "reduce.cuh"

nn_status cu_backward(const cu_bwd_args *a, cu_conv_train *conv, nn_err *err)
{
    const nn_layer *l = a->l;
    switch (l->op) {
    case NN_OP_INPUT: return NN_OK;
    case NN_OP_CONV2D:
        if (!conv) return nn_fail(err, NN_E_ARG, "layer '%s': conv2d backward without its training state", l->name);
        return cu_conv2d_backward(a, conv, err);
    case NN_OP_DEPTHWISE: return cu_depthwise_backward(a, err);
    case NN_OP_MAXPOOL: return cu_maxpool_backward(a, err);
    case NN_OP_AVGPOOL: return cu_avgpool_backward(a, err);
    case NN_OP_GLOBAL_AVGPOOL: return cu_global_avgpool_backward(a, err);
    case NN_OP_BATCHNORM: return cu_batchnorm_backward(a, err);
    case NN_OP_RELU: return cu_relu_backward(a, err);
    case NN_OP_LEAKY_RELU: return cu_leaky_relu_backward(a, err);
    case NN_OP_SOFTMAX: return cu_softmax_backward(a, err);
    case NN_OP_DENSE: return cu_dense_backward(a, err);
    case NN_OP_FLATTEN: return cu_copy_backward(a, err);
    case NN_OP_DROPOUT: return cu_dropout_backward(a, err);
    case NN_OP_CHANNEL_SHUFFLE: return cu_channel_shuffle_backward(a, err);
    case NN_OP_ADD: return cu_add_backward(a, err);
    case NN_OP_CONCAT: return cu_concat_backward(a, err);
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_ELU:
    case NN_OP_CLIP: return cu_pointwise_backward(a, err);
    case NN_OP_COUNT: break;
    }
    return nn_fail(err, NN_E_UNSUPPORTED, "layer '%s': no CUDA backward for op %d", l->name, (int)l->op);
}

size_t cu_train_scratch_bytes(const nn_layer *l, int batch)
{
    const int pixels = batch * l->out.h * l->out.w;
    switch (l->op) {
    case NN_OP_CONV2D: return cu_chan_scratch_bytes(pixels, l->out.c, 1); /* bias; cuDNN's: cu_conv_train_create */
    case NN_OP_DENSE: return cu_chan_scratch_bytes(batch, l->units, 1);
    case NN_OP_DEPTHWISE: return cu_chan_scratch_bytes(pixels, l->out.c, l->kh * l->kw + 1);
    case NN_OP_BATCHNORM: return cu_chan_scratch_bytes(batch * l->in.h * l->in.w, l->in.c, 2);
    default: return 0;
    }
}
