"""MCAP flight logs: robot info, policy metadata and spec, one record per control cycle.

Messages are JSON (channel encoding "json", schemas "jsonschema"). Besides the
deploy topics, calibration logs carry sensor streams (IMU_TOPIC, THRUST_STAND_TOPIC;
layouts in docs/conventions.md); `read_log` returns every other topic under
"topics". The writer
closes a chunk at least every `flush_s` seconds, so a process killed with
SIGKILL loses at most that much; the official `mcap` readers (indexed, and
streaming after a kill) read the file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mcap.writer import CompressionType, Writer

CYCLE_TOPIC, EVENT_TOPIC, INFO_TOPIC = "/cycle", "/event", "/info"
IMU_TOPIC, THRUST_STAND_TOPIC = "/imu", "/thrust_stand"
_OBJECT = json.dumps({"type": "object"}).encode()


class FlightLog:
    def __init__(self, path: str | Path, info: dict, flush_s: float = 0.5):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "wb")
        # No compression: a chunk flush inside a 1-2 ms control period must be a plain write.
        self.writer = Writer(self.file, chunk_size=256 * 1024, compression=CompressionType.NONE)
        self.writer.start(profile="", library="robot_rl")
        self.schema = self.writer.register_schema("robot_rl.Record", "jsonschema", _OBJECT)
        self.channels = {t: self.writer.register_channel(t, "json", self.schema)
                         for t in (INFO_TOPIC, CYCLE_TOPIC, EVENT_TOPIC)}
        self.flush_s = flush_s
        self.last_flush = time.monotonic()
        self.seq = 0
        self.closed = False
        self._write(INFO_TOPIC, info, time.time_ns())
        self.flush()

    def _write(self, topic: str, record: dict, t_ns: int) -> None:
        self.seq += 1
        self.writer.add_message(self.channels[topic], log_time=t_ns, publish_time=t_ns,
                                sequence=self.seq, data=json.dumps(record).encode())

    def message(self, topic: str, record: dict, t_ns: int) -> None:
        """One record on any topic (a sensor stream); its channel is made on first use."""
        if topic not in self.channels:
            self.channels[topic] = self.writer.register_channel(topic, "json", self.schema)
        self._write(topic, record, t_ns)

    def cycle(self, record: dict, t_ns: int | None = None) -> None:
        self._write(CYCLE_TOPIC, record, time.time_ns() if t_ns is None else t_ns)
        if time.monotonic() - self.last_flush >= self.flush_s:
            self.flush()

    def event(self, name: str, detail: dict | None = None) -> None:
        self._write(EVENT_TOPIC, {"event": name, **(detail or {})}, time.time_ns())

    def flush(self) -> None:
        self.writer.flush()
        self.last_flush = time.monotonic()

    def close(self) -> None:
        if not self.closed:
            self.writer.finish()
            self.file.close()
            self.closed = True


def read_log(path: str | Path) -> dict:
    """{'info': dict, 'cycles': [dict], 'events': [dict]} from a log, complete or cut short.

    A finished file is read through its index; a file cut off by a kill is read
    with the streaming reader up to the last complete record.
    """
    from mcap.reader import make_reader
    from mcap.stream_reader import StreamReader
    from mcap.records import Channel, Message

    out = {"info": None, "cycles": [], "events": [], "topics": {}, "complete": True}
    topic_of = {}
    with open(path, "rb") as f:
        try:
            reader = make_reader(f)
            for _, channel, message in reader.iter_messages(log_time_order=False):
                _collect(out, channel.topic, message.data)
            return out
        except Exception:  # a truncated file fails in the indexed reader (any mcap error)
            out = {"info": None, "cycles": [], "events": [], "topics": {}, "complete": False}
        f.seek(0)
        try:
            for record in StreamReader(f, skip_magic=False).records:
                if isinstance(record, Channel):
                    topic_of[record.id] = record.topic
                elif isinstance(record, Message):
                    _collect(out, topic_of.get(record.channel_id, ""), record.data)
        except Exception:  # the cut-off tail: stop at the last complete record
            pass
    return out


def _collect(out: dict, topic: str, data: bytes) -> None:
    record = json.loads(data)
    if topic == INFO_TOPIC:
        out["info"] = record
    elif topic == CYCLE_TOPIC:
        out["cycles"].append(record)
    elif topic == EVENT_TOPIC:
        out["events"].append(record)
    else:
        out["topics"].setdefault(topic, []).append(record)


__all__ = ["FlightLog", "IMU_TOPIC", "THRUST_STAND_TOPIC", "read_log"]
