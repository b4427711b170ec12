//! Starting Chocolate Doom (doom.wasm) in a kernel with the mounts and devices the platform layer
//! expects (assets/chocolate-doom/README.md): the IWAD and PWADs read-only, the data dir
//! read-write at /data, /dev/fb0, /dev/input, /dev/dsp (not when headless), /dev/lobby and
//! /dev/control. Every way of playing (window, headless, host, join, dedicated rooms) starts its
//! guest here.

use anyhow::{Context, Result};
use doomlink_kernel::devices::{AudioRing, FrameBuffer, InputQueue, LineChannel};
use doomlink_kernel::{
    GuestModule, Kernel, KernelConfig, Mount, OutputSink, ProcessHandle, ProcessSpec, Vfs,
};
use std::path::PathBuf;
use std::sync::Arc;

/// Where compiled modules are cached (a second launch does not recompile): the user's cache
/// dir, else a private per-user directory in the temp dir. None (no cache) when that directory
/// is not safely ours: a cached module is loaded as native code, so one planted by another user
/// would run as us.
pub fn cache_dir() -> Option<PathBuf> {
    match directories::ProjectDirs::from("org", "doomlink", "doomlink") {
        Some(d) => Some(d.cache_dir().join("modules")),
        None => match doomlink_net::files::private_temp_dir("modules") {
            Ok(dir) => Some(dir),
            Err(e) => {
                tracing::warn!("no module cache: {e}");
                None
            }
        },
    }
}

/// Where config, saves and demos go by default.
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("org", "doomlink", "doomlink")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| {
            // No home: a private per-user directory, never a shared /tmp path another user
            // could have made first (the DTLS identity is kept here).
            doomlink_net::files::private_temp_dir("data").unwrap_or_else(|_| {
                std::env::temp_dir().join(format!("doomlink-data-{}", std::process::id()))
            })
        })
}

/// A kernel with the module cache, and doom.wasm loaded into it.
pub fn boot(host: Arc<dyn doomlink_kernel::HostIO>) -> Result<(Kernel, GuestModule)> {
    boot_with_cache(host, cache_dir())
}

/// `boot` with a chosen module cache (`None`: compile every time).
pub fn boot_with_cache(
    host: Arc<dyn doomlink_kernel::HostIO>,
    cache: Option<PathBuf>,
) -> Result<(Kernel, GuestModule)> {
    let kernel = Kernel::new(
        KernelConfig {
            cache_dir: cache,
            ..Default::default()
        },
        host,
    )?;
    let module = kernel
        .load(doomlink_assets::DOOM_WASM)
        .context("loading doom.wasm")?;
    Ok((kernel, module))
}

/// What to start.
#[derive(Debug, Clone)]
pub struct DoomConfig {
    pub iwad: PathBuf,
    /// PWADs and DEHACKED files (`.deh`, `.bex`: passed with -deh), in load order.
    pub pwads: Vec<PathBuf>,
    pub data_dir: PathBuf,
    /// A framebuffer device (a window will show it).
    pub video: bool,
    /// An audio device at this rate (None: silent, no /dev/dsp).
    pub audio_rate: Option<u32>,
    /// End cleanly after this many gametics (demos written).
    pub tics: Option<u32>,
    /// Chocolate Doom's own arguments.
    pub args: Vec<String>,
}

/// A running Chocolate Doom and the host's ends of its devices.
pub struct DoomGuest {
    pub process: ProcessHandle,
    pub framebuffer: Option<FrameBuffer>,
    pub input: InputQueue,
    pub audio: Option<AudioRing>,
    pub lobby: LineChannel,
    pub control: LineChannel,
}

impl DoomGuest {
    pub fn start(
        kernel: &Kernel,
        module: &GuestModule,
        cfg: &DoomConfig,
        stdout: Arc<dyn OutputSink>,
        stderr: Arc<dyn OutputSink>,
    ) -> Result<DoomGuest> {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("cannot create the data dir {}", cfg.data_dir.display()))?;
        let mut vfs = Vfs::new();
        let file_name = |p: &PathBuf| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "wad".into())
        };
        let iwad_guest = format!("/iwad/{}", file_name(&cfg.iwad).to_lowercase());
        vfs.mount(Mount::ReadOnlyFile {
            guest: iwad_guest.clone(),
            host: cfg.iwad.clone(),
        });
        vfs.mount(Mount::ReadWriteDir {
            guest: "/data".into(),
            host: cfg.data_dir.clone(),
        });
        let mut args = vec!["doom".to_string(), "-iwad".into(), iwad_guest];
        // DEHACKED patches go to -deh, every other file to -file, each in the order given.
        let is_deh = |p: &PathBuf| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("deh") || e.eq_ignore_ascii_case("bex"))
        };
        let (mut wads, mut dehs) = (Vec::new(), Vec::new());
        for (i, p) in cfg.pwads.iter().enumerate() {
            let g = format!("/pwad/{i}/{}", file_name(p));
            vfs.mount(Mount::ReadOnlyFile {
                guest: g.clone(),
                host: p.clone(),
            });
            if is_deh(p) {
                dehs.push(g);
            } else {
                wads.push(g);
            }
        }
        for (flag, files) in [("-file", wads), ("-deh", dehs)] {
            if !files.is_empty() {
                args.push(flag.into());
                args.extend(files);
            }
        }
        args.extend(cfg.args.iter().cloned());

        let framebuffer = cfg.video.then(FrameBuffer::new);
        let input = InputQueue::new();
        let audio = cfg
            .audio_rate
            .map(|rate| AudioRing::new(rate, rate as usize / 4));
        let lobby = LineChannel::new();
        let control = LineChannel::new();
        if let Some(fb) = &framebuffer {
            vfs.add_device("fb0", Arc::new(fb.clone()));
        }
        vfs.add_device("input", Arc::new(input.clone()));
        if let Some(a) = &audio {
            vfs.add_device("dsp", Arc::new(a.clone()));
        }
        vfs.add_device("lobby", Arc::new(lobby.clone()));
        vfs.add_device("control", Arc::new(control.clone()));

        let mut spec = ProcessSpec::new(args);
        spec.vfs = vfs;
        spec.stdout = stdout;
        spec.stderr = stderr;
        if let Some(rate) = cfg.audio_rate {
            spec.env
                .push(("DOOMLINK_AUDIO_RATE".into(), rate.to_string()));
        }
        if let Some(t) = cfg.tics {
            spec.env.push(("DOOMLINK_TICS".into(), t.to_string()));
        }
        let process = kernel.spawn(module, spec)?;
        Ok(DoomGuest {
            process,
            framebuffer,
            input,
            audio,
            lobby,
            control,
        })
    }
}
