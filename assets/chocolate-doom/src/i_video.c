// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// Parts derived from Chocolate Doom's src/i_video.c, Copyright (C) 1993-1996 Id Software,
// Inc. and (C) 2005-2014 Simon Howard (GPL-2.0-or-later).
//
// doomlink — video: the 320x200 paletted screen and its delivery to the host's /dev/fb0.
//
// Owns: I_VideoBuffer and the palette. Both live inside one /dev/fb0 record (kernel/ABI.md:
// u32 width, u32 height, u8 palette[768], u8 pixels[width*height]), so a finished frame goes to
// the host as exactly one write of that record, with no copy. Without /dev/fb0 (headless runs,
// -timedemo benchmarks) nothing is written at all. Scaling, aspect correction and the window
// are the host's business; the video options of chocolate-doom.cfg are kept only so that a
// config file survives a round trip.

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "d_event.h"
#include "deh_str.h"
#include "doomtype.h"
#include "i_endoom.h"
#include "i_system.h"
#include "i_timer.h"
#include "i_video.h"
#include "m_argv.h"
#include "m_config.h"
#include "tables.h"
#include "v_diskicon.h"
#include "v_video.h"
#include "w_wad.h"
#include "z_zone.h"

#include "doomlink.h"

// Defined in i_input.c: reads /dev/input and posts the events.
void I_ReadInputDevice(void);
void I_OpenInputDevice(void);

// The /dev/fb0 record. Every field is a byte array after the two u32s, so there is no padding
// and the struct is the record byte for byte (wasm32 is little-endian, as the record is).
typedef struct
{
    uint32_t width;
    uint32_t height;
    uint8_t palette[256 * 3];
    pixel_t pixels[SCREENWIDTH * SCREENHEIGHT];
} framebuffer_record_t;

_Static_assert(sizeof(framebuffer_record_t) == 8 + 768 + SCREENWIDTH * SCREENHEIGHT,
               "framebuffer_record_t must be exactly the /dev/fb0 record");

static framebuffer_record_t frame;

static int fb_fd = -1;

pixel_t *I_VideoBuffer = NULL;

static boolean initialized = false;

// -noblit: render but never show (native benchmarks use it).
static boolean noblit;

// -devparm's tic dots at the bottom of the screen.
static boolean display_fps_dots;

// Title from I_SetWindowTitle (the game's description, e.g. "Freedoom: Phase 1").
static const char *window_title = "";

boolean screensaver_mode = false;
boolean screenvisible = true;

int usegamma = 0;
int usemouse = 1;

// Video options of chocolate-doom.cfg. doomlink's host window does its own scaling; these are
// only read from and written back to the config file.
char *video_driver = "";
char *window_position = "center";
int fullscreen = true;
int aspect_ratio_correct = true;
int integer_scaling = false;
int vga_porch_flash = false;
int force_software_renderer = false;
int png_screenshots = 0;
static int video_display = 0;
static int window_width = 800;
static int window_height = 600;
static int fullscreen_width = 0;
static int fullscreen_height = 0;
static int max_scaling_buffer_pixels = 16000000;
static int startup_delay = 1000;
static int grabmouse = true;

void I_InitGraphics(void)
{
    byte *doompal;

    frame.width = SCREENWIDTH;
    frame.height = SCREENHEIGHT;

    fb_fd = DL_OpenDevice("fb0", O_WRONLY);

    if (fb_fd < 0)
    {
        printf("I_InitGraphics: no /dev/fb0, running headless\n");
    }

    doompal = W_CacheLumpName(DEH_String("PLAYPAL"), PU_CACHE);
    I_SetPalette(doompal);

    I_VideoBuffer = frame.pixels;
    V_RestoreBuffer();

    memset(I_VideoBuffer, 0, sizeof(frame.pixels));

    I_OpenInputDevice();

    initialized = true;
}

void I_ShutdownGraphics(void)
{
}

void I_GraphicsCheckCommandLine(void)
{
    //!
    // @category video
    // @vanilla
    //
    // Disable blitting the screen.
    //

    noblit = M_CheckParm("-noblit") > 0;
}

void I_CheckIsScreensaver(void)
{
}

