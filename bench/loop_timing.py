"""Control-loop timing against the simulated robot over a pty, and pty frame throughput.

    python -m bench.loop_timing [--seconds 60] [--rates 100 500 1000]

For each rate, `deploy` runs the hover network against `sim://quadrotor?rate=R`.
The robot's I/O spec includes its rate, so the zoo hover network (trained at
100 Hz) is re-labelled with the spec for rate R: same graph, new metadata.
Flight quality at other rates means nothing here; only timing is measured.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tty
from pathlib import Path

import onnx

from bench.common import write_result
from hardware import protocol as p
from hardware.deploy import DeployConfig, deploy
from hardware.safety import SafetyConfig
from hardware.sim_robot import quadrotor_robot_spec
from policies.onnx_meta import META_PREFIX

ROOT = Path(__file__).resolve().parents[1]
HOVER = ROOT / "policies" / "zoo" / "quadrotor-hover.onnx"


def relabel(src: Path, rate: float, out: Path) -> Path:
    """The same ONNX graph with the robot spec for `rate` in its metadata."""
    spec = quadrotor_robot_spec(rate_hz=rate)
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == META_PREFIX + "spec":
            prop.value = spec.to_json()
        elif prop.key == META_PREFIX + "spec_hash":
            prop.value = spec.spec_hash
    onnx.save(model, str(out))
    return out


def pty_throughput(seconds: float = 3.0, payload_floats: int = 4) -> dict:
    """COMMAND frames/s through a raw pty: write COBS frames, read and decode them."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    os.set_blocking(slave, False)
    wire = p.cobs_wrap(p.encode_frame(p.MsgType.COMMAND, p.pack_floats([0.1] * payload_floats),
                                      1, 1))
    batch = wire * 32
    dec = p.StreamDecoder()
    frames = sent = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        try:
            os.write(master, batch)
            sent += 32
        except BlockingIOError:
            pass
        while True:
            try:
                frames += len(dec.feed(os.read(slave, 65536)))
            except BlockingIOError:
                break
    elapsed = time.perf_counter() - t0
    os.close(master)
    os.close(slave)
    return {"frames_per_s": frames / elapsed, "frame_bytes_on_wire": len(wire),
            "megabytes_per_s": frames * len(wire) / elapsed / 1e6, "rejected": dec.rejected}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 500.0, 1000.0])
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.rates:
            policy = relabel(HOVER, rate, Path(tmp) / f"hover_{int(rate)}.onnx")
            print(f"{rate:.0f} Hz for {args.seconds:.0f} s ...", flush=True)
            s = deploy(DeployConfig(str(policy), f"sim://quadrotor?rate={rate:g}",
                                    duration_s=args.seconds, log=f"{tmp}/loop_{int(rate)}.mcap",
                                    safety=SafetyConfig(geofence_m=None)))
            keep = ("cycles", "missed_deadlines", "missed_fraction", "lateness_p50_us",
                    "lateness_p99_us", "lateness_max_us", "read_to_write_p50_us", "policy_p50_us",
                    "frames_rejected", "end_reason", "realtime")
            results[f"{rate:g}"] = {k: s[k] for k in keep}
            r = results[f"{rate:g}"]
            print(f"  cycles {r['cycles']}, missed {r['missed_deadlines']} "
                  f"({100 * r['missed_fraction']:.3f} %), lateness p50 {r['lateness_p50_us']:.1f} "
                  f"p99 {r['lateness_p99_us']:.1f} max {r['lateness_max_us']:.1f} us, "
                  f"read->write p50 {r['read_to_write_p50_us']:.0f} us ({r['end_reason']})")
    tput = pty_throughput()
    print(f"pty link: {tput['frames_per_s']:,.0f} COMMAND frames/s "
          f"({tput['megabytes_per_s']:.1f} MB/s, {tput['frame_bytes_on_wire']} B/frame)")
    write_result("loop_timing", {"seconds_per_rate": args.seconds, "rates": results,
                                 "pty_throughput": tput,
                                 "target_500hz": {"missed_fraction_max": 0.001,
                                                  "lateness_p99_us_max": 200}})


if __name__ == "__main__":
    main()
