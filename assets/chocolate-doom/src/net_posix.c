// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// The address table and address formatting follow Chocolate Doom's src/net_sdl.c,
// Copyright (C) 2005-2014 Simon Howard (GPL-2.0-or-later).
//
// doomlink — the engine's UDP network module (net_module_t) on BSD sockets: the kernel's, via
// assets/guest-libc. It takes the place of net_sdl.c everywhere: the build compiles the
// engine with -Dnet_sdl_module=net_posix_module, so d_loop.c, net_dedicated.c and net_query.c
// use this module unchanged.
//
// Owns: the game's one UDP socket and the table of peer addresses. As in net_sdl.c, client and
// server share the socket: the first of InitServer (binds -port, default 2342) and InitClient
// (binds port 0, an ephemeral port, so that replies and host-injected datagrams have somewhere
// to arrive) opens it. The socket is non-blocking and may broadcast (-localsearch sends to
// 255.255.255.255). Addresses are numeric IPv4, "a.b.c.d" or "a.b.c.d:port"; there is no DNS
// in the guest. Sending never ends the game: UDP is lossy, the protocol resends, and an error
// is reported once per kind on stderr.

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "doomtype.h"
#include "i_system.h"
#include "i_timer.h"
#include "m_argv.h"
#include "m_misc.h"
#include "net_client.h"
#include "net_defs.h"
#include "net_io.h"
#include "net_packet.h"

// The engine names this module net_sdl_module; the build renames those uses to this.
extern net_module_t net_posix_module;

#define DEFAULT_PORT 2342

// The Internet master server's name, as net_query.c spells it.
#define MASTER_SERVER_NAME "master.chocolate-doom.org"

// The longest the dedicated server's loop waits for a datagram before it runs its timers. Its
// timers are coarse (resend requests after 300 ms, keepalives and waiting data every 1000 ms,
// a client timing out after 30 s), so 20 ms keeps them all within a few percent.
#define SERVER_IDLE_MAX_MS 20

// Largest datagram received, as net_sdl.c (SDLNet_AllocPacket(1500)); longer ones are
// truncated there and here alike.
#define MAX_DATAGRAM 1500

// How long after our server answered an address's SYN a repeated SYN from it is held back
// (see RecvPacket): a client tries to connect for 5 s, and the server resends its reply
// every second until it is acknowledged.
#define SYN_HOLD_MS 6000

typedef struct
{
    net_addr_t net_addr;
    uint32_t ip;    // host order
    uint16_t port;  // host order
    // Our server sent this address its (reliable) SYN reply, at syn_answered_ms.
    boolean syn_answered;
    int syn_answered_ms;
    // The address as text ("a.b.c.d" or "a.b.c.d:port"), made once: net_server.c formats
    // every received packet's address for a NET_Log line even when logging is off, and
    // formatting it each time was ~5% of a LAN room's CPU in the service.
    char text[24];
} addr_entry_t;

static boolean initted = false;
static int port = DEFAULT_PORT;
static int sock = -1;

static addr_entry_t **addr_table;
static int addr_table_size = 0;

// Errno values already reported by SendPacket/RecvPacket (one line per kind, not per packet).
static uint64_t reported_send_errors;
static uint64_t reported_recv_errors;

static void ReportOnce(uint64_t *reported, const char *what, int err)
{
    uint64_t bit = err >= 0 && err < 64 ? (uint64_t) 1 << err : (uint64_t) 1 << 63;

    if ((*reported & bit) == 0)
    {
        *reported |= bit;
        fprintf(stderr, "net_posix: %s: %s (further errors of this kind not shown)\n",
                what, strerror(err));
    }
}

// Fills entry->text from its address. As net_sdl.c: the port is shown unless it is the default,
// so that the text can be given back to -connect.
static void FormatAddress(addr_entry_t *entry)
{
    M_snprintf(entry->text, sizeof(entry->text), "%u.%u.%u.%u",
               (entry->ip >> 24) & 0xff, (entry->ip >> 16) & 0xff,
               (entry->ip >> 8) & 0xff, entry->ip & 0xff);

    if (entry->port != DEFAULT_PORT)
    {
        char portbuf[8];

        M_snprintf(portbuf, sizeof(portbuf), ":%u", entry->port);
        M_StringConcat(entry->text, portbuf, sizeof(entry->text));
    }
}

