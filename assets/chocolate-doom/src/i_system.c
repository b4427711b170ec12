// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// Derived from Chocolate Doom's src/i_system.c, Copyright (C) 1993-1996 Id Software, Inc. and
// (C) 2005-2014 Simon Howard (GPL-2.0-or-later).
//
// doomlink — process-level services: exit functions, I_Quit and I_Error, the zone's memory,
// start-up banners, and the DOS memory image that vanilla demos depend on.
//
// Owns: how the guest ends. I_Quit runs every exit function and exits 0. I_Error prints the
// message to stderr (as native Chocolate Doom does), sends `error <message>` to /dev/control and
// exits 1 — no message box, no waiting. Two engine "errors" are really normal ends of a run and
// exit 0 without an `error` record: "Demo NAME recorded" (g_game.c ends a -record/-maxdemo run
// that way) and "timed N gametics …" (the end of -timedemo).

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "doomtype.h"
#include "i_system.h"
#include "i_timer.h"
#include "m_argv.h"
#include "m_misc.h"
#include "net_client.h"
#include "net_server.h"

#include "doomlink.h"

#define DEFAULT_RAM 16 /* MiB */
#define MIN_RAM     4  /* MiB */

// How long DL_EndRun keeps serving the network before a netgame process exits: long enough
// for peers a few tics behind to get their last tics from a server in this process.
#define LINGER_MS 2000

typedef struct atexit_listentry_s atexit_listentry_t;

struct atexit_listentry_s
{
    atexit_func_t func;
    boolean run_on_error;
    atexit_listentry_t *next;
};

static atexit_listentry_t *exit_funcs = NULL;

void I_AtExit(atexit_func_t func, boolean run_on_error)
{
    atexit_listentry_t *entry;

    entry = malloc(sizeof(*entry));

    entry->func = func;
    entry->run_on_error = run_on_error;
    entry->next = exit_funcs;
    exit_funcs = entry;
}

static void RunExitFunctions(boolean run_all)
{
    atexit_listentry_t *entry;

    // Unlink each entry before calling it, so that an exit function that ends up here again
    // (through I_Quit) does not run the ones already done.
    while (exit_funcs != NULL)
    {
        entry = exit_funcs;
        exit_funcs = entry->next;

        if (run_all || entry->run_on_error)
        {
            entry->func();
        }
    }

    fflush(stdout);
    fflush(stderr);
}

// Tactile feedback (the Logitech Cyberman); there is none.
void I_Tactile(int on, int off, int total)
{
}

byte *I_ZoneBase(int *size)
{
    byte *zonemem = NULL;
    int default_ram = DEFAULT_RAM;
    int min_ram = MIN_RAM;
    int p;

    //!
    // @category obscure
    // @arg <mb>
    //
    // Specify the heap size, in MiB (default 16).
    //

    p = M_CheckParmWithArgs("-mb", 1);

    if (p > 0)
    {
        default_ram = atoi(myargv[p + 1]);
        min_ram = default_ram;
    }

    // Try progressively smaller zones, as native Chocolate Doom does.
    while (zonemem == NULL)
    {
        if (default_ram < min_ram)
        {
            I_Error("Unable to allocate %i MiB of RAM for zone", default_ram);
        }

        *size = default_ram * 1024 * 1024;
        zonemem = malloc(*size);

        if (zonemem == NULL)
        {
            default_ram -= 1;
        }
    }

    printf("zone memory: %p, %x allocated for zone\n", zonemem, *size);

    return zonemem;
}

void I_PrintBanner(const char *msg)
{
    int i;
    int spaces = 35 - (strlen(msg) / 2);

    for (i = 0; i < spaces; ++i)
    {
        putchar(' ');
    }

    puts(msg);
}

void I_PrintDivider(void)
{
    int i;

    for (i = 0; i < 75; ++i)
    {
        putchar('=');
    }

    putchar('\n');
}

void I_PrintStartupBanner(const char *gamedescription)
{
    I_PrintDivider();
    I_PrintBanner(gamedescription);
    I_PrintDivider();

    printf(
    " " PACKAGE_NAME " is free software, covered by the GNU General Public\n"
    " License.  There is NO warranty; not even for MERCHANTABILITY or FITNESS\n"
    " FOR A PARTICULAR PURPOSE. You are welcome to change and distribute\n"
    " copies under certain conditions. See the source for more information.\n");

    I_PrintDivider();
}

boolean I_ConsoleStdout(void)
{
    return isatty(STDOUT_FILENO);
}

void I_Quit(void)
{
    RunExitFunctions(true);
    exit(0);
}

