#include "auth.h"

#include <string.h>

void rr_auth_init(rr_auth *a, const uint8_t key[32], uint64_t max_skew_us)
{
    memset(a, 0, sizeof *a);
    memcpy(a->key, key, 32);
    a->max_skew_us = max_skew_us;
}

int rr_auth_verify(rr_auth *a, const uint8_t *buf, size_t n, uint64_t now_us, rr_frame *f)
{
    int r = rr_decode_frame(buf, n, f);
    uint64_t skew;
    if (r != RR_OK) return r;
    if (!(f->flags & RR_FLAG_AUTH)) { a->unsigned_frames++; return RR_ERR_UNSIGNED; }
    r = rr_verify_tag(buf, n, a->key);
    if (r != RR_OK) { a->bad_tag++; return r; }
    skew = f->time_us > now_us ? f->time_us - now_us : now_us - f->time_us;
    if (skew > a->max_skew_us) { a->stale++; return RR_ERR_STALE; }
    if (a->have_last && f->time_us <= a->last_time_us) { a->replayed++; return RR_ERR_REPLAYED; }
    a->last_time_us = f->time_us;
    a->have_last = 1;
    a->accepted++;
    return RR_OK;
}