// Finds the table entry for an address, adding it if it is new. Entries live until the engine
// frees the address (net_io.c counts the references).
static net_addr_t *FindAddress(uint32_t ip, uint16_t addr_port)
{
    addr_entry_t *entry;
    int empty_slot = -1;
    int i;

    for (i = 0; i < addr_table_size; ++i)
    {
        if (addr_table[i] == NULL)
        {
            if (empty_slot < 0)
            {
                empty_slot = i;
            }
        }
        else if (addr_table[i]->ip == ip && addr_table[i]->port == addr_port)
        {
            return &addr_table[i]->net_addr;
        }
    }

    if (empty_slot < 0)
    {
        int new_size = addr_table_size == 0 ? 16 : addr_table_size * 2;

        addr_table = I_Realloc(addr_table, new_size * sizeof(*addr_table));
        memset(addr_table + addr_table_size, 0,
               (new_size - addr_table_size) * sizeof(*addr_table));
        empty_slot = addr_table_size;
        addr_table_size = new_size;
    }

    entry = malloc(sizeof(*entry));
    entry->ip = ip;
    entry->port = addr_port;
    entry->syn_answered = false;
    entry->syn_answered_ms = 0;
    FormatAddress(entry);
    entry->net_addr.refcount = 0;
    entry->net_addr.handle = entry;
    entry->net_addr.module = &net_posix_module;

    addr_table[empty_slot] = entry;

    return &entry->net_addr;
}

static void NET_POSIX_FreeAddress(net_addr_t *addr)
{
    int i;

    for (i = 0; i < addr_table_size; ++i)
    {
        if (addr_table[i] != NULL && addr == &addr_table[i]->net_addr)
        {
            free(addr_table[i]);
            addr_table[i] = NULL;
            return;
        }
    }

    I_Error("NET_POSIX_FreeAddress: Attempted to remove an unused address!");
}

static void ReadPortOption(void)
{
    int p;

    //!
    // @category net
    // @arg <n>
    //
    // Use the specified UDP port for communications, instead of
    // the default (2342).
    //

    p = M_CheckParmWithArgs("-port", 1);

    if (p > 0)
    {
        port = atoi(myargv[p + 1]);

        if (port <= 0 || port > 65535)
        {
            I_Error("-port %s: not a UDP port number", myargv[p + 1]);
        }
    }
}

// Opens the shared socket bound to `bind_port` (0: an ephemeral port).
static void OpenSocket(int bind_port, const char *who)
{
    struct sockaddr_in local;
    int enable = 1;

    sock = socket(AF_INET, SOCK_DGRAM, 0);

    if (sock < 0)
    {
        I_Error("%s: Unable to open a socket: %s", who, strerror(errno));
    }

    if (fcntl(sock, F_SETFL, O_NONBLOCK) < 0)
    {
        I_Error("%s: Unable to make the socket non-blocking: %s", who, strerror(errno));
    }

    // For -localsearch, which broadcasts its query.
    if (setsockopt(sock, SOL_SOCKET, SO_BROADCAST, &enable, sizeof(enable)) < 0)
    {
        fprintf(stderr, "%s: SO_BROADCAST refused (%s); LAN search will not work\n",
                who, strerror(errno));
    }

    memset(&local, 0, sizeof(local));
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_ANY);
    local.sin_port = htons((uint16_t) bind_port);

    if (bind(sock, (struct sockaddr *) &local, sizeof(local)) < 0)
    {
        I_Error("%s: Unable to bind to port %i: %s", who, bind_port, strerror(errno));
    }

    initted = true;
}

// `-doomlink-name NAME`: the player name the host's UI has. Applied when the network comes up
// (a client before it sends its SYN, which carries the name; a -server before its own local
// client connects), after the config is loaded, so it wins over chocolate-doom.cfg's
// player_name without rewriting the user's config.
static void ApplyPlayerName(void)
{
    int i = M_CheckParmWithArgs("-doomlink-name", 1);

    if (i > 0)
    {
        net_player_name = M_StringDuplicate(myargv[i + 1]);
    }
}

