// SPDX-License-Identifier: GPL-3.0-or-later
// doomlink — the tiny part of SDL's API that Chocolate Doom's portable sources still name.
//
// Owns: SDL's integer types and byte-swap macros (m_misc, midifile, aes_prng, i_swap.h),
// SDL_GetPrefPath/SDL_free (m_config.c), an opaque SDL_Event (named in i_input.h's prototypes)
// and the SDL_mutex/SDL_cond prototypes that opl/opl.c's OPL_Delay uses. Nothing here talks to
// a real SDL: the definitions live in sdl_compat.c (GetPrefPath) and opl_pcm.c (mutex/cond,
// which only the OPL library uses). The headers SDL.h, SDL_stdinc.h, SDL_endian.h and
// SDL_filesystem.h next to this file all just include it.

#ifndef DOOMLINK_SDL_COMPAT_H
#define DOOMLINK_SDL_COMPAT_H

// Real SDL_stdinc.h pulls in the C library's basic headers, and some engine files (v_diskicon.c
// via i_swap.h) rely on that for memcpy/memset.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t Uint8;
typedef int8_t Sint8;
typedef uint16_t Uint16;
typedef int16_t Sint16;
typedef uint32_t Uint32;
typedef int32_t Sint32;
typedef uint64_t Uint64;
typedef int64_t Sint64;

typedef enum { SDL_FALSE = 0, SDL_TRUE = 1 } SDL_bool;

// wasm32 is little-endian, always.
#define SDL_LIL_ENDIAN 1234
#define SDL_BIG_ENDIAN 4321
#define SDL_BYTEORDER SDL_LIL_ENDIAN

static inline Uint16 SDL_Swap16(Uint16 x) { return __builtin_bswap16(x); }
static inline Uint32 SDL_Swap32(Uint32 x) { return __builtin_bswap32(x); }

#define SDL_SwapLE16(x) (x)
#define SDL_SwapLE32(x) (x)
#define SDL_SwapBE16(x) SDL_Swap16(x)
#define SDL_SwapBE32(x) SDL_Swap32(x)

#define SDL_free free
#define SDL_qsort qsort

// Returns a malloc'd "/data/": doomlink keeps config, saves and demos in the process's
// read-write mount.
char *SDL_GetPrefPath(const char *org, const char *app);

// Only i_input.h names it, in prototypes of functions doomlink does not have.
typedef union SDL_Event SDL_Event;

typedef struct SDL_mutex SDL_mutex;
typedef struct SDL_cond SDL_cond;
SDL_mutex *SDL_CreateMutex(void);
void SDL_DestroyMutex(SDL_mutex *mutex);
int SDL_LockMutex(SDL_mutex *mutex);
int SDL_UnlockMutex(SDL_mutex *mutex);
SDL_cond *SDL_CreateCond(void);
void SDL_DestroyCond(SDL_cond *cond);
int SDL_CondSignal(SDL_cond *cond);
int SDL_CondWait(SDL_cond *cond, SDL_mutex *mutex);

#endif
