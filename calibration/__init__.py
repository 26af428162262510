"""Calibration and system identification: logs in, calibration-file sections out.

imu (multi-position static fit), actuators (thrust stand), sysid (quadrotor model
parameters from deploy logs), synthetic (logs with hidden ground truths), run (the
`robot-rl calibrate` entry). The file format is robot_rl/calfile.py.
"""
