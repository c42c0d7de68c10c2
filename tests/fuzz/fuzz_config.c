/* fuzz_config.c — libFuzzer target for steerd's config reader (yamldoc + the config table):
 * any input must load or fail with one line naming file:line:col that echoes none of the file's
 * bytes (fuzz_echo.h, issue 12 class 11), never crash, leak or hang.
 * Built from the engine sources plus the config table and the endpoint checks:
 *   FUZZ_SOURCES="src/common/[a-z]*.c src/nn/[a-z]*.c src/nn/format/[a-z]*.c src/nn/cpu/[a-z]*.c
 *     src/daemon/config.c src/daemon/endpoint.c" tests/fuzz/run.sh config 600
 * (tests/fuzz/config.dict: keys and publish.endpoint forms). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/config.h"
#include "fuzz_echo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    steerd_config cfg;
    nn_err err;
    err.msg[0] = 0;
    if (cfg_load_buffer(&cfg, (const char *)data, size, "dir/fuzz.yaml", &err) != NN_OK &&
        (strchr(err.msg, '\n') || strncmp(err.msg, "dir/fuzz.yaml", 13) != 0))
        abort(); /* every error is one line about the file */
    if (err.msg[0])
        fuzz_check_no_echo(data, size, err.msg);
    return 0;
}
