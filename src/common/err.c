/* err.c — status names and the one-line error formatter shared by every engine module. */
#include <stdarg.h>
#include <stdio.h>

#include "common/err.h"

const char *nn_status_str(nn_status s)
{
    switch (s) {
    case NN_OK: return "ok";
    case NN_E_IO: return "i/o error";
    case NN_E_PARSE: return "parse error";
    case NN_E_SPEC: return "invalid model specification";
    case NN_E_SHAPE: return "shape error";
    case NN_E_WEIGHTS: return "invalid weights";
    case NN_E_CHECKSUM: return "checksum mismatch";
    case NN_E_NOMEM: return "out of memory";
    case NN_E_ARG: return "invalid argument";
    case NN_E_UNSUPPORTED: return "unsupported";
    case NN_E_DEVICE: return "GPU device error";
    }
    return "unknown status";
}

nn_status nn_fail(nn_err *err, nn_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* Keep it one line: a value quoted from a file may contain a newline. */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return s;
}
