// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — tics that arrive while a netgame is starting wait until the game knows who it is.
//
// Owns: the hand-over of received tics from net_client.c to d_loop.c during D_StartNetGame.
// The build compiles net_client.c with -DD_ReceiveTic=DL_ReceiveTic and doom/d_net.c with
// -DD_StartNetGame=DL_StartNetGame, so both calls come here first.
//
// Why: D_StartNetGame waits for the server's game start message (BlockUntilStart, which runs
// net_client.c), and only after that sets d_loop.c's `localplayer`. If tics arrive in the same
// pass as the game start message, net_client.c hands them to D_ReceiveTic at once, while
// `localplayer` is still 0: D_ReceiveTic then skips player 0's place as if it were ours, so
// player 0 is missing from those tics, the game's first tic says player 0 left
// (doom/d_net.c, PlayerQuitGame) and a demo being recorded ends at tic 0. That happens when
// the server's game start message to a client is lost: by its resend a second later, the
// server has made that client's first tics from the others' (a player is not sent its own)
// and resends them too (its deadlock breaker), so both arrive together. Found as relay_play's
// rare failure at 5% loss; `a_client_whose_game_start_was_lost_plays_from_the_first_tic`
// loses that message on purpose.
//
// Chocolate Doom 3.1.1 still sets `localplayer` after BlockUntilStart: built without this
// file, that test's client still records a 14-byte demo (a game that ended at tic 0).
//
// So tics received during D_StartNetGame are kept, in order, and handed on once it returns.
// BlockUntilStart stops at the pass that starts the game, and one pass advances the receive
// window at most BACKUPTICS tics, so the hold cannot overflow; if it ever did, a tic is handed
// on at once, as the engine alone would.

#include <string.h>

#include "d_loop.h"
#include "net_defs.h"

void DL_StartNetGame(net_gamesettings_t *settings, netgame_startup_callback_t callback);
void DL_ReceiveTic(ticcmd_t *ticcmds, boolean *playeringame);

// Inside D_StartNetGame: received tics are held.
static boolean starting;

static ticcmd_t held_cmds[BACKUPTICS][NET_MAXPLAYERS];
static boolean held_ingame[BACKUPTICS][NET_MAXPLAYERS];
static int held_count;

void DL_StartNetGame(net_gamesettings_t *settings, netgame_startup_callback_t callback)
{
    int i;

    starting = true;
    held_count = 0;
    D_StartNetGame(settings, callback);
    starting = false;

    for (i = 0; i < held_count; ++i)
    {
        D_ReceiveTic(held_cmds[i], held_ingame[i]);
    }
    held_count = 0;
}

void DL_ReceiveTic(ticcmd_t *ticcmds, boolean *playeringame)
{
    // (NULL, NULL) means the connection is gone: no tic to hold, the engine reports it.
    if (starting && ticcmds != NULL && held_count < BACKUPTICS)
    {
        memcpy(held_cmds[held_count], ticcmds, sizeof(held_cmds[0]));
        memcpy(held_ingame[held_count], playeringame, sizeof(held_ingame[0]));
        ++held_count;
        return;
    }

    D_ReceiveTic(ticcmds, playeringame);
}
