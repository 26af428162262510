/* Wire protocol v1, byte for byte as docs/protocol.md and hardware/protocol.py define it. */
#ifndef RR_PROTOCOL_H
#define RR_PROTOCOL_H
#include <stddef.h>
#include <stdint.h>

#define RR_PROTO_VERSION 1
#define RR_HEADER_SIZE 18
#define RR_TAG_SIZE 32
#define RR_CRC_SIZE 4
#define RR_MAX_PAYLOAD 1024
#define RR_MAX_FRAME (RR_HEADER_SIZE + RR_MAX_PAYLOAD + RR_TAG_SIZE + RR_CRC_SIZE)
#define RR_FLAG_AUTH 0x01u
#define RR_SPEC_HASH_SIZE 32
#define RR_ROBOT_ID_SIZE 16

enum rr_msg_type {
    RR_HELLO = 1, RR_INFO = 2, RR_STATE = 3, RR_COMMAND = 4, RR_ARM = 5, RR_DISARM = 6,
    RR_HEARTBEAT = 7, RR_ESTOP = 8, RR_STATUS = 9, RR_ACK = 10, RR_ERROR = 11,
    RR_HIL_SENSOR = 12, RR_HIL_ACTUATOR = 13
};

/* Decode results; negative values name the counter a rejected frame goes to. */
enum rr_proto_result {
    RR_OK = 0, RR_ERR_TRUNCATED = -1, RR_ERR_CRC = -2, RR_ERR_VERSION = -3,
    RR_ERR_LENGTH = -4, RR_ERR_TYPE = -5, RR_ERR_PAYLOAD = -6, RR_ERR_UNSIGNED = -7,
    RR_ERR_BAD_TAG = -8, RR_ERR_COBS = -9, RR_ERR_OVERFLOW = -10, RR_ERR_STALE = -11,
    RR_ERR_REPLAYED = -12
};

typedef struct {
    uint8_t type;
    uint8_t flags;
    uint32_t seq;
    uint64_t time_us;
    uint16_t payload_len;
    const uint8_t *payload;   /* points into the decoded buffer */
} rr_frame;

/* Encode a frame into out (capacity cap); key (32 bytes) or NULL. Returns size or -1. */
long rr_encode_frame(uint8_t type, const uint8_t *payload, uint16_t len, uint32_t seq,
                     uint64_t time_us, const uint8_t *key, uint8_t *out, size_t cap);
/* Parse and CRC-check one raw frame. */
int rr_decode_frame(const uint8_t *buf, size_t n, rr_frame *f);
/* Check the HMAC tag of a decoded authenticated frame (buf/n: the raw frame). */
int rr_verify_tag(const uint8_t *buf, size_t n, const uint8_t key[32]);

/* Little-endian helpers shared by payload codecs. */
void rr_put_u16(uint8_t *p, uint16_t v);
void rr_put_u32(uint8_t *p, uint32_t v);
void rr_put_f32(uint8_t *p, float v);
uint16_t rr_get_u16(const uint8_t *p);
uint32_t rr_get_u32(const uint8_t *p);
float rr_get_f32(const uint8_t *p);

/* Float vector payload: n u16, then n float32. Returns bytes written or -1. */
long rr_pack_floats(const float *v, uint16_t n, uint8_t *out, size_t cap);
/* Returns the count (<= max) or RR_ERR_PAYLOAD. */
int rr_unpack_floats(const uint8_t *payload, uint16_t len, float *v, uint16_t max);

/* Serial stream: feed bytes, get complete frames (COBS, 0x00-delimited). */
typedef struct {
    uint8_t buf[RR_MAX_FRAME * 2];
    size_t fill;
    uint8_t frame[RR_MAX_FRAME];
    uint32_t rejected[13];    /* indexed by -rr_proto_result */
    uint32_t frames_ok;
    int overflowing;
} rr_stream;

void rr_stream_init(rr_stream *s);
/* Push one byte; returns 1 and fills *f (pointing into s->frame) when a valid frame ends,
 * 0 otherwise (corrupt frames are counted in s->rejected). *raw_len gets the frame size. */
int rr_stream_push(rr_stream *s, uint8_t byte, rr_frame *f, size_t *raw_len);
uint32_t rr_stream_rejected_total(const rr_stream *s);

#endif
