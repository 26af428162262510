/* Firmware core unit tests: SHA-256/HMAC vectors, CRC, COBS, and the shared golden frames. */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cobs.h"
#include "motors.h"
#include "crc32.h"
#include "protocol.h"
#include "sha256.h"
#include "vectors.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { ++failures; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; ++i) sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256(void)
{
    uint8_t d[32];
    char h[65];
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    rr_sha256((const uint8_t *)"abc", 3, d);
    hex(d, 32, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc %s", h);
    rr_sha256((const uint8_t *)"", 0, d);
    hex(d, 32, h);
    CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty %s", h);
    rr_sha256((const uint8_t *)msg, strlen(msg), d);
    hex(d, 32, h);
    CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448 %s", h);
    /* RFC 4231 test case 2 */
    rr_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)"what do ya want for nothing?", 28, d);
    hex(d, 32, h);
    CHECK(!strcmp(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"), "hmac %s", h);
}

static void test_crc_cobs(void)
{
    uint8_t enc[600], dec[600], src[520];
    CHECK(rr_crc32(0, (const uint8_t *)"123456789", 9) == 0xCBF43926u, "crc check value");
    for (size_t n = 0; n < sizeof src; n += 37) {
        for (size_t i = 0; i < n; ++i) src[i] = (uint8_t)((i * 7) % 5 == 0 ? 0 : i);
        long e = rr_cobs_encode(src, n, enc, sizeof enc);
        CHECK(e > 0 && memchr(enc, 0, (size_t)e) == NULL, "cobs encode %zu", n);
        long d = rr_cobs_decode(enc, (size_t)e, dec, sizeof dec);
        CHECK(d == (long)n && !memcmp(src, dec, n), "cobs roundtrip %zu", n);
    }
}

static void test_golden(void)
{
    uint8_t out[RR_MAX_FRAME], ser[RR_COBS_MAX_ENCODED(RR_MAX_FRAME) + 1];
    static rr_stream stream;
    for (size_t i = 0; i < COUNT(GOLDEN_VALID); ++i) {
        const golden_valid *v = &GOLDEN_VALID[i];
        rr_frame f;
        size_t raw = 0;
        int got = 0;
        long n = rr_encode_frame(v->type, v->payload, (uint16_t)v->payload_len, v->seq, v->time_us,
                                 v->key, out, sizeof out);
        CHECK(n == (long)v->frame_len && !memcmp(out, v->frame, v->frame_len), "encode %s", v->name);
        long e = rr_cobs_encode(out, (size_t)n, ser, sizeof ser);
        ser[e] = 0;
        CHECK(e + 1 == (long)v->serial_len && !memcmp(ser, v->serial, v->serial_len), "serial %s", v->name);
        CHECK(rr_decode_frame(v->frame, v->frame_len, &f) == RR_OK, "decode %s", v->name);
        CHECK(f.type == v->type && f.seq == v->seq && f.time_us == v->time_us &&
              f.payload_len == v->payload_len && !memcmp(f.payload, v->payload, v->payload_len),
              "fields %s", v->name);
        if (v->key) {
            uint8_t wrong[32] = {0};
            CHECK(rr_verify_tag(v->frame, v->frame_len, v->key) == RR_OK, "tag %s", v->name);
            CHECK(rr_verify_tag(v->frame, v->frame_len, wrong) == RR_ERR_BAD_TAG, "wrong key %s", v->name);
        } else {
            CHECK(rr_verify_tag(v->frame, v->frame_len, v->frame) == RR_ERR_UNSIGNED, "unsigned %s", v->name);
        }
        rr_stream_init(&stream);
        for (size_t k = 0; k < v->serial_len; ++k) got += rr_stream_push(&stream, v->serial[k], &f, &raw);
        CHECK(got == 1 && raw == v->frame_len && f.seq == v->seq, "stream %s", v->name);
    }
    for (size_t i = 0; i < COUNT(GOLDEN_INVALID); ++i) {
        const golden_invalid *v = &GOLDEN_INVALID[i];
        rr_frame f;
        int r = rr_decode_frame(v->frame, v->frame_len, &f);
        CHECK(r == v->error, "invalid %s: got %d want %d", v->name, r, v->error);
    }
}

static void test_stream_corruption(void)
{
    static rr_stream s;
    uint8_t frame[64], wire[80];
    float cmd[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    uint8_t payload[18];
    rr_frame f;
    size_t raw;
    int ok = 0;
    rr_stream_init(&s);
    rr_pack_floats(cmd, 4, payload, sizeof payload);
    for (uint32_t seq = 0; seq < 300; ++seq) {
        long n = rr_encode_frame(RR_COMMAND, payload, 18, seq, seq, NULL, frame, sizeof frame);
        long e = rr_cobs_encode(frame, (size_t)n, wire, sizeof wire);
        wire[e++] = 0;
        if (seq % 3 == 1) wire[seq % (e - 1)] ^= 0x40;            /* bit flip */
        if (seq % 3 == 1 && wire[seq % (e - 1)] == 0) wire[seq % (e - 1)] = 1;
        if (seq % 3 == 2) { wire[5] = 0; }                          /* truncated + tail junk */
        for (long k = 0; k < e; ++k) ok += rr_stream_push(&s, wire[k], &f, &raw);
    }
    CHECK(ok == 100, "valid frames through corruption: %d", ok);
    CHECK(rr_stream_rejected_total(&s) >= 200, "rejected %u", rr_stream_rejected_total(&s));
}

static void test_auth(void)
{
    uint8_t key[32], wrong[32], frame[128];
    rr_auth a;
    rr_frame f;
    const uint64_t now = 1800000000000000ull;
    for (int i = 0; i < 32; ++i) { key[i] = (uint8_t)i; wrong[i] = (uint8_t)(i + 1); }
    rr_auth_init(&a, key, 500000u);
    long n = rr_encode_frame(RR_HEARTBEAT, NULL, 0, 1, now, key, frame, sizeof frame);
    CHECK(rr_auth_verify(&a, frame, (size_t)n, now, &f) == RR_OK, "valid signed frame");
    CHECK(rr_auth_verify(&a, frame, (size_t)n, now, &f) == RR_ERR_REPLAYED, "replay");
    n = rr_encode_frame(RR_HEARTBEAT, NULL, 0, 2, now + 10, NULL, frame, sizeof frame);
    CHECK(rr_auth_verify(&a, frame, (size_t)n, now, &f) == RR_ERR_UNSIGNED, "unsigned");
    n = rr_encode_frame(RR_HEARTBEAT, NULL, 0, 3, now + 1000000000000ull, wrong, frame, sizeof frame);
    CHECK(rr_auth_verify(&a, frame, (size_t)n, now, &f) == RR_ERR_BAD_TAG, "forged far future");
    n = rr_encode_frame(RR_HEARTBEAT, NULL, 0, 4, now - 2000000u, key, frame, sizeof frame);
    CHECK(rr_auth_verify(&a, frame, (size_t)n, now, &f) == RR_ERR_STALE, "stale");
    n = rr_encode_frame(RR_HEARTBEAT, NULL, 0, 5, now + 20, key, frame, sizeof frame);
    CHECK(rr_auth_verify(&a, frame, (size_t)n, now, &f) == RR_OK, "valid after the forged one");
    for (size_t i = 0; i < COUNT(GOLDEN_VALID); ++i) {
        const golden_valid *v = &GOLDEN_VALID[i];
        if (!v->key) continue;
        rr_auth_init(&a, v->key, 500000u);
        CHECK(rr_auth_verify(&a, v->frame, v->frame_len, v->time_us, &f) == RR_OK, "golden %s", v->name);
    }
}

static void test_motors(void)
{
    float in[4] = {-2.0f, 0.5f, 2.0f, 0.0f / 0.0f}, out[4], m[4];
    rr_motor_limits(in, out, 4, -1.0f, 1.0f);
    CHECK(out[0] == -1.0f && out[1] == 0.5f && out[2] == 1.0f && out[3] == -1.0f, "limits");
    const rr_thrust_curve quad = {0.0f, 0.0f}, cf21 = {0.155839f, 0.038222f};
    rr_mix_x(0.25f, 0.0f, 0.0f, 0.0f, &quad, m);              /* hover: all equal */
    CHECK(m[0] == m[1] && m[1] == m[2] && m[2] == m[3] && m[0] > -0.01f && m[0] < 0.01f, "hover");
    rr_mix_x(0.25f, 0.1f, 0.0f, 0.0f, &quad, m);              /* +roll: left rotors (2, 3) up */
    CHECK(m[2] > m[1] && m[3] > m[0] && m[2] == m[3], "roll");
    rr_mix_x(0.25f, 0.0f, 0.1f, 0.0f, &quad, m);              /* +pitch (nose down): back up */
    CHECK(m[1] > m[0] && m[2] > m[3], "pitch");
    rr_mix_x(0.25f, 0.0f, 0.0f, 0.1f, &quad, m);              /* +yaw: clockwise rotors (1, 3) up */
    CHECK(m[1] > m[0] && m[3] > m[2], "yaw");
    /* Crazyflie 2.1 curve, hand-computed: hover at w = 0.7502 is thrust ratio
     * (0.7502^2 + 0.155839 * 0.7502 + 0.038222) / 1.194061 = 0.601253 */
    float w = rr_speed_for_thrust(&cf21, 0.601253f);
    CHECK(w > 0.7501f && w < 0.7503f, "cf2.1 curve inverse %f", (double)w);
    CHECK(rr_speed_for_thrust(&cf21, 0.01f) == 0.0f, "below the zero-speed thrust: 0");
    CHECK(rr_speed_for_thrust(&cf21, 1.0f) > 0.9999f, "full thrust at full speed");
    rr_mix_x(2.0f, 0.0f, 0.0f, 0.0f, &cf21, m);
    CHECK(m[0] == 1.0f, "saturates at max");
}

int main(void)
{
    test_sha256();
    test_crc_cobs();
    test_golden();
    test_stream_corruption();
    test_auth();
    test_motors();
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "ok", failures);
    return failures != 0;
}
