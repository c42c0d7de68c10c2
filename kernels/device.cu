/* device.cu — is there a usable CUDA device? One probe shared by the engine (backend auto), the
 * daemon and the GPU tests ("skipped: no CUDA device"); the device count and the choice of the
 * device a process's contexts run on (one GPU per rank of a data-parallel run). */
#include <stdio.h>

#include "cuda.h"

extern "C" bool nn_cuda_probe(char *why, size_t why_len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n < 1) {
        if (why && why_len)
            snprintf(why, why_len, "no CUDA device (%s)",
                     e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0 devices");
        (void)cudaGetLastError(); /* clear the sticky-free error so later probes start clean */
        return false;
    }
    if (why && why_len) { /* device 0 and the versions this process loaded (the device check prints them) */
        cudaDeviceProp prop;
        int drv = 0, rt = 0, blas[3] = {0, 0, 0};
        const size_t dnn = cudnnGetVersion();
        (void)cublasGetProperty(MAJOR_VERSION, &blas[0]);
        (void)cublasGetProperty(MINOR_VERSION, &blas[1]);
        (void)cublasGetProperty(PATCH_LEVEL, &blas[2]);
        (void)cudaDriverGetVersion(&drv);
        (void)cudaRuntimeGetVersion(&rt);
        if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess)
            snprintf(prop.name, sizeof prop.name, "?"), prop.major = prop.minor = 0;
        snprintf(why, why_len, "%d CUDA device(s): %s (sm_%d%d), driver %d.%d, runtime %d.%d, cuDNN %zu.%zu.%zu, "
                 "cuBLAS %d.%d.%d", n, prop.name, prop.major, prop.minor, drv / 1000, drv % 1000 / 10, rt / 1000,
                 rt % 1000 / 10, dnn / 10000, dnn / 100 % 100, dnn % 100, blas[0], blas[1], blas[2]);
        (void)cudaGetLastError();
    }
    return true;
}

extern "C" int nn_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" nn_status nn_cuda_set_device(int index, nn_err *err)
{
    const int n = nn_cuda_device_count();
    if (index < 0 || index >= n)
        return nn_fail(err, NN_E_DEVICE, "CUDA device %d: this process sees %d device(s)", index, n);
    cudaError_t e = cudaSetDevice(index);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return nn_fail(err, NN_E_DEVICE, "CUDA device %d: cudaSetDevice: %s", index, cudaGetErrorString(e));
    }
    return NN_OK;
}
