"""Hardware in the loop: the firmware (a POSIX process, or the Cortex-M4 build in QEMU) is
the robot's brain and the host's simulator is its physical world.

    hil://firmware/build/fw_host[?mode=onboard|companion&preset=crazyflie]   POSIX firmware
    hil+udp://firmware/build/fw_host[?key=HEX&mode=...]                     POSIX firmware, UDP
    hil+qemu://firmware/build/fw.elf                                        Cortex-M4 in QEMU

Each control cycle (`poll`) the host applies the firmware's latest actuator outputs to the
simulator for one period, sends the new sensor state (HIL_SENSOR), and exposes that state
to the control loop like any robot's STATE. In on-board mode the firmware runs its
compiled-in policy on that state; in companion mode it forwards the host's COMMAND.

Lockstep (the default, as in PX4's SITL): before stepping, the host waits for the
firmware's answer to the previous sensor frame (up to `reply_wait_s`), so the simulated
airframe gets each actuator output one period after the sensor state it answers, however
busy the machine (or slow the emulator) is. `?lockstep=0` steps with whatever answer has
arrived, as a real-time plant would; steps taken before the answer came are counted
(`late_actuator_replies` in the link counters).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import deque
from pathlib import Path

from hardware import protocol as p
from hardware.robot import Robot, RobotError, StateSample
from hardware.sim_robot import SimQuadrotorBody
from hardware.transport import SerialTransport, UdpTransport

ROOT = Path(__file__).resolve().parents[1]


class HilRobot(Robot):
    KEEPALIVE_EVERY = 3   # on-board mode: COMMAND only keeps the link alive; 1 in 3 suffices

    def __init__(self, transport, url, process, body: SimQuadrotorBody, safe_action,
                 onboard: bool = True, key: bytes | None = None, lockstep: bool = True,
                 reply_wait_s: float = 0.05):
        super().__init__(transport, url, process, key)
        self.body = body
        self.onboard = onboard
        self.lockstep, self.reply_wait_s = lockstep, reply_wait_s
        self.late_actuator_replies = 0
        self.commands_seen = 0
        self.actuator = list(safe_action)       # until the firmware's first answer
        self.pending: deque = deque()        # sensor states sent, awaiting their actuator reply
        self.hil_pairs: list = []             # (sensor state, actuator) answered since last take

    @classmethod
    def spawn(cls, url: str, binary: str, query: dict, qemu: bool = False,
              udp: bool = False) -> "HilRobot":
        exe = Path(binary)
        exe = exe if exe.is_absolute() else ROOT / exe
        target = "cortex-m4" if qemu else "host"
        if not exe.is_file():
            raise RobotError(f"firmware {exe} not found; build it with `make -C firmware {target}`")
        if qemu:
            if shutil.which("qemu-system-arm") is None:
                raise RobotError("qemu-system-arm not found (apt-get install qemu-system-arm)")
            args = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
                    "-kernel", str(exe), "-serial", "pty"]
        else:
            args = [str(exe), "--mode", query.get("mode", "onboard")]
            if "rate" in query:
                args += ["--rate", query["rate"]]
            if udp:
                args += ["--udp", "0"] + (["--key-hex", query["key"]] if "key" in query else [])
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        path = None
        for _ in range(20):                      # QEMU prints a few lines before the pty
            line = proc.stdout.readline()
            found = re.search(r"/dev/pts/\d+|udp \S+:\d+", line)
            if found or not line:
                path = found.group(0) if found else None
                break
        if path is None:
            proc.kill()
            raise RobotError(f"firmware did not start ({' '.join(args)})")
        rate = float(query.get("rate", 100.0))
        body = SimQuadrotorBody(query.get("preset", "crazyflie"), rate)
        onboard = qemu or query.get("mode", "onboard") == "onboard"
        key = bytes.fromhex(query["key"]) if "key" in query else None
        if path.startswith("udp "):
            host, port = path[4:].rsplit(":", 1)
            transport = UdpTransport((host, int(port)), key=key)
        else:
            transport = SerialTransport(path)
        lockstep = query.get("lockstep", "1") not in ("0", "false", "no")
        return cls(transport, url, proc, body, [-1.0] * 4, onboard, key, lockstep)

    def send_command(self, action) -> None:
        """Companion mode: every command. On-board mode: a keepalive every few cycles (the
        firmware's own policy makes the actions), which halves the bytes on slow UARTs."""
        self.commands_seen += 1
        if not self.onboard or self.commands_seen % self.KEEPALIVE_EVERY == 1:
            super().send_command(action)

    def _handle(self, frame: p.Frame, now: float) -> None:
        if frame.type == p.MsgType.HIL_ACTUATOR:
            self.actuator = list(p.unpack_floats(frame.payload))
            sensor = self.pending.popleft() if self.pending else None
            self.hil_pairs.append((sensor, self.actuator))
            return
        if frame.type == p.MsgType.STATE:   # a firmware never sends STATE in HIL; ignore
            return
        super()._handle(frame, now)

    def poll(self, timeout: float = 0.0) -> int:
        n = super().poll(timeout)
        if self.lockstep and self.pending and not self.body.held:
            deadline = time.monotonic() + self.reply_wait_s
            while self.pending and time.monotonic() < deadline:
                n += super().poll(0.001)
        if self.pending and not self.body.held:
            self.late_actuator_replies += 1
        if self.body.held and any(a.ok and a.acked_type == p.MsgType.ARM for a in self.acks):
            self.body.held = False          # first ARM: the airframe leaves its stand
        self.body.step(self.actuator)
        state = self.body.state()
        self.pending.append(state)
        self.send(p.MsgType.HIL_SENSOR, p.pack_floats(state))
        self.state = StateSample(tuple(state), 0, time.monotonic())
        return n

    @property
    def link_counters(self) -> dict:
        return {**super().link_counters, "late_actuator_replies": self.late_actuator_replies}

    def take_hil_pairs(self) -> list:
        pairs, self.hil_pairs = self.hil_pairs, []
        return pairs


__all__ = ["HilRobot"]
