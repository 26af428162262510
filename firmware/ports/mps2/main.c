/* Cortex-M4 port (QEMU mps2-an386): CMSDK UART0 is the serial link, SysTick the time base.
 *
 *   qemu-system-arm -M mps2-an386 -nographic -kernel fw.elf -serial pty
 *
 * Runs the shared firmware application with the on-board policy. */
#include <stdint.h>

#include "app.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_TX_FULL 0x1u
#define UART_RX_FULL 0x2u

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYSCLK_HZ 25000000u           /* MPS2 FPGA system clock */
#define TICKS_PER_MS (SYSCLK_HZ / 1000u)

static volatile uint32_t ms_ticks;

void SysTick_Handler(void) { ++ms_ticks; }

/* Microseconds since boot, never decreasing: the counter may wrap before the SysTick
 * interrupt that bumps ms_ticks is taken, which would otherwise step time back 1 ms. */
static uint64_t now_us(void)
{
    static uint64_t last;
    uint32_t ms, cvr;
    uint64_t t;
    do {
        ms = ms_ticks;
        cvr = SYST_CVR;
    } while (ms != ms_ticks);
    t = (uint64_t)ms * 1000u + (uint64_t)((TICKS_PER_MS - 1u - cvr) / (TICKS_PER_MS / 1000u));
    if (t < last) t = last;
    last = t;
    return t;
}

void rr_port_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        while (UART_STATE & UART_TX_FULL) { }
        UART_DATA = data[i];
    }
}

#ifdef RR_BENCH_POLICY
#include <stdio.h>
#include "policy.h"
/* Bench build: time policy_step in SysTick ticks and print one text line, then serve.
 * Under `qemu-system-arm -icount shift=0` one instruction is 1 ns of virtual time, so
 * ticks * (1e9 / SYSCLK_HZ) is the instruction count. */
static void bench_policy(void)
{
    float obs[POLICY_OBS_DIM] = {0}, act[POLICY_ACTION_DIM];
    char line[96];
    uint64_t t0, t1;
    const int calls = 200;
    t0 = now_us();
    uint32_t c0 = SYST_CVR, m0 = ms_ticks;
    for (int k = 0; k < calls; ++k) { obs[k % POLICY_OBS_DIM] += 0.01f; policy_step(obs, act); }
    uint32_t c1 = SYST_CVR, m1 = ms_ticks;
    t1 = now_us();
    uint64_t ticks = (uint64_t)(m1 - m0) * TICKS_PER_MS + c0 - c1;
    int n = snprintf(line, sizeof line, "bench policy_step ticks_per_call=%lu us_per_call=%lu\n",
                     (unsigned long)(ticks / calls), (unsigned long)((t1 - t0) / calls));
    rr_port_write((const uint8_t *)line, (size_t)n);
}
#endif

int main(void)
{
    rr_app_options opt;
    UART_BAUDDIV = 16;
    UART_CTRL = 0x3u;                 /* TX and RX enable */
    SYST_RVR = TICKS_PER_MS - 1u;
    SYST_CVR = 0;
    SYST_CSR = 0x7u;                  /* processor clock, interrupt, enable */
#ifdef RR_BENCH_POLICY
    bench_policy();
#endif
    rr_app_default_options(&opt);
    opt.robot_id = "fw-cortex-m4";
    rr_app_init(&opt);
    for (;;) {
        uint8_t buf[64];
        size_t n = 0;
        while (n < sizeof buf && (UART_STATE & UART_RX_FULL)) buf[n++] = (uint8_t)UART_DATA;
        if (n) rr_app_on_bytes(buf, n, now_us());
        rr_app_tick(now_us());
    }
}
