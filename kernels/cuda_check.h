/* cuda_check.h — every CUDA runtime, cuDNN and cuBLAS return value becomes an nn_status with a one-line
 * message naming the call, the file:line and the library's own error string. Use inside
 * functions that return nn_status and have an `nn_err *err` in scope. CUDA sources only. */
#ifndef STEERD_KERNELS_CUDA_CHECK_H
#define STEERD_KERNELS_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "nn/nn.h"

#define CU_TRY(call)                                                                                        \
    do {                                                                                                    \
        cudaError_t cu_e_ = (call);                                                                         \
        if (cu_e_ != cudaSuccess)                                                                           \
            return nn_fail(err, NN_E_DEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,                   \
                           cudaGetErrorString(cu_e_));                                                      \
    } while (0)

#define CUDNN_TRY(call)                                                                                     \
    do {                                                                                                    \
        cudnnStatus_t cu_s_ = (call);                                                                       \
        if (cu_s_ != CUDNN_STATUS_SUCCESS)                                                                  \
            return nn_fail(err, NN_E_DEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,                   \
                           cudnnGetErrorString(cu_s_));                                                     \
    } while (0)

#define CUBLAS_TRY(call)                                                                                    \
    do {                                                                                                    \
        cublasStatus_t cu_b_ = (call);                                                                      \
        if (cu_b_ != CUBLAS_STATUS_SUCCESS)                                                                 \
            return nn_fail(err, NN_E_DEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,                   \
                           cublasGetStatusString(cu_b_));                                                   \
    } while (0)

/* After a kernel launch <<<...>>>: launch-configuration errors surface here. cudaGetLastError
 * (not cudaPeekAtLastError) also clears a non-sticky error, so one failed launch is reported
 * once and does not cascade into every later check. */
#define CU_LAUNCHED() CU_TRY(cudaGetLastError())

#endif
