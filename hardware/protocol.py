"""Host <-> robot wire protocol: frames, payloads, serial (COBS) framing, authentication.

Frame (little-endian), specified with test vectors in docs/protocol.md:

    version u8 | type u8 | flags u8 | reserved u8 | sequence u32 | time_us u64 |
    payload_len u16 | payload | [tag 32 B, HMAC-SHA256] | crc32 u32

The CRC (zlib.crc32) covers everything before it; the tag, present when flag
AUTH is set, covers header and payload. Serial links COBS-encode each frame
and end it with 0x00; UDP carries one frame per datagram.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from cobs import cobs

PROTOCOL_VERSION = 1
HEADER = struct.Struct("<BBBBIQH")
HEADER_SIZE = HEADER.size            # 18
TAG_SIZE = 32
CRC_SIZE = 4
MAX_PAYLOAD = 1024
FLAG_AUTH = 0x01
SPEC_HASH_SIZE = 32
ROBOT_ID_SIZE = 16


class MsgType(IntEnum):
    HELLO = 1          # host -> robot: spec hash, requested rate
    INFO = 2           # robot -> host: version, spec hash, id, rates, timeouts, sizes
    STATE = 3          # robot -> host: state vector
    COMMAND = 4        # host -> robot: action vector
    ARM = 5            # host -> robot: spec hash (must match the robot's)
    DISARM = 6
    HEARTBEAT = 7
    ESTOP = 8          # latches until the robot restarts
    STATUS = 9         # robot -> host: armed, failsafe, estop, counters
    ACK = 10           # acked type, acked sequence, ok
    ERROR = 11         # code, UTF-8 message
    HIL_SENSOR = 12    # simulator -> firmware: injected sensor state
    HIL_ACTUATOR = 13  # firmware -> simulator: actuator outputs


class FrameError(ValueError):
    """A frame that failed validation; `kind` names the counter it goes to."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Frame:
    type: MsgType
    seq: int
    time_us: int
    payload: bytes = b""
    flags: int = 0

    @property
    def authenticated(self) -> bool:
        return bool(self.flags & FLAG_AUTH)


def encode_frame(msg_type: MsgType, payload: bytes, seq: int, time_us: int,
                 key: bytes | None = None) -> bytes:
    """Bytes of one frame; with `key`, an HMAC-SHA256 tag is added and flag AUTH set."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    flags = FLAG_AUTH if key is not None else 0
    body = HEADER.pack(PROTOCOL_VERSION, int(msg_type), flags, 0, seq & 0xFFFFFFFF,
                       time_us & 0xFFFFFFFFFFFFFFFF, len(payload)) + payload
    if key is not None:
        body += hmac.new(key, body, hashlib.sha256).digest()
    return body + struct.pack("<I", zlib.crc32(body))


def decode_frame(data: bytes) -> Frame:
    """Parse and CRC-check one frame (no authentication: see Authenticator)."""
    if len(data) < HEADER_SIZE + CRC_SIZE:
        raise FrameError("truncated", f"frame of {len(data)} bytes is shorter than the minimum")
    body, (crc,) = data[:-CRC_SIZE], struct.unpack("<I", data[-CRC_SIZE:])
    if zlib.crc32(body) != crc:
        raise FrameError("crc", "CRC mismatch")
    version, msg_type, flags, _, seq, time_us, length = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise FrameError("version", f"protocol version {version}, expected {PROTOCOL_VERSION}")
    tag = TAG_SIZE if flags & FLAG_AUTH else 0
    if len(body) != HEADER_SIZE + length + tag:
        raise FrameError("length", f"payload length {length} does not match frame size")
    try:
        kind = MsgType(msg_type)
    except ValueError:
        raise FrameError("type", f"unknown message type {msg_type}") from None
    return Frame(kind, seq, time_us, bytes(body[HEADER_SIZE:HEADER_SIZE + length]), flags)


def frame_tag(data: bytes) -> tuple[bytes, bytes]:
    """(signed bytes, tag) of an authenticated frame's raw bytes."""
    body = data[:-CRC_SIZE]
    return body[:-TAG_SIZE], body[-TAG_SIZE:]


# ----- authentication -------------------------------------------------------------------


