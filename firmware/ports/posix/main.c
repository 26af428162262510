/* POSIX port: the firmware as a host process on a pseudo-terminal (software in the loop).
 *
 *   fw_host [--mode onboard|companion] [--setpoint x,y,z] [--rate HZ]
 *           [--command-timeout-ms N] [--disarm-timeout-ms N]
 *
 * Prints "pty /dev/pts/N" and serves the protocol there until SIGTERM or its parent exits.
 * In on-board mode it runs the C-exported policy (policy.h) on each HIL_SENSOR state. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cobs.h"
#include "endpoint.h"
#include "policy.h"
#include "protocol.h"
#include "quad_obs.h"

static volatile sig_atomic_t stop_requested = 0;
static int link_fd = -1;
static uint32_t tx_seq = 0;

typedef struct {
    float setpoint[3];
    float prev_action[4];
} onboard_ctx;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void send_frame(uint8_t type, const uint8_t *payload, uint16_t len, void *ctx)
{
    uint8_t frame[RR_MAX_FRAME], wire[RR_COBS_MAX_ENCODED(RR_MAX_FRAME) + 1];
    long n = rr_encode_frame(type, payload, len, ++tx_seq, now_us(), NULL, frame, sizeof frame);
    long e;
    (void)ctx;
    if (n < 0) return;
    e = rr_cobs_encode(frame, (size_t)n, wire, sizeof wire);
    wire[e++] = 0;
    for (long off = 0; off < e;) {
        ssize_t w = write(link_fd, wire + off, (size_t)(e - off));
        if (w < 0) { if (errno == EAGAIN || errno == EINTR) continue; return; }
        off += w;
    }
}

static int onboard_policy(const float *state, int n_state, float *action, void *vctx)
{
    onboard_ctx *ctx = vctx;
    float obs[RR_QUAD_OBS_DIM];
    if (n_state != RR_QUAD_STATE_DIM) return -1;
    rr_quad_observation(state, ctx->setpoint, ctx->prev_action, obs);
    if (policy_step(obs, action) != 0) return -1;
    memcpy(ctx->prev_action, action, sizeof ctx->prev_action);
    return 0;
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static void on_signal(int sig) { (void)sig; stop_requested = 1; }

int main(int argc, char **argv)
{
    static rr_stream stream;
    static rr_endpoint ep;
    rr_endpoint_config cfg;
    onboard_ctx octx = {{0.0f, 0.0f, 1.5f}, {-1.0f, -1.0f, -1.0f, -1.0f}};
    int onboard = 1;
    pid_t parent = getppid();
    uint64_t last_status = 0;
    struct termios tio;

    memset(&cfg, 0, sizeof cfg);
    cfg.rate_hz = 100.0f;
    cfg.command_timeout_us = 100000u;
    cfg.disarm_timeout_us = 500000u;
    cfg.state_dim = RR_QUAD_STATE_DIM;
    cfg.action_dim = POLICY_ACTION_DIM;
    memcpy(cfg.robot_id, "fw-posix", 9);
    for (int i = 0; i < RR_MAX_ACTION; ++i) cfg.safe_action[i] = -1.0f;
    hex_to_bytes(POLICY_SPEC_HASH, cfg.spec_hash, 32);
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc) onboard = !strcmp(argv[++i], "onboard");
        else if (!strcmp(argv[i], "--setpoint") && i + 1 < argc)
            sscanf(argv[++i], "%f,%f,%f", &octx.setpoint[0], &octx.setpoint[1], &octx.setpoint[2]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc) cfg.rate_hz = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--command-timeout-ms") && i + 1 < argc)
            cfg.command_timeout_us = 1000u * (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--disarm-timeout-ms") && i + 1 < argc)
            cfg.disarm_timeout_us = 1000u * (uint32_t)atoi(argv[++i]);
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    if (onboard) { cfg.policy = onboard_policy; cfg.policy_ctx = &octx; memcpy(cfg.robot_id, "fw-posix-onbrd", 15); }

    link_fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (link_fd < 0 || grantpt(link_fd) || unlockpt(link_fd)) { perror("pty"); return 1; }
    {   /* keep the slave side open so reads do not fail before the host connects */
        int slave = open(ptsname(link_fd), O_RDWR | O_NOCTTY);
        if (slave >= 0 && tcgetattr(slave, &tio) == 0) { cfmakeraw(&tio); tcsetattr(slave, TCSANOW, &tio); }
    }
    fcntl(link_fd, F_SETFL, fcntl(link_fd, F_GETFL) | O_NONBLOCK);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("pty %s\n", ptsname(link_fd));
    fflush(stdout);

    rr_stream_init(&stream);
    rr_endpoint_init(&ep, &cfg, send_frame, NULL);
    policy_reset();
    while (!stop_requested && getppid() == parent) {
        struct pollfd pfd = {link_fd, POLLIN, 0};
        uint8_t buf[512];
        uint64_t t;
        poll(&pfd, 1, 1);
        for (;;) {
            ssize_t n = read(link_fd, buf, sizeof buf);
            if (n <= 0) break;
            for (ssize_t k = 0; k < n; ++k) {
                rr_frame f;
                size_t raw;
                if (rr_stream_push(&stream, buf[k], &f, &raw)) {
                    int was_armed = ep.armed;
                    rr_endpoint_handle(&ep, &f, now_us());
                    if (!was_armed && ep.armed) {
                        policy_reset();
                        for (int i = 0; i < 4; ++i) octx.prev_action[i] = cfg.safe_action[i];
                    }
                }
            }
        }
        t = now_us();
        ep.counters[RR_C_CRC_ERRORS] = rr_stream_rejected_total(&stream);
        rr_endpoint_tick(&ep, t);
        if (t - last_status >= 100000u) { rr_endpoint_send_status(&ep); last_status = t; }
    }
    return 0;
}
