// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// The start, auto-start and checksum logic follow Chocolate Doom's src/net_gui.c,
// Copyright (C) 2005-2014 Simon Howard (GPL-2.0-or-later).
//
// doomlink — the "waiting for game start" stage of a netgame, without textscreen: the lobby
// is shown by the host, through /dev/lobby.
//
// Owns: NET_WaitForLaunch. While the server gathers players, the lobby's state (players,
// addresses, whether the WAD and dehacked checksums match the server's, -nodes, who is the
// controller) is written to /dev/lobby as one text record whenever it changes, and commands
// the host writes there are read back: `start` does what pressing Space in native Chocolate
// Doom's lobby does (the controller launches the game), `quit` what Escape does. The record
// format is in ../LOBBY.md. `-nodes N` starts the game on its own once N players are in, as
// natively; without /dev/lobby the guest just waits, and -nodes still works.

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doomtype.h"
#include "i_system.h"
#include "i_timer.h"
#include "m_argv.h"
#include "m_misc.h"
#include "net_client.h"
#include "net_gui.h"
#include "net_server.h"

#include "doomlink.h"

// How long each round of the wait sleeps (native: 100 ms). Shorter makes `start` snappier and
// costs nothing: the guest is asleep in the kernel in between.
#define LOBBY_POLL_MS 20

// Largest record written; 8 players of 30-character names and addresses fit many times over.
#define LOBBY_RECORD_MAX 4096

typedef enum
{
    LOBBY_CONNECTING,  // connected; the server has not described the lobby yet
    LOBBY_WAITING,     // in the lobby
    LOBBY_LAUNCHING,   // this guest asked the server to start
    LOBBY_LAUNCHED,    // the game is starting (the last record)
} lobby_state_t;

static const char *lobby_state_names[] =
{
    "connecting", "waiting", "launching", "launched",
};

static int lobby_fd = -1;

// Number of players we expect to be in the game: when reached, the controller starts the game
// by itself. Zero: no auto-start.
static int expected_nodes;

static lobby_state_t state;

static char last_record[LOBBY_RECORD_MAX];

// Host commands are read in pieces; a partial line waits here for its end.
static char command_line[64];
static size_t command_len;

static boolean had_checksum_warning;
static int last_reported_players = -1;

// Appends one field, separated by a space, with bytes outside printable ASCII, spaces and '%'
// written as %XX, so that a field is never empty of meaning or split (player names may hold
// spaces; the loopback address reads "local client").
static void AppendField(char *record, const char *field)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(record);
    const unsigned char *p;

    if (len + 1 < LOBBY_RECORD_MAX)
    {
        record[len++] = ' ';
    }

    for (p = (const unsigned char *) field; *p != '\0' && len + 4 < LOBBY_RECORD_MAX; ++p)
    {
        if (*p <= ' ' || *p > '~' || *p == '%')
        {
            record[len++] = '%';
            record[len++] = hex[*p >> 4];
            record[len++] = hex[*p & 15];
        }
        else
        {
            record[len++] = (char) *p;
        }
    }

    if (*field == '\0' && len + 4 < LOBBY_RECORD_MAX)
    {
        // An empty field would vanish between two spaces; "%00" stands for it (a NUL byte
        // cannot occur inside a C string, so it means nothing else).
        memcpy(record + len, "%00", 3);
        len += 3;
    }

    record[len] = '\0';
}

static void AppendLine(char *record, const char *key)
{
    M_StringConcat(record, key, LOBBY_RECORD_MAX);
}

static void EndLine(char *record)
{
    M_StringConcat(record, "\n", LOBBY_RECORD_MAX);
}

static void AppendSha1(char *record, const byte *digest)
{
    char text[sizeof(sha1_digest_t) * 2 + 1];
    unsigned int i;

    for (i = 0; i < sizeof(sha1_digest_t); ++i)
    {
        M_snprintf(text + i * 2, 3, "%02x", digest[i]);
    }

    AppendField(record, text);
}

static void AppendInt(char *record, int value)
{
    char text[16];

    M_snprintf(text, sizeof(text), "%i", value);
    AppendField(record, text);
}

