#include "cobs.h"

long rr_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    size_t out = 1, code_at = 0;
    uint8_t code = 1;
    if (cap < RR_COBS_MAX_ENCODED(n)) return -1;
    for (size_t i = 0; i < n; ++i) {
        if (src[i] == 0) {
            dst[code_at] = code;
            code_at = out++;
            code = 1;
        } else {
            dst[out++] = src[i];
            if (++code == 0xFF) {
                dst[code_at] = code;
                code_at = out++;
                code = 1;
            }
        }
    }
    dst[code_at] = code;
    return (long)out;
}

long rr_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    size_t in = 0, out = 0;
    while (in < n) {
        uint8_t code = src[in++];
        if (code == 0) return -1;
        for (uint8_t k = 1; k < code; ++k) {
            if (in >= n || out >= cap || src[in] == 0) return -1;
            dst[out++] = src[in++];
        }
        if (code != 0xFF && in < n) {
            if (out >= cap) return -1;
            dst[out++] = 0;
        }
    }
    return (long)out;
}
