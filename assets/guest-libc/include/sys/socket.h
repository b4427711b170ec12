/* doomlink guest libc: BSD UDP sockets for wasm32-wasi guests of the doomlink kernel.
 * wasi-libc (preview1) declares the socket structures but not the calls; this header adds the
 * calls and the option names, implemented in ../src/socket.c over the `doomlink_net` imports
 * (kernel/ABI.md). SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef DOOMLINK_SYS_SOCKET_H
#define DOOMLINK_SYS_SOCKET_H
#include_next <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PF_INET
#define PF_INET AF_INET
#endif
#ifndef SOL_SOCKET_LINUX
/* wasi-libc defines SOL_SOCKET as 0x7fffffff; the kernel accepts that and Linux's 1. */
#define SOL_SOCKET_LINUX 1
#endif
#ifndef SO_REUSEADDR
#define SO_REUSEADDR 2
#endif
#ifndef SO_ERROR
#define SO_ERROR 4
#endif
#ifndef SO_BROADCAST
#define SO_BROADCAST 6
#endif
#ifndef SO_SNDBUF
#define SO_SNDBUF 7
#endif
#ifndef SO_RCVBUF
#define SO_RCVBUF 8
#endif
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT 0x40
#endif

int socket(int domain, int type, int protocol);
int bind(int fd, const struct sockaddr *addr, socklen_t len);
int connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen);
ssize_t recvfrom(int fd, void *__restrict buf, size_t len, int flags, struct sockaddr *__restrict addr, socklen_t *__restrict alen);
int getsockname(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len);
int getpeername(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len);
int setsockopt(int fd, int level, int name, const void *value, socklen_t len);
int getsockopt(int fd, int level, int name, void *__restrict value, socklen_t *__restrict len);

#ifdef __cplusplus
}
#endif
#endif
