/* Authentication for network links, in the order docs/protocol.md fixes: unsigned ->
 * tag (constant time) -> clock skew -> replay (timestamp not newer). State changes only
 * after every check passed, so a forged frame cannot block the valid ones after it. */
#ifndef RR_AUTH_H
#define RR_AUTH_H
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

typedef struct {
    uint8_t key[32];
    uint64_t max_skew_us;
    uint64_t last_time_us;
    int have_last;
    uint32_t unsigned_frames, bad_tag, stale, replayed, accepted;
} rr_auth;

void rr_auth_init(rr_auth *a, const uint8_t key[32], uint64_t max_skew_us);
/* Decode and authenticate one datagram at receiver time now_us (same clock as senders). */
int rr_auth_verify(rr_auth *a, const uint8_t *buf, size_t n, uint64_t now_us, rr_frame *f);

#endif
