/* Robot-side behaviour, as hardware/robot_endpoint.py defines it for every robot:
 * boots disarmed; ARM needs HELLO first and a matching spec hash; no valid COMMAND within
 * the command timeout -> safe action; none within the disarm timeout -> disarmed; ESTOP
 * latches until reset. In on-board mode actuator outputs come from the C policy. */
#ifndef RR_ENDPOINT_H
#define RR_ENDPOINT_H
#include <stdint.h>

#include "protocol.h"

#define RR_MAX_ACTION 8
#define RR_MAX_STATE 32
#define RR_N_COUNTERS 7

enum rr_failsafe { RR_FS_NONE = 0, RR_FS_SAFE_ACTION = 1, RR_FS_DISARMED = 2 };
enum rr_counter { RR_C_FRAMES_OK, RR_C_CRC_ERRORS, RR_C_REJECTED, RR_C_LATE, RR_C_COMMANDS,
                  RR_C_SAFE_EVENTS, RR_C_TIMEOUT_DISARMS };
enum rr_error_code { RR_E_NOT_HELLO = 1, RR_E_ESTOP = 2, RR_E_SPEC = 3, RR_E_BAD_COMMAND = 4 };

/* On-board policy: state (13 floats) -> action; returns 0 or -1 (non-finite input). */
typedef int (*rr_policy_fn)(const float *state, int n_state, float *action, void *ctx);
/* Send one frame of `type` with `payload`. */
typedef void (*rr_send_fn)(uint8_t type, const uint8_t *payload, uint16_t len, void *ctx);

typedef struct {
    uint8_t spec_hash[RR_SPEC_HASH_SIZE];
    char robot_id[RR_ROBOT_ID_SIZE];
    float rate_hz;
    uint32_t command_timeout_us, disarm_timeout_us;
    uint16_t state_dim, action_dim;
    float safe_action[RR_MAX_ACTION];
    rr_policy_fn policy;            /* NULL: companion mode (actions from COMMAND) */
    void *policy_ctx;
} rr_endpoint_config;

typedef struct {
    rr_endpoint_config cfg;
    int armed, estop, greeted;
    uint8_t failsafe;
    float action[RR_MAX_ACTION];
    uint64_t last_command_us;
    uint32_t counters[RR_N_COUNTERS];
    rr_send_fn send;
    void *send_ctx;
} rr_endpoint;

void rr_endpoint_init(rr_endpoint *e, const rr_endpoint_config *cfg, rr_send_fn send, void *ctx);
/* Handle one valid frame received at now_us (replies go through send). */
void rr_endpoint_handle(rr_endpoint *e, const rr_frame *f, uint64_t now_us);
/* Apply the timeouts; returns 1 when the failsafe state changed (STATUS is sent then). */
int rr_endpoint_tick(rr_endpoint *e, uint64_t now_us);
/* What the actuators get now. */
const float *rr_endpoint_output(const rr_endpoint *e);
void rr_endpoint_send_status(rr_endpoint *e);

#endif
