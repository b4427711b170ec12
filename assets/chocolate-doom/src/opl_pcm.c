// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// Derived from Chocolate Doom's opl/opl_sdl.c, Copyright (C) 2005-2014 Simon Howard
// (GPL-2.0-or-later).
//
// doomlink — the OPL library's software driver: Chocolate Doom's OPL3 emulator (opl3.c) made
// to produce PCM on demand for i_sound.c's audio pump, single-threaded.
//
// Owns: the emulated chip, its timers and the queue of timed callbacks through which
// i_oplmusic.c plays MIDI events. Time on this chip is the audio it has produced: mixing N
// frames advances the clock by N / rate seconds and runs the callbacks that fall due, as
// opl_sdl.c does from SDL_mixer's audio thread. opl/opl.c lists its software driver as
// `opl_sdl_driver`, so that is the name this driver is given.
//
// Also owns the SDL_mutex/SDL_cond stand-ins that opl.c's OPL_Delay uses (it is their only
// user). Nothing runs concurrently here, so locks are no-ops; and waiting on the condition —
// which OPL_Delay does until a callback it queued has run — means moving the emulated clock
// to that callback, since nothing else would ever move it. OPL_Delay is only used while
// detecting the chip, before any sound is produced.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "SDL.h"

#include "opl3.h"
#include "opl.h"
#include "opl_internal.h"
#include "opl_queue.h"

#include "doomlink.h"
#include "i_system.h"

// Stereo frames generated per OPL3_GenerateStream call.
#define GENERATE_CHUNK_FRAMES 512

typedef struct
{
    unsigned int rate;        // Number of times the timer is advanced per sec.
    unsigned int enabled;     // Non-zero if timer is enabled.
    unsigned int value;       // Last value that was set.
    uint64_t expire_time;     // Calculated time that timer will expire.
} opl_timer_t;

static boolean initialized = false;

static opl_callback_queue_t *callback_queue;

// Current time, in us since the driver started.
static uint64_t current_time;

// If non-zero, playback is currently paused, and callbacks are held back by pause_offset.
static int paused;
static uint64_t pause_offset;

static opl3_chip opl_chip;

// Register number that was written.
static int register_num = 0;

// The chip's two timers (the emulator does not do timers itself).
static opl_timer_t timer1 = { 12500, 0, 0, 0 };
static opl_timer_t timer2 = { 3125, 0, 0, 0 };

// Runs the callbacks whose time has come.
static void RunDueCallbacks(void)
{
    opl_callback_t callback;
    void *callback_data;

    while (!OPL_Queue_IsEmpty(callback_queue)
        && current_time >= OPL_Queue_Peek(callback_queue) + pause_offset)
    {
        if (!OPL_Queue_Pop(callback_queue, &callback, &callback_data))
        {
            break;
        }

        callback(callback_data);
    }
}

// Advance time by the specified number of samples, invoking any callback functions as
// appropriate.
static void AdvanceTime(unsigned int nsamples)
{
    uint64_t us;

    us = ((uint64_t) nsamples * OPL_SECOND) / opl_sample_rate;
    current_time += us;

    if (paused)
    {
        pause_offset += us;
    }

    RunDueCallbacks();
}

void OPL_PCM_MixMusic(int *mix, int frames)
{
    static Bit16s generated[GENERATE_CHUNK_FRAMES * 2];
    int filled = 0;
    int i;

    if (!initialized)
    {
        return;
    }

    while (filled < frames)
    {
        uint64_t nsamples;

        // Generate up to the next callback, so that its register writes land on the right
        // sample.
        if (paused || OPL_Queue_IsEmpty(callback_queue))
        {
            nsamples = frames - filled;
        }
        else
        {
            uint64_t next_callback_time = OPL_Queue_Peek(callback_queue) + pause_offset;

            if (next_callback_time <= current_time)
            {
                nsamples = 0;
            }
            else
            {
                nsamples = (next_callback_time - current_time) * opl_sample_rate;
                nsamples = (nsamples + OPL_SECOND - 1) / OPL_SECOND;
            }

            if (nsamples > (uint64_t) (frames - filled))
            {
                nsamples = frames - filled;
            }
        }

        if (nsamples > GENERATE_CHUNK_FRAMES)
        {
            nsamples = GENERATE_CHUNK_FRAMES;
        }

        if (nsamples > 0)
        {
            OPL3_GenerateStream(&opl_chip, generated, (Bit32u) nsamples);

            for (i = 0; i < (int) nsamples * 2; ++i)
            {
                mix[filled * 2 + i] += generated[i];
            }

            filled += (int) nsamples;
        }

        AdvanceTime((unsigned int) nsamples);
    }
}

static int OPL_PCM_Init(unsigned int port_base)
{
    paused = 0;
    pause_offset = 0;
    current_time = 0;

    callback_queue = OPL_Queue_Create();

    OPL3_Reset(&opl_chip, opl_sample_rate);

    initialized = true;

    return 1;
}

static void OPL_PCM_Shutdown(void)
{
    if (initialized)
    {
        OPL_Queue_Destroy(callback_queue);
        initialized = false;
    }
}

