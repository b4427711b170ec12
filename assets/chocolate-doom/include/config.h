// SPDX-License-Identifier: GPL-3.0-or-later
// doomlink — config.h for Chocolate Doom built as wasm32-wasi.
//
// Owns: the few autoconf results the engine's portable sources read. Chocolate Doom's
// configure would generate this file; we have no configure step, so the values are fixed here.
//
// PACKAGE_STRING takes part in the netgame handshake: client and server exchange it, and where
// it differs the client says the game may desync (the protocol both speak, "CHOCOLATE_DOOM_0",
// is negotiated apart from it). The engine is Chocolate Doom 3.1.1; the string stays what
// Debian 12's native chocolate-doom reports, "Chocolate Doom 3.0.0", the native peers doomlink
// is tested with tic for tic.

#ifndef DOOMLINK_CONFIG_H
#define DOOMLINK_CONFIG_H

#define PACKAGE_NAME "Chocolate Doom"
#define PACKAGE_TARNAME "chocolate-doom"
#define PACKAGE_VERSION "3.0.0"
#define PACKAGE_STRING "Chocolate Doom 3.0.0"
#define PROGRAM_PREFIX "chocolate-"

// wasi-libc declares both in <strings.h>, which doomtype.h then includes.
#define HAVE_DECL_STRCASECMP 1
#define HAVE_DECL_STRNCASECMP 1

// wasi-libc has opendir/readdir, so i_glob.c (WAD autoload directories) compiles unchanged.
#define HAVE_DIRENT_H 1

// Deliberately absent: HAVE_MMAP (w_file_stdc.c reads WADs instead), HAVE_LIBPNG,
// HAVE_LIBSAMPLERATE, HAVE_FLUIDSYNTH, HAVE_IOPERM. DISABLE_SDL2MIXER stays undefined so that
// opl.c lists its software-emulation driver slot (`opl_sdl_driver`), which doomlink's
// opl_pcm.c fills; SDL_mixer itself is not used anywhere.

#endif
