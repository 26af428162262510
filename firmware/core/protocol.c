#include "protocol.h"

#include <string.h>

#include "cobs.h"
#include "crc32.h"
#include "sha256.h"

void rr_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
void rr_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
void rr_put_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    rr_put_u32(p, u);
}
uint16_t rr_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
uint32_t rr_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
float rr_get_f32(const uint8_t *p)
{
    uint32_t u = rr_get_u32(p);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

long rr_encode_frame(uint8_t type, const uint8_t *payload, uint16_t len, uint32_t seq,
                     uint64_t time_us, const uint8_t *key, uint8_t *out, size_t cap)
{
    size_t body = RR_HEADER_SIZE + (size_t)len + (key ? RR_TAG_SIZE : 0);
    if (len > RR_MAX_PAYLOAD || cap < body + RR_CRC_SIZE) return -1;
    out[0] = RR_PROTO_VERSION;
    out[1] = type;
    out[2] = key ? RR_FLAG_AUTH : 0;
    out[3] = 0;
    rr_put_u32(out + 4, seq);
    put_u64(out + 8, time_us);
    rr_put_u16(out + 16, len);
    if (len) memcpy(out + RR_HEADER_SIZE, payload, len);
    if (key) rr_hmac_sha256(key, 32, out, RR_HEADER_SIZE + len, out + RR_HEADER_SIZE + len);
    rr_put_u32(out + body, rr_crc32(0, out, body));
    return (long)(body + RR_CRC_SIZE);
}

int rr_decode_frame(const uint8_t *buf, size_t n, rr_frame *f)
{
    size_t tag;
    if (n < RR_HEADER_SIZE + RR_CRC_SIZE) return RR_ERR_TRUNCATED;
    if (rr_crc32(0, buf, n - RR_CRC_SIZE) != rr_get_u32(buf + n - RR_CRC_SIZE)) return RR_ERR_CRC;
    if (buf[0] != RR_PROTO_VERSION) return RR_ERR_VERSION;
    tag = (buf[2] & RR_FLAG_AUTH) ? RR_TAG_SIZE : 0;
    f->payload_len = rr_get_u16(buf + 16);
    if (n - RR_CRC_SIZE != RR_HEADER_SIZE + f->payload_len + tag) return RR_ERR_LENGTH;
    if (buf[1] < RR_HELLO || buf[1] > RR_HIL_ACTUATOR) return RR_ERR_TYPE;
    f->type = buf[1];
    f->flags = buf[2];
    f->seq = rr_get_u32(buf + 4);
    f->time_us = get_u64(buf + 8);
    f->payload = buf + RR_HEADER_SIZE;
    return RR_OK;
}

int rr_verify_tag(const uint8_t *buf, size_t n, const uint8_t key[32])
{
    uint8_t tag[32], diff = 0;
    size_t signed_len;
    if (!(buf[2] & RR_FLAG_AUTH)) return RR_ERR_UNSIGNED;
    if (n < RR_HEADER_SIZE + RR_TAG_SIZE + RR_CRC_SIZE) return RR_ERR_TRUNCATED;
    signed_len = n - RR_CRC_SIZE - RR_TAG_SIZE;
    rr_hmac_sha256(key, 32, buf, signed_len, tag);
    for (int i = 0; i < 32; ++i) diff |= (uint8_t)(tag[i] ^ buf[signed_len + i]);  /* constant time */
    return diff ? RR_ERR_BAD_TAG : RR_OK;
}

long rr_pack_floats(const float *v, uint16_t n, uint8_t *out, size_t cap)
{
    if (cap < 2u + 4u * n) return -1;
    rr_put_u16(out, n);
    for (uint16_t i = 0; i < n; ++i) rr_put_f32(out + 2 + 4 * i, v[i]);
    return 2 + 4 * (long)n;
}

int rr_unpack_floats(const uint8_t *payload, uint16_t len, float *v, uint16_t max)
{
    uint16_t n;
    if (len < 2) return RR_ERR_PAYLOAD;
    n = rr_get_u16(payload);
    if (len != 2u + 4u * n || n > max) return RR_ERR_PAYLOAD;
    for (uint16_t i = 0; i < n; ++i) v[i] = rr_get_f32(payload + 2 + 4 * i);
    return n;
}

void rr_stream_init(rr_stream *s) { memset(s, 0, sizeof *s); }

uint32_t rr_stream_rejected_total(const rr_stream *s)
{
    uint32_t t = 0;
    for (int i = 0; i < 13; ++i) t += s->rejected[i];
    return t;
}

int rr_stream_push(rr_stream *s, uint8_t byte, rr_frame *f, size_t *raw_len)
{
    long n;
    int r;
    if (byte != 0) {
        if (s->fill < sizeof s->buf) s->buf[s->fill++] = byte;
        else if (!s->overflowing) { s->overflowing = 1; s->rejected[-RR_ERR_OVERFLOW]++; }
        return 0;
    }
    if (s->overflowing) { s->overflowing = 0; s->fill = 0; return 0; }
    if (s->fill == 0) return 0;
    n = rr_cobs_decode(s->buf, s->fill, s->frame, sizeof s->frame);
    s->fill = 0;
    if (n < 0) { s->rejected[-RR_ERR_COBS]++; return 0; }
    r = rr_decode_frame(s->frame, (size_t)n, f);
    if (r != RR_OK) { s->rejected[-r]++; return 0; }
    s->frames_ok++;
    *raw_len = (size_t)n;
    return 1;
}
