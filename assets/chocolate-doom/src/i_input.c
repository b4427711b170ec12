// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// Mouse acceleration derived from Chocolate Doom's src/i_input.c, Copyright (C) 1993-1996
// Id Software, Inc. and (C) 2005-2014 Simon Howard (GPL-2.0-or-later).
//
// doomlink — input: keyboard and mouse events from the host's /dev/input.
//
// Owns: turning /dev/input records into the engine's events. A record (kernel/ABI.md) is
// Doom's own event_t in 16 bytes — i32 type, data1, data2, data3 — with Doom key codes, so the
// host has already done the keyboard translation; what stays here is what Chocolate Doom's
// config controls: mouse acceleration and threshold, novert, -nomouse, and whether typed
// characters are delivered (only while the engine asked for text input). There is no joystick
// device; the joystick functions below exist because the engine calls them.

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "d_event.h"
#include "doomkeys.h"
#include "doomtype.h"
#include "i_input.h"
#include "i_joystick.h"
#include "i_video.h"
#include "m_argv.h"
#include "m_config.h"

#include "doomlink.h"

// One /dev/input record.
typedef struct
{
    int32_t type;
    int32_t data1, data2, data3;
} input_record_t;

_Static_assert(sizeof(input_record_t) == 16, "input_record_t must be the 16-byte record");

// Records read per read(2); a tic rarely has more than a few.
#define INPUT_BATCH 64

static int input_fd = -1;

float mouse_acceleration = 2.0;
int mouse_threshold = 10;
int vanilla_keyboard_mapping = 1;
static int novert = 0;

static boolean nomouse = false;

// The engine asks for typed characters (data3 of key-down events) only while a text field is
// open (savegame names, chat): I_StartTextInput / I_StopTextInput. Native starts enabled.
static boolean text_input_enabled = true;

// Set by the engine's joystick code; unused here, but the engine reads and writes it.
unsigned int joywait = 0;

void I_OpenInputDevice(void)
{
    nomouse = M_CheckParm("-nomouse") > 0;

    input_fd = DL_OpenDevice("input", O_RDONLY);
}

static int AccelerateMouse(int val)
{
    if (val < 0)
    {
        return -AccelerateMouse(-val);
    }

    if (val > mouse_threshold)
    {
        return (int) ((val - mouse_threshold) * mouse_acceleration + mouse_threshold);
    }

    return val;
}

static void PostKeyEvent(const input_record_t *record)
{
    event_t event;

    memset(&event, 0, sizeof(event));
    event.type = record->type;
    event.data1 = record->data1;

    if (event.data1 == 0)
    {
        return;
    }

    if (record->type == ev_keydown)
    {
        // data2: the key as labelled on the user's layout; the host may leave it 0 to mean
        // "same as data1" (a US layout).
        event.data2 = record->data2 != 0 ? record->data2 : record->data1;

        // data3: the character typed, which only text fields want.
        if (text_input_enabled)
        {
            event.data3 = record->data3;
        }
    }

    D_PostEvent(&event);
}

// Reads everything /dev/input holds now. Mouse motion within one tic is summed into one event
// before acceleration, as native Chocolate Doom does with SDL's relative mouse state; button
// changes are posted as they come so presses shorter than a tic are not lost.
void I_ReadInputDevice(void)
{
    static int mouse_buttons = 0;
    input_record_t records[INPUT_BATCH];
    int mouse_dx = 0, mouse_dy = 0;
    boolean mouse_moved = false;
    event_t event;
    ssize_t got;
    int count;
    int i;

    if (input_fd < 0)
    {
        return;
    }

    do
    {
        got = read(input_fd, records, sizeof(records));

        if (got < 0)
        {
            input_fd = -1;
            break;
        }

        count = got / sizeof(input_record_t);

        for (i = 0; i < count; ++i)
        {
            switch (records[i].type)
            {
                case ev_keydown:
                case ev_keyup:
                    PostKeyEvent(&records[i]);
                    break;

                case ev_mouse:
                    if (!usemouse || nomouse)
                    {
                        break;
                    }

                    if (records[i].data1 != mouse_buttons)
                    {
                        mouse_buttons = records[i].data1;
                        memset(&event, 0, sizeof(event));
                        event.type = ev_mouse;
                        event.data1 = mouse_buttons;
                        D_PostEvent(&event);
                    }

                    mouse_dx += records[i].data2;
                    mouse_dy += records[i].data3;
                    mouse_moved = mouse_moved || records[i].data2 != 0 || records[i].data3 != 0;
                    break;

                case ev_quit:
                    memset(&event, 0, sizeof(event));
                    event.type = ev_quit;
                    D_PostEvent(&event);
                    break;

                default:
                    break;
            }
        }
    } while (count == INPUT_BATCH);

    if (mouse_moved)
    {
        memset(&event, 0, sizeof(event));
        event.type = ev_mouse;
        event.data1 = mouse_buttons;
        event.data2 = AccelerateMouse(mouse_dx);
        event.data3 = novert ? 0 : AccelerateMouse(mouse_dy);
        D_PostEvent(&event);
    }
}

void I_StartTextInput(int x1, int y1, int x2, int y2)
{
    text_input_enabled = true;
}

void I_StopTextInput(void)
{
    text_input_enabled = false;
}

void I_BindInputVariables(void)
{
    M_BindFloatVariable("mouse_acceleration",      &mouse_acceleration);
    M_BindIntVariable("mouse_threshold",           &mouse_threshold);
    M_BindIntVariable("vanilla_keyboard_mapping",  &vanilla_keyboard_mapping);
    M_BindIntVariable("novert",                    &novert);
}

// No joystick device exists in doomlink. Chocolate Doom 3.1's g_game.c reads these.
int use_analog = 0;
int joystick_turn_sensitivity = 10;
int joystick_move_sensitivity = 10;

void I_InitJoystick(void)
{
}

void I_BindJoystickVariables(void)
{
}
