/* fuzz_echo.h — the harnesses' check for issue 12 class 11 (file contents echoed in messages):
 * abort when an error message contains a run of FUZZ_ECHO_RUN bytes of the input holding a byte
 * that no message template of the engine (nor libyaml's) contains: a control or 8-bit byte, or
 * one of $ & ; ^ | ~ \ (so binary data or a password hash line cannot be echoed; * and @ are left out
 * because they are endpoint characters, a tcp wildcard host and an abstract ipc name, that config messages show). Plain text
 * runs (letters, ': ', quotes, brackets) are not checked: YAML's `key: value` reads like the
 * messages' `field: problem`, and a run of them would be a false alarm. What the quote rule
 * (src/common/quote.h) shows, [A-Za-z0-9_.+-] in single quotes, never trips it. The check is
 * left out of coverage and comparison tracing, and does not call memmem, so libFuzzer does not
 * learn the messages' text from it and feed it back as input. Header-only: each harness includes
 * it once. */
#ifndef STEERD_FUZZ_ECHO_H
#define STEERD_FUZZ_ECHO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ECHO_RUN 16

/* True when n >= FUZZ_ECHO_RUN bytes of `in` hold the FUZZ_ECHO_RUN bytes at w. */
__attribute__((no_sanitize("coverage"))) static inline int fuzz_echo_found(const uint8_t *in, size_t n, const char *w)
{
    for (size_t i = 0; i + FUZZ_ECHO_RUN <= n; i++) {
        size_t k = 0;
        while (k < FUZZ_ECHO_RUN && in[i + k] == (uint8_t)w[k])
            k++;
        if (k == FUZZ_ECHO_RUN)
            return 1;
    }
    return 0;
}

__attribute__((no_sanitize("coverage"))) static inline void fuzz_check_no_echo(const uint8_t *in, size_t n,
                                                                             const char *msg)
{
    size_t m = strlen(msg);
    for (size_t j = 0; j + FUZZ_ECHO_RUN <= m; j++) {
        int forbidden = 0;
        for (size_t k = 0; k < FUZZ_ECHO_RUN && !forbidden; k++) {
            unsigned char b = (unsigned char)msg[j + k];
            forbidden = b < 0x20 || b >= 0x7f || b == '$' || b == '&' || b == ';' || b == '^' || b == '|' ||
                        b == '~' || b == '\\';
        }
        if (forbidden && fuzz_echo_found(in, n, msg + j))
            abort(); /* the message repeats FUZZ_ECHO_RUN bytes of the input that no rule shows */
    }
}

#endif
