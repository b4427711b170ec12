// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// Lump validation, DMX padding and the pitch-shift ratio follow Chocolate Doom's
// src/i_sdlsound.c, Copyright (C) 1993-1996 Id Software, Inc. and (C) 2005-2014 Simon Howard
// (GPL-2.0-or-later).
//
// doomlink — the sound-effects module: Doom's DMX sound lumps mixed in software.
//
// Owns: the sixteen effect channels and the decoded-sound cache. A sound lump is 8-bit
// unsigned mono at its own rate (usually 11025 Hz); its samples are copied once into a buffer
// hung off sfxinfo->driver_data (the engine's field for this), and each channel plays them by
// stepping through at (sound rate / output rate) × pitch factor, interpolating linearly, with
// the left/right gains native Chocolate Doom gives SDL_mixer's panning.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deh_str.h"
#include "doomtype.h"
#include "i_sound.h"
#include "m_misc.h"
#include "w_wad.h"
#include "z_zone.h"

#include "doomlink.h"

#define NUM_CHANNELS 16

// A sound effect's samples, cached for the life of the process (the IWADs' effects are about
// 1.5 MiB in all; native keeps them converted to 16-bit stereo, four times bigger).
typedef struct
{
    uint8_t *samples;
    uint32_t length;
    uint32_t samplerate;
} cached_sound_t;

typedef struct
{
    const cached_sound_t *sound;  // NULL: the channel is silent
    uint64_t position;            // 32.32 fixed point, in source samples
    uint64_t step;                // 32.32 fixed point, source samples per output frame
    int left_gain, right_gain;    // 0..255
} channel_t;

static channel_t channels[NUM_CHANNELS];

static boolean use_sfx_prefix;

static void GetSfxLumpName(sfxinfo_t *sfx, char *buf, size_t buf_len)
{
    // Linked sounds play the lump of the sound they link to.
    if (sfx->link != NULL)
    {
        sfx = sfx->link;
    }

    // Doom's sound lumps are named DS*.
    if (use_sfx_prefix)
    {
        M_snprintf(buf, buf_len, "ds%s", DEH_String(sfx->name));
    }
    else
    {
        M_StringCopy(buf, DEH_String(sfx->name), buf_len);
    }
}

// Reads and checks a DMX sound lump; NULL if it is not a playable sound.
static cached_sound_t *LoadSound(sfxinfo_t *sfxinfo)
{
    cached_sound_t *sound;
    unsigned int lumplen;
    uint32_t length;
    byte *data;

    if (sfxinfo->driver_data != NULL)
    {
        return sfxinfo->driver_data;
    }

    if (sfxinfo->lumpnum < 0)
    {
        return NULL;
    }

    data = W_CacheLumpNum(sfxinfo->lumpnum, PU_STATIC);
    lumplen = W_LumpLength(sfxinfo->lumpnum);

    // Format 3, u16 rate, u32 length. Like DMX (and native), sounds of 48 samples or fewer
    // are not played, and the first and last 16 samples are padding.
    if (lumplen < 8 || data[0] != 0x03 || data[1] != 0x00)
    {
        W_ReleaseLumpNum(sfxinfo->lumpnum);
        return NULL;
    }

    length = data[4] | (data[5] << 8) | (data[6] << 16) | ((uint32_t) data[7] << 24);

    if (length > lumplen - 8 || length <= 48)
    {
        W_ReleaseLumpNum(sfxinfo->lumpnum);
        return NULL;
    }

    sound = malloc(sizeof(*sound));
    sound->samplerate = data[2] | (data[3] << 8);
    sound->length = length - 32;
    sound->samples = malloc(sound->length);
    memcpy(sound->samples, data + 8 + 16, sound->length);

    W_ReleaseLumpNum(sfxinfo->lumpnum);

    if (sound->samplerate == 0)
    {
        free(sound->samples);
        free(sound);
        return NULL;
    }

    sfxinfo->driver_data = sound;

    return sound;
}

static void I_PCM_PrecacheSounds(sfxinfo_t *sounds, int num_sounds)
{
    char namebuf[9];
    int i;

    for (i = 0; i < num_sounds; ++i)
    {
        GetSfxLumpName(&sounds[i], namebuf, sizeof(namebuf));
        sounds[i].lumpnum = W_CheckNumForName(namebuf);
        LoadSound(&sounds[i]);
    }
}

static int I_PCM_GetSfxLumpNum(sfxinfo_t *sfx)
{
    char namebuf[9];

    GetSfxLumpName(sfx, namebuf, sizeof(namebuf));

    return W_GetNumForName(namebuf);
}

