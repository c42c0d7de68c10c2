/* sha256.h — SHA-256 (FIPS 180-4), streaming and one-shot, used for weights checksums. */
#ifndef STEERD_SHA256_H
#define STEERD_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
/* Finishes like sha256_final and writes the tag below instead of the raw digest. */
void sha256_final_tag(sha256_ctx *c, char out[72]);
/* "sha256:" + 64 lowercase hex digits + NUL = 72 bytes. */
void sha256_tag(const void *data, size_t len, char out[72]);

#endif
