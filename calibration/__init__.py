"""Calibration and system identification.

Empty until issue 9 lands; present so the distribution's layout is fixed.
"""