@dataclass
class Authenticator:
    """Verifies signed frames from one link: tag, clock skew, then replay window.

    The tag is checked first and nothing is updated unless every check passes,
    so a forged frame (say with a far-future timestamp) can never block the
    valid frames that follow. Timestamps are microseconds on a clock both ends
    share (e.g. Unix time): a frame more than `max_skew_us` from the receiver's
    clock is stale (or from the future); one not newer than the last accepted is
    a replay.
    """

    key: bytes
    max_skew_us: int = 500_000
    last_time_us: int = -1
    counters: dict = field(default_factory=lambda: {"unsigned": 0, "bad_tag": 0, "stale": 0,
                                                    "replayed": 0, "accepted": 0})

    def verify(self, data: bytes, now_us: int) -> Frame:
        frame = decode_frame(data)
        if not frame.authenticated:
            self.counters["unsigned"] += 1
            raise FrameError("unsigned", "unsigned frame on an authenticated link")
        signed, tag = frame_tag(data)
        if not hmac.compare_digest(hmac.new(self.key, signed, hashlib.sha256).digest(), tag):
            self.counters["bad_tag"] += 1
            raise FrameError("bad_tag", "authentication tag mismatch (wrong key or forged)")
        if abs(frame.time_us - now_us) > self.max_skew_us:
            self.counters["stale"] += 1
            raise FrameError("stale", f"timestamp {frame.time_us} is {frame.time_us - now_us} us "
                             "from the receiver's clock")
        if frame.time_us <= self.last_time_us:
            self.counters["replayed"] += 1
            raise FrameError("replayed", "timestamp not newer than the last accepted frame")
        self.last_time_us = frame.time_us
        self.counters["accepted"] += 1
        return frame


# ----- serial framing -------------------------------------------------------------------


def cobs_wrap(frame: bytes) -> bytes:
    """COBS-encode a frame and terminate it with 0x00 for a byte stream."""
    return cobs.encode(frame) + b"\x00"


