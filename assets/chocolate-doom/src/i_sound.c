// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
// The module dispatch is derived from Chocolate Doom's src/i_sound.c, Copyright (C) 2005-2014
// Simon Howard (GPL-2.0-or-later).
//
// doomlink — sound output: the engine's I_* sound and music API, and the audio pump that feeds
// the host's /dev/dsp.
//
// Owns: /dev/dsp and the output format. Sound effects (i_pcmsound.c) and music (Chocolate
// Doom's own OPL music module, i_oplmusic.c, over the OPL3 emulator driven by opl_pcm.c) are
// mixed into interleaved 16-bit stereo at the rate in DOOMLINK_AUDIO_RATE and written to
// /dev/dsp. The guest keeps about three tics of audio queued: the pump reads how many frames
// the host still holds (a 4-byte read of /dev/dsp) and mixes only the difference, so the
// emulated OPL's clock, and with it the music's tempo, follows the host's playback clock.
// Without /dev/dsp nothing is initialised at all: a headless run is silent and pays nothing.

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "doomtype.h"
#include "i_sound.h"
#include "i_video.h"
#include "m_argv.h"
#include "m_config.h"
#include "m_misc.h"

#include "doomlink.h"

// Output rate (Hz). The host's DOOMLINK_AUDIO_RATE overrides it at start-up; i_oplmusic.c
// reads it to set the OPL emulator's rate.
int snd_samplerate = 44100;

// The engine's sound variables. snd_maxslicetime_ms sets the queue depth (three slices);
// snd_cachesize and snd_musiccmd have no meaning here and are only kept in the config file.
int snd_cachesize = 64 * 1024 * 1024;
int snd_maxslicetime_ms = 28;
char *snd_musiccmd = "";
int snd_pitchshift = -1;
int snd_musicdevice = SNDDEVICE_SB;
int snd_sfxdevice = SNDDEVICE_SB;

// Stereo frames mixed per write; a normal top-up (one tic at 44.1 kHz) is ~1300.
#define PUMP_CHUNK_FRAMES 2048

// Lowest and highest DOOMLINK_AUDIO_RATE accepted.
#define MIN_AUDIO_RATE 8000
#define MAX_AUDIO_RATE 192000

static int dsp_fd = -1;

// Frames the pump keeps queued in the host.
static int target_queued_frames;

static const sound_module_t *sound_module;
static const music_module_t *music_module;

extern const sound_module_t sound_pcm_module;

static boolean SndDeviceInList(snddevice_t device, const snddevice_t *list, int len)
{
    int i;

    for (i = 0; i < len; ++i)
    {
        if (device == list[i])
        {
            return true;
        }
    }

    return false;
}

void I_InitSound(GameMission_t mission)
{
    boolean nosound, nosfx, nomusic;
    int rate;

    //!
    // @vanilla
    //
    // Disable all sound output.
    //

    nosound = M_CheckParm("-nosound") > 0;

    //!
    // @vanilla
    //
    // Disable sound effects.
    //

    nosfx = M_CheckParm("-nosfx") > 0;

    //!
    // @vanilla
    //
    // Disable music.
    //

    nomusic = M_CheckParm("-nomusic") > 0;

    if (nosound || screensaver_mode || (nosfx && nomusic))
    {
        return;
    }

    dsp_fd = DL_OpenDevice("dsp", O_RDWR);

    if (dsp_fd < 0)
    {
        printf("I_InitSound: no /dev/dsp, sound is off\n");
        return;
    }

    rate = DL_EnvInt("DOOMLINK_AUDIO_RATE", snd_samplerate);

    if (rate < MIN_AUDIO_RATE || rate > MAX_AUDIO_RATE)
    {
        fprintf(stderr, "I_InitSound: DOOMLINK_AUDIO_RATE=%i is out of range, using %i\n",
                rate, snd_samplerate);
        rate = snd_samplerate;
    }

    snd_samplerate = rate;
    target_queued_frames = (int) ((int64_t) snd_samplerate * 3 * snd_maxslicetime_ms / 1000);

    if (!nosfx
     && SndDeviceInList(snd_sfxdevice, sound_pcm_module.sound_devices,
                        sound_pcm_module.num_sound_devices)
     && sound_pcm_module.Init(mission))
    {
        sound_module = &sound_pcm_module;
    }

    if (!nomusic
     && SndDeviceInList(snd_musicdevice, music_opl_module.sound_devices,
                        music_opl_module.num_sound_devices)
     && music_opl_module.Init())
    {
        music_module = &music_opl_module;
    }

    if (sound_module == NULL && music_module == NULL)
    {
        printf("I_InitSound: snd_sfxdevice=%i and snd_musicdevice=%i have no output here\n",
               snd_sfxdevice, snd_musicdevice);
        close(dsp_fd);
        dsp_fd = -1;
        return;
    }

    printf("I_InitSound: %i Hz stereo to /dev/dsp, %i frames queued (sfx %s, music %s)\n",
           snd_samplerate, target_queued_frames,
           sound_module != NULL ? "on" : "off", music_module != NULL ? "OPL" : "off");
}

void I_ShutdownSound(void)
{
    if (sound_module != NULL)
    {
        sound_module->Shutdown();
        sound_module = NULL;
    }

    if (music_module != NULL)
    {
        music_module->Shutdown();
        music_module = NULL;
    }

    if (dsp_fd >= 0)
    {
        close(dsp_fd);
        dsp_fd = -1;
    }
}

