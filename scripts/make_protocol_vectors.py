"""Write tests/data/protocol_vectors.json: golden frames for the Python and C protocol tests.

Run only when the protocol version changes; the tests check that encoding
reproduces these bytes exactly and that decoding yields the listed meaning.
"""

import json
from pathlib import Path

from hardware import protocol as p

SPEC = "8a0968e7a938b0f35b13f802e40a1096611570c380d3d099e47d3fae261e79a5"
KEY = bytes(range(32))
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "protocol_vectors.json"


def vector(name, msg_type, payload, seq, time_us, fields, key=None):
    frame = p.encode_frame(msg_type, payload, seq, time_us, key)
    return {"name": name, "type": msg_type.name, "seq": seq, "time_us": time_us,
            "key_hex": key.hex() if key else None, "payload_hex": payload.hex(),
            "fields": fields, "frame_hex": frame.hex(), "serial_hex": p.cobs_wrap(frame).hex()}


def main():
    hello = p.Hello(SPEC, 100.0)
    info = p.Info(SPEC, "sim-quad-0", 100.0, 100, 500, 13, 4)
    status = p.Status(True, p.Failsafe.SAFE_ACTION, False,
                      {"frames_ok": 1000, "crc_errors": 2, "rejected_frames": 3,
                       "late_commands": 4, "commands": 990, "safe_action_events": 1,
                       "timeout_disarms": 0})
    vectors = [
        vector("hello", p.MsgType.HELLO, hello.pack(), 0, 1_000, {"spec_hash": SPEC, "rate_hz": 100.0}),
        vector("info", p.MsgType.INFO, info.pack(), 0, 1_500,
               {"spec_hash": SPEC, "robot_id": "sim-quad-0", "state_rate_hz": 100.0,
                "command_timeout_ms": 100, "disarm_timeout_ms": 500, "state_dim": 13,
                "action_dim": 4, "protocol_version": 1}),
        vector("state", p.MsgType.STATE, p.pack_floats([0.0, 0.5, 1.5, 1.0, -0.25]), 7, 20_000,
               {"values": [0.0, 0.5, 1.5, 1.0, -0.25]}),
        vector("command", p.MsgType.COMMAND, p.pack_floats([0.25, -0.5, 0.0, 1.0]), 8, 20_250,
               {"values": [0.25, -0.5, 0.0, 1.0]}),
        vector("arm", p.MsgType.ARM, p.pack_arm(SPEC), 1, 2_000, {"spec_hash": SPEC}),
        vector("disarm", p.MsgType.DISARM, b"", 2, 3_000, {}),
        vector("heartbeat", p.MsgType.HEARTBEAT, b"", 3, 4_000, {}),
        vector("estop", p.MsgType.ESTOP, b"", 4, 5_000, {}),
        vector("status", p.MsgType.STATUS, status.pack(), 9, 30_000,
               {"armed": True, "failsafe": 1, "estop": False, "counters": status.counters}),
        vector("ack", p.MsgType.ACK, p.Ack(5, 1, True).pack(), 10, 2_100,
               {"acked_type": 5, "acked_seq": 1, "ok": True}),
        vector("error", p.MsgType.ERROR, p.Error(3, "spec hash mismatch").pack(), 11, 2_100,
               {"code": 3, "message": "spec hash mismatch"}),
        vector("hil_sensor", p.MsgType.HIL_SENSOR, p.pack_floats([1.0, 2.0]), 12, 40_000,
               {"values": [1.0, 2.0]}),
        vector("hil_actuator", p.MsgType.HIL_ACTUATOR, p.pack_floats([0.5] * 4), 13, 40_100,
               {"values": [0.5] * 4}),
        vector("command_signed", p.MsgType.COMMAND, p.pack_floats([0.25, -0.5, 0.0, 1.0]), 14,
               1_763_700_000_000_000, {"values": [0.25, -0.5, 0.0, 1.0]}, key=KEY),
    ]
    good = bytes.fromhex(vectors[3]["frame_hex"])
    bad_crc = bytearray(good); bad_crc[-1] ^= 0xFF
    bad_version = bytearray(good); bad_version[0] = 2
    bad_type = bytearray(p.encode_frame(p.MsgType.HEARTBEAT, b"", 0, 0)); bad_type[1] = 200
    import struct, zlib
    body = bytes(bad_version[:-4]); bad_version[-4:] = struct.pack("<I", zlib.crc32(body))
    body = bytes(bad_type[:-4]); bad_type[-4:] = struct.pack("<I", zlib.crc32(body))
    bad_len = bytearray(good[:-4]); bad_len[16] += 1
    bad_len += struct.pack("<I", zlib.crc32(bytes(bad_len)))
    invalid = [
        {"name": "crc_flipped", "frame_hex": bytes(bad_crc).hex(), "error": "crc"},
        {"name": "truncated", "frame_hex": good[:10].hex(), "error": "truncated"},
        {"name": "version_2", "frame_hex": bytes(bad_version).hex(), "error": "version"},
        {"name": "unknown_type", "frame_hex": bytes(bad_type).hex(), "error": "type"},
        {"name": "length_mismatch", "frame_hex": bytes(bad_len).hex(), "error": "length"},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"protocol_version": p.PROTOCOL_VERSION,
                               "header": "<BBBBIQH version,type,flags,reserved,seq,time_us,len",
                               "valid": vectors, "invalid": invalid}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(vectors)} valid, {len(invalid)} invalid)")


if __name__ == "__main__":
    main()
