"""Torch-native batched quadrotor: presets, rigid-body and rotor dynamics."""

from sim.quadrotor.dynamics import QuadrotorSim, QuadrotorState
from sim.quadrotor.params import PRESETS, QuadrotorParams, get_preset

__all__ = ["PRESETS", "QuadrotorParams", "QuadrotorSim", "QuadrotorState", "get_preset"]