static void BuildRecord(char *record)
{
    const net_waitdata_t *wait = &net_client_wait_data;
    boolean correct_wad, correct_deh, same_freedoom;
    unsigned int i;

    record[0] = '\0';

    AppendLine(record, "lobby");
    EndLine(record);

    AppendLine(record, "state");
    AppendField(record, lobby_state_names[state]);
    EndLine(record);

    AppendLine(record, "expected");
    AppendInt(record, expected_nodes);
    EndLine(record);

    if (net_client_received_wait_data)
    {
        AppendLine(record, "controller");
        AppendInt(record, wait->is_controller ? 1 : 0);
        EndLine(record);

        AppendLine(record, "you");
        AppendInt(record, wait->consoleplayer);
        EndLine(record);

        AppendLine(record, "players");
        AppendInt(record, wait->num_players);
        AppendInt(record, wait->max_players);
        EndLine(record);

        AppendLine(record, "observers");
        AppendInt(record, wait->num_drones);
        EndLine(record);

        for (i = 0; i < (unsigned int) wait->num_players && i < NET_MAXPLAYERS; ++i)
        {
            AppendLine(record, "player");
            AppendInt(record, (int) i);
            AppendField(record, wait->player_names[i]);
            AppendField(record, wait->player_addrs[i]);
            EndLine(record);
        }

        correct_wad = memcmp(net_local_wad_sha1sum, wait->wad_sha1sum,
                             sizeof(sha1_digest_t)) == 0;
        correct_deh = memcmp(net_local_deh_sha1sum, wait->deh_sha1sum,
                             sizeof(sha1_digest_t)) == 0;
        same_freedoom = wait->is_freedoom == (int) net_local_is_freedoom;

        AppendLine(record, "wad");
        AppendField(record, correct_wad ? "match" : "mismatch");
        AppendSha1(record, net_local_wad_sha1sum);
        AppendSha1(record, wait->wad_sha1sum);
        EndLine(record);

        AppendLine(record, "deh");
        AppendField(record, correct_deh ? "match" : "mismatch");
        AppendSha1(record, net_local_deh_sha1sum);
        AppendSha1(record, wait->deh_sha1sum);
        EndLine(record);

        AppendLine(record, "freedoom");
        AppendField(record, same_freedoom ? "match" : "mismatch");
        AppendInt(record, net_local_is_freedoom ? 1 : 0);
        AppendInt(record, wait->is_freedoom ? 1 : 0);
        EndLine(record);
    }

    AppendLine(record, "end");
    EndLine(record);
}

static void PublishLobby(void)
{
    static char record[LOBBY_RECORD_MAX];

    BuildRecord(record);

    if (strcmp(record, last_record) == 0)
    {
        return;
    }

    M_StringCopy(last_record, record, sizeof(last_record));

    if (lobby_fd >= 0 && write(lobby_fd, record, strlen(record)) < 0)
    {
        perror("NET_WaitForLaunch: write to /dev/lobby");
        lobby_fd = -1;
    }
}

// Asking again while launching is harmless (another reliable launch packet), as pressing Space
// twice natively.
static void StartGame(void)
{
    if (state == LOBBY_WAITING || state == LOBBY_LAUNCHING)
    {
        NET_CL_LaunchGame();
        state = LOBBY_LAUNCHING;
    }
}

static void RunCommand(const char *command)
{
    if (!strcmp(command, "start"))
    {
        if (net_client_received_wait_data && net_client_wait_data.is_controller)
        {
            StartGame();
        }
        else
        {
            fprintf(stderr, "NET_WaitForLaunch: 'start' ignored: only the controller "
                            "(the first player to join) can start the game\n");
        }
    }
    else if (!strcmp(command, "quit"))
    {
        I_Quit();
    }
    else if (command[0] != '\0')
    {
        fprintf(stderr, "NET_WaitForLaunch: unknown lobby command '%s'\n", command);
    }
}

