"""Links that carry protocol frames: serial (pyserial, COBS) and UDP (one frame per datagram).

Reads never block longer than asked; a vanished port or socket error is
raised as LinkError (the caller fails safe), and corrupt input is counted,
never raised.
"""

from __future__ import annotations

import socket
import time

from hardware.protocol import (Authenticator, Frame, FrameError, StreamDecoder, cobs_wrap,
                               decode_frame)


class LinkError(ConnectionError):
    """The link is gone (port closed or unplugged, socket error)."""


class SerialTransport:
    """Frames over a serial port or pyserial URL (`/dev/ttyUSB0`, `/dev/pts/3`, `loop://`)."""

    def __init__(self, port: str, baudrate: int = 921_600):
        import serial

        self.port = port
        try:
            self.serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0,
                                                write_timeout=1.0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise LinkError(f"cannot open serial port {port!r}: {e}") from None
        self.decoder = StreamDecoder()
        self.bytes_in = self.bytes_out = 0

    def send(self, frame: bytes) -> None:
        import serial

        data = cobs_wrap(frame)
        try:
            self.serial.write(data)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"serial port {self.port!r} write failed: {e}") from None
        self.bytes_out += len(data)

    def recv(self, timeout: float = 0.0) -> list[tuple[Frame, bytes]]:
        """Frames that arrived, waiting up to `timeout` s for the first byte."""
        import serial

        deadline = time.monotonic() + timeout
        out: list = []
        while True:
            try:
                waiting = self.serial.in_waiting
                data = self.serial.read(waiting or 1) if waiting or timeout > 0 else b""
            except (serial.SerialException, OSError, TypeError) as e:
                raise LinkError(f"serial port {self.port!r} read failed: {e}") from None
            if data:
                self.bytes_in += len(data)
                out += self.decoder.feed(data)
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(0.0002)

    @property
    def rejected(self) -> int:
        return self.decoder.rejected

    def close(self) -> None:
        try:
            self.serial.close()
        except Exception:  # closing a vanished port must not raise
            pass


class UdpTransport:
    """Frames over UDP; with `key`, every frame is verified by an Authenticator."""

    def __init__(self, remote: tuple[str, int], local: tuple[str, int] = ("127.0.0.1", 0),
                 key: bytes | None = None, clock=None):
        self.remote = remote
        self.key = key
        self.auth = Authenticator(key) if key is not None else None
        self.clock = clock or (lambda: time.time_ns() // 1000)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind(local)
        except OSError as e:
            raise LinkError(f"cannot bind UDP {local}: {e}") from None
        self.sock.setblocking(False)
        self.errors: dict[str, int] = {}
        self.frames_ok = 0
        self.last_sender: tuple[str, int] | None = None   # of the last accepted frame

    @property
    def local_address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def send(self, frame: bytes) -> None:
        try:
            self.sock.sendto(frame, self.remote)
        except OSError as e:
            raise LinkError(f"UDP send to {self.remote} failed: {e}") from None

    def recv(self, timeout: float = 0.0) -> list[tuple[Frame, bytes]]:
        import select

        out: list = []
        if timeout > 0:
            select.select([self.sock], [], [], timeout)
        while True:
            try:
                data, sender = self.sock.recvfrom(4096)
            except BlockingIOError:
                return out
            except OSError as e:
                raise LinkError(f"UDP receive failed: {e}") from None
            try:
                frame = self.auth.verify(data, self.clock()) if self.auth else decode_frame(data)
            except FrameError as e:
                self.errors[e.kind] = self.errors.get(e.kind, 0) + 1
                continue
            self.frames_ok += 1
            self.last_sender = sender
            out.append((frame, data))

    @property
    def rejected(self) -> int:
        return sum(self.errors.values())

    def close(self) -> None:
        self.sock.close()


__all__ = ["LinkError", "SerialTransport", "UdpTransport"]
