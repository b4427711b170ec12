/* doomlink guest libc: the address helpers wasi-libc leaves out (inet_addr, inet_ntoa).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef DOOMLINK_ARPA_INET_H
#define DOOMLINK_ARPA_INET_H
#include_next <arpa/inet.h>
#ifdef __cplusplus
extern "C" {
#endif
in_addr_t inet_addr(const char *text);
char *inet_ntoa(struct in_addr addr);
#ifdef __cplusplus
}
#endif
#endif
