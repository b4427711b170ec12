// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — what the host learns from, and can ask of, the running game, tic by tic.
//
// Owns: the per-tic hook. doom/d_net.c registers the game's loop callbacks with
// D_RegisterLoopCallbacks; the build compiles that one file with
// -DD_RegisterLoopCallbacks=DL_RegisterDoomLoopCallbacks, so the callbacks come here first and
// the game's RunTic is wrapped. After each tic the wrapper
//   - reports `title <game> — <map>` to /dev/control when a level starts (`title <game>` when
//     the title pages come back), and `gametic <n>` once a second of game time;
//   - ends the run cleanly when DOOMLINK_TICS (env) tics have run: a demo being recorded is
//     written (G_CheckDemoStatus, which ends with "Demo NAME recorded"; i_system.c makes that a
//     status-0 exit), then the network is served a little longer, then the process exits 0.
// The wrapper runs between two tics, so a demo ends with exactly DOOMLINK_TICS tics, the same
// in every peer of a netgame.

#include <stdio.h>

#include "d_loop.h"
#include "i_timer.h"
#include "doomstat.h"
#include "g_game.h"

#include "doomlink.h"

// How often the game's progress is reported: once a second of game time.
#define GAMETIC_REPORT_INTERVAL TICRATE

void DL_RegisterDoomLoopCallbacks(loop_interface_t *game_interface);

static loop_interface_t *game_loop;
static loop_interface_t wrapped_loop;

// DOOMLINK_TICS; 0 = run until the game ends by itself.
static int end_after_tics;

static int reported_episode = -1;
static int reported_map = -1;

static void ReportLevel(void)
{
    char mapname[9];

    if (gamestate == GS_DEMOSCREEN && reported_map != -1)
    {
        // Back on the title pages: the title is the game's again.
        reported_episode = reported_map = -1;
        DL_ControlLine("title %s", I_GetWindowTitle());
        return;
    }

    // The intermission and the finale keep the title of the map they follow.
    if (gamestate != GS_LEVEL)
    {
        return;
    }

    if (gameepisode == reported_episode && gamemap == reported_map)
    {
        return;
    }

    reported_episode = gameepisode;
    reported_map = gamemap;

    if (gamemode == commercial)
    {
        snprintf(mapname, sizeof(mapname), "MAP%02d", gamemap);
    }
    else
    {
        snprintf(mapname, sizeof(mapname), "E%dM%d", gameepisode, gamemap);
    }

    DL_ControlLine("title %s \xe2\x80\x94 %s", I_GetWindowTitle(), mapname);
}

static void RunTicAndReport(ticcmd_t *cmds, boolean *ingame)
{
    // d_loop.c increments gametic after this returns: this tic is number gametic + 1.
    int tics_run;

    game_loop->RunTic(cmds, ingame);

    tics_run = gametic + 1;

    ReportLevel();

    if (tics_run % GAMETIC_REPORT_INTERVAL == 0)
    {
        DL_ControlLine("gametic %i", tics_run);
    }

    if (end_after_tics > 0 && tics_run >= end_after_tics)
    {
        printf("doomlink: DOOMLINK_TICS=%i reached\n", end_after_tics);
        DL_ControlLine("gametic %i", tics_run);

        if (demorecording)
        {
            // Writes the demo and ends through I_Error("Demo %s recorded"), a normal end.
            G_CheckDemoStatus();
        }

        DL_EndRun(true);
    }
}

void DL_RegisterDoomLoopCallbacks(loop_interface_t *game_interface)
{
    game_loop = game_interface;
    wrapped_loop = *game_interface;
    wrapped_loop.RunTic = RunTicAndReport;

    end_after_tics = DL_EnvInt("DOOMLINK_TICS", 0);

    D_RegisterLoopCallbacks(&wrapped_loop);
}
