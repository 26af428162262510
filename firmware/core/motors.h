/* Motor outputs: limits, and X-configuration mixing in the motor order of
 * docs/conventions.md (front-right, back-right, back-left, front-left). */
#ifndef RR_MOTORS_H
#define RR_MOTORS_H

/* Clamp n normalized motor commands to [lo, hi]; NaN becomes lo (motor off). */
void rr_motor_limits(const float *in, float *out, int n, float lo, float hi);

/* Collective thrust (fraction of total maximum, 0..1) and roll/pitch/yaw torque demands
 * (fractions of a rotor's maximum thrust, FLU) -> motor commands in [-1, 1]
 * (-1 = 0 RPM, +1 = max RPM; thrust grows with RPM squared). */
void rr_mix_x(float collective, float roll, float pitch, float yaw, float out[4]);

#endif
