//! Starting games off the UI thread: booting the kernel (compiling or loading doom.wasm can take
//! seconds) and spawning the guest happen on a worker thread; the UI polls a [`PendingLaunch`].

use doomlink_play::guest::{DoomConfig, DoomGuest};
use doomlink_play::kernel::{HostStderr, HostStdout};
use doomlink_play::launch::{local_kernel, Launched};
use doomlink_play::netplay::NetplayError;
use eframe::egui;
use std::sync::{mpsc, Arc};
use std::time::Instant;

/// A game being started on a worker thread.
pub struct PendingLaunch {
    rx: mpsc::Receiver<Result<Launched, String>>,
    /// What is being started, for the "Starting…" screen.
    pub label: String,
    pub since: Instant,
    /// A join's download of the host's files, shown with a progress bar while one runs.
    pub download: Option<doomlink_play::wadcache::DownloadProgress>,
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
                download: None,
            };
        }
        PendingLaunch {
            rx,
            label,
            since: Instant::now(),
            download: None,
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

    /// A netgame through the [`doomlink_play::netplay::Netplay`] implementation.
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
