// SPDX-License-Identifier: GPL-3.0-or-later
// doomlink: Chocolate Doom includes "SDL_filesystem.h"; everything it needs from it is in doomlink_sdl_compat.h.
#include "doomlink_sdl_compat.h"