class StreamDecoder:
    """Splits a serial byte stream into frames; corrupt ones are counted and skipped."""

    def __init__(self, max_frame: int = 2 * (HEADER_SIZE + MAX_PAYLOAD + TAG_SIZE + CRC_SIZE)):
        self.buffer = bytearray()
        self.max_frame = max_frame
        self.errors: dict[str, int] = {}
        self.frames_ok = 0

    def _count(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def feed(self, data: bytes) -> list[tuple[Frame, bytes]]:
        """Frames (with their raw bytes) completed by `data`."""
        out = []
        self.buffer += data
        while True:
            end = self.buffer.find(0)
            if end < 0:
                if len(self.buffer) > self.max_frame:   # no delimiter for too long: resync
                    self._count("overflow")
                    self.buffer.clear()
                return out
            chunk = bytes(self.buffer[:end])
            del self.buffer[:end + 1]
            if not chunk:
                continue
            try:
                raw = cobs.decode(chunk)
                out.append((decode_frame(raw), raw))
                self.frames_ok += 1
            except cobs.DecodeError:
                self._count("cobs")
            except FrameError as e:
                self._count(e.kind)

    @property
    def rejected(self) -> int:
        return sum(self.errors.values())


# ----- payloads -------------------------------------------------------------------------


def pack_floats(values) -> bytes:
    values = [float(v) for v in values]
    return struct.pack(f"<H{len(values)}f", len(values), *values)


def unpack_floats(payload: bytes) -> tuple[float, ...]:
    if len(payload) < 2:
        raise FrameError("payload", "float vector payload shorter than its count")
    (n,) = struct.unpack_from("<H", payload)
    if len(payload) != 2 + 4 * n:
        raise FrameError("payload", f"float vector says {n} values but has {len(payload) - 2} B")
    return struct.unpack_from(f"<{n}f", payload, 2)


def _hash_bytes(spec_hash: str) -> bytes:
    raw = bytes.fromhex(spec_hash)
    if len(raw) != SPEC_HASH_SIZE:
        raise ValueError("spec hash must be 64 hex digits (sha256)")
    return raw


@dataclass(frozen=True)
class Hello:
    spec_hash: str
    rate_hz: float
    FORMAT = struct.Struct("<32sf")

    def pack(self) -> bytes:
        return self.FORMAT.pack(_hash_bytes(self.spec_hash), self.rate_hz)

    @classmethod
    def unpack(cls, payload: bytes) -> "Hello":
        h, rate = _unpack(cls.FORMAT, payload, "hello")
        return cls(h.hex(), rate)


@dataclass(frozen=True)
class Info:
    spec_hash: str
    robot_id: str
    state_rate_hz: float
    command_timeout_ms: int
    disarm_timeout_ms: int
    state_dim: int
    action_dim: int
    protocol_version: int = PROTOCOL_VERSION
    FORMAT = struct.Struct("<B32s16sfHHHH")

    def pack(self) -> bytes:
        return self.FORMAT.pack(self.protocol_version, _hash_bytes(self.spec_hash),
                                self.robot_id.encode()[:ROBOT_ID_SIZE], self.state_rate_hz,
                                self.command_timeout_ms, self.disarm_timeout_ms, self.state_dim,
                                self.action_dim)

    @classmethod
    def unpack(cls, payload: bytes) -> "Info":
        ver, h, rid, rate, cmd_to, dis_to, sd, ad = _unpack(cls.FORMAT, payload, "info")
        return cls(h.hex(), rid.rstrip(b"\0").decode(errors="replace"), rate, cmd_to, dis_to,
                   sd, ad, ver)


STATUS_COUNTERS = ("frames_ok", "crc_errors", "rejected_frames", "late_commands",
                   "commands", "safe_action_events", "timeout_disarms")


class Failsafe(IntEnum):
    NONE = 0
    SAFE_ACTION = 1     # no valid command within the command timeout
    DISARMED = 2        # none within the disarm timeout either


@dataclass(frozen=True)
class Status:
    armed: bool
    failsafe: Failsafe
    estop: bool
    counters: dict
    FORMAT = struct.Struct("<BBBx" + "I" * len(STATUS_COUNTERS))

    def pack(self) -> bytes:
        return self.FORMAT.pack(int(self.armed), int(self.failsafe), int(self.estop),
                                *(int(self.counters.get(k, 0)) & 0xFFFFFFFF
                                  for k in STATUS_COUNTERS))

    @classmethod
    def unpack(cls, payload: bytes) -> "Status":
        armed, failsafe, estop, *counts = _unpack(cls.FORMAT, payload, "status")
        try:
            fs = Failsafe(failsafe)
        except ValueError:
            raise FrameError("payload", f"unknown failsafe state {failsafe}") from None
        return cls(bool(armed), fs, bool(estop), dict(zip(STATUS_COUNTERS, counts)))


@dataclass(frozen=True)
class Ack:
    acked_type: int
    acked_seq: int
    ok: bool
    FORMAT = struct.Struct("<BIB")

    def pack(self) -> bytes:
        return self.FORMAT.pack(self.acked_type, self.acked_seq, int(self.ok))

    @classmethod
    def unpack(cls, payload: bytes) -> "Ack":
        t, s, ok = _unpack(cls.FORMAT, payload, "ack")
        return cls(t, s, bool(ok))


@dataclass(frozen=True)
class Error:
    code: int
    message: str

    def pack(self) -> bytes:
        return struct.pack("<H", self.code) + self.message.encode()[:MAX_PAYLOAD - 2]

    @classmethod
    def unpack(cls, payload: bytes) -> "Error":
        if len(payload) < 2:
            raise FrameError("payload", "error payload shorter than its code")
        return cls(struct.unpack_from("<H", payload)[0], payload[2:].decode(errors="replace"))


def pack_arm(spec_hash: str) -> bytes:
    return _hash_bytes(spec_hash)


def unpack_arm(payload: bytes) -> str:
    if len(payload) != SPEC_HASH_SIZE:
        raise FrameError("payload", f"arm payload must be {SPEC_HASH_SIZE} bytes")
    return payload.hex()


def _unpack(fmt: struct.Struct, payload: bytes, name: str) -> tuple:
    if len(payload) != fmt.size:
        raise FrameError("payload", f"{name} payload is {len(payload)} bytes, expected {fmt.size}")
    return fmt.unpack(payload)


__all__ = ["Ack", "Authenticator", "Error", "Failsafe", "Frame", "FrameError", "HEADER_SIZE",
           "Hello", "Info", "MAX_PAYLOAD", "MsgType", "PROTOCOL_VERSION", "STATUS_COUNTERS",
           "Status", "StreamDecoder", "cobs_wrap", "decode_frame", "encode_frame", "pack_arm",
           "pack_floats", "unpack_arm", "unpack_floats"]
