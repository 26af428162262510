"""Hardware abstraction layer (protocol, transports, control loop, logging).

Empty until issue 4 lands; present so the distribution's layout is fixed.
"""
