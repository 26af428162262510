"""Robot-side protocol behaviour, shared by every simulated robot (the C firmware mirrors it).

Boots disarmed; ARM needs a prior HELLO and a matching spec hash; no valid
COMMAND within the command timeout -> safe action; none within the disarm
timeout -> disarmed (a new ARM is needed); ESTOP latches. Counters go out in
STATUS frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hardware import protocol as p


@dataclass
class EndpointConfig:
    spec_hash: str
    robot_id: str
    state_dim: int
    action_dim: int
    rate_hz: float = 100.0
    command_timeout_s: float = 0.1
    disarm_timeout_s: float = 0.5


class ErrorCode:
    NOT_HELLO = 1
    ESTOP_LATCHED = 2
    SPEC_MISMATCH = 3
    BAD_COMMAND = 4


@dataclass
class RobotEndpoint:
    """The state machine; `handle` takes a frame and returns reply frames (type, payload)."""

    cfg: EndpointConfig
    safe_action: list[float]
    armed: bool = False
    estop: bool = False
    greeted: bool = False
    failsafe: p.Failsafe = p.Failsafe.NONE
    action: list[float] = field(default_factory=list)
    last_command_time: float | None = None
    commanded: bool = False
    counters: dict = field(default_factory=lambda: {k: 0 for k in p.STATUS_COUNTERS})

    def __post_init__(self):
        self.action = list(self.safe_action)

    def info(self) -> p.Info:
        c = self.cfg
        return p.Info(c.spec_hash, c.robot_id, c.rate_hz, round(c.command_timeout_s * 1000),
                      round(c.disarm_timeout_s * 1000), c.state_dim, c.action_dim)

    def status(self) -> p.Status:
        return p.Status(self.armed, self.failsafe, self.estop, dict(self.counters))

    def _error(self, code: int, message: str):
        return [(p.MsgType.ERROR, p.Error(code, message).pack())]

    def _ack(self, frame: p.Frame, ok: bool = True):
        return [(p.MsgType.ACK, p.Ack(int(frame.type), frame.seq, ok).pack())]

    def handle(self, frame: p.Frame, now: float) -> list[tuple[p.MsgType, bytes]]:
        self.counters["frames_ok"] += 1
        t = frame.type
        try:
            if t == p.MsgType.HELLO:
                p.Hello.unpack(frame.payload)
                self.greeted = True
                return [(p.MsgType.INFO, self.info().pack())]
            if t == p.MsgType.HEARTBEAT:
                return [(p.MsgType.STATUS, self.status().pack())]
            if t == p.MsgType.ESTOP:
                self.estop, self.armed = True, False
                self.action = list(self.safe_action)
                return self._ack(frame)
            if t == p.MsgType.DISARM:
                self.armed = False
                self.action = list(self.safe_action)
                return self._ack(frame)
            if t == p.MsgType.ARM:
                return self._arm(frame, now)
            if t == p.MsgType.COMMAND:
                return self._command(frame, now)
        except p.FrameError:
            self.counters["rejected_frames"] += 1
            return self._error(ErrorCode.BAD_COMMAND, f"malformed {t.name} payload")
        self.counters["rejected_frames"] += 1
        return self._error(ErrorCode.BAD_COMMAND, f"{t.name} is not accepted by a robot")

    def _arm(self, frame: p.Frame, now: float):
        requested = p.unpack_arm(frame.payload)
        if self.estop:
            return self._error(ErrorCode.ESTOP_LATCHED, "e-stop latched; restart the robot")
        if not self.greeted:
            return self._error(ErrorCode.NOT_HELLO, "send HELLO before ARM")
        if requested != self.cfg.spec_hash:
            return self._error(ErrorCode.SPEC_MISMATCH,
                               f"spec hash {requested[:12]} != robot {self.cfg.spec_hash[:12]}")
        self.armed, self.failsafe = True, p.Failsafe.NONE
        self.last_command_time = now
        self.action = list(self.safe_action)
        self.commanded = False
        return self._ack(frame)

    def _command(self, frame: p.Frame, now: float):
        values = p.unpack_floats(frame.payload)
        if len(values) != self.cfg.action_dim or any(v != v or abs(v) == float("inf")
                                                     for v in values):
            self.counters["rejected_frames"] += 1
            return self._error(ErrorCode.BAD_COMMAND, "command has the wrong size or NaN/Inf")
        if not self.armed:
            self.counters["late_commands"] += 1   # commands while disarmed are ignored
            return []
        self.counters["commands"] += 1
        self.action = list(values)
        self.commanded = True
        self.last_command_time = now
        if self.failsafe == p.Failsafe.SAFE_ACTION:
            self.failsafe = p.Failsafe.NONE
        return []

    def tick(self, now: float) -> bool:
        """Apply the timeouts; True when the failsafe state changed."""
        if not self.armed or self.last_command_time is None:
            return False
        silent = now - self.last_command_time
        if silent > self.cfg.disarm_timeout_s:
            self.armed, self.failsafe = False, p.Failsafe.DISARMED
            self.action = list(self.safe_action)
            self.counters["timeout_disarms"] += 1
            return True
        if silent > self.cfg.command_timeout_s and self.failsafe != p.Failsafe.SAFE_ACTION:
            self.failsafe = p.Failsafe.SAFE_ACTION
            self.action = list(self.safe_action)
            self.counters["safe_action_events"] += 1
            return True
        return False

    @property
    def holding(self) -> bool:
        """True while the safe action applies: not armed, failsafe, or armed but no command
        yet (a robot whose safe action is "hold still" holds its pose then)."""
        return not self.armed or self.failsafe != p.Failsafe.NONE or not self.commanded

    def applied_action(self) -> list[float]:
        """What the actuators get now."""
        if not self.armed or self.failsafe != p.Failsafe.NONE:
            return list(self.safe_action)
        return self.action
