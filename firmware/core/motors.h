/* Motor outputs: limits, and X-configuration mixing in the motor order of
 * docs/conventions.md (front-right, back-right, back-left, front-left). */
#ifndef RR_MOTORS_H
#define RR_MOTORS_H

/* Clamp n normalized motor commands to [lo, hi]; NaN becomes lo (motor off). */
void rr_motor_limits(const float *in, float *out, int n, float lo, float hi);

/* A rotor's thrust curve in the simulator's form, with w = RPM / max RPM in [0, 1]:
 * thrust / max thrust = (w^2 + lin w + constant) / (1 + lin + constant).
 * {0, 0} is a plain quadratic; the Crazyflie 2.1 preset is {0.155839, 0.038222}
 * (docs/presets.md). */
typedef struct {
    float lin;
    float constant;
} rr_thrust_curve;

/* Rotor speed (fraction of max, 0..1) that gives thrust ratio t (0..1) on `curve`:
 * the positive root of the curve; 0 below the curve's thrust at zero speed. */
float rr_speed_for_thrust(const rr_thrust_curve *curve, float t);

/* Collective thrust (fraction of total maximum, 0..1) and roll/pitch/yaw torque demands
 * (fractions of a rotor's maximum thrust, FLU) -> motor commands in [-1, 1]
 * (-1 = 0 RPM, +1 = max RPM) through the rotors' thrust `curve`. */
void rr_mix_x(float collective, float roll, float pitch, float yaw,
              const rr_thrust_curve *curve, float out[4]);

#endif
