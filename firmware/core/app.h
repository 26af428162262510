/* The firmware application shared by every port: stream decoding, the endpoint state
 * machine, the on-board policy, periodic STATUS. A port supplies bytes, time and a writer. */
#ifndef RR_APP_H
#define RR_APP_H
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

/* Provided by the port: write all bytes to the link (blocking is fine). On a datagram
 * port each call carries exactly one frame. */
void rr_port_write(const uint8_t *data, size_t n);

typedef struct {
    int onboard;                 /* 1: run the compiled-in policy on HIL_SENSOR states */
    float setpoint[3];
    float rate_hz;
    uint32_t command_timeout_us, disarm_timeout_us;
    const char *robot_id;
    int datagram;                /* 1: one frame per datagram (UDP), else COBS stream */
    const uint8_t *key;          /* 32-byte HMAC key: sign and require signed frames */
} rr_app_options;

void rr_app_default_options(rr_app_options *o);
void rr_app_init(const rr_app_options *o);
void rr_app_on_bytes(const uint8_t *data, size_t n, uint64_t now_us);
/* Datagram ports: one received frame (authenticated when a key is set); returns 1 when
 * it was accepted (only then may the port answer to its sender). */
int rr_app_on_datagram(const uint8_t *data, size_t n, uint64_t now_us);
void rr_app_tick(uint64_t now_us);
const rr_endpoint *rr_app_endpoint(void);

#endif
