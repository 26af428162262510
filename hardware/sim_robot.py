"""A simulated robot served behind the real wire protocol, in its own process.

    python -m hardware.sim_robot --pty               # prints the pty path to connect to
    python -m hardware.sim_robot --udp 127.0.0.1:9000 [--key-hex K]
    python -m hardware.sim_robot --pty --robot push-t [--seed N]
    python -m hardware.sim_robot --pty --preset robot.yaml --gyro-bias 0.02,0,0

The robot runs the shared RobotEndpoint state machine at its own fixed rate,
steps the simulator with the applied action, and sends STATE every period and
STATUS at 10 Hz.
- quadrotor: STATE is pos[3], quat[4] wxyz, vel[3], ang_vel[3]. Until the first
  command after ARM the airframe is held at its start pose (as on a stand), so a
  host that starts its loop late does not drop it; after a disarm it falls with
  motors off and rests on the ground.
- push-t (MuJoCo): STATE is the task's observation (pusher xy, block xy, block
  cos/sin yaw). The scene starts from the initial condition of `--seed`; while
  not armed or in failsafe the pusher holds its position.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import torch

from hardware import protocol as p
from hardware.robot_endpoint import EndpointConfig, RobotEndpoint
from sim.quadrotor.dynamics import command_to_rpm

STATE_DIM = 13   # pos[3], quat[4] (w, x, y, z), vel[3], ang_vel[3]


def quadrotor_robot_spec(preset: str = "crazyflie", rate_hz: float = 100.0):
    """The I/O spec a simulated quadrotor robot advertises (motors action mode)."""
    from sim.tasks.quadrotor import QuadrotorTaskConfig, quadrotor_spec

    return quadrotor_spec(QuadrotorTaskConfig(preset=preset, control_rate_hz=rate_hz,
                                              sim_dt=_sim_dt(rate_hz)))


def _sim_dt(rate_hz: float) -> float:
    """2 ms physics, or one step per period when the period is shorter or not a multiple."""
    period = 1.0 / rate_hz
    n = max(1, round(period / 0.002))
    return period / n


class SimQuadrotorBody:
    """One quadrotor in the torch simulator, with a ground plane and a start stand."""

    def __init__(self, preset: str, rate_hz: float, start=(0.0, 0.0, 1.5),
                 backend: str = "torch", gyro_bias=(0.0, 0.0, 0.0)):
        from sim.quadrotor.backends import make_quadrotor_sim
        from sim.quadrotor.params import get_preset

        torch.set_num_threads(1)
        self.params = get_preset(preset)
        self.dt = _sim_dt(rate_hz)
        self.substeps = max(1, round(1.0 / (rate_hz * self.dt)))
        self.sim = make_quadrotor_sim(backend, self.params, 1, self.dt)
        s = self.sim.state
        s.pos[0] = torch.tensor(start, dtype=torch.float32)
        s.quat[0] = torch.tensor([1.0, 0.0, 0.0, 0.0])
        s.rpm[0] = self.params.hover_rpm
        self.held = True
        self.gyro_bias = torch.tensor(gyro_bias, dtype=torch.float32)   # added to body rates

    def step(self, action: list[float], holding: bool = False) -> None:
        """Apply `action` for one period (the safe action already replaces it when the
        endpoint holds: motors off)."""
        if self.held:
            return
        cmd = command_to_rpm(torch.tensor([action], dtype=torch.float32), self.params.max_rpm)
        self.sim.step(cmd, self.substeps)
        s = self.sim.state
        if self.sim.backend == "torch" and s.pos[0, 2] < 0.0:   # no floor there: rest on it
            s.pos[0, 2] = 0.0
            s.vel[0] = 0.0
            s.ang_vel[0] = 0.0

    def state(self) -> list[float]:
        s = self.sim.state
        return torch.cat((s.pos[0], s.quat[0], s.vel[0], s.ang_vel[0] + self.gyro_bias)).tolist()


class SimPushTBody:
    """One push-t scene in MuJoCo; the pusher holds still while the robot is disarmed."""

    state_dim = 6

    def __init__(self, rate_hz: float, seed: int = 0):
        from sim.tasks.push_t import PushTEnv, PushTTaskConfig

        self.cfg = PushTTaskConfig(control_rate_hz=rate_hz)
        self.env = PushTEnv(self.cfg, 1, seed=seed, threads=1)
        self.env.reset(seed=seed)
        self.held = True

    def step(self, action: list[float], holding: bool = False) -> None:
        import numpy as np

        from sim.mujoco.push_t import WORKSPACE_M

        env = self.env   # env.step would auto-reset at the goal; a robot does not
        if self.held or holding:
            target = env.pusher_pos()[0].copy()
        else:
            target = np.clip(np.asarray(action, np.float64), -1.0, 1.0) * WORKSPACE_M
        env.sim.step(np.repeat(target[None, None], env.decimation, axis=1))

    def state(self) -> list[float]:
        return self.env.observe()[0].tolist()


def push_t_robot_spec(rate_hz: float = 10.0):
    from sim.tasks.push_t import PushTTaskConfig, push_t_spec

    return push_t_spec(PushTTaskConfig(control_rate_hz=rate_hz))


class PtyLink:
    """The robot's end of a pseudo-terminal (raw mode), COBS framing."""

    def __init__(self):
        import tty

        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.decoder = p.StreamDecoder()

    def recv(self) -> list[p.Frame]:
        frames = []
        while True:
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                return frames
            except OSError:        # host side not open (yet) or gone
                return frames
            if not data:
                return frames
            frames += [f for f, _ in self.decoder.feed(data)]

    def send(self, frame: bytes) -> None:
        data = p.cobs_wrap(frame)
        try:
            while data:
                n = os.write(self.master, data)
                data = data[n:]
        except (BlockingIOError, OSError):
            pass                   # host not reading: drop, as a UART would

    @property
    def rejected(self) -> int:
        return self.decoder.rejected


