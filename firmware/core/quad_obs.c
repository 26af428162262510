#include "quad_obs.h"

void rr_quad_observation(const float s[RR_QUAD_STATE_DIM], const float setpoint[3],
                         const float prev_action[4], float o[RR_QUAD_OBS_DIM])
{
    float w = s[3], x = s[4], y = s[5], z = s[6];
    float n2 = w * w + x * x + y * y + z * z;
    float k = n2 > 0.0f ? 2.0f / n2 : 0.0f;   /* normalizes like the host's rotation */
    for (int i = 0; i < 3; ++i) o[i] = s[i] - setpoint[i];
    o[3] = 1.0f - k * (y * y + z * z); o[4] = k * (x * y - w * z);       o[5] = k * (x * z + w * y);
    o[6] = k * (x * y + w * z);       o[7] = 1.0f - k * (x * x + z * z); o[8] = k * (y * z - w * x);
    o[9] = k * (x * z - w * y);       o[10] = k * (y * z + w * x);       o[11] = 1.0f - k * (x * x + y * y);
    for (int i = 0; i < 3; ++i) o[12 + i] = s[7 + i];
    for (int i = 0; i < 3; ++i) o[15 + i] = s[10 + i];
    for (int i = 0; i < 4; ++i) o[18 + i] = prev_action[i];
}
