// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — force-included into net_server.c (build.manifest, `engine-include`): a dedicated
// server given `-doomlink-autostart N` launches the game itself once N players have been in for
// a second (src/dl_netserver.c says why the second).
//
// Why: natively only the controller (the first player) launches a netgame, when its own
// `-nodes` count is in or its player presses Space. A dedicated room's players join from an
// invite link and know nothing of the room's size, so the room's server says when the game
// starts, for every kind of client (doomlink, native Chocolate Doom over a LAN port). The
// launch is the engine's own NET_SV_ParseLaunch, done as if the controller had asked: every
// client gets the server's LAUNCH, and the controller then sends the game's settings as usual.
//
// How: NET_SV_Run reads the server's packets through NET_RecvPacket on every pass; the macro
// below checks the start condition first. It expands inside net_server.c, where the server's
// static state and functions are in scope; net_io.h is included first so that its prototype of
// NET_RecvPacket is not renamed.

#ifndef DL_NETSERVER_H
#define DL_NETSERVER_H

#include "net_io.h"

// True when `-doomlink-autostart N` was given and `num_players` >= N for a second now.
int DL_SV_AutoStartDue(int num_players);
// True when `-doomlink-autostart` was given at all.
int DL_SV_AutoStartWanted(void);

#define NET_RecvPacket(context, addr, packet)                                                 \
    ((DL_SV_AutoStartWanted() && server_state == SERVER_WAITING_LAUNCH                        \
      && NET_SV_Controller() != NULL                                                         \
      && (NET_SV_AssignPlayers(), DL_SV_AutoStartDue(NET_SV_NumPlayers())))                   \
         ? NET_SV_ParseLaunch(NULL, NET_SV_Controller())                                      \
         : (void) 0,                                                                          \
     NET_RecvPacket(context, addr, packet))

#endif