static void ReadCommands(void)
{
    char buffer[256];
    ssize_t got;
    ssize_t i;

    if (lobby_fd < 0)
    {
        return;
    }

    while ((got = read(lobby_fd, buffer, sizeof(buffer))) > 0)
    {
        for (i = 0; i < got; ++i)
        {
            if (buffer[i] == '\n')
            {
                command_line[command_len] = '\0';

                if (command_len > 0 && command_line[command_len - 1] == '\r')
                {
                    command_line[command_len - 1] = '\0';
                }

                RunCommand(command_line);
                command_len = 0;
            }
            else if (command_len + 1 < sizeof(command_line))
            {
                command_line[command_len++] = buffer[i];
            }
        }
    }
}

static void CheckAutoLaunch(void)
{
    int nodes;

    if (net_client_received_wait_data
     && net_client_wait_data.is_controller
     && expected_nodes > 0)
    {
        nodes = net_client_wait_data.num_players + net_client_wait_data.num_drones;

        if (nodes >= expected_nodes)
        {
            StartGame();
            expected_nodes = 0;
        }
    }
}

static void PrintSHA1Digest(const char *s, const byte *digest)
{
    unsigned int i;

    printf("%s: ", s);

    for (i = 0; i < sizeof(sha1_digest_t); ++i)
    {
        printf("%02x", digest[i]);
    }

    printf("\n");
}

// The warnings native prints (its lobby also shows them in a window; ours are in the record).
static void CheckSHA1Sums(void)
{
    boolean correct_wad, correct_deh, same_freedoom;

    if (!net_client_received_wait_data || had_checksum_warning)
    {
        return;
    }

    correct_wad = memcmp(net_local_wad_sha1sum, net_client_wait_data.wad_sha1sum,
                         sizeof(sha1_digest_t)) == 0;
    correct_deh = memcmp(net_local_deh_sha1sum, net_client_wait_data.deh_sha1sum,
                         sizeof(sha1_digest_t)) == 0;
    same_freedoom = net_client_wait_data.is_freedoom == (int) net_local_is_freedoom;

    if (correct_wad && correct_deh && same_freedoom)
    {
        return;
    }

    if (!correct_wad)
    {
        printf("Warning: WAD SHA1 does not match server:\n");
        PrintSHA1Digest("Local", net_local_wad_sha1sum);
        PrintSHA1Digest("Server", net_client_wait_data.wad_sha1sum);
    }

    if (!same_freedoom)
    {
        printf("Warning: Mixing Freedoom with non-Freedoom\n");
        printf("Local: %u  Server: %i\n",
               net_local_is_freedoom, net_client_wait_data.is_freedoom);
    }

    if (!correct_deh)
    {
        printf("Warning: Dehacked SHA1 does not match server:\n");
        PrintSHA1Digest("Local", net_local_deh_sha1sum);
        PrintSHA1Digest("Server", net_client_wait_data.deh_sha1sum);
    }

    had_checksum_warning = true;
}

static void ReportPlayers(void)
{
    if (net_client_received_wait_data
     && net_client_wait_data.num_players != last_reported_players)
    {
        last_reported_players = net_client_wait_data.num_players;
        printf("NET_WaitForLaunch: %i of %i players in the lobby%s\n",
               net_client_wait_data.num_players, net_client_wait_data.max_players,
               net_client_wait_data.is_controller ? " (this player is the controller)" : "");
    }
}

void NET_WaitForLaunch(void)
{
    int i;

    //!
    // @arg <n>
    // @category net
    //
    // Autostart the netgame when n nodes (clients) have joined the server.
    //

    i = M_CheckParmWithArgs("-nodes", 1);

    if (i > 0)
    {
        expected_nodes = atoi(myargv[i + 1]);
    }

    lobby_fd = DL_OpenDevice("lobby", O_RDWR);
    state = LOBBY_CONNECTING;
    had_checksum_warning = false;

    while (net_waiting_for_launch)
    {
        if (state == LOBBY_CONNECTING && net_client_received_wait_data)
        {
            state = LOBBY_WAITING;
        }

        ReadCommands();
        CheckAutoLaunch();
        CheckSHA1Sums();
        ReportPlayers();
        PublishLobby();

        NET_CL_Run();
        NET_SV_Run();

        if (!net_client_connected)
        {
            I_Error("Lost connection to server");
        }

        I_Sleep(LOBBY_POLL_MS);
    }

    state = LOBBY_LAUNCHED;
    PublishLobby();
}