static boolean NET_POSIX_InitClient(void)
{
    ApplyPlayerName();

    if (initted)
    {
        return true;
    }

    ReadPortOption();
    OpenSocket(0, "NET_POSIX_InitClient");

    return true;
}

static boolean NET_POSIX_InitServer(void)
{
    ApplyPlayerName();

    if (initted)
    {
        return true;
    }

    ReadPortOption();
    OpenSocket(port, "NET_POSIX_InitServer");

    return true;
}

// Chocolate Doom's server takes a client in when it accepts its SYN. If the reply is lost,
// the client sends its SYN again, and the server refuses it: "Server is full!" when that
// client took the last place (its SYN is checked for a full server before it is recognised
// as a repeat), "not currently accepting connections" once the game launched. The client then
// gives up, and the server waits for it until it times out and the game is aborted. (Found in
// relay_play's lossy four-player game.) So the module remembers which addresses our server
// answered, and holds back their repeated SYNs for a while: the server's resent reply (a
// reliable packet, resent every second) completes the connection instead.
static void NoteServerAnswer(addr_entry_t *entry, const net_packet_t *packet)
{
    unsigned int type;

    if (packet->len < 2)
    {
        return;
    }

    type = ((unsigned int) packet->data[0] << 8) | packet->data[1];

    if (type == (NET_RELIABLE_PACKET | NET_PACKET_TYPE_SYN))
    {
        entry->syn_answered = true;
        entry->syn_answered_ms = I_GetTimeMS();
    }
    else if ((type & ~NET_RELIABLE_PACKET) == NET_PACKET_TYPE_DISCONNECT
          || (type & ~NET_RELIABLE_PACKET) == NET_PACKET_TYPE_DISCONNECT_ACK)
    {
        // Gone: the same address may connect again at once.
        entry->syn_answered = false;
    }
}

// Whether a datagram from `entry` is a repeated SYN to hold back (see NoteServerAnswer).
static boolean IsHeldSyn(const addr_entry_t *entry, const byte *data, ssize_t len)
{
    uint32_t magic;

    if (!entry->syn_answered || len < 6 || data[0] != 0 || data[1] != NET_PACKET_TYPE_SYN)
    {
        return false;
    }

    if (I_GetTimeMS() - entry->syn_answered_ms > SYN_HOLD_MS)
    {
        return false;
    }

    magic = ((uint32_t) data[2] << 24) | ((uint32_t) data[3] << 16)
          | ((uint32_t) data[4] << 8) | data[5];

    return magic == NET_MAGIC_NUMBER || magic == NET_OLD_MAGIC_NUMBER;
}

static void NET_POSIX_SendPacket(net_addr_t *addr, net_packet_t *packet)
{
    struct sockaddr_in to;
    const addr_entry_t *entry;

    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;

    if (addr == &net_broadcast_addr)
    {
        to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
        to.sin_port = htons((uint16_t) port);
    }
    else
    {
        addr_entry_t *e = addr->handle;

        NoteServerAnswer(e, packet);
        entry = e;
        to.sin_addr.s_addr = htonl(entry->ip);
        to.sin_port = htons(entry->port);
    }

    if (sendto(sock, packet->data, packet->len, 0, (struct sockaddr *) &to, sizeof(to)) < 0)
    {
        ReportOnce(&reported_send_errors, "sendto", errno);
    }
}

// The engine's loops read "while a packet is there" (NET_CL_Run, NET_SV_Run). Under a flood
// faster than the guest can parse, that loop would never end and the game would stall, so
// after this many packets in a row RecvPacket says "nothing now" once: the loop ends, the tic
// runs, and the next loop goes on reading. The kernel queues at most 256 per socket, so a
// loop still drains a full queue; the game's own traffic is a few packets a tic.
#define RECV_BUDGET 256

