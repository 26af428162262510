"""Hardware in the loop: the firmware (a POSIX process, later QEMU) is the robot's brain and
the host's simulator is its physical world.

    hil://firmware/build/fw_host[?mode=onboard|companion&preset=crazyflie]

Each control cycle (`poll`) the host applies the firmware's latest actuator outputs to the
simulator for one period, sends the new sensor state (HIL_SENSOR), and exposes that state
to the control loop like any robot's STATE. In on-board mode the firmware runs its
compiled-in policy on that state; in companion mode it forwards the host's COMMAND.
"""

from __future__ import annotations

import subprocess
import time
from collections import deque
from pathlib import Path

from hardware import protocol as p
from hardware.robot import Robot, RobotError, StateSample
from hardware.sim_robot import SimQuadrotorBody
from hardware.transport import SerialTransport

ROOT = Path(__file__).resolve().parents[1]


class HilRobot(Robot):
    def __init__(self, transport, url, process, body: SimQuadrotorBody, safe_action):
        super().__init__(transport, url, process)
        self.body = body
        self.safe_action = list(safe_action)
        self.actuator = list(safe_action)
        self.pending: deque = deque()        # sensor states sent, awaiting their actuator reply
        self.hil_pairs: list = []             # (sensor state, actuator) answered since last take

    @classmethod
    def spawn(cls, url: str, binary: str, query: dict) -> "HilRobot":
        exe = Path(binary)
        exe = exe if exe.is_absolute() else ROOT / exe
        if not exe.is_file():
            raise RobotError(f"firmware binary {exe} not found; build it with `make -C firmware host`")
        args = [str(exe), "--mode", query.get("mode", "onboard")]
        if "rate" in query:
            args += ["--rate", query["rate"]]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline().strip()
        if not line.startswith("pty "):
            proc.kill()
            raise RobotError(f"firmware did not start: {line} {proc.stderr.read()[-300:]}")
        rate = float(query.get("rate", 100.0))
        body = SimQuadrotorBody(query.get("preset", "crazyflie"), rate)
        return cls(SerialTransport(line[4:]), url, proc, body, [-1.0] * 4)

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
        armed = self.status.armed if self.status else False
        if self.acks and not armed:
            armed = any(a.ok and a.acked_type == p.MsgType.ARM for a in self.acks)
        if armed:
            self.body.held = False
        self.body.step(self.actuator)
        state = self.body.state()
        self.pending.append(state)
        self.send(p.MsgType.HIL_SENSOR, p.pack_floats(state))
        self.state = StateSample(tuple(state), 0, time.monotonic())
        return n

    def take_hil_pairs(self) -> list:
        pairs, self.hil_pairs = self.hil_pairs, []
        return pairs


__all__ = ["HilRobot"]
