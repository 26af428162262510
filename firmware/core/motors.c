#include "motors.h"

#include <math.h>

/* Rotor positions (units of L / sqrt 2) and yaw reaction signs, as in the simulator. */
static const float ROTOR_X[4] = {1.0f, -1.0f, -1.0f, 1.0f};
static const float ROTOR_Y[4] = {-1.0f, -1.0f, 1.0f, 1.0f};
static const float ROTOR_YAW[4] = {-1.0f, 1.0f, -1.0f, 1.0f};

void rr_motor_limits(const float *in, float *out, int n, float lo, float hi)
{
    for (int i = 0; i < n; ++i) {
        float v = in[i];
        out[i] = (v != v) ? lo : (v < lo ? lo : (v > hi ? hi : v));
    }
}

float rr_speed_for_thrust(const rr_thrust_curve *curve, float t)
{
    /* w^2 + lin w + (constant - t (1 + lin + constant)) = 0 */
    float lin = curve->lin, c = curve->constant - t * (1.0f + curve->lin + curve->constant);
    float disc = lin * lin - 4.0f * c;
    float w = 0.5f * (sqrtf(disc > 0.0f ? disc : 0.0f) - lin);
    return w < 0.0f ? 0.0f : (w > 1.0f ? 1.0f : w);
}

void rr_mix_x(float collective, float roll, float pitch, float yaw,
              const rr_thrust_curve *curve, float out[4])
{
    for (int i = 0; i < 4; ++i) {
        /* roll torque = sum(y_i T_i), pitch torque = -sum(x_i T_i), yaw = sum(s_i T_i) */
        float t = collective + 0.25f * (ROTOR_Y[i] * roll - ROTOR_X[i] * pitch + ROTOR_YAW[i] * yaw);
        t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
        out[i] = 2.0f * rr_speed_for_thrust(curve, t) - 1.0f;
    }
}
