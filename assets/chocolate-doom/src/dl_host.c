// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (C) 2026 the doomlink authors
//
// doomlink — the host side of the platform layer: opening the /dev devices the doomlink kernel
// provides per process (kernel/ABI.md, "Devices"), the /dev/control text channel, temporary
// files, and reading the DOOMLINK_* environment variables.
//
// Owns: the /dev/control file descriptor and where temporary files go. The other devices
// belong to the file that uses them (fb0 and input: i_video.c / i_input.c, dsp: i_sound.c,
// lobby: net_lobby.c).

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "m_misc.h"

#include "doomlink.h"

int DL_OpenDevice(const char *name, int flags)
{
    char path[64];
    int fd;

    M_snprintf(path, sizeof(path), "/dev/%s", name);

    fd = open(path, flags);

    if (fd < 0 && errno != ENOENT)
    {
        fprintf(stderr, "doomlink: cannot open %s: %s\n", path, strerror(errno));
    }

    return fd < 0 ? -1 : fd;
}

// -2: not opened yet; -1: the host has no /dev/control.
static int control_fd = -2;

void DL_ControlLine(const char *format, ...)
{
    char line[512];
    va_list args;
    size_t len;
    size_t i;

    if (control_fd == -2)
    {
        control_fd = DL_OpenDevice("control", O_WRONLY);
    }

    if (control_fd < 0)
    {
        return;
    }

    va_start(args, format);
    M_vsnprintf(line, sizeof(line) - 1, format, args);
    va_end(args);

    len = strlen(line);

    // One record per line: fold the engine's multi-line messages and drop trailing blanks.
    for (i = 0; i < len; ++i)
    {
        if (line[i] == '\n' || line[i] == '\r')
        {
            line[i] = ' ';
        }
    }

    while (len > 0 && line[len - 1] == ' ')
    {
        --len;
    }

    line[len++] = '\n';

    if (write(control_fd, line, len) < 0)
    {
        // The host went away or refused the record; stop trying rather than fail every tic.
        control_fd = -1;
    }
}

// Where temporary files go: the read-write mount, as the guest's VFS has no /tmp. Only the
// OPL music module uses one (a song's MIDI, removed as soon as it is read).
char *DL_TempFile(const char *name)
{
    return M_StringJoin("/data/.tmp-", name, NULL);
}

int DL_EnvInt(const char *name, int fallback)
{
    const char *text = getenv(name);
    char *end;
    long value;

    if (text == NULL || *text == '\0')
    {
        return fallback;
    }

    value = strtol(text, &end, 10);

    if (*end != '\0')
    {
        fprintf(stderr, "doomlink: ignoring %s=%s (not a number)\n", name, text);
        return fallback;
    }

    return (int) value;
}
