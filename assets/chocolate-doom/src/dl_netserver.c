// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — when a dedicated server starts its game by itself: `-doomlink-autostart N`, the
// player count a dedicated room was made for. The check itself runs inside net_server.c
// (include/dl_netserver.h says how and why).

#include <stdlib.h>

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

int DL_SV_AutoStartDue(int num_players)
{
    return DL_SV_AutoStartWanted() && num_players >= autostart_players;
}
