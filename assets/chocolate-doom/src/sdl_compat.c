// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — the one SDL function the engine's portable sources call outside the OPL library:
// SDL_GetPrefPath, which m_config.c uses to place chocolate-doom.cfg, default.cfg, savegames
// and the autoload directory.
//
// Owns: where the guest keeps its files: the process's read-write mount, /data
// (kernel/ABI.md, "The VFS"). The mutex and condition stand-ins are in opl_pcm.c.

#include <string.h>

#include "SDL.h"

// The prefix m_config.c joins file names to; the trailing slash is part of SDL's contract.
#define DOOMLINK_DATA_DIR "/data/"

char *SDL_GetPrefPath(const char *org, const char *app)
{
    return strdup(DOOMLINK_DATA_DIR);
}
