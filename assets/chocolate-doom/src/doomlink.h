// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — interfaces between the files of the Chocolate Doom platform layer.
//
// Owns: nothing but declarations. The engine talks to the platform layer through its own
// headers (i_video.h, i_sound.h, i_system.h, net_defs.h, …); this header is only for what our
// files say to each other: opening the host's /dev devices, writing /dev/control lines, the
// audio pump, and the clean end of a run.

#ifndef DOOMLINK_PLATFORM_H
#define DOOMLINK_PLATFORM_H

#include "doomtype.h"

// ---- dl_host.c: the host's devices (kernel/ABI.md, "Devices") ----

// Opens /dev/<name> with open(2) flags; -1 if the host does not provide it (headless runs
// have no /dev/fb0 or /dev/dsp). Any other failure is reported on stderr, then also -1.
int DL_OpenDevice(const char *name, int flags);

// Writes one line to /dev/control as a single write ("title …", "gametic …", "error …").
// Newlines inside the text become spaces, so a record is always exactly one line.
// Does nothing when the host has no /dev/control.
void DL_ControlLine(const char *format, ...) PRINTF_ATTR(1, 2);

// M_TempFile for the OPL music module (the build renames its calls): a path in /data.
char *DL_TempFile(const char *name);

// Reads an integer environment variable; `fallback` if unset or not a number.
int DL_EnvInt(const char *name, int fallback);

// ---- i_video.c ----

// The title the engine set with I_SetWindowTitle (the game's description).
const char *I_GetWindowTitle(void);

// ---- i_sound.c ----

// Tops up /dev/dsp to the target latency with mixed sound effects and OPL music. Called from
// I_UpdateSound (once a frame) and from I_Sleep (every wait), so audio keeps flowing through
// screen wipes and network stalls. Costs one boolean test when there is no /dev/dsp.
void I_PumpSound(void);

// ---- i_pcmsound.c and opl_pcm.c: the two sources i_sound.c mixes ----
// Each adds `frames` stereo frames at snd_samplerate into `mix` (interleaved left/right,
// 32-bit, clipped to 16 bits by the caller).

void I_PCM_MixSoundEffects(int *mix, int frames);
void OPL_PCM_MixMusic(int *mix, int frames);

// ---- i_system.c ----

// Ends the process with status 0 after a normal end of a run (DOOMLINK_TICS reached, a demo
// recorded, a timedemo finished): keeps the network running for a short linger when in a
// netgame, so a server in this process still serves peers that are a few tics behind, then
// runs the exit functions (`run_all`: as I_Quit does; otherwise only those meant for errors,
// as I_Error does) and exits.
void DL_EndRun(boolean run_all) NORETURN;

// ---- dl_doomloop.c ----
// DL_RegisterDoomLoopCallbacks(loop_interface_t *) is what doom/d_net.c calls instead of
// D_RegisterLoopCallbacks: the build compiles that one file with
// -DD_RegisterLoopCallbacks=DL_RegisterDoomLoopCallbacks, so d_loop.h declares it there.
// It wraps the game's RunTic to report progress to the host and to end the run when
// DOOMLINK_TICS tics have run.

#endif