class UdpLink:
    """The robot's end of a UDP link: answers whoever sent the last accepted frame."""

    def __init__(self, bind: tuple[str, int], key: bytes | None):
        from hardware.transport import UdpTransport

        self.t = UdpTransport(("127.0.0.1", 0), bind, key)

    def recv(self) -> list[p.Frame]:
        try:
            return [f for f, _ in self.t.recv()]
        except OSError:
            return []

    def send(self, frame: bytes) -> None:
        if self.t.last_sender is not None:
            try:
                self.t.sock.sendto(frame, self.t.last_sender)
            except OSError:
                pass

    @property
    def rejected(self) -> int:
        return self.t.rejected


def serve(link, body: SimQuadrotorBody, endpoint: RobotEndpoint, rate_hz: float,
          key: bytes | None = None, duration: float | None = None) -> None:
    """Fixed-rate robot loop until SIGTERM/SIGINT or `duration` seconds."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    period, seq = 1.0 / rate_hz, 0
    start = next_t = time.monotonic()
    cycle = 0
    parent = os.getppid()

    def send(msg_type, payload):
        nonlocal seq
        seq += 1
        t_us = time.time_ns() // 1000 if key else int((time.monotonic() - start) * 1e6)
        link.send(p.encode_frame(msg_type, payload, seq, t_us, key))

    while not stop and (duration is None or time.monotonic() - start < duration):
        if os.getppid() != parent:      # the host that spawned us died: do not linger
            break
        now = time.monotonic()
        for frame in link.recv():
            for reply in endpoint.handle(frame, now):
                send(*reply)
        endpoint.counters["crc_errors"] = link.rejected
        if endpoint.armed and endpoint.commanded:   # leaves the start stand on the first
            body.held = False                        # command, however late the host starts
        changed = endpoint.tick(now)
        body.step(endpoint.applied_action(), endpoint.holding)
        send(p.MsgType.STATE, p.pack_floats(body.state()))
        if changed or cycle % max(1, round(rate_hz / 10)) == 0:
            send(p.MsgType.STATUS, endpoint.status().pack())
        cycle += 1
        next_t += period
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_t = time.monotonic()   # overran: re-anchor instead of bursting


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    link_arg = ap.add_mutually_exclusive_group(required=True)
    link_arg.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal")
    link_arg.add_argument("--udp", metavar="HOST:PORT", help="serve on a UDP port")
    ap.add_argument("--key-hex", help="UDP: shared HMAC key (hex)")
    ap.add_argument("--robot", choices=("quadrotor", "push-t"), default="quadrotor")
    ap.add_argument("--seed", type=int, default=0, help="push-t: initial condition")
    ap.add_argument("--preset", default="crazyflie")
    ap.add_argument("--rate", type=float, help="control rate, Hz (default: quadrotor 100, "
                    "push-t 10)")
    ap.add_argument("--start", default="0,0,1.5", help="start position x,y,z (m)")
    ap.add_argument("--backend", default="torch", help="physics: torch, mujoco or pybullet")
    ap.add_argument("--gyro-bias", default="0,0,0",
                    help="rad/s added to the reported body rates (an uncalibrated gyro)")
    ap.add_argument("--command-timeout", type=float, default=0.1)
    ap.add_argument("--disarm-timeout", type=float, default=0.5)
    ap.add_argument("--robot-id", default="sim-quadrotor")
    args = ap.parse_args(argv)
    if args.robot == "push-t":
        rate = args.rate or 10.0
        spec = push_t_robot_spec(rate)
        body = SimPushTBody(rate, args.seed)
        state_dim, safe_action = body.state_dim, [0.0] * spec.action_dim   # body holds instead
        robot_id = "sim-push-t" if args.robot_id == "sim-quadrotor" else args.robot_id
    else:
        rate = args.rate or 100.0
        start = tuple(float(v) for v in args.start.split(","))
        spec = quadrotor_robot_spec(args.preset, rate)
        bias = tuple(float(v) for v in args.gyro_bias.split(","))
        body = SimQuadrotorBody(args.preset, rate, start, args.backend, bias)
        state_dim, safe_action, robot_id = STATE_DIM, [-1.0] * spec.action_dim, args.robot_id
    endpoint = RobotEndpoint(
        EndpointConfig(spec.spec_hash, robot_id, state_dim, spec.action_dim, rate,
                       args.command_timeout, args.disarm_timeout),
        safe_action=safe_action)
    key = bytes.fromhex(args.key_hex) if args.key_hex else None
    if args.pty:
        link = PtyLink()
        print(f"pty {link.path}", flush=True)
    else:
        host, port = args.udp.rsplit(":", 1)
        link = UdpLink((host, int(port)), key)
        print(f"udp {link.t.local_address[0]}:{link.t.local_address[1]}", flush=True)
    serve(link, body, endpoint, rate, key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
