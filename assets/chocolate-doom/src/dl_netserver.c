// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — when a dedicated server starts its game by itself: `-doomlink-autostart N`, the
// player count a dedicated room was made for, once N players have been in for a second. The
// check itself runs inside net_server.c (include/dl_netserver.h says how and why).
//
// Why the second: a client ignores a LAUNCH that arrives before the server's reply to its SYN
// (it is not yet waiting for one), and the LAUNCH is reliable, so it is acknowledged and never
// sent again: that client would wait forever. Launching at once, as the last player's SYN is
// processed, lost that race now and then over an unordered channel. Natively the controller
// launches after its lobby has shown the players (the server's waiting data, sent each
// second), so a second of the full room is the same margin.

#include <stdlib.h>

#include "i_timer.h"
#include "m_argv.h"

#include "dl_netserver.h"

// -1: not read yet; 0: not asked for.
static int autostart_players = -1;

int DL_SV_AutoStartWanted(void)
{
    if (autostart_players < 0)
    {
        int i = M_CheckParmWithArgs("-doomlink-autostart", 1);

        autostart_players = i > 0 ? atoi(myargv[i + 1]) : 0;
        if (autostart_players < 0)
        {
            autostart_players = 0;
        }
    }
    return autostart_players > 0;
}

// How long the room must have been full before the server launches.
#define FULL_FOR_MS 1000

// When the room last became full; -1: it is not full.
static int full_since = -1;

int DL_SV_AutoStartDue(int num_players)
{
    int now;

    if (!DL_SV_AutoStartWanted() || num_players < autostart_players)
    {
        full_since = -1;
        return 0;
    }
    now = I_GetTimeMS();
    if (full_since < 0)
    {
        full_since = now;
    }
    return now - full_since >= FULL_FOR_MS;
}
