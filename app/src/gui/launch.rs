//! Starting games off the UI thread: booting the kernel (compiling or loading doom.wasm can take
//! seconds) and spawning the guest happen on a worker thread; the UI polls a [`PendingLaunch`].

use super::netplay::NetplayError;
use crate::guest::{self, DoomConfig, DoomGuest};
use doomlink_kernel::{GuestModule, HostStderr, HostStdout, Kernel, NoNetwork};
use eframe::egui;
use std::any::Any;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

/// A started guest and whatever must live as long as it (a netgame's relay, for instance).
pub struct Launched {
    pub guest: DoomGuest,
    pub keep_alive: Option<Box<dyn Any + Send>>,
    /// The netgame's network as the lobby and the overlay show it (None: a local game).
    pub net: Option<Arc<dyn crate::netview::NetView>>,
}

/// A local game: what the Play screen or `doomlink run` chose.
#[derive(Debug, Clone, PartialEq)]
pub struct GameSetup {
    pub iwad: PathBuf,
    pub pwads: Vec<PathBuf>,
    /// `-skill N` (1–5), if a map is chosen.
    pub skill: Option<u8>,
    /// `-warp` arguments (`["1", "3"]` or `["7"]`); None: start at the title screen.
    pub warp: Option<Vec<String>>,
    /// End cleanly after this many tics (`doomlink run --tics`).
    pub tics: Option<u32>,
    /// More of Chocolate Doom's own arguments.
    pub args: Vec<String>,
}

impl GameSetup {
    /// The guest configuration for this setup.
    pub fn config(&self, data_dir: PathBuf, audio_rate: Option<u32>) -> DoomConfig {
        let mut args = Vec::new();
        if let Some(warp) = &self.warp {
            if let Some(skill) = self.skill {
                args.push("-skill".to_string());
                args.push(skill.to_string());
            }
            args.push("-warp".to_string());
            args.extend(warp.iter().cloned());
        }
        args.extend(self.args.iter().cloned());
        DoomConfig {
            iwad: self.iwad.clone(),
            pwads: self.pwads.clone(),
            data_dir,
            video: true,
            audio_rate,
            tics: self.tics,
            args,
        }
    }
}

/// The kernel local games run in, booted once per app.
static LOCAL_KERNEL: Mutex<Option<(Kernel, GuestModule)>> = Mutex::new(None);

fn local_kernel() -> Result<(Kernel, GuestModule), String> {
    let mut k = LOCAL_KERNEL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = &*k {
        return Ok(k.clone());
    }
    let booted = guest::boot(Arc::new(NoNetwork)).map_err(|e| format!("{e:#}"))?;
    *k = Some(booted.clone());
    Ok(booted)
}

/// A game being started on a worker thread.
pub struct PendingLaunch {
    rx: mpsc::Receiver<Result<Launched, String>>,
    /// What is being started, for the "Starting…" screen.
    pub label: String,
    pub since: Instant,
}

impl PendingLaunch {
    /// Runs `job` on a worker thread and wakes the UI when it is done.
    pub fn spawn(
        label: String,
        ctx: &egui::Context,
        job: impl FnOnce() -> Result<Launched, String> + Send + 'static,
    ) -> PendingLaunch {
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("game-launch".into())
            .spawn(move || {
                let _ = tx.send(job());
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            // The receiver then reports the failure on the first poll.
            let (tx, rx) = mpsc::channel();
            let _ = tx.send(Err(format!("cannot start a thread: {e}")));
            return PendingLaunch {
                rx,
                label,
                since: Instant::now(),
            };
        }
        PendingLaunch {
            rx,
            label,
            since: Instant::now(),
        }
    }

    /// A local game.
    pub fn local(config: DoomConfig, ctx: &egui::Context) -> PendingLaunch {
        let label = config
            .iwad
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        PendingLaunch::spawn(label, ctx, move || {
            let (kernel, module) = local_kernel()?;
            let guest = DoomGuest::start(
                &kernel,
                &module,
                &config,
                Arc::new(HostStdout),
                Arc::new(HostStderr),
            )
            .map_err(|e| format!("{e:#}"))?;
            Ok(Launched {
                guest,
                keep_alive: None,
                net: None,
            })
        })
    }

    /// A netgame through the [`super::netplay::Netplay`] implementation.
    pub fn net(
        label: String,
        ctx: &egui::Context,
        job: impl FnOnce() -> Result<Launched, NetplayError> + Send + 'static,
    ) -> PendingLaunch {
        PendingLaunch::spawn(label, ctx, move || job().map_err(|e| e.to_string()))
    }

    /// The result, once the worker is done.
    pub fn poll(&self) -> Option<Result<Launched, String>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                Some(Err("the game failed to start (its thread ended)".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_becomes_doom_arguments() {
        let s = GameSetup {
            iwad: "/w/freedoom1.wad".into(),
            pwads: vec![],
            skill: Some(4),
            warp: Some(vec!["2".into(), "3".into()]),
            tics: None,
            args: vec!["-fast".into()],
        };
        let c = s.config("/d".into(), Some(48000));
        assert_eq!(c.args, ["-skill", "4", "-warp", "2", "3", "-fast"]);
        assert!(c.video);
        assert_eq!(c.audio_rate, Some(48000));
        let title = GameSetup { warp: None, ..s };
        assert_eq!(title.config("/d".into(), None).args, ["-fast"]);
    }
}
