"""Push-T in MuJoCo: a pusher disk and a T-shaped block on a table, seen from above.

The table is the x-y plane (metres, z up). The pusher is a cylinder on two slide
joints driven by position actuators (a PD controller towards the commanded
point). The block is a T of two boxes on planar joints (slide x, slide y, hinge
z); its sliding friction on the table is Coulomb friction on those joints
(`frictionloss` = mu m g for the slides and mu m g r_g for the hinge), so the
block stops when it is no longer pushed. Pusher and block collide in the plane.
Gravity is off: nothing moves out of the plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAVITY = 9.81
WORKSPACE_M = 0.25            # the pusher moves in [-0.25, 0.25]^2
PUSHER_RADIUS_M = 0.015

# The T in its own frame, before centring on the centre of mass: a bar
# x in [-BAR_HALF_LEN, BAR_HALF_LEN], y in [0, BAR_W]; a stem x in [-STEM_HALF_W,
# STEM_HALF_W], y in [-STEM_LEN, 0].
BAR_HALF_LEN, BAR_W = 0.06, 0.03
STEM_HALF_W, STEM_LEN = 0.015, 0.09
_BAR_AREA = 2 * BAR_HALF_LEN * BAR_W
_STEM_AREA = 2 * STEM_HALF_W * STEM_LEN
COM_Y = (_BAR_AREA * BAR_W / 2 - _STEM_AREA * STEM_LEN / 2) / (_BAR_AREA + _STEM_AREA)
BAR_CENTER = np.array([0.0, BAR_W / 2 - COM_Y])
STEM_CENTER = np.array([0.0, -STEM_LEN / 2 - COM_Y])
BAR_MASS_SHARE = _BAR_AREA / (_BAR_AREA + _STEM_AREA)
# radius of gyration of the T about its centre of mass (uniform density)
_I_BAR = _BAR_AREA * ((2 * BAR_HALF_LEN) ** 2 + BAR_W ** 2) / 12 + _BAR_AREA * BAR_CENTER[1] ** 2
_I_STEM = _STEM_AREA * ((2 * STEM_HALF_W) ** 2 + STEM_LEN ** 2) / 12 \
    + _STEM_AREA * STEM_CENTER[1] ** 2
GYRATION_RADIUS_M = float(np.sqrt((_I_BAR + _I_STEM) / (_BAR_AREA + _STEM_AREA)))
# keypoints used for the success measure: the four bar corners and the stem's end corners
KEYPOINTS = np.array([[-BAR_HALF_LEN, BAR_W], [BAR_HALF_LEN, BAR_W],
                      [-BAR_HALF_LEN, 0.0], [BAR_HALF_LEN, 0.0],
                      [-STEM_HALF_W, -STEM_LEN], [STEM_HALF_W, -STEM_LEN]]) - [0.0, COM_Y]
BOUNDING_RADIUS_M = float(np.linalg.norm(KEYPOINTS, axis=1).max())


def t_edges() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The T's outline as (start, end, outward normal) in the block frame (COM origin)."""
    x1, w, s, ls = BAR_HALF_LEN, BAR_W, STEM_HALF_W, STEM_LEN
    raw = [((-x1, w), (x1, w), (0, 1)), ((x1, 0), (x1, w), (1, 0)),
           ((s, 0), (x1, 0), (0, -1)), ((s, -ls), (s, 0), (1, 0)),
           ((-s, -ls), (s, -ls), (0, -1)), ((-s, -ls), (-s, 0), (-1, 0)),
           ((-x1, 0), (-s, 0), (0, -1)), ((-x1, 0), (-x1, w), (-1, 0))]
    off = np.array([0.0, COM_Y])
    return [(np.array(a) - off, np.array(b) - off, np.array(n, float)) for a, b, n in raw]


@dataclass
class PushTPhysics:
    """Nominal physical parameters (the centre of domain randomization)."""

    block_mass_kg: float = 0.2
    friction: float = 0.3            # block-table Coulomb coefficient
    contact_friction: float = 0.3    # pusher-block
    pusher_mass_kg: float = 0.2
    kp: float = 100.0                # N/m, pusher position gain
    kv: float = 9.0                  # N s/m, pusher damping gain
    max_force_n: float = 20.0
    block_damping: float = 0.05      # viscous, N s/m: settles residual sliding


def push_t_mjcf(p: PushTPhysics, dt: float) -> str:
    """MJCF text of the scene with nominal parameters `p`."""
    fx, fr = slide_friction(p.friction, p.block_mass_kg), hinge_friction(p.friction,
                                                                       p.block_mass_kg)
    bar_m, stem_m = p.block_mass_kg * BAR_MASS_SHARE, p.block_mass_kg * (1 - BAR_MASS_SHARE)
    h = 0.01
    w = WORKSPACE_M
    return f"""<mujoco model="push_t">
  <option timestep="{dt}" gravity="0 0 0" integrator="implicitfast"/>
  <default><geom condim="3" friction="{p.contact_friction} 0.005 0.0001"/></default>
  <worldbody>
    <body name="pusher" pos="0 0 {h}">
      <joint name="pusher_x" type="slide" axis="1 0 0" range="{-w - 0.05} {w + 0.05}"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" range="{-w - 0.05} {w + 0.05}"/>
      <geom name="pusher" type="cylinder" size="{PUSHER_RADIUS_M} {h}" mass="{p.pusher_mass_kg}"/>
    </body>
    <body name="block" pos="0 0 {h}">
      <joint name="block_x" type="slide" axis="1 0 0" frictionloss="{fx:.6g}"
             damping="{p.block_damping}"/>
      <joint name="block_y" type="slide" axis="0 1 0" frictionloss="{fx:.6g}"
             damping="{p.block_damping}"/>
      <joint name="block_yaw" type="hinge" axis="0 0 1" frictionloss="{fr:.6g}"
             damping="{p.block_damping * GYRATION_RADIUS_M ** 2:.6g}"/>
      <geom name="bar" type="box" size="{BAR_HALF_LEN} {BAR_W / 2} {h}"
            pos="{BAR_CENTER[0]} {BAR_CENTER[1]:.6g} 0" mass="{bar_m:.6g}"/>
      <geom name="stem" type="box" size="{STEM_HALF_W} {STEM_LEN / 2} {h}"
            pos="{STEM_CENTER[0]} {STEM_CENTER[1]:.6g} 0" mass="{stem_m:.6g}"/>
    </body>
  </worldbody>
  <actuator>
    <position name="drive_x" joint="pusher_x" kp="{p.kp}" kv="{p.kv}"
              ctrlrange="{-w} {w}" forcerange="{-p.max_force_n} {p.max_force_n}"/>
    <position name="drive_y" joint="pusher_y" kp="{p.kp}" kv="{p.kv}"
              ctrlrange="{-w} {w}" forcerange="{-p.max_force_n} {p.max_force_n}"/>
  </actuator>
</mujoco>
"""


def slide_friction(mu, mass):
    """Coulomb friction force (N) of the block's slide joints."""
    return mu * mass * GRAVITY


def hinge_friction(mu, mass):
    """Coulomb friction torque (N m) of the block's hinge: the slide force times the
    radius of gyration (a uniform-pressure approximation)."""
    return mu * mass * GRAVITY * GYRATION_RADIUS_M
