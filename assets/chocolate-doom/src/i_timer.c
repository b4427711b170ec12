// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — the game clock: I_GetTime (35 Hz tics), I_GetTimeMS, I_Sleep, I_WaitVBL.
//
// Owns: the time base. Time is CLOCK_MONOTONIC (the kernel's clock_time_get), counted from the
// first call, as SDL_GetTicks-based native Chocolate Doom counts from its first call. Sleeping
// is usleep (the kernel's poll_oneoff). I_Sleep is also where audio is topped up, because the
// engine sleeps exactly when it is waiting for time to pass.

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "doomtype.h"
#include "i_timer.h"

#include "doomlink.h"

static boolean basetime_set = false;
static uint64_t basetime_ms;

static uint64_t MonotonicMs(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (uint64_t) now.tv_sec * 1000 + (uint64_t) now.tv_nsec / 1000000;
}

int I_GetTimeMS(void)
{
    uint64_t now = MonotonicMs();

    if (!basetime_set)
    {
        basetime_ms = now;
        basetime_set = true;
    }

    return (int) (now - basetime_ms);
}

int I_GetTime(void)
{
    uint64_t now = MonotonicMs();

    if (!basetime_set)
    {
        basetime_ms = now;
        basetime_set = true;
    }

    return (int) (((now - basetime_ms) * TICRATE) / 1000);
}

void I_Sleep(int ms)
{
    I_PumpSound();

    if (ms > 0)
    {
        usleep((useconds_t) ms * 1000);
    }
}

void I_WaitVBL(int count)
{
    // The VGA's vertical retrace ran at 70 Hz.
    I_Sleep((count * 1000) / 70);
}

void I_InitTimer(void)
{
}