void DL_EndRun(boolean run_all)
{
    if (net_client_connected)
    {
        int start = I_GetTimeMS();

        printf("doomlink: serving the network for %i ms more before exiting\n", LINGER_MS);

        while (I_GetTimeMS() - start < LINGER_MS)
        {
            NET_CL_Run();
            NET_SV_Run();
            I_Sleep(5);
        }
    }

    RunExitFunctions(run_all);
    exit(0);
}

// The engine's messages that end a run successfully (see the top of this file). Matched by
// format string, which is what g_game.c passes to I_Error.
static boolean IsNormalEnd(const char *format)
{
    return strcmp(format, "Demo %s recorded") == 0
        || strncmp(format, "timed %i gametics", 17) == 0;
}

static boolean already_quitting = false;

void I_Error(const char *error, ...)
{
    char msgbuf[1024];
    va_list argptr;

    if (already_quitting)
    {
        fprintf(stderr, "Warning: recursive call to I_Error detected.\n");
        exit(1);
    }

    already_quitting = true;

    va_start(argptr, error);
    M_vsnprintf(msgbuf, sizeof(msgbuf), error, argptr);
    va_end(argptr);

    // Same text as native Chocolate Doom prints, so logs compare.
    fprintf(stderr, "%s\n\n", msgbuf);
    fflush(stderr);

    if (IsNormalEnd(error))
    {
        DL_EndRun(false);
    }

    DL_ControlLine("error %s", msgbuf);

    RunExitFunctions(false);
    exit(1);
}

void *I_Realloc(void *ptr, size_t size)
{
    void *new_ptr;

    new_ptr = realloc(ptr, size);

    if (size != 0 && new_ptr == NULL)
    {
        I_Error("I_Realloc: failed on reallocation of %zu bytes", size);
    }

    return new_ptr;
}

//
// Read Access Violation emulation, from PrBoom+ by entryway (via Chocolate Doom): vanilla Doom
// read the DOS memory at address 0 through null pointers, and some demos depend on the values.
//

#define DOS_MEM_DUMP_SIZE 10

static const unsigned char mem_dump_dos622[DOS_MEM_DUMP_SIZE] = {
  0x57, 0x92, 0x19, 0x00, 0xF4, 0x06, 0x70, 0x00, 0x16, 0x00};
static const unsigned char mem_dump_win98[DOS_MEM_DUMP_SIZE] = {
  0x9E, 0x0F, 0xC9, 0x00, 0x65, 0x04, 0x70, 0x00, 0x16, 0x00};
static const unsigned char mem_dump_dosbox[DOS_MEM_DUMP_SIZE] = {
  0x00, 0x00, 0x00, 0xF1, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00};
static unsigned char mem_dump_custom[DOS_MEM_DUMP_SIZE];

static const unsigned char *dos_mem_dump = mem_dump_dos622;

boolean I_GetMemoryValue(unsigned int offset, void *value, int size)
{
    static boolean firsttime = true;

    if (firsttime)
    {
        int p, i, val;

        firsttime = false;
        i = 0;

        //!
        // @category compat
        // @arg <version>
        //
        // Specify DOS version to emulate for NULL pointer dereference
        // emulation.  Supported versions are: dos622, dos71, dosbox.
        // The default is to emulate DOS 7.1 (Windows 98).
        //

        p = M_CheckParmWithArgs("-setmem", 1);

        if (p > 0)
        {
            // The missing "else" before the second test is Chocolate Doom's: with "dos622"
            // the custom branch below runs too. Kept, so that demos behave as natively.
            if (!strcasecmp(myargv[p + 1], "dos622"))
            {
                dos_mem_dump = mem_dump_dos622;
            }
            if (!strcasecmp(myargv[p + 1], "dos71"))
            {
                dos_mem_dump = mem_dump_win98;
            }
            else if (!strcasecmp(myargv[p + 1], "dosbox"))
            {
                dos_mem_dump = mem_dump_dosbox;
            }
            else
            {
                for (i = 0; i < DOS_MEM_DUMP_SIZE; ++i)
                {
                    ++p;

                    if (p >= myargc || myargv[p][0] == '-')
                    {
                        break;
                    }

                    M_StrToInt(myargv[p], &val);
                    mem_dump_custom[i++] = (unsigned char) val;
                }

                dos_mem_dump = mem_dump_custom;
            }
        }
    }

    switch (size)
    {
    case 1:
        *((unsigned char *) value) = dos_mem_dump[offset];
        return true;
    case 2:
        *((unsigned short *) value) = dos_mem_dump[offset]
                                    | (dos_mem_dump[offset + 1] << 8);
        return true;
    case 4:
        *((unsigned int *) value) = dos_mem_dump[offset]
                                  | (dos_mem_dump[offset + 1] << 8)
                                  | (dos_mem_dump[offset + 2] << 16)
                                  | (dos_mem_dump[offset + 3] << 24);
        return true;
    }

    return false;
}
