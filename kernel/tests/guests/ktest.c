/* ktest: one guest program with a mode per kernel behaviour under test (kernel/tests/guests.rs
 * and the udp_rtt benchmark run it). Each mode prints what it saw and exits 0 when the behaviour
 * is right, non-zero otherwise. SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct sockaddr_in addr(const char *ip, int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_aton(ip, &a.sin_addr);
    return a;
}

static int udp_bound(int port) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = addr("0.0.0.0", port);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        printf("socket/bind(%d) failed: %s\n", port, strerror(errno));
        exit(2);
    }
    return s;
}

#define CHECK(cond, ...) do { if (!(cond)) { printf("FAIL: " __VA_ARGS__); printf("\n"); return 1; } } while (0)

/* bind + sendto a non-loopback address: the default host answers ENETUNREACH. */
static int mode_unreach(void) {
    int s = udp_bound(0);
    struct sockaddr_in dst = addr("10.0.0.1", 1234);
    ssize_t r = sendto(s, "x", 1, 0, (struct sockaddr *)&dst, sizeof dst);
    CHECK(r == -1 && errno == ENETUNREACH, "sendto returned %zd errno %d", r, errno);
    printf("sendto: ENETUNREACH\n");
    return 0;
}

/* echo server: answers COUNT datagrams on PORT. */
static int mode_echo(int port, int count) {
    int s = udp_bound(port);
    char buf[2048];
    for (int i = 0; i < count; i++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        CHECK(n >= 0, "recvfrom: %s", strerror(errno));
        CHECK(sendto(s, buf, n, 0, (struct sockaddr *)&from, flen) == n, "sendto back: %s", strerror(errno));
    }
    printf("echoed %d\n", count);
    return 0;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ping client: COUNT round trips of SIZE bytes to IP:PORT; prints p50/p99 in ns. */
static int mode_ping(const char *ip, int port, int count, int size) {
    int s = udp_bound(0);
    struct sockaddr_in dst = addr(ip, port);
    char buf[2048], in[2048];
    memset(buf, 'p', sizeof buf);
    int64_t *rtt = malloc(sizeof(int64_t) * count);
    /* The echo server may not be bound yet: retry the first exchange. */
    for (int tries = 0;; tries++) {
        if (sendto(s, buf, size, 0, (struct sockaddr *)&dst, sizeof dst) == size) break;
        CHECK(tries < 2000, "server never appeared: %s", strerror(errno));
        usleep(1000);
    }
    CHECK(recvfrom(s, in, sizeof in, 0, NULL, NULL) == size, "first echo");
    for (int i = 1; i < count; i++) {
        int64_t t0 = now_ns();
        CHECK(sendto(s, buf, size, 0, (struct sockaddr *)&dst, sizeof dst) == size, "sendto: %s", strerror(errno));
        CHECK(recvfrom(s, in, sizeof in, 0, NULL, NULL) == size, "recvfrom: %s", strerror(errno));
        rtt[i] = now_ns() - t0;
    }
    qsort(rtt + 1, count - 1, sizeof(int64_t), cmp64);
    printf("rtt_ns p50=%lld p99=%lld n=%d\n", (long long)rtt[1 + (count - 1) / 2],
           (long long)rtt[1 + (count - 1) * 99 / 100], count - 1);
    return 0;
}

/* Blocks in recvfrom on PORT until the host injects; prints what came and from where. */
static int mode_recv_block(int port) {
    int s = udp_bound(port);
    printf("ready\n");
    fflush(stdout);
    char buf[256];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &flen);
    CHECK(n >= 0, "recvfrom: %s", strerror(errno));
    buf[n] = 0;
    printf("got '%s' from %s:%d\n", buf, inet_ntoa(from.sin_addr), ntohs(from.sin_port));
    return 0;
}

