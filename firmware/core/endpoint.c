#include "endpoint.h"

#include <string.h>

#include "motors.h"

static void send_error(rr_endpoint *e, uint16_t code, const char *msg)
{
    uint8_t p[80];
    size_t n = strlen(msg);
    if (n > sizeof p - 2) n = sizeof p - 2;
    rr_put_u16(p, code);
    memcpy(p + 2, msg, n);
    e->send(RR_ERROR, p, (uint16_t)(n + 2), e->send_ctx);
}

static void send_ack(rr_endpoint *e, const rr_frame *f, int ok)
{
    uint8_t p[6];
    p[0] = f->type;
    rr_put_u32(p + 1, f->seq);
    p[5] = (uint8_t)ok;
    e->send(RR_ACK, p, 6, e->send_ctx);
}

static void to_safe(rr_endpoint *e)
{
    memcpy(e->action, e->cfg.safe_action, sizeof e->action);
}

void rr_endpoint_init(rr_endpoint *e, const rr_endpoint_config *cfg, rr_send_fn send, void *ctx)
{
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    e->send = send;
    e->send_ctx = ctx;
    to_safe(e);
}

void rr_endpoint_send_status(rr_endpoint *e)
{
    uint8_t p[4 + 4 * RR_N_COUNTERS];
    p[0] = (uint8_t)e->armed;
    p[1] = e->failsafe;
    p[2] = (uint8_t)e->estop;
    p[3] = 0;
    for (int i = 0; i < RR_N_COUNTERS; ++i) rr_put_u32(p + 4 + 4 * i, e->counters[i]);
    e->send(RR_STATUS, p, sizeof p, e->send_ctx);
}

static void send_info(rr_endpoint *e)
{
    uint8_t p[1 + 32 + 16 + 4 + 2 * 4];
    p[0] = RR_PROTO_VERSION;
    memcpy(p + 1, e->cfg.spec_hash, 32);
    memset(p + 33, 0, 16);
    for (int i = 0; i < RR_ROBOT_ID_SIZE && e->cfg.robot_id[i]; ++i) p[33 + i] = (uint8_t)e->cfg.robot_id[i];
    rr_put_f32(p + 49, e->cfg.rate_hz);
    rr_put_u16(p + 53, (uint16_t)(e->cfg.command_timeout_us / 1000u));
    rr_put_u16(p + 55, (uint16_t)(e->cfg.disarm_timeout_us / 1000u));
    rr_put_u16(p + 57, e->cfg.state_dim);
    rr_put_u16(p + 59, e->cfg.action_dim);
    e->send(RR_INFO, p, sizeof p, e->send_ctx);
}

static void handle_arm(rr_endpoint *e, const rr_frame *f, uint64_t now_us)
{
    if (f->payload_len != RR_SPEC_HASH_SIZE) {
        e->counters[RR_C_REJECTED]++;
        send_error(e, RR_E_BAD_COMMAND, "malformed ARM payload");
    } else if (e->estop) {
        send_error(e, RR_E_ESTOP, "e-stop latched; restart the robot");
    } else if (!e->greeted) {
        send_error(e, RR_E_NOT_HELLO, "send HELLO before ARM");
    } else if (memcmp(f->payload, e->cfg.spec_hash, RR_SPEC_HASH_SIZE) != 0) {
        send_error(e, RR_E_SPEC, "spec hash mismatch");
    } else {
        e->armed = 1;
        e->failsafe = RR_FS_NONE;
        e->last_command_us = now_us;
        to_safe(e);
        send_ack(e, f, 1);
    }
}