static void I_PCM_UpdateSoundParams(int handle, int vol, int sep)
{
    int left, right;

    if (handle < 0 || handle >= NUM_CHANNELS)
    {
        return;
    }

    // sep 0 = full left, 254 = full right; vol 0..127. Same gains as native's Mix_SetPanning.
    left = ((254 - sep) * vol) / 127;
    right = (sep * vol) / 127;

    if (left < 0) left = 0;
    else if (left > 255) left = 255;
    if (right < 0) right = 0;
    else if (right > 255) right = 255;

    channels[handle].left_gain = left;
    channels[handle].right_gain = right;
}

static int I_PCM_StartSound(sfxinfo_t *sfxinfo, int channel, int vol, int sep, int pitch)
{
    const cached_sound_t *sound;
    double speed;

    if (channel < 0 || channel >= NUM_CHANNELS)
    {
        return -1;
    }

    channels[channel].sound = NULL;

    sound = LoadSound(sfxinfo);

    if (sound == NULL)
    {
        return -1;
    }

    // Native stretches a pitched sound to (2 - pitch/NORM_PITCH) times its length, an
    // approximation of vanilla measured by Chocolate Doom; playing it faster by the inverse
    // is the same thing.
    speed = 1.0;

    if (snd_pitchshift && pitch != NORM_PITCH)
    {
        speed = 1.0 / (2.0 - (double) pitch / NORM_PITCH);
    }

    channels[channel].position = 0;
    channels[channel].step = (uint64_t) (((double) sound->samplerate / snd_samplerate)
                                         * speed * 4294967296.0);
    channels[channel].sound = sound;

    I_PCM_UpdateSoundParams(channel, vol, sep);

    return channel;
}

static void I_PCM_StopSound(int handle)
{
    if (handle >= 0 && handle < NUM_CHANNELS)
    {
        channels[handle].sound = NULL;
    }
}

static boolean I_PCM_SoundIsPlaying(int handle)
{
    if (handle < 0 || handle >= NUM_CHANNELS)
    {
        return false;
    }

    return channels[handle].sound != NULL;
}

void I_PCM_MixSoundEffects(int *mix, int frames)
{
    int c, i;

    for (c = 0; c < NUM_CHANNELS; ++c)
    {
        channel_t *ch = &channels[c];
        const cached_sound_t *sound = ch->sound;
        uint64_t end;

        if (sound == NULL)
        {
            continue;
        }

        end = (uint64_t) sound->length << 32;

        for (i = 0; i < frames && ch->position < end; ++i)
        {
            uint32_t index = (uint32_t) (ch->position >> 32);
            int frac = (int) ((ch->position >> 16) & 0xffff);
            int a = (sound->samples[index] - 128) << 8;
            int b = index + 1 < sound->length ? (sound->samples[index + 1] - 128) << 8 : a;
            int sample = a + (((b - a) * frac) >> 16);

            mix[i * 2] += (sample * ch->left_gain) / 255;
            mix[i * 2 + 1] += (sample * ch->right_gain) / 255;

            ch->position += ch->step;
        }

        if (ch->position >= end)
        {
            ch->sound = NULL;
        }
    }
}

static boolean I_PCM_InitSound(GameMission_t mission)
{
    use_sfx_prefix = (mission == doom || mission == strife);
    memset(channels, 0, sizeof(channels));

    return true;
}

static void I_PCM_ShutdownSound(void)
{
    memset(channels, 0, sizeof(channels));
}

static void I_PCM_UpdateSound(void)
{
    // Channels end themselves while mixing.
}

// The sound cards whose digital effects this module stands in for, as native's SDL module.
static const snddevice_t sound_pcm_devices[] =
{
    SNDDEVICE_SB,
    SNDDEVICE_PAS,
    SNDDEVICE_GUS,
    SNDDEVICE_WAVEBLASTER,
    SNDDEVICE_SOUNDCANVAS,
    SNDDEVICE_AWE32,
};

const sound_module_t sound_pcm_module =
{
    sound_pcm_devices,
    arrlen(sound_pcm_devices),
    I_PCM_InitSound,
    I_PCM_ShutdownSound,
    I_PCM_GetSfxLumpNum,
    I_PCM_UpdateSound,
    I_PCM_UpdateSoundParams,
    I_PCM_StartSound,
    I_PCM_StopSound,
    I_PCM_SoundIsPlaying,
    I_PCM_PrecacheSounds,
};
