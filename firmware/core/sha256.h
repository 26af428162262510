/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), no allocation. */
#ifndef RR_SHA256_H
#define RR_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t bits;
    uint8_t block[64];
    size_t fill;
} rr_sha256_ctx;

void rr_sha256_init(rr_sha256_ctx *ctx);
void rr_sha256_update(rr_sha256_ctx *ctx, const uint8_t *data, size_t n);
void rr_sha256_final(rr_sha256_ctx *ctx, uint8_t digest[32]);
void rr_sha256(const uint8_t *data, size_t n, uint8_t digest[32]);
void rr_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t n,
                    uint8_t tag[32]);

#endif