static boolean NET_POSIX_RecvPacket(net_addr_t **addr, net_packet_t **packet)
{
    static byte buffer[MAX_DATAGRAM];
    static int streak;
    struct sockaddr_in from;
    socklen_t from_len = sizeof(from);
    ssize_t len;

    if (streak >= RECV_BUDGET)
    {
        streak = 0;
        return false;
    }

    len = recvfrom(sock, buffer, sizeof(buffer), 0, (struct sockaddr *) &from, &from_len);

    if (len < 0)
    {
        streak = 0;

        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        {
            ReportOnce(&reported_recv_errors, "recvfrom", errno);
        }

        return false;
    }

    ++streak;
    *addr = FindAddress(ntohl(from.sin_addr.s_addr), ntohs(from.sin_port));

    if (IsHeldSyn((*addr)->handle, buffer, len))
    {
        // As if lost; the loop's next call reads on.
        return NET_POSIX_RecvPacket(addr, packet);
    }

    *packet = NET_NewPacket(len);
    memcpy((*packet)->data, buffer, len);
    (*packet)->len = len;

    return true;
}

static void NET_POSIX_AddrToString(net_addr_t *addr, char *buffer, int buffer_len)
{
    const addr_entry_t *entry = addr->handle;

    M_StringCopy(buffer, entry->text, buffer_len);
}

// Reads exactly "a.b.c.d" (four decimal parts of 0..255) into a host-order address. Stricter
// than inet_aton, which also takes shorthands like "127.1": a typo should be an error, not
// another address.
static boolean ParseIPv4(const char *text, uint32_t *ip)
{
    uint32_t result = 0;
    int part;

    for (part = 0; part < 4; ++part)
    {
        unsigned int value = 0;
        int digits = 0;

        while (*text >= '0' && *text <= '9' && digits < 3)
        {
            value = value * 10 + (unsigned int) (*text - '0');
            ++text;
            ++digits;
        }

        if (digits == 0 || value > 255)
        {
            return false;
        }

        result = (result << 8) | value;

        if (part < 3)
        {
            if (*text != '.')
            {
                return false;
            }

            ++text;
        }
    }

    if (*text != '\0')
    {
        return false;
    }

    *ip = result;

    return true;
}

static net_addr_t *NET_POSIX_ResolveAddress(const char *address)
{
    uint32_t ip;
    char *host;
    char *colon;
    char *end;
    long addr_port = port;
    net_addr_t *result = NULL;

    host = M_StringDuplicate(address);
    colon = strchr(host, ':');

    if (colon != NULL)
    {
        *colon = '\0';
        addr_port = strtol(colon + 1, &end, 10);

        if (colon[1] == '\0' || *end != '\0' || addr_port <= 0 || addr_port > 65535)
        {
            fprintf(stderr, "NET_ResolveAddress: '%s': the port must be a number "
                            "from 1 to 65535\n", address);
            free(host);
            return NULL;
        }
    }

    if (ParseIPv4(host, &ip))
    {
        result = FindAddress(ip, (uint16_t) addr_port);
    }
    else if (!strcasecmp(host, MASTER_SERVER_NAME))
    {
        // net_query.c asks for the master server (NAT hole punching, -search); a guest never
        // contacts it, and the engine reports the failure itself.
    }
    else
    {
        fprintf(stderr, "NET_ResolveAddress: '%s' is not a numeric IPv4 address "
                        "(a.b.c.d or a.b.c.d:port); doomlink does not look up host names\n",
                address);
    }

    free(host);

    return result;
}

net_module_t net_posix_module =
{
    NET_POSIX_InitClient,
    NET_POSIX_InitServer,
    NET_POSIX_SendPacket,
    NET_POSIX_RecvPacket,
    NET_POSIX_AddrToString,
    NET_POSIX_FreeAddress,
    NET_POSIX_ResolveAddress,
};

// The dedicated server's idle wait. net_dedicated.c loops `NET_SV_Run(); I_Sleep(1);` (its
// own TODO: "Block on socket instead of polling"); the build renames that one I_Sleep to this
// (build.manifest), so the loop sleeps until a datagram arrives or SERVER_IDLE_MAX_MS pass,
// instead of waking 1000 times a second. A datagram still wakes it at once (the kernel's
// inject_datagram wakes a blocked poll), so a tic is relayed no later than before; an idle
// room costs 50 wakeups a second instead of 1000.
void NET_POSIX_ServerIdle(int ms)
{
    struct pollfd pfd;

    if (sock < 0)
    {
        usleep((useconds_t) ms * 1000);
        return;
    }

    pfd.fd = sock;
    pfd.events = POLLIN;
    pfd.revents = 0;
    poll(&pfd, 1, SERVER_IDLE_MAX_MS);
}
