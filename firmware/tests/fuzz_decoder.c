/* Fuzz target for the frame decoder, the serial stream and the endpoint state machine.
 *
 * LLVMFuzzerTestOneInput is the libFuzzer entry point (clang -fsanitize=fuzzer builds it
 * as is). Without libFuzzer, the driver below mutates the golden frames and random bytes
 * for a bounded time under ASan/UBSan (gcc) and prints executions per second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cobs.h"
#include "endpoint.h"
#include "protocol.h"
#include "vectors.h"

static void sink(uint8_t type, const uint8_t *payload, uint16_t len, void *ctx)
{
    volatile uint8_t x = type;
    for (uint16_t i = 0; i < len; ++i) x ^= payload[i];
    (void)ctx;
}

static int toy_policy(const float *state, int n, float *action, void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 4; ++i) action[i] = n > i ? state[i] * 0.0f : 0.0f;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rr_stream stream;
    static rr_endpoint ep;
    static int init;
    rr_frame f;
    size_t raw;
    uint8_t key[32] = {0};
    if (!init) {
        rr_endpoint_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.state_dim = 13;
        cfg.action_dim = 4;
        cfg.command_timeout_us = 100000u;
        cfg.disarm_timeout_us = 500000u;
        cfg.policy = (size & 1) ? toy_policy : NULL;
        rr_stream_init(&stream);
        rr_endpoint_init(&ep, &cfg, sink, NULL);
        init = 1;
    }
    if (rr_decode_frame(data, size, &f) == RR_OK) {
        rr_verify_tag(data, size, key);
        rr_endpoint_handle(&ep, &f, size * 1000u);
    }
    for (size_t i = 0; i < size; ++i)
        if (rr_stream_push(&stream, data[i], &f, &raw)) rr_endpoint_handle(&ep, &f, i * 1000u);
    rr_endpoint_tick(&ep, size * 7919u);
    return 0;
}

#ifndef RR_LIBFUZZER
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)rng;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    uint8_t buf[RR_MAX_FRAME * 2];
    unsigned long long execs = 0;
    clock_t start = clock();
    const size_t n_golden = sizeof GOLDEN_VALID / sizeof GOLDEN_VALID[0];
    while ((double)(clock() - start) / CLOCKS_PER_SEC < seconds) {
        size_t n;
        const golden_valid *g = &GOLDEN_VALID[next() % n_golden];
        switch (next() % 4) {
        case 0:    /* random bytes */
            n = next() % 300;
            for (size_t i = 0; i < n; ++i) buf[i] = (uint8_t)next();
            break;
        case 1:    /* a golden frame with bit flips */
        case 2:    /* its serial form with bit flips, truncations and inserted delimiters */
            {
                int raw_frame = (int)(next() & 1);
                const uint8_t *src = raw_frame ? g->frame : g->serial;
                size_t len = raw_frame ? g->frame_len : g->serial_len;
                memcpy(buf, src, len);
                n = len;
                for (int k = next() % 4; k >= 0; --k) buf[next() % n] ^= (uint8_t)(1u << (next() % 8));
                if (next() % 3 == 0) n = next() % (n + 1);
                if (next() % 5 == 0 && n) buf[next() % n] = 0;
            }
            break;
        default:   /* several frames back to back */
            n = 0;
            for (int k = next() % 5; k >= 0; --k) {
                const golden_valid *h = &GOLDEN_VALID[next() % n_golden];
                if (n + h->serial_len > sizeof buf) break;
                memcpy(buf + n, h->serial, h->serial_len);
                n += h->serial_len;
            }
            if (n) buf[next() % n] ^= (uint8_t)next();
        }
        LLVMFuzzerTestOneInput(buf, n);
        ++execs;
    }
    seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    printf("{\"execs\": %llu, \"seconds\": %.2f, \"execs_per_s\": %.0f}\n", execs, seconds,
           (double)execs / seconds);
    return 0;
}
#endif