static void handle_command(rr_endpoint *e, const rr_frame *f, uint64_t now_us)
{
    float v[RR_MAX_ACTION];
    int n = rr_unpack_floats(f->payload, f->payload_len, v, RR_MAX_ACTION);
    if (n != e->cfg.action_dim) {
        e->counters[RR_C_REJECTED]++;
        send_error(e, RR_E_BAD_COMMAND, "command has the wrong size");
        return;
    }
    for (int i = 0; i < n; ++i) {
        if (v[i] != v[i] || v[i] > 3.4e38f || v[i] < -3.4e38f) {
            e->counters[RR_C_REJECTED]++;
            send_error(e, RR_E_BAD_COMMAND, "command has NaN/Inf");
            return;
        }
    }
    if (!e->armed) { e->counters[RR_C_LATE]++; return; }
    e->counters[RR_C_COMMANDS]++;
    e->last_command_us = now_us;
    if (e->cfg.policy == NULL) rr_motor_limits(v, e->action, n, -1.0f, 1.0f);
    if (e->failsafe == RR_FS_SAFE_ACTION) e->failsafe = RR_FS_NONE;
}

static void handle_sensor(rr_endpoint *e, const rr_frame *f)
{
    float state[RR_MAX_STATE], out[RR_MAX_ACTION];
    uint8_t p[2 + 4 * RR_MAX_ACTION];
    int n = rr_unpack_floats(f->payload, f->payload_len, state, RR_MAX_STATE);
    if (n < 0) { e->counters[RR_C_REJECTED]++; return; }
    if (e->cfg.policy != NULL && e->armed && e->failsafe == RR_FS_NONE) {
        if (e->cfg.policy(state, n, out, e->cfg.policy_ctx) == 0)
            rr_motor_limits(out, e->action, e->cfg.action_dim, -1.0f, 1.0f);
        else
            to_safe(e);      /* non-finite sensor state: safe action */
    }
    rr_pack_floats(rr_endpoint_output(e), e->cfg.action_dim, p, sizeof p);
    e->send(RR_HIL_ACTUATOR, p, (uint16_t)(2 + 4 * e->cfg.action_dim), e->send_ctx);
}

void rr_endpoint_handle(rr_endpoint *e, const rr_frame *f, uint64_t now_us)
{
    e->counters[RR_C_FRAMES_OK]++;
    switch (f->type) {
    case RR_HELLO:
        if (f->payload_len != RR_SPEC_HASH_SIZE + 4) {
            e->counters[RR_C_REJECTED]++;
            send_error(e, RR_E_BAD_COMMAND, "malformed HELLO payload");
            return;
        }
        e->greeted = 1;
        send_info(e);
        return;
    case RR_HEARTBEAT: rr_endpoint_send_status(e); return;
    case RR_ESTOP: e->estop = 1; e->armed = 0; to_safe(e); send_ack(e, f, 1); return;
    case RR_DISARM: e->armed = 0; to_safe(e); send_ack(e, f, 1); return;
    case RR_ARM: handle_arm(e, f, now_us); return;
    case RR_COMMAND: handle_command(e, f, now_us); return;
    case RR_HIL_SENSOR: handle_sensor(e, f); return;
    default:
        e->counters[RR_C_REJECTED]++;
        send_error(e, RR_E_BAD_COMMAND, "message not accepted by a robot");
    }
}

int rr_endpoint_tick(rr_endpoint *e, uint64_t now_us)
{
    uint64_t silent;
    if (!e->armed) return 0;
    silent = now_us > e->last_command_us ? now_us - e->last_command_us : 0;  /* clock glitch safe */
    if (silent > e->cfg.disarm_timeout_us) {
        e->armed = 0;
        e->failsafe = RR_FS_DISARMED;
        to_safe(e);
        e->counters[RR_C_TIMEOUT_DISARMS]++;
        rr_endpoint_send_status(e);
        return 1;
    }
    if (silent > e->cfg.command_timeout_us && e->failsafe != RR_FS_SAFE_ACTION) {
        e->failsafe = RR_FS_SAFE_ACTION;
        to_safe(e);
        e->counters[RR_C_SAFE_EVENTS]++;
        rr_endpoint_send_status(e);
        return 1;
    }
    return 0;
}

const float *rr_endpoint_output(const rr_endpoint *e)
{
    return (e->armed && e->failsafe == RR_FS_NONE) ? e->action : e->cfg.safe_action;
}
