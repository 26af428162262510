#include "app.h"

#include <string.h>

#include "auth.h"
#include "cobs.h"
#include "policy.h"
#include "protocol.h"
#include "quad_obs.h"

static rr_stream stream;
static rr_endpoint ep;
static uint32_t tx_seq;
static uint64_t clock_us, last_status_us;
static float setpoint[3], prev_action[POLICY_ACTION_DIM];
static int datagram, signed_link;
static rr_auth auth;

static void send_frame(uint8_t type, const uint8_t *payload, uint16_t len, void *ctx)
{
    static uint8_t frame[RR_MAX_FRAME], wire[RR_COBS_MAX_ENCODED(RR_MAX_FRAME) + 1];
    long n = rr_encode_frame(type, payload, len, ++tx_seq, clock_us,
                             signed_link ? auth.key : NULL, frame, sizeof frame);
    long e;
    (void)ctx;
    if (n < 0) return;
    if (datagram) { rr_port_write(frame, (size_t)n); return; }
    e = rr_cobs_encode(frame, (size_t)n, wire, sizeof wire);
    wire[e++] = 0;
    rr_port_write(wire, (size_t)e);
}

static int onboard_policy(const float *state, int n_state, float *action, void *ctx)
{
    float obs[RR_QUAD_OBS_DIM];
    (void)ctx;
    if (n_state != RR_QUAD_STATE_DIM || POLICY_OBS_DIM != RR_QUAD_OBS_DIM) return -1;
    rr_quad_observation(state, setpoint, prev_action, obs);
    if (policy_step(obs, action) != 0) return -1;
    memcpy(prev_action, action, sizeof prev_action);
    return 0;
}

static int hex_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void rr_app_default_options(rr_app_options *o)
{
    o->onboard = 1;
    o->setpoint[0] = 0.0f; o->setpoint[1] = 0.0f; o->setpoint[2] = 1.5f;
    o->rate_hz = 100.0f;
    o->command_timeout_us = 100000u;
    o->disarm_timeout_us = 500000u;
    o->robot_id = "fw";
    o->datagram = 0;
    o->key = NULL;
}

void rr_app_init(const rr_app_options *o)
{
    rr_endpoint_config cfg;
    memset(&cfg, 0, sizeof cfg);
    for (int i = 0; i < RR_SPEC_HASH_SIZE; ++i)
        cfg.spec_hash[i] = (uint8_t)(hex_nibble(POLICY_SPEC_HASH[2 * i]) << 4 |
                                     hex_nibble(POLICY_SPEC_HASH[2 * i + 1]));
    for (int i = 0; i < RR_ROBOT_ID_SIZE && o->robot_id[i]; ++i) cfg.robot_id[i] = o->robot_id[i];
    cfg.rate_hz = o->rate_hz;
    cfg.command_timeout_us = o->command_timeout_us;
    cfg.disarm_timeout_us = o->disarm_timeout_us;
    cfg.state_dim = RR_QUAD_STATE_DIM;
    cfg.action_dim = POLICY_ACTION_DIM;
    for (int i = 0; i < RR_MAX_ACTION; ++i) cfg.safe_action[i] = -1.0f;
    if (o->onboard) cfg.policy = onboard_policy;
    memcpy(setpoint, o->setpoint, sizeof setpoint);
    datagram = o->datagram;
    signed_link = o->key != NULL;
    if (signed_link) rr_auth_init(&auth, o->key, 500000u);
    rr_stream_init(&stream);
    rr_endpoint_init(&ep, &cfg, send_frame, NULL);
    policy_reset();
}

static void handle(const rr_frame *f, uint64_t now_us)
{
    int was_armed = ep.armed;
    rr_endpoint_handle(&ep, f, now_us);
    if (!was_armed && ep.armed) {              /* a fresh flight: fresh policy state */
        policy_reset();
        for (int i = 0; i < POLICY_ACTION_DIM; ++i) prev_action[i] = ep.cfg.safe_action[i];
    }
}

void rr_app_on_bytes(const uint8_t *data, size_t n, uint64_t now_us)
{
    clock_us = now_us;
    for (size_t k = 0; k < n; ++k) {
        rr_frame f;
        size_t raw;
        if (rr_stream_push(&stream, data[k], &f, &raw)) handle(&f, now_us);
    }
}

int rr_app_on_datagram(const uint8_t *data, size_t n, uint64_t now_us)
{
    rr_frame f;
    int r;
    clock_us = now_us;
    r = signed_link ? rr_auth_verify(&auth, data, n, now_us, &f) : rr_decode_frame(data, n, &f);
    if (r != RR_OK) {
        stream.rejected[-r]++;                 /* counted with the stream's rejections */
        return 0;
    }
    handle(&f, now_us);
    return 1;
}

void rr_app_tick(uint64_t now_us)
{
    clock_us = now_us;
    ep.counters[RR_C_CRC_ERRORS] = rr_stream_rejected_total(&stream);
    rr_endpoint_tick(&ep, now_us);
    if (now_us - last_status_us >= 100000u) {
        rr_endpoint_send_status(&ep);
        last_status_us = now_us;
    }
}

const rr_endpoint *rr_app_endpoint(void) { return &ep; }