void I_PumpSound(void)
{
    static int mix[PUMP_CHUNK_FRAMES * 2];
    static int16_t out[PUMP_CHUNK_FRAMES * 2];
    uint32_t queued = 0;
    int wanted;
    int frames;
    int i;

    if (dsp_fd < 0)
    {
        return;
    }

    if (read(dsp_fd, &queued, sizeof(queued)) != sizeof(queued))
    {
        queued = 0;
    }

    wanted = target_queued_frames - (int) queued;

    while (wanted > 0)
    {
        frames = wanted < PUMP_CHUNK_FRAMES ? wanted : PUMP_CHUNK_FRAMES;
        wanted -= frames;

        memset(mix, 0, frames * 2 * sizeof(*mix));

        if (music_module != NULL)
        {
            OPL_PCM_MixMusic(mix, frames);
        }

        if (sound_module != NULL)
        {
            I_PCM_MixSoundEffects(mix, frames);
        }

        for (i = 0; i < frames * 2; ++i)
        {
            int sample = mix[i];

            if (sample > INT16_MAX) sample = INT16_MAX;
            else if (sample < INT16_MIN) sample = INT16_MIN;

            out[i] = (int16_t) sample;
        }

        // The host accepts fewer bytes only when its buffer is full; what it refuses is
        // dropped (the OPL clock has moved on already), and the pump stops for now.
        if (write(dsp_fd, out, frames * 2 * sizeof(*out)) < (ssize_t) (frames * 2 * sizeof(*out)))
        {
            break;
        }
    }
}

int I_GetSfxLumpNum(sfxinfo_t *sfxinfo)
{
    if (sound_module != NULL)
    {
        return sound_module->GetSfxLumpNum(sfxinfo);
    }

    return 0;
}

void I_UpdateSound(void)
{
    if (sound_module != NULL)
    {
        sound_module->Update();
    }

    if (music_module != NULL && music_module->Poll != NULL)
    {
        music_module->Poll();
    }

    I_PumpSound();
}

static void CheckVolumeSeparation(int *vol, int *sep)
{
    if (*sep < 0)
    {
        *sep = 0;
    }
    else if (*sep > 254)
    {
        *sep = 254;
    }

    if (*vol < 0)
    {
        *vol = 0;
    }
    else if (*vol > 127)
    {
        *vol = 127;
    }
}

void I_UpdateSoundParams(int channel, int vol, int sep)
{
    if (sound_module != NULL)
    {
        CheckVolumeSeparation(&vol, &sep);
        sound_module->UpdateSoundParams(channel, vol, sep);
    }
}

int I_StartSound(sfxinfo_t *sfxinfo, int channel, int vol, int sep, int pitch)
{
    if (sound_module != NULL)
    {
        CheckVolumeSeparation(&vol, &sep);
        return sound_module->StartSound(sfxinfo, channel, vol, sep, pitch);
    }

    return 0;
}

void I_StopSound(int channel)
{
    if (sound_module != NULL)
    {
        sound_module->StopSound(channel);
    }
}

boolean I_SoundIsPlaying(int channel)
{
    if (sound_module != NULL)
    {
        return sound_module->SoundIsPlaying(channel);
    }

    return false;
}

void I_PrecacheSounds(sfxinfo_t *sounds, int num_sounds)
{
    if (sound_module != NULL && sound_module->CacheSounds != NULL)
    {
        sound_module->CacheSounds(sounds, num_sounds);
    }
}

void I_InitMusic(void)
{
}

void I_ShutdownMusic(void)
{
}

void I_SetMusicVolume(int volume)
{
    if (music_module != NULL)
    {
        music_module->SetMusicVolume(volume);
    }
}

void I_PauseSong(void)
{
    if (music_module != NULL)
    {
        music_module->PauseMusic();
    }
}

void I_ResumeSong(void)
{
    if (music_module != NULL)
    {
        music_module->ResumeMusic();
    }
}

void *I_RegisterSong(void *data, int len)
{
    if (music_module != NULL)
    {
        return music_module->RegisterSong(data, len);
    }

    return NULL;
}

void I_UnRegisterSong(void *handle)
{
    if (music_module != NULL)
    {
        music_module->UnRegisterSong(handle);
    }
}

void I_PlaySong(void *handle, boolean looping)
{
    if (music_module != NULL)
    {
        music_module->PlaySong(handle, looping);
    }
}

void I_StopSong(void)
{
    if (music_module != NULL)
    {
        music_module->StopSong();
    }
}

boolean I_MusicIsPlaying(void)
{
    if (music_module != NULL)
    {
        return music_module->MusicIsPlaying();
    }

    return false;
}

void I_BindSoundVariables(void)
{
    M_BindIntVariable("snd_musicdevice",         &snd_musicdevice);
    M_BindIntVariable("snd_sfxdevice",           &snd_sfxdevice);
    M_BindIntVariable("snd_maxslicetime_ms",     &snd_maxslicetime_ms);
    M_BindStringVariable("snd_musiccmd",         &snd_musiccmd);
    M_BindStringVariable("snd_dmxoption",        &snd_dmxoption);
    M_BindIntVariable("snd_cachesize",           &snd_cachesize);
    M_BindIntVariable("opl_io_port",             &opl_io_port);
    M_BindIntVariable("snd_pitchshift",          &snd_pitchshift);
}
