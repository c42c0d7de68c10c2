/* test_sha256.c — SHA-256 against FIPS 180-4 / NIST vectors, padding-boundary lengths
 * (expected values from Python's hashlib) and streaming in every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/sha256.h"

static void check_tag(const char *what, const void *data, size_t len, const char *hex)
{
    char tag[72], want[72];
    snprintf(want, sizeof want, "sha256:%s", hex);
    sha256_tag(data, len, tag);
    if (strcmp(tag, want) != 0)
        fail_msg("case %s: got %s, want %s", what, tag, want);
}

static void test_nist_vectors(void **state)
{
    (void)state;
    check_tag("empty", "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_tag("abc", "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_tag("448-bit", m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_tag("896-bit", m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
    (void)state;
    /* one-shot */
    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    check_tag("million a (one shot)", a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
    /* streamed in odd chunks */
    sha256_ctx c;
    char tag[72], chunk[997];
    memset(chunk, 'a', sizeof chunk);
    sha256_init(&c);
    size_t left = 1000000;
    while (left > 0) {
        size_t k = left < sizeof chunk ? left : sizeof chunk;
        sha256_update(&c, chunk, k);
        left -= k;
    }
    sha256_final_tag(&c, tag);
    if (strcmp(tag, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") != 0)
        fail_msg("case million a (streamed 997-byte chunks): got %s", tag);
}

static void test_padding_boundaries(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
        {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
        {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"},
        {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
        {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
        {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
        {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
        {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
        {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
    };
    uint8_t buf[128];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)((i * 7 + 3) & 0xff);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "pattern length %zu", v[i].n);
        check_tag(what, buf, v[i].n, v[i].hex);
    }
}

/* Streaming with every split point (and three-way splits) equals the one-shot digest. */
static void test_streaming_splits(void **state)
{
    (void)state;
    uint8_t buf[200], ref[32], got[32];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + 1);
    for (size_t n = 0; n <= sizeof buf; n += 13) {
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, buf, n);
        sha256_final(&c, ref);
        for (size_t a = 0; a <= n; a++)
            for (size_t b = a; b <= n; b += 7) {
                sha256_init(&c);
                sha256_update(&c, buf, a);
                sha256_update(&c, buf + a, b - a);
                sha256_update(&c, buf + b, n - b);
                sha256_final(&c, got);
                if (memcmp(ref, got, 32) != 0)
                    fail_msg("case length %zu split at %zu and %zu: digest differs from one-shot", n, a, b);
            }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nist_vectors),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_streaming_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
