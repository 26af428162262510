/* POSIX port: the firmware as a host process on a pseudo-terminal (software in the loop).
 *
 *   fw_host [--mode onboard|companion] [--setpoint x,y,z] [--rate HZ]
 *           [--command-timeout-ms N] [--disarm-timeout-ms N]
 *
 * Prints "pty /dev/pts/N" and serves the protocol there until SIGTERM or its parent exits. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

static volatile sig_atomic_t stop_requested = 0;
static int link_fd = -1;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void rr_port_write(const uint8_t *data, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(link_fd, data + off, n - off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return;   /* host gone: drop, as a UART would */
        }
        off += (size_t)w;
    }
}

static void on_signal(int sig) { (void)sig; stop_requested = 1; }

int main(int argc, char **argv)
{
    rr_app_options opt;
    pid_t parent = getppid();
    struct termios tio;
    int slave;

    rr_app_default_options(&opt);
    opt.robot_id = "fw-posix";
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc) opt.onboard = !strcmp(argv[++i], "onboard");
        else if (!strcmp(argv[i], "--setpoint") && i + 1 < argc)
            sscanf(argv[++i], "%f,%f,%f", &opt.setpoint[0], &opt.setpoint[1], &opt.setpoint[2]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc) opt.rate_hz = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--command-timeout-ms") && i + 1 < argc)
            opt.command_timeout_us = 1000u * (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--disarm-timeout-ms") && i + 1 < argc)
            opt.disarm_timeout_us = 1000u * (uint32_t)atoi(argv[++i]);
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    link_fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (link_fd < 0 || grantpt(link_fd) || unlockpt(link_fd)) { perror("pty"); return 1; }
    slave = open(ptsname(link_fd), O_RDWR | O_NOCTTY);   /* kept open: reads never EIO early */
    if (slave >= 0 && tcgetattr(slave, &tio) == 0) { cfmakeraw(&tio); tcsetattr(slave, TCSANOW, &tio); }
    fcntl(link_fd, F_SETFL, fcntl(link_fd, F_GETFL) | O_NONBLOCK);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("pty %s\n", ptsname(link_fd));
    fflush(stdout);

    rr_app_init(&opt);
    while (!stop_requested && getppid() == parent) {
        struct pollfd pfd = {link_fd, POLLIN, 0};
        uint8_t buf[512];
        ssize_t n;
        poll(&pfd, 1, 1);
        while ((n = read(link_fd, buf, sizeof buf)) > 0) rr_app_on_bytes(buf, (size_t)n, now_us());
        rr_app_tick(now_us());
    }
    return 0;
}
