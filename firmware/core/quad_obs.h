/* Quadrotor observation from the state vector, in the I/O spec's layout
 * (pos_err[3], rot_matrix[9] row-major body-to-world, vel_err[3], ang_vel[3], prev_action[4]);
 * the same as hardware/observations.py and the simulator. */
#ifndef RR_QUAD_OBS_H
#define RR_QUAD_OBS_H

#define RR_QUAD_STATE_DIM 13   /* pos[3], quat[4] (w, x, y, z), vel[3], ang_vel[3] */
#define RR_QUAD_OBS_DIM 22

void rr_quad_observation(const float state[RR_QUAD_STATE_DIM], const float setpoint[3],
                         const float prev_action[4], float obs[RR_QUAD_OBS_DIM]);

#endif
