"""Wire protocol: golden vectors, corrupt streams, authentication, decoder fuzzing."""

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware import protocol as p

VECTORS = json.loads((Path(__file__).parent / "data" / "protocol_vectors.json").read_text())
PAYLOADS = {
    "HELLO": lambda b: p.Hello.unpack(b).__dict__,
    "INFO": lambda b: p.Info.unpack(b).__dict__,
    "STATE": lambda b: {"values": list(p.unpack_floats(b))},
    "COMMAND": lambda b: {"values": list(p.unpack_floats(b))},
    "HIL_SENSOR": lambda b: {"values": list(p.unpack_floats(b))},
    "HIL_ACTUATOR": lambda b: {"values": list(p.unpack_floats(b))},
    "ARM": lambda b: {"spec_hash": p.unpack_arm(b)},
    "DISARM": lambda b: {}, "HEARTBEAT": lambda b: {}, "ESTOP": lambda b: {},
    "STATUS": lambda b: {**{k: v for k, v in p.Status.unpack(b).__dict__.items()},
                         "failsafe": int(p.Status.unpack(b).failsafe)},
    "ACK": lambda b: p.Ack.unpack(b).__dict__,
    "ERROR": lambda b: p.Error.unpack(b).__dict__,
}


@pytest.mark.parametrize("vec", VECTORS["valid"], ids=[v["name"] for v in VECTORS["valid"]])
def test_golden_vectors_encode_and_decode(vec):
    key = bytes.fromhex(vec["key_hex"]) if vec["key_hex"] else None
    payload = bytes.fromhex(vec["payload_hex"])
    frame = p.encode_frame(p.MsgType[vec["type"]], payload, vec["seq"], vec["time_us"], key)
    assert frame.hex() == vec["frame_hex"]
    assert p.cobs_wrap(frame).hex() == vec["serial_hex"]
    decoded = p.decode_frame(frame)
    assert (decoded.type.name, decoded.seq, decoded.time_us) == (vec["type"], vec["seq"],
                                                                  vec["time_us"])
    assert decoded.authenticated == (key is not None)
    assert PAYLOADS[vec["type"]](decoded.payload) == vec["fields"]


@pytest.mark.parametrize("vec", VECTORS["invalid"], ids=[v["name"] for v in VECTORS["invalid"]])
def test_invalid_vectors_are_rejected_with_their_kind(vec):
    with pytest.raises(p.FrameError) as err:
        p.decode_frame(bytes.fromhex(vec["frame_hex"]))
    assert err.value.kind == vec["error"]


def _command(seq, key=None, time_us=None):
    return p.encode_frame(p.MsgType.COMMAND, p.pack_floats([0.1 * seq, 0.0, 0.0, 1.0]), seq,
                          seq * 10_000 if time_us is None else time_us, key)


def test_stream_rejects_corruption_and_keeps_valid_frames():
    rng = random.Random(0)
    stream, expected = bytearray(), []
    for seq in range(300):
        wire = bytearray(p.cobs_wrap(_command(seq)))
        kind = seq % 5
        if kind == 1:       # bit flip inside the frame
            i = rng.randrange(len(wire) - 1)
            wire[i] ^= 1 << rng.randrange(8)
            if wire[i] == 0:
                wire[i] = 0x55
        elif kind == 2:     # truncated: the delimiter arrives early
            wire = wire[: rng.randrange(1, len(wire) - 1)] + b"\x00"
        elif kind == 3:     # garbage between frames
            stream += bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))) + b"\x00"
            expected.append(seq)
        else:
            expected.append(seq)
        stream += wire
    dec = p.StreamDecoder()
    got = []
    for i in range(0, len(stream), 7):          # arbitrary read boundaries
        got += [f.seq for f, _ in dec.feed(bytes(stream[i:i + 7]))]
    assert got == expected
    assert dec.rejected >= 120                   # 60 flipped + 60 truncated + 60 garbage runs
    assert dec.frames_ok == len(expected)


def test_auth_rejects_unsigned_wrong_key_replayed_and_stale():
    key, wrong = b"k" * 32, b"w" * 32
    now = 1_800_000_000_000_000
    auth = p.Authenticator(key)
    n = 10_000
    accepted = 0
    for i in range(n):
        for frame in (_command(i, None, now + i),                 # unsigned
                      _command(i, wrong, now + i)):               # wrong key
            try:
                auth.verify(frame, now + i)
                accepted += 1
            except p.FrameError:
                pass
    assert accepted == 0
    assert auth.counters["unsigned"] == n and auth.counters["bad_tag"] == n

    valid = [_command(i, key, now + 1 + i) for i in range(n)]
    for i, f in enumerate(valid):
        auth.verify(f, now + 1 + i)
    replay_accepted = stale_accepted = 0
    for f in valid:                                               # replays of accepted frames
        try:
            auth.verify(f, now + n)
            replay_accepted += 1
        except p.FrameError as e:
            assert e.kind == "replayed"
    fresh = p.Authenticator(key)                                  # a new link, clock moved on
    for f in valid:
        try:
            fresh.verify(f, now + 10_000_000)
            stale_accepted += 1
        except p.FrameError as e:
            assert e.kind == "stale"
    assert replay_accepted == 0 and stale_accepted == 0
    assert auth.counters["accepted"] == n


def test_forged_far_future_frame_does_not_block_valid_stream():
    key = b"k" * 32
    now = 1_800_000_000_000_000
    auth = p.Authenticator(key)
    auth.verify(_command(0, key, now), now)
    forged = bytearray(_command(1, key, now + 10**12))            # signed, then tampered
    forged[10] ^= 0x01
    import struct
    import zlib
    forged[-4:] = struct.pack("<I", zlib.crc32(bytes(forged[:-4])))
    with pytest.raises(p.FrameError, match="tag"):
        auth.verify(bytes(forged), now)
    wrong_key_future = _command(2, b"x" * 32, now + 10**12)
    with pytest.raises(p.FrameError):
        auth.verify(wrong_key_future, now)
    for i in range(1, 100):                                       # the valid stream goes on
        assert auth.verify(_command(i, key, now + i), now + i).seq == i


def test_payload_decoders_reject_bad_sizes():
    with pytest.raises(p.FrameError):
        p.unpack_floats(b"\x05\x00" + b"\x00" * 8)
    with pytest.raises(p.FrameError):
        p.Hello.unpack(b"\x00" * 3)
    with pytest.raises(p.FrameError):
        p.Status.unpack(b"\x00" * 5)
    with pytest.raises(ValueError):
        p.encode_frame(p.MsgType.STATE, b"\x00" * (p.MAX_PAYLOAD + 1), 0, 0)


def _fuzz_decoder(data: bytes) -> None:
    dec = p.StreamDecoder()
    for frame, raw in dec.feed(data):
        assert p.decode_frame(raw) == frame
    p.Authenticator(b"k" * 32)  # constructing never fails
    try:
        p.decode_frame(data)
    except p.FrameError:
        pass


@settings(max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_decoder_never_crashes(data):
    _fuzz_decoder(data)


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_decoder_never_crashes_100k(data):
    _fuzz_decoder(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(allow_nan=False, width=32), max_size=64), st.integers(0, 2**32 - 1),
       st.integers(0, 2**64 - 1))
def test_roundtrip_any_float_vector(values, seq, time_us):
    frame = p.decode_frame(p.encode_frame(p.MsgType.STATE, p.pack_floats(values), seq, time_us))
    assert (frame.seq, frame.time_us) == (seq, time_us)
    assert list(p.unpack_floats(frame.payload)) == values