/* poll: a timeout with nothing ready, then readiness after a loopback send, then O_NONBLOCK. */
static int mode_poll(void) {
    int s = udp_bound(6100);
    struct pollfd p = {s, POLLIN, 0};
    int64_t t0 = now_ns();
    int r = poll(&p, 1, 50);
    int64_t waited = (now_ns() - t0) / 1000000;
    CHECK(r == 0 && waited >= 45, "poll timeout returned %d after %lld ms", r, (long long)waited);
    printf("poll timeout after %lld ms\n", (long long)waited);
    int c = udp_bound(0);
    struct sockaddr_in dst = addr("127.0.0.1", 6100);
    sendto(c, "hi", 2, 0, (struct sockaddr *)&dst, sizeof dst);
    r = poll(&p, 1, 1000);
    CHECK(r == 1 && (p.revents & POLLIN), "poll after send returned %d revents %d", r, p.revents);
    char buf[8];
    CHECK(recvfrom(s, buf, sizeof buf, 0, NULL, NULL) == 2, "recv after poll");
    CHECK(fcntl(s, F_SETFL, O_NONBLOCK) == 0, "fcntl: %s", strerror(errno));
    CHECK(recvfrom(s, buf, sizeof buf, 0, NULL, NULL) == -1 && errno == EAGAIN, "nonblocking recv: errno %d", errno);
    t0 = now_ns();
    usleep(20000);
    waited = (now_ns() - t0) / 1000000;
    CHECK(waited >= 19, "usleep(20ms) took %lld ms", (long long)waited);
    printf("poll ok, nonblocking ok, usleep ok\n");
    return 0;
}

/* Files in the sandbox: /data is read-write, /ro is a read-only mount, nothing escapes. */
/* cat PATH: its size (fstat), then its bytes, read in small pieces to stdout. */
static int mode_cat(const char *path) {
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    CHECK(fstat(fd, &st) == 0, "fstat: %s", strerror(errno));
    printf("%lld bytes: ", (long long)st.st_size);
    char buf[7];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
    CHECK(n == 0, "read: %s", strerror(errno));
    CHECK(lseek(fd, -4, SEEK_END) == st.st_size - 4, "lseek: %s", strerror(errno));
    CHECK(read(fd, buf, 4) == 4, "read the tail: %s", strerror(errno));
    printf(" (ends '%.4s')\n", buf);
    CHECK(write(fd, "x", 1) == -1 && errno == EBADF, "write to a read-only file: errno %d", errno);
    CHECK(open(path, O_WRONLY) == -1, "opened %s for writing", path);
    close(fd);
    return 0;
}

static int mode_files(void) {
    FILE *f = fopen("/data/save0.dsg", "wb");
    CHECK(f != NULL, "create: %s", strerror(errno));
    CHECK(fwrite("savegame", 1, 8, f) == 8, "write");
    fclose(f);
    CHECK(rename("/data/save0.dsg", "/data/save1.dsg") == 0, "rename: %s", strerror(errno));
    f = fopen("/data/save1.dsg", "rb");
    char buf[16] = {0};
    CHECK(f && fread(buf, 1, 16, f) == 8 && memcmp(buf, "savegame", 8) == 0, "read back");
    fclose(f);
    CHECK(mkdir("/data/sub", 0755) == 0, "mkdir: %s", strerror(errno));
    struct stat st;
    CHECK(stat("/data/save1.dsg", &st) == 0 && st.st_size == 8, "stat size");
    DIR *d = opendir("/data");
    int seen = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) if (!strcmp(e->d_name, "save1.dsg") || !strcmp(e->d_name, "sub")) seen++;
    if (d) closedir(d);
    CHECK(seen == 2, "readdir saw %d of 2", seen);
    f = fopen("/ro/hello.txt", "rb");
    CHECK(f && fread(buf, 1, 5, f) == 5 && memcmp(buf, "hello", 5) == 0, "read-only mount read");
    fclose(f);
    CHECK(fopen("/ro/hello.txt", "wb") == NULL && errno == EROFS, "write to ro: errno %d", errno);
    CHECK(open("/data/../../etc/passwd", O_RDONLY) < 0, "dotdot escape opened");
    printf("dotdot: %s\n", strerror(errno));
    CHECK(open("/etc/passwd", O_RDONLY) < 0 && errno == ENOENT, "unmounted path: errno %d", errno);
    CHECK(open("/data/escape/passwd", O_RDONLY) < 0, "symlink escape opened");
    printf("symlink: %s\n", strerror(errno));
    CHECK(symlink("/etc", "/data/mine") < 0, "guest made a symlink");
    CHECK(unlink("/data/save1.dsg") == 0 && rmdir("/data/sub") == 0, "unlink/rmdir: %s", strerror(errno));
    printf("files ok\n");
    return 0;
}

