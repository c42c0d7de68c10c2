/* device.cu — is there a usable CUDA device? One probe shared by the engine (backend auto), the
 * daemon and the GPU tests ("skipped: no CUDA device"). */
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
    if (why && why_len)
        snprintf(why, why_len, "%d CUDA device(s)", n);
    return true;
}
