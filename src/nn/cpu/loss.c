/* loss.c — training losses, each the mean over the batch with its gradient (see nn/train.h;
 * the cpu_loss_* forms take the mean over `denom` samples: a slice of a data-parallel batch):
 *   softmax cross-entropy  y, d [batch][classes], labels [batch]
 *   MSE, Huber             y, target, d [batch][n]
 * Sums in double; nothing allocated. */
#include <math.h>

#include "nn/cpu/cpu.h"
#include "nn/train.h"

double cpu_loss_softmax_ce(const float *y, bool y_is_prob, const int *labels, int batch, int classes, int denom,
                           float *d)
{
    if (batch < 1 || classes < 1 || denom < batch) return NAN;
    double total = 0.0;
    const double inv_b = 1.0 / denom;
    for (int b = 0; b < batch; b++) {
        const float *yb = y + (size_t)b * classes;
        float *db = d + (size_t)b * classes;
        const int lab = labels[b];
        if (lab < 0 || lab >= classes) return NAN;
        if (y_is_prob) {
            const double p = yb[lab] > 1e-30f ? yb[lab] : 1e-30;
            total -= log(p);
            for (int c = 0; c < classes; c++) db[c] = (float)(((double)yb[c] - (c == lab)) * inv_b);
        } else {
            double mx = yb[0], sum = 0.0;
            for (int c = 1; c < classes; c++) mx = yb[c] > mx ? yb[c] : mx;
            for (int c = 0; c < classes; c++) sum += exp((double)yb[c] - mx);
            const double lse = mx + log(sum);
            total += lse - yb[lab];
            for (int c = 0; c < classes; c++) db[c] = (float)((exp((double)yb[c] - lse) - (c == lab)) * inv_b);
        }
    }
    return total * inv_b;
}

double cpu_loss_mse(const float *y, const float *target, int batch, int n, int denom, float *d)
{
    const size_t N = (size_t)batch * (size_t)n, M = (size_t)denom * (size_t)n;
    if (N == 0 || denom < batch) return NAN;
    double total = 0.0;
    for (size_t i = 0; i < N; i++) {
        const double e = (double)y[i] - target[i];
        total += e * e;
        d[i] = (float)(2.0 * e / (double)M);
    }
    return total / (double)M;
}

double cpu_loss_huber(const float *y, const float *target, int batch, int n, float delta, int denom, float *d)
{
    const size_t N = (size_t)batch * (size_t)n, M = (size_t)denom * (size_t)n;
    if (N == 0 || denom < batch || !(delta > 0.0f)) return NAN;
    double total = 0.0;
    for (size_t i = 0; i < N; i++) {
        const double e = (double)y[i] - target[i], ae = fabs(e);
        total += ae <= delta ? 0.5 * e * e : delta * (ae - 0.5 * delta);
        const double g = ae <= delta ? e : (e > 0 ? delta : -delta);
        d[i] = (float)(g / (double)M);
    }
    return total / (double)M;
}

double nn_loss_softmax_ce(const float *y, bool y_is_prob, const int *labels, int batch, int classes, float *d)
{
    return cpu_loss_softmax_ce(y, y_is_prob, labels, batch, classes, batch, d);
}

double nn_loss_mse(const float *y, const float *target, int batch, int n, float *d)
{
    return cpu_loss_mse(y, target, batch, n, batch, d);
}

double nn_loss_huber(const float *y, const float *target, int batch, int n, float delta, float *d)
{
    return cpu_loss_huber(y, target, batch, n, delta, batch, d);
}