/* Writes 64 KiB blocks to PATH until a write fails: what the VFS's cap says. */
static int mode_fill(const char *path) {
    static char block[65536];
    memset(block, 'x', sizeof block);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    long long total = 0;
    ssize_t n;
    while ((n = write(fd, block, sizeof block)) > 0) total += n;
    printf("wrote %lld bytes, then %s\n", total, n < 0 && errno == ENOSPC ? "ENOSPC" : strerror(errno));
    close(fd);
    return 0;
}

/* Pointers outside guest memory: EFAULT, and the process goes on. */
static int mode_efault(void) {
    int s = udp_bound(0);
    struct sockaddr_in dst = addr("127.0.0.1", 9);
    void *bad = (void *)(uintptr_t)0xFFFFFF00u;
    CHECK(sendto(s, bad, 1024, 0, (struct sockaddr *)&dst, sizeof dst) == -1 && errno == EFAULT, "sendto bad buf: errno %d", errno);
    CHECK(recvfrom(s, bad, 1024, MSG_DONTWAIT, NULL, NULL) == -1 && errno == EFAULT, "recvfrom bad buf: errno %d", errno);
    CHECK(write(1, bad, 1024) == -1 && errno == EFAULT, "write bad buf: errno %d", errno);
    printf("efault ok\n");
    return 0;
}

/* The guest→host call cost: N fcntl(F_GETFL) calls (fd_fdstat_get, no locks, no I/O). */
static int mode_callcost(int n) {
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++) fcntl(1, F_GETFL);
    int64_t t = now_ns() - t0;
    volatile int sink = 0;
    int64_t t1 = now_ns();
    for (int i = 0; i < n; i++) sink += i;
    int64_t base = now_ns() - t1;
    printf("call_ns=%.1f loop_ns=%.1f\n", (double)t / n, (double)base / n);
    return 0;
}

static int mode_memhog(void) {
    size_t mib = 0;
    char *volatile block;
    while ((block = malloc(1 << 20)) != NULL) { block[0] = 1; mib++; }
    printf("malloc failed after %zu MiB\n", mib);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { printf("usage: ktest MODE ...\n"); return 64; }
    const char *m = argv[1];
    if (!strcmp(m, "unreach")) return mode_unreach();
    if (!strcmp(m, "echo") && argc == 4) return mode_echo(atoi(argv[2]), atoi(argv[3]));
    if (!strcmp(m, "ping") && argc == 6) return mode_ping(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (!strcmp(m, "recv-block") && argc == 3) return mode_recv_block(atoi(argv[2]));
    if (!strcmp(m, "poll")) return mode_poll();
    if (!strcmp(m, "files")) return mode_files();
    if (!strcmp(m, "cat") && argc == 3) return mode_cat(argv[2]);
    if (!strcmp(m, "fill") && argc == 3) return mode_fill(argv[2]);
    if (!strcmp(m, "efault")) return mode_efault();
    if (!strcmp(m, "callcost") && argc == 3) return mode_callcost(atoi(argv[2]));
    if (!strcmp(m, "memhog")) return mode_memhog();
    if (!strcmp(m, "trap")) { printf("about to trap\n"); __builtin_trap(); }
    if (!strcmp(m, "spin")) { printf("spinning\n"); volatile unsigned x = 0; for (;;) x++; }
    if (!strcmp(m, "exit")) return atoi(argv[2]);
    printf("unknown mode %s\n", m);
    return 64;
}
