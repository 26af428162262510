/* Test and benchmark driver for a generated policy (robot_rl policies.c_export).
 *
 *   harness run IN.bin OUT.bin SEQ_LEN   float32 observations in, actions out;
 *                                        policy_reset() every SEQ_LEN rows
 *   harness bench N                      N single-observation calls, prints
 *                                        {"p50_ns":..,"p99_ns":..,"mean_ns":..}
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "policy.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(const char *in_path, const char *out_path, long seq_len)
{
    FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
    float obs[POLICY_OBS_DIM], action[POLICY_ACTION_DIM];
    long row = 0;
    if (!in || !out) { fprintf(stderr, "cannot open files\n"); return 2; }
    while (fread(obs, sizeof(float), POLICY_OBS_DIM, in) == POLICY_OBS_DIM) {
        if (seq_len > 0 && row % seq_len == 0) policy_reset();
        if (policy_step(obs, action) != 0)
            for (int i = 0; i < POLICY_ACTION_DIM; ++i) action[i] = 0.0f / 0.0f;
        fwrite(action, sizeof(float), POLICY_ACTION_DIM, out);
        ++row;
    }
    fclose(in);
    fclose(out);
    return 0;
}

static int bench(long n)
{
    float obs[POLICY_OBS_DIM], action[POLICY_ACTION_DIM];
    double *ns = malloc(sizeof(double) * (size_t)n), sum = 0.0;
    volatile float sink = 0.0f;
    struct timespec t0, t1;
    if (!ns) return 2;
    for (int i = 0; i < POLICY_OBS_DIM; ++i) obs[i] = 0.01f * (float)i;
    policy_reset();
    for (long k = 0; k < n; ++k) {
        obs[k % POLICY_OBS_DIM] += 1e-3f;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        policy_step(obs, action);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        sink += action[0];
        ns[k] = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        sum += ns[k];
    }
    qsort(ns, (size_t)n, sizeof(double), cmp_double);
    printf("{\"calls\": %ld, \"p50_ns\": %.1f, \"p99_ns\": %.1f, \"mean_ns\": %.1f}\n", n,
           ns[n / 2], ns[(long)(0.99 * (double)(n - 1))], sum / (double)n);
    free(ns);
    return sink == 12345.0f;
}

int main(int argc, char **argv)
{
    if (argc == 5 && argv[1][0] == 'r') return run(argv[2], argv[3], atol(argv[4]));
    if (argc == 3 && argv[1][0] == 'b') return bench(atol(argv[2]));
    fprintf(stderr, "usage: %s run IN.bin OUT.bin SEQ_LEN | bench N\n", argv[0]);
    return 2;
}
