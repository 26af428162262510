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

int main(void)
{
    rr_app_options opt;
    UART_BAUDDIV = 16;
    UART_CTRL = 0x3u;                 /* TX and RX enable */
    SYST_RVR = TICKS_PER_MS - 1u;
    SYST_CVR = 0;
    SYST_CSR = 0x7u;                  /* processor clock, interrupt, enable */
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
