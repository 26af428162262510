"""Host-side Robot: open from a URL, handshake, state, commands, arm/disarm/e-stop.

    sim://quadrotor[?preset=crazyflie&rate=100&start=0,0,1.5&backend=torch&gyro_bias=0,0,0]
                                                                 simulated robot over a pty
                                                                 (backend: torch|mujoco|pybullet)
    sim+udp://quadrotor[?key=HEX]                                the same over UDP
    sim://push-t[?seed=0&rate=10]                                simulated push-t (MuJoCo)
    serial:///dev/ttyUSB0[?baud=921600]                          a robot on a serial port
    hil://firmware/build/fw_host[?mode=onboard|companion]        firmware in the loop (POSIX)
    hil+udp://firmware/build/fw_host[?key=HEX]                   the same over (signed) UDP
    hil+qemu://firmware/build/fw.elf                             Cortex-M4 firmware in QEMU
    udp://127.0.0.1:9000[?key=HEX]                               a robot on the network
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from hardware import protocol as p
from hardware.transport import LinkError, SerialTransport, UdpTransport


class RobotError(RuntimeError):
    """The robot refused or did not answer (handshake, arm, spec mismatch)."""


class SpecHashMismatch(RobotError):
    pass


@dataclass
class StateSample:
    values: tuple[float, ...]
    robot_time_us: int
    received: float          # host monotonic time

    def age(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.received


class Robot:
    """A connected robot; use as a context manager (close disarms)."""

    def __init__(self, transport, url: str, process: subprocess.Popen | None = None,
                 key: bytes | None = None):
        self.transport, self.url, self.process, self.key = transport, url, process, key
        self.info: p.Info | None = None
        self.state: StateSample | None = None
        self.status: p.Status | None = None
        self.status_history: list[tuple[float, p.Status]] = []
        self.errors: list[p.Error] = []
        self.acks: list[p.Ack] = []
        self.seq = 0
        self.frames_in = 0
        self.malformed_payloads = 0

    # ----- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str) -> "Robot":
        u = urlparse(url)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        key = bytes.fromhex(q["key"]) if "key" in q else None
        if u.scheme in ("sim", "sim+udp"):
            if u.netloc not in ("quadrotor", "push-t"):
                raise RobotError(f"unknown simulated robot {u.netloc!r} in {url!r}; available: "
                                 "sim://quadrotor, sim://push-t")
            q["robot"] = u.netloc
            return cls._spawn_sim(url, q, udp=u.scheme == "sim+udp", key=key)
        if u.scheme in ("hil", "hil+qemu", "hil+udp"):
            from hardware.hil import HilRobot

            return HilRobot.spawn(url, u.netloc + u.path if u.netloc else u.path, q,
                                  qemu=u.scheme == "hil+qemu", udp=u.scheme == "hil+udp")
        if u.scheme == "serial":
            return cls(SerialTransport(u.path, int(q.get("baud", 921_600))), url)
        if u.scheme == "udp":
            if not u.hostname or not u.port:
                raise RobotError(f"udp URL needs host and port, e.g. udp://127.0.0.1:9000")
            return cls(UdpTransport((u.hostname, u.port), key=key), url, key=key)
        raise RobotError(f"unsupported robot URL {url!r}; use sim://quadrotor, sim://push-t, "
                         "serial:///dev/ttyUSB0?baud=921600 or udp://HOST:PORT")

    @classmethod
    def _spawn_sim(cls, url: str, q: dict, udp: bool, key: bytes | None) -> "Robot":
        args = [sys.executable, "-m", "hardware.sim_robot"]
        args += ["--udp", "127.0.0.1:0"] if udp else ["--pty"]
        for name in ("robot", "seed", "preset", "rate", "start", "backend", "command-timeout",
                     "disarm-timeout", "gyro-bias"):
            if name in q or name.replace("-", "_") in q:
                args += [f"--{name}", q.get(name, q.get(name.replace("-", "_")))]
        if key is not None:
            args += ["--key-hex", key.hex()]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline().strip()
        if not line:
            err = proc.stderr.read() if proc.poll() is not None else ""
            proc.kill()
            raise RobotError(f"simulated robot did not start: {err.strip()[-500:]}")
        kind, where = line.split(" ", 1)
        if kind == "pty":
            transport = SerialTransport(where)
        else:
            host, port = where.rsplit(":", 1)
            transport = UdpTransport((host, int(port)), key=key)
        return cls(transport, url, proc, key)

    # ----- frames -------------------------------------------------------------------------
    def _time_us(self) -> int:
        return time.time_ns() // 1000 if self.key else time.monotonic_ns() // 1000

    def send(self, msg_type: p.MsgType, payload: bytes = b"") -> int:
        self.seq += 1
        self.transport.send(p.encode_frame(msg_type, payload, self.seq, self._time_us(), self.key))
        return self.seq

    def poll(self, timeout: float = 0.0) -> int:
        """Read what arrived; returns the number of frames handled."""
        frames = self.transport.recv(timeout)
        now = time.monotonic()
        for frame, _ in frames:
            self.frames_in += 1
            try:
                self._handle(frame, now)
            except p.FrameError:
                self.malformed_payloads += 1   # valid frame, payload of the wrong size
        return len(frames)

    def _handle(self, frame: p.Frame, now: float) -> None:
        t = frame.type
        if t == p.MsgType.STATE:
            self.state = StateSample(p.unpack_floats(frame.payload), frame.time_us, now)
        elif t == p.MsgType.STATUS:
            self.status = p.Status.unpack(frame.payload)
            self.status_history.append((now, self.status))
        elif t == p.MsgType.INFO:
            self.info = p.Info.unpack(frame.payload)
        elif t == p.MsgType.ACK:
            self.acks.append(p.Ack.unpack(frame.payload))
        elif t == p.MsgType.ERROR:
            self.errors.append(p.Error.unpack(frame.payload))

    def _wait(self, done, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.01)
            result = done()
            if result:
                return result
            self._check_process()
        raise RobotError(f"robot at {self.url} did not answer {what} within {timeout:.1f} s")

    def _check_process(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise LinkError(f"simulated robot process exited with code {self.process.returncode}")

    # ----- commands -----------------------------------------------------------------------
    def connect(self, expected_spec_hash: str | tuple[str, ...] | None = None,
                timeout: float = 3.0) -> p.Info:
        """HELLO -> INFO; refuse a robot whose spec hash is not the policy's (or, given
        several, not one of them)."""
        accepted = (expected_spec_hash,) if isinstance(expected_spec_hash, str) \
            else expected_spec_hash
        if accepted is not None:
            expected_spec_hash = accepted[0]
        deadline = time.monotonic() + timeout
        while self.info is None and time.monotonic() < deadline:
            self.send(p.MsgType.HELLO, p.Hello(expected_spec_hash or "0" * 64, 0.0).pack())
            self.poll(0.1)
            self._check_process()
        if self.info is None:
            raise RobotError(f"no INFO from robot at {self.url} within {timeout:.1f} s "
                             "(wrong port or baud rate, or robot not running?)")
        if accepted is not None and self.info.spec_hash not in accepted:
            raise SpecHashMismatch(
                f"robot {self.info.robot_id!r} has I/O spec {self.info.spec_hash[:12]} but the "
                f"policy was exported for {expected_spec_hash[:12]}; refusing to arm")
        return self.info

    def arm(self, timeout: float = 1.0) -> None:
        if self.info is None:
            raise RobotError("connect() before arm()")
        n_err = len(self.errors)
        seq = self.send(p.MsgType.ARM, p.pack_arm(self.info.spec_hash))

        def answered():
            if len(self.errors) > n_err:
                raise RobotError(f"robot refused to arm: {self.errors[-1].message}")
            return any(a.acked_seq == seq and a.ok for a in self.acks)
        self._wait(answered, timeout, "ARM")

    def send_command(self, action) -> None:
        self.send(p.MsgType.COMMAND, p.pack_floats(action))

    def disarm(self) -> None:
        self.send(p.MsgType.DISARM)

    def estop(self) -> None:
        self.send(p.MsgType.ESTOP)

    def take_hil_pairs(self) -> list | None:
        """(sensor, actuator) pairs of a hardware-in-the-loop robot; None for others."""
        return None

    def wait_state(self, timeout: float = 1.0) -> StateSample:
        return self._wait(lambda: self.state, timeout, "with a STATE")

    @property
    def link_counters(self) -> dict:
        return {"frames_in": self.frames_in, "frames_rejected": self.transport.rejected,
                "malformed_payloads": self.malformed_payloads}

    # ----- closing ------------------------------------------------------------------------
    def close(self) -> None:
        try:
            self.disarm()
        except LinkError:
            pass
        self.transport.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(2.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "Robot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Robot", "RobotError", "SpecHashMismatch", "StateSample"]
