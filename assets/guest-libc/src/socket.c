/* doomlink guest libc: socket calls over the kernel's `doomlink_net` imports (kernel/ABI.md).
 * The kernel speaks (u32 ip, u32 port) in host order; this file owns the translation to and from
 * struct sockaddr_in and the -errno → errno convention. Close, fcntl(O_NONBLOCK) and poll need
 * nothing here: sockets live in the kernel's one fd table, so wasi-libc's own versions work.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("doomlink_net"), import_name(#name)))

IMPORT(sock_open) int32_t dl_sock_open(int32_t domain, int32_t type, int32_t protocol);
IMPORT(sock_bind) int32_t dl_sock_bind(int32_t fd, uint32_t ip, uint32_t port);
IMPORT(sock_connect) int32_t dl_sock_connect(int32_t fd, uint32_t ip, uint32_t port);
IMPORT(sock_sendto) int32_t dl_sock_sendto(int32_t fd, const void *buf, uint32_t len, int32_t flags,
                                           uint32_t ip, uint32_t port, int32_t has_addr);
IMPORT(sock_recvfrom) int32_t dl_sock_recvfrom(int32_t fd, void *buf, uint32_t len, int32_t flags, uint32_t *addr_out);
IMPORT(sock_getsockname) int32_t dl_sock_getsockname(int32_t fd, uint32_t *addr_out);
IMPORT(sock_getpeername) int32_t dl_sock_getpeername(int32_t fd, uint32_t *addr_out);
IMPORT(sock_setsockopt) int32_t dl_sock_setsockopt(int32_t fd, int32_t level, int32_t name, int32_t value);
IMPORT(sock_getsockopt) int32_t dl_sock_getsockopt(int32_t fd, int32_t level, int32_t name, int32_t *value_out);

static int ret(int32_t r) {
    if (r < 0) { errno = -r; return -1; }
    return r;
}

/* Reads an AF_INET address; EAFNOSUPPORT / EINVAL for anything else. */
static int read_addr(const struct sockaddr *addr, socklen_t len, uint32_t *ip, uint32_t *port) {
    if (addr == NULL || len < sizeof(struct sockaddr_in)) { errno = EINVAL; return -1; }
    const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
    if (in->sin_family != AF_INET) { errno = EAFNOSUPPORT; return -1; }
    *ip = ntohl(in->sin_addr.s_addr);
    *port = ntohs(in->sin_port);
    return 0;
}

static void write_addr(const uint32_t ipport[2], struct sockaddr *addr, socklen_t *len) {
    if (addr == NULL || len == NULL) return;
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons((uint16_t)ipport[1]);
    in.sin_addr.s_addr = htonl(ipport[0]);
    socklen_t n = *len < sizeof in ? *len : sizeof in;
    memcpy(addr, &in, n);
    *len = sizeof in;
}

int socket(int domain, int type, int protocol) { return ret(dl_sock_open(domain, type, protocol)); }

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    uint32_t ip, port;
    if (read_addr(addr, len, &ip, &port) < 0) return -1;
    return ret(dl_sock_bind(fd, ip, port));
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    uint32_t ip, port;
    if (read_addr(addr, len, &ip, &port) < 0) return -1;
    return ret(dl_sock_connect(fd, ip, port));
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen) {
    uint32_t ip = 0, port = 0;
    if (addr != NULL && read_addr(addr, alen, &ip, &port) < 0) return -1;
    return ret(dl_sock_sendto(fd, buf, (uint32_t)len, flags, ip, port, addr != NULL));
}

ssize_t send(int fd, const void *buf, size_t len, int flags) { return sendto(fd, buf, len, flags, NULL, 0); }

ssize_t recvfrom(int fd, void *__restrict buf, size_t len, int flags, struct sockaddr *__restrict addr,
                 socklen_t *__restrict alen) {
    uint32_t from[2] = {0, 0};
    int32_t r = dl_sock_recvfrom(fd, buf, (uint32_t)len, flags, from);
    if (r < 0) return ret(r);
    write_addr(from, addr, alen);
    return r;
}

ssize_t recv(int fd, void *buf, size_t len, int flags) { return recvfrom(fd, buf, len, flags, NULL, NULL); }

int getsockname(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len) {
    uint32_t local[2];
    int32_t r = dl_sock_getsockname(fd, local);
    if (r < 0) return ret(r);
    write_addr(local, addr, len);
    return 0;
}

int getpeername(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len) {
    uint32_t peer[2];
    int32_t r = dl_sock_getpeername(fd, peer);
    if (r < 0) return ret(r);
    write_addr(peer, addr, len);
    return 0;
}

static int32_t linux_level(int level) { return level == SOL_SOCKET ? SOL_SOCKET_LINUX : level; }

int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
    if (value == NULL || len < sizeof(int32_t)) { errno = EINVAL; return -1; }
    int32_t v;
    memcpy(&v, value, sizeof v);
    return ret(dl_sock_setsockopt(fd, linux_level(level), name, v));
}

int getsockopt(int fd, int level, int name, void *__restrict value, socklen_t *__restrict len) {
    if (value == NULL || len == NULL || *len < sizeof(int32_t)) { errno = EINVAL; return -1; }
    int32_t v = 0;
    int32_t r = dl_sock_getsockopt(fd, linux_level(level), name, &v);
    if (r < 0) return ret(r);
    memcpy(value, &v, sizeof v);
    *len = sizeof v;
    return 0;
}

in_addr_t inet_addr(const char *text) {
    struct in_addr a;
    return inet_aton(text, &a) ? a.s_addr : (in_addr_t)-1;
}

char *inet_ntoa(struct in_addr addr) {
    static char text[16];
    uint32_t ip = ntohl(addr.s_addr);
    snprintf(text, sizeof text, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    return text;
}
