// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// Derived from Chocolate Doom's src/i_main.c, Copyright (C) 2005-2014 Simon Howard
// (GPL-2.0-or-later).
//
// doomlink — the program entry point of doom.wasm.
//
// Owns: main(): the engine's copy of the arguments, response files, the working directory
// (/data, the read-write mount), and the doomlink rule that every server is private (never
// registers with the Internet master server).

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "doomtype.h"
#include "m_argv.h"
#include "m_misc.h"

void D_DoomMain(void);

// doomlink's relay only carries traffic inside its own virtual network, and a guest must never
// contact the Internet on its own: a server started with -server (or the -dedicated one) gets
// -privateserver added, which is what net_server.c checks before it registers with
// master.chocolate-doom.org.
static void ForcePrivateServer(void)
{
    char **args;
    int i;

    if (!M_ParmExists("-server") && !M_ParmExists("-dedicated"))
    {
        return;
    }

    if (M_ParmExists("-privateserver"))
    {
        return;
    }

    args = malloc((myargc + 1) * sizeof(char *));

    for (i = 0; i < myargc; ++i)
    {
        args[i] = myargv[i];
    }

    args[myargc] = M_StringDuplicate("-privateserver");
    myargv = args;
    ++myargc;
}

int main(int argc, char **argv)
{
    int i;

    // The host shows the guest's stdout as a log; whole lines as they happen read better than
    // one block at exit.
    setvbuf(stdout, NULL, _IOLBF, 0);

    myargc = argc;
    myargv = malloc(argc * sizeof(char *));

    for (i = 0; i < argc; ++i)
    {
        myargv[i] = M_StringDuplicate(argv[i]);
    }

    //!
    // Print the program version and exit.
    //
    if (M_ParmExists("-version") || M_ParmExists("--version"))
    {
        puts(PACKAGE_STRING);
        exit(0);
    }

    // Relative paths (-record NAME, -playdemo NAME, -file NAME) mean the user's files, which
    // live in the read-write mount; without one, "/" stays the working directory.
    chdir("/data");

    M_FindResponseFile();
    M_SetExeDir();
    ForcePrivateServer();

    D_DoomMain();

    return 0;
}
