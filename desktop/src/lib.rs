//! The desktop window (eframe/egui): the home screen (Play, Host, Join, LAN games, Settings) and
//! the game view. One app struct ([`app::DoomlinkApp`]) owns the current screen and changes it
//! only through explicit transitions; each screen is its own type:
//!
//! - `home`: the home screen and its pages; `choice`: the IWAD/PWAD/skill/map picker they share
//! - `game`: a running game — frames, keyboard and mouse, title, errors, lobby, quitting
//! - `frames`: the thread that brings frames from the guest, the measurements, the frame dump
//! - `keys`: egui keys to Doom key codes
//! - `launch`: starting guests off the UI thread (network play comes through doomlink-play's
//!   `Netplay`)
//! - `invite`: a hosted Internet game's link, Copy button and QR code beside the lobby;
//!   `confirm_join`: the question an invite link opened from outside waits on
//! - `settings`: the app's settings file; `wads`: map lists
//! - `audio`: the guest's /dev/dsp ring to the sound device (cpal); `single_instance`: one window
//!   per user and display, later starts handing their link to it
//!
//! The lobby panel, the network overlay and the 4:3 letterbox are doomlink-screens', which the
//! browser page draws too.

#![forbid(unsafe_code)]

mod app;
pub mod audio;
mod choice;
mod confirm_join;
mod frames;
mod game;
mod home;
pub mod invite;
pub mod keys;
pub mod launch;
pub mod settings;
pub mod single_instance;
pub use doomlink_screens::view;
mod wads;

pub use doomlink_play::launch::{GameSetup, Launched};
pub use doomlink_play::netplay::Netplay;

use eframe::egui;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// What the window opens on.
pub enum StartWith {
    /// The home screen (`doomlink` with no arguments).
    Home,
    /// This game (`doomlink run` without `--headless`).
    Game(GameSetup),
    /// The Join page, joining this text at once (`doomlink LINK`, as a URL handler starts the
    /// app): an invite link, or an address. If it is not one, the page shows why.
    Join(String),
    /// A netgame from the command line (`doomlink host` / `join` without `--headless`): hosted
    /// or joined at once, into the lobby; its normal end closes the window, as for `Game`.
    Net(doomlink_play::netplay::NetStart),
}

/// Why the window could not run.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    #[error("cannot open the window: {0}")]
    Window(String),
}

/// Opens the window and runs it until it is closed. Returns the exit status: for a game opened
/// directly, the game's (0 when it quit normally); otherwise 0.
pub fn run(
    start: StartWith,
    data_dir: PathBuf,
    netplay: Arc<dyn Netplay>,
    instance: Option<single_instance::Listener>,
) -> Result<i32, GuiError> {
    let exit_code = Arc::new(AtomicI32::new(0));
    let (mode, direct) = match start {
        StartWith::Home => (app::Mode::Home, None),
        StartWith::Game(g) => (app::Mode::Direct, Some(app::Direct::Game(g))),
        StartWith::Join(text) => (app::Mode::Home, Some(app::Direct::Join(text))),
        StartWith::Net(start) => (app::Mode::Direct, Some(app::Direct::Net(start))),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("doomlink")
            .with_app_id("doomlink")
            .with_inner_size([960.0, 720.0])
            .with_min_inner_size([320.0, 240.0]),
        // Dithering adds noise of up to half a level to every pixel: it would alter the game's
        // exact palette colours, and costs a software renderer (Mesa's llvmpipe) time per pixel.
        dithering: false,
        ..Default::default()
    };
    let code = exit_code.clone();
    eframe::run_native(
        "doomlink",
        options,
        Box::new(move |cc| {
            let mut app =
                app::DoomlinkApp::new(&cc.egui_ctx, mode, direct, data_dir, netplay, code);
            if let Some(listener) = instance {
                // Links handed over by later starts: into a channel, and wake the UI.
                let (tx, rx) = std::sync::mpsc::channel();
                let ctx = cc.egui_ctx.clone();
                listener.spawn(move |msg| {
                    let _ = tx.send(msg);
                    ctx.request_repaint();
                });
                app.take_handed_links(rx);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| GuiError::Window(e.to_string()))?;
    Ok(exit_code.load(Ordering::Relaxed))
}

/// F11, or Alt+Enter: the window's fullscreen toggle, never sent to the game.
pub(crate) fn is_fullscreen_toggle(ev: &egui::Event) -> bool {
    match ev {
        egui::Event::Key {
            key,
            pressed: true,
            modifiers,
            repeat: false,
            ..
        } => *key == egui::Key::F11 || (*key == egui::Key::Enter && modifiers.alt),
        _ => false,
    }
}