static unsigned int OPL_PCM_PortRead(opl_port_t port)
{
    unsigned int result = 0;

    if (port == OPL_REGISTER_PORT_OPL3)
    {
        return 0xff;
    }

    if (timer1.enabled && current_time > timer1.expire_time)
    {
        result |= 0x80;   // Either have expired
        result |= 0x40;   // Timer 1 has expired
    }

    if (timer2.enabled && current_time > timer2.expire_time)
    {
        result |= 0x80;   // Either have expired
        result |= 0x20;   // Timer 2 has expired
    }

    return result;
}

static void OPLTimer_CalculateEndTime(opl_timer_t *timer)
{
    int tics;

    // If the timer is enabled, calculate the time when the timer will expire.
    if (timer->enabled)
    {
        tics = 0x100 - timer->value;
        timer->expire_time = current_time + ((uint64_t) tics * OPL_SECOND) / timer->rate;
    }
}

static void WriteRegister(unsigned int reg_num, unsigned int value)
{
    switch (reg_num)
    {
        case OPL_REG_TIMER1:
            timer1.value = value;
            OPLTimer_CalculateEndTime(&timer1);
            break;

        case OPL_REG_TIMER2:
            timer2.value = value;
            OPLTimer_CalculateEndTime(&timer2);
            break;

        case OPL_REG_TIMER_CTRL:
            if (value & 0x80)
            {
                timer1.enabled = 0;
                timer2.enabled = 0;
            }
            else
            {
                if ((value & 0x40) == 0)
                {
                    timer1.enabled = (value & 0x01) != 0;
                    OPLTimer_CalculateEndTime(&timer1);
                }

                // (opl_sdl.c sets timer1.enabled here, a slip; the detection sequence never
                // starts timer 2, so the fix changes nothing that the engine sees.)
                if ((value & 0x20) == 0)
                {
                    timer2.enabled = (value & 0x02) != 0;
                    OPLTimer_CalculateEndTime(&timer2);
                }
            }

            break;

        default:
            OPL3_WriteRegBuffered(&opl_chip, reg_num, value);
            break;
    }
}

static void OPL_PCM_PortWrite(opl_port_t port, unsigned int value)
{
    if (port == OPL_REGISTER_PORT)
    {
        register_num = value;
    }
    else if (port == OPL_REGISTER_PORT_OPL3)
    {
        register_num = value | 0x100;
    }
    else if (port == OPL_DATA_PORT)
    {
        WriteRegister(register_num, value);
    }
}

static void OPL_PCM_SetCallback(uint64_t us, opl_callback_t callback, void *data)
{
    OPL_Queue_Push(callback_queue, callback, data, current_time - pause_offset + us);
}

static void OPL_PCM_ClearCallbacks(void)
{
    OPL_Queue_Clear(callback_queue);
}

static void OPL_PCM_Lock(void)
{
}

static void OPL_PCM_Unlock(void)
{
}

static void OPL_PCM_SetPaused(int new_paused)
{
    paused = new_paused;
}

static void OPL_PCM_AdjustCallbacks(float factor)
{
    OPL_Queue_AdjustCallbacks(callback_queue, current_time, factor);
}

opl_driver_t opl_sdl_driver =
{
    "doomlink PCM",
    OPL_PCM_Init,
    OPL_PCM_Shutdown,
    OPL_PCM_PortRead,
    OPL_PCM_PortWrite,
    OPL_PCM_SetCallback,
    OPL_PCM_ClearCallbacks,
    OPL_PCM_Lock,
    OPL_PCM_Unlock,
    OPL_PCM_SetPaused,
    OPL_PCM_AdjustCallbacks,
};

// ---- SDL_mutex / SDL_cond for opl.c's OPL_Delay (see the top of this file) ----

// Any non-NULL handle will do; nothing is ever locked.
static char sdl_handle_placeholder;

SDL_mutex *SDL_CreateMutex(void)
{
    return (SDL_mutex *) &sdl_handle_placeholder;
}

void SDL_DestroyMutex(SDL_mutex *mutex)
{
}

int SDL_LockMutex(SDL_mutex *mutex)
{
    return 0;
}

int SDL_UnlockMutex(SDL_mutex *mutex)
{
    return 0;
}

SDL_cond *SDL_CreateCond(void)
{
    return (SDL_cond *) &sdl_handle_placeholder;
}

void SDL_DestroyCond(SDL_cond *cond)
{
}

int SDL_CondSignal(SDL_cond *cond)
{
    return 0;
}

int SDL_CondWait(SDL_cond *cond, SDL_mutex *mutex)
{
    if (!initialized || OPL_Queue_IsEmpty(callback_queue))
    {
        I_Error("OPL_Delay: waiting for a callback that was never queued");
    }

    // Jump the clock to the next callback and run it (and any due with it).
    if (OPL_Queue_Peek(callback_queue) + pause_offset > current_time)
    {
        current_time = OPL_Queue_Peek(callback_queue) + pause_offset;
    }

    RunDueCallbacks();

    return 0;
}