void I_SetGrabMouseCallback(grabmouse_callback_t func)
{
    // Grabbing the pointer is up to the host's window.
}

void I_DisplayFPSDots(boolean dots_on)
{
    display_fps_dots = dots_on;
}

void I_StartFrame(void)
{
}

void I_StartTic(void)
{
    if (!initialized)
    {
        return;
    }

    I_ReadInputDevice();
}

void I_UpdateNoBlit(void)
{
}

void I_FinishUpdate(void)
{
    static int lasttic;
    int tics;
    int i;

    if (!initialized || noblit || fb_fd < 0)
    {
        return;
    }

    if (display_fps_dots)
    {
        i = I_GetTime();
        tics = i - lasttic;
        lasttic = i;
        if (tics > 20) tics = 20;

        for (i = 0; i < tics * 4; i += 4)
            I_VideoBuffer[(SCREENHEIGHT - 1) * SCREENWIDTH + i] = 0xff;
        for ( ; i < 20 * 4; i += 4)
            I_VideoBuffer[(SCREENHEIGHT - 1) * SCREENWIDTH + i] = 0x0;
    }

    V_DrawDiskIcon();

    if (write(fb_fd, &frame, sizeof(frame)) < 0)
    {
        perror("I_FinishUpdate: write to /dev/fb0");
        fb_fd = -1;
    }

    V_RestoreDiskBackground();
}

void I_ReadScreen(pixel_t *scr)
{
    memcpy(scr, I_VideoBuffer, SCREENWIDTH * SCREENHEIGHT * sizeof(*scr));
}

void I_SetPalette(byte *doompalette)
{
    int i;

    for (i = 0; i < 256 * 3; ++i)
    {
        // Zero out the bottom two bits of each channel: the PC VGA DAC had 6 bits per channel.
        frame.palette[i] = gammatable[usegamma][doompalette[i]] & ~3;
    }
}

// The palette index nearest to an RGB colour (used for the automap and disk icon colours).
int I_GetPaletteIndex(int r, int g, int b)
{
    int best = 0, best_diff = INT_MAX, diff;
    int i;

    for (i = 0; i < 256; ++i)
    {
        int dr = r - frame.palette[i * 3];
        int dg = g - frame.palette[i * 3 + 1];
        int db = b - frame.palette[i * 3 + 2];

        diff = dr * dr + dg * dg + db * db;

        if (diff < best_diff)
        {
            best = i;
            best_diff = diff;
        }

        if (diff == 0)
        {
            break;
        }
    }

    return best;
}

void I_SetWindowTitle(const char *title)
{
    window_title = title;
    DL_ControlLine("title %s", title);
}

const char *I_GetWindowTitle(void)
{
    return window_title;
}

void I_RegisterWindowIcon(const unsigned int *icon, int width, int height)
{
    // The host window has its own icon.
}

// ENDOOM, the text screen DOS Doom showed on quit, needs a text-mode display; there is none.
void I_Endoom(byte *data)
{
}

void I_BindVideoVariables(void)
{
    M_BindIntVariable("use_mouse",                 &usemouse);
    M_BindIntVariable("fullscreen",                &fullscreen);
    M_BindIntVariable("video_display",             &video_display);
    M_BindIntVariable("aspect_ratio_correct",      &aspect_ratio_correct);
    M_BindIntVariable("integer_scaling",           &integer_scaling);
    M_BindIntVariable("vga_porch_flash",           &vga_porch_flash);
    M_BindIntVariable("startup_delay",             &startup_delay);
    M_BindIntVariable("fullscreen_width",          &fullscreen_width);
    M_BindIntVariable("fullscreen_height",         &fullscreen_height);
    M_BindIntVariable("force_software_renderer",   &force_software_renderer);
    M_BindIntVariable("max_scaling_buffer_pixels", &max_scaling_buffer_pixels);
    M_BindIntVariable("window_width",              &window_width);
    M_BindIntVariable("window_height",             &window_height);
    M_BindIntVariable("grabmouse",                 &grabmouse);
    M_BindStringVariable("video_driver",           &video_driver);
    M_BindStringVariable("window_position",        &window_position);
    M_BindIntVariable("usegamma",                  &usegamma);
    M_BindIntVariable("png_screenshots",           &png_screenshots);
}
