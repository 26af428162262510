/* POSIX port: the firmware as a host process on a pseudo-terminal (software in the loop).
 *
 *   fw_host [--mode onboard|companion] [--setpoint x,y,z] [--rate HZ]
 *           [--command-timeout-ms N] [--disarm-timeout-ms N] [--udp PORT [--key-hex K]]
 *
 * Prints "pty /dev/pts/N" (or "udp 127.0.0.1:PORT") and serves the protocol there until
 * SIGTERM or its parent exits. Over UDP with a key, every frame must be signed (HMAC). */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

static volatile sig_atomic_t stop_requested = 0;
static int link_fd = -1;
static int udp_mode = 0;
static struct sockaddr_in peer;
static int have_peer = 0;

/* Monotonic time on the pty; Unix time on UDP, whose signed frames are checked for skew. */
static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(udp_mode ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void rr_port_write(const uint8_t *data, size_t n)
{
    if (udp_mode) {
        if (have_peer) sendto(link_fd, data, n, 0, (struct sockaddr *)&peer, sizeof peer);
        return;
    }
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
    int slave, udp_port = -1;
    uint8_t key[32];

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
        else if (!strcmp(argv[i], "--udp") && i + 1 < argc) udp_port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--key-hex") && i + 1 < argc) {
            const char *hex = argv[++i];
            for (int k = 0; k < 32; ++k) {
                unsigned v;
                if (strlen(hex) != 64 || sscanf(hex + 2 * k, "%2x", &v) != 1) {
                    fprintf(stderr, "--key-hex needs 64 hex digits\n");
                    return 2;
                }
                key[k] = (uint8_t)v;
            }
            opt.key = key;
        }
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (udp_port >= 0) {
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        udp_mode = 1;
        opt.datagram = 1;
        link_fd = socket(AF_INET, SOCK_DGRAM, 0);
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)udp_port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (link_fd < 0 || bind(link_fd, (struct sockaddr *)&addr, sizeof addr) ||
            getsockname(link_fd, (struct sockaddr *)&addr, &len)) { perror("udp"); return 1; }
        fcntl(link_fd, F_SETFL, fcntl(link_fd, F_GETFL) | O_NONBLOCK);
        printf("udp 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
        fflush(stdout);
        rr_app_init(&opt);
        while (!stop_requested && getppid() == parent) {
            struct pollfd pfd = {link_fd, POLLIN, 0};
            uint8_t buf[RR_MAX_FRAME + 64];
            struct sockaddr_in from;
            socklen_t flen = sizeof from;
            ssize_t n;
            poll(&pfd, 1, 1);
            while ((n = recvfrom(link_fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen)) > 0) {
                struct sockaddr_in previous = peer;
                int had_peer = have_peer;
                peer = from;          /* replies go to the sender of the last accepted frame */
                have_peer = 1;
                if (!rr_app_on_datagram(buf, (size_t)n, now_us())) {
                    peer = previous;  /* a rejected (e.g. forged) frame cannot redirect us */
                    have_peer = had_peer;
                }
                flen = sizeof from;
            }
            rr_app_tick(now_us());
        }
        return 0;
    }
    link_fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (link_fd < 0 || grantpt(link_fd) || unlockpt(link_fd)) { perror("pty"); return 1; }
    slave = open(ptsname(link_fd), O_RDWR | O_NOCTTY);   /* kept open: reads never EIO early */
    if (slave >= 0 && tcgetattr(slave, &tio) == 0) { cfmakeraw(&tio); tcsetattr(slave, TCSANOW, &tio); }
    fcntl(link_fd, F_SETFL, fcntl(link_fd, F_GETFL) | O_NONBLOCK);
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
