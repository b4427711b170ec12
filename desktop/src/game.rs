//! The game screen: a running guest's frames shown letterboxed at 4:3, the keyboard and mouse
//! sent to it as Doom events, its title and errors read from `/dev/control`, its lobby from
//! `/dev/lobby`, and its end — by itself, by an error, or because the window is closing (then it
//! is asked to quit as the window's close button asks native Chocolate Doom, so the config and a
//! demo being recorded are written, and stopped if it has not quit after a grace period). In a
//! netgame: the lobby's ping and chat, and the network overlay (the backquote key toggles it;
//! the key never reaches the game).

use crate::audio::AudioOutput;
use crate::frames::{FrameDump, FramePump, FrameStats, SharedStats};
use crate::keys::Keyboard;
use crate::settings::Settings;
use crate::view::{game_rect, PixelRect};
use doomlink_play::kernel::devices::InputEvent;
use doomlink_play::kernel::ExitStatus;
use doomlink_play::launch::Launched;
use doomlink_play::net::chocolate::lobby::LobbyReader;
use doomlink_screens::lobby::{lobby_panel, ChatInput, LobbyAction, LobbyNet};
use doomlink_screens::overlay::{net_overlay, ChatTicker};
use eframe::egui::{self, Color32, Event, PointerButton, Rect, TextureHandle, TextureOptions};
use eframe::egui_glow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a guest asked to quit gets before it is stopped. Chocolate Doom's quit plays a sound
/// and waits 1.5 s (M_QuitResponse), then writes its config and any demo.
pub const QUIT_GRACE: Duration = Duration::from_secs(5);

/// How a game ended.
#[derive(Debug, Clone, PartialEq)]
pub enum GameEnd {
    /// It ended by itself without an error (quit from the menu, end of a demo, `--tics`).
    Finished(ExitStatus),
    /// An engine error (`I_Error`), a trap, or a failed start: the message is for the player.
    Failed(String, ExitStatus),
    /// It ended because the window asked it to (`stopped`: it did not quit in time and was
    /// killed).
    Closed { status: ExitStatus, stopped: bool },
}

impl GameEnd {
    pub fn status(&self) -> &ExitStatus {
        match self {
            GameEnd::Finished(s) | GameEnd::Failed(_, s) | GameEnd::Closed { status: s, .. } => s,
        }
    }
}

enum Phase {
    Playing,
    /// Quit events sent; waiting for the guest to end.
    Quitting {
        since: Instant,
        killed: bool,
    },
}

/// What the mouse is doing.
#[derive(Default)]
struct Mouse {
    grabbed: bool,
    buttons: i32,
    /// Motion not sent yet, in counts (kept fractional so slow sensitivities are not lost).
    dx: f32,
    dy: f32,
}

/// A game in the window.
pub struct GameScreen {
    launched: Launched,
    pump: Option<FramePump>,
    texture: Option<TextureHandle>,
    /// The seq and size of the frame on screen.
    shown: Option<(u64, [usize; 2])>,
    keyboard: Keyboard,
    mouse: Mouse,
    /// The game's title line (`Freedoom: Phase 1 — E1M1`).
    pub title: Option<String>,
    error: Option<String>,
    lobby: LobbyReader,
    phase: Phase,
    /// Transient messages drawn over the game (e.g. "no audio device").
    notices: Vec<(String, Instant)>,
    stats: Option<SharedStats>,
    dump: Option<FrameDump>,
    audio_playing: bool,
    /// The lobby's chat line being typed.
    chat_input: ChatInput,
    /// Chat lines that arrived lately, for the overlay.
    ticker: ChatTicker,
    /// The overlay key was pressed in this pass.
    overlay_toggled: bool,
}

/// The key that shows and hides the network overlay: Doom binds nothing to it.
const OVERLAY_KEY: egui::Key = egui::Key::Backtick;

/// How often the guest's status is checked when nothing else wakes the UI.
const STATUS_POLL: Duration = Duration::from_millis(250);

/// How long a notice stays over the game.
const NOTICE_TIME: Duration = Duration::from_secs(6);

impl GameScreen {
    pub fn new(launched: Launched, ctx: &egui::Context, audio: Option<&AudioOutput>) -> GameScreen {
        let pump = launched.guest.framebuffer.clone().and_then(|fb| {
            match FramePump::start(fb, ctx.clone()) {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("doomlink: cannot start the frame thread: {e}");
                    None
                }
            }
        });
        let mut audio_playing = false;
        if let (Some(out), Some(ring)) = (audio, &launched.guest.audio) {
            out.play(ring.clone());
            audio_playing = true;
        }
        GameScreen {
            launched,
            pump,
            texture: None,
            shown: None,
            keyboard: Keyboard::default(),
            mouse: Mouse::default(),
            title: None,
            error: None,
            lobby: LobbyReader::default(),
            phase: Phase::Playing,
            notices: Vec::new(),
            stats: FrameStats::from_env(),
            dump: FrameDump::from_env(),
            audio_playing,
            chat_input: ChatInput::default(),
            ticker: ChatTicker::default(),
            overlay_toggled: false,
        }
    }

    pub fn notice(&mut self, text: String) {
        self.notices.push((text, Instant::now()));
    }

    pub fn is_quitting(&self) -> bool {
        matches!(self.phase, Phase::Quitting { .. })
    }

    /// The window is closing: ask the guest to quit (twice: the first quit event opens Doom's
    /// "are you sure?" message, the second answers it).
    pub fn request_quit(&mut self) {
        if self.is_quitting() {
            return;
        }
        eprintln!("doomlink: the window is closing; asking the game to quit");
        let g = &self.launched.guest;
        let mut release = Vec::new();
        self.keyboard.release_all(&mut release);
        for ev in release {
            g.input.push(ev);
        }
        g.input.push(InputEvent::quit());
        g.input.push(InputEvent::quit());
        // A guest still in the lobby reads no input events; the lobby has its own quit.
        if self.lobby.latest.as_ref().is_some_and(|l| !l.launched()) {
            g.lobby.send("quit");
        }
        self.phase = Phase::Quitting {
            since: Instant::now(),
            killed: false,
        };
    }

    /// Everything that must happen even while the window is hidden: the guest's messages, its
    /// end, the quit deadline, letting go of keys when focus is gone.
    pub fn logic(&mut self, ctx: &egui::Context) -> Option<GameEnd> {
        // `raw.focused`: also current in the logic-only passes eframe runs while the window
        // is hidden (the rest of the input is then the last shown pass's).
        if !ctx.input(|i| i.raw.focused) {
            self.let_go(ctx);
        }
        let g = &self.launched.guest;
        for line in g.control.drain() {
            if let Some(t) = line.strip_prefix("title ") {
                self.title = Some(t.to_string());
            } else if let Some(e) = line.strip_prefix("error ") {
                self.error = Some(e.to_string());
            }
        }
        for line in g.lobby.drain() {
            self.lobby.line(&line);
        }
        if let Phase::Quitting { since, killed } = &mut self.phase {
            if !*killed && since.elapsed() > QUIT_GRACE {
                eprintln!(
                    "doomlink: the game did not quit within {} s; stopping it",
                    QUIT_GRACE.as_secs()
                );
                g.process.kill();
                *killed = true;
            }
            // Keep polling while waiting.
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        let Some(status) = g.process.try_status() else {
            // Frames wake the UI 35 times a second; this covers a guest that writes none (in
            // the lobby, ending, hung), so its end is still seen.
            ctx.request_repaint_after(STATUS_POLL);
            return None;
        };
        self.finish();
        Some(match &self.phase {
            Phase::Quitting { killed, .. } => GameEnd::Closed {
                status,
                stopped: *killed,
            },
            Phase::Playing => match (&status, self.error.take()) {
                (_, Some(msg)) => GameEnd::Failed(msg, status),
                (ExitStatus::Trapped(t), None) => {
                    GameEnd::Failed(format!("the game crashed: {t}"), status.clone())
                }
                (ExitStatus::Killed, None) => {
                    GameEnd::Failed("the game was stopped".into(), status.clone())
                }
                (ExitStatus::Exited(0), None) => GameEnd::Finished(status.clone()),
                (ExitStatus::Exited(c), None) => {
                    GameEnd::Failed(format!("the game exited with status {c}"), status.clone())
                }
            },
        })
    }

    /// The app is shutting down with the game still in it (eframe can close the window without
    /// a pass that lets the app cancel it, e.g. under heavy load): the same quit as
    /// [`Self::request_quit`], waited for here, then a kill after the grace period.
    pub fn quit_and_wait(&mut self) -> ExitStatus {
        self.request_quit();
        let p = &self.launched.guest.process;
        let left = match self.phase {
            Phase::Quitting { since, .. } => QUIT_GRACE.saturating_sub(since.elapsed()),
            Phase::Playing => QUIT_GRACE,
        };
        let status = p.wait_timeout(left).unwrap_or_else(|| {
            eprintln!(
                "doomlink: the game did not quit within {} s; stopping it",
                QUIT_GRACE.as_secs()
            );
            p.kill();
            p.wait_timeout(Duration::from_secs(2))
                .unwrap_or(ExitStatus::Killed)
        });
        self.finish();
        status
    }

    /// Stops what this screen started (the pump, the audio source); the report if asked for.
    fn finish(&mut self) {
        if let (Some(stats), Some(pump)) = (&self.stats, &self.pump) {
            let (seen, replaced) = pump.counts();
            let report = stats
                .lock()
                .map(|s| s.report(seen, replaced))
                .unwrap_or_default();
            eprint!("{report}");
            self.stats = None;
        }
        self.pump = None;
    }

    /// Stops sending the audio of this game (the caller owns the output).
    pub fn stop_audio(&mut self, audio: Option<&AudioOutput>) {
        if self.audio_playing {
            if let Some(a) = audio {
                a.stop();
            }
            self.audio_playing = false;
        }
    }

    /// Releases every key and button and the mouse grab.
    fn let_go(&mut self, ctx: &egui::Context) {
        let mut out = Vec::new();
        self.keyboard.release_all(&mut out);
        if self.mouse.buttons != 0 {
            self.mouse.buttons = 0;
            out.push(InputEvent::mouse(0, 0, 0));
        }
        for ev in out {
            self.launched.guest.input.push(ev);
        }
        self.set_grab(ctx, false);
    }

    fn set_grab(&mut self, ctx: &egui::Context, grab: bool) {
        if self.mouse.grabbed == grab {
            return;
        }
        self.mouse.grabbed = grab;
        self.mouse.dx = 0.0;
        self.mouse.dy = 0.0;
        // X11 and Windows confine; macOS can only lock. Motion comes from raw device events
        // either way, so the pointer reaching the window's edge does not stop the turn.
        let mode = if grab {
            if cfg!(target_os = "macos") {
                egui::CursorGrab::Locked
            } else {
                egui::CursorGrab::Confined
            }
        } else {
            egui::CursorGrab::None
        };
        ctx.send_viewport_cmd(egui::ViewportCommand::CursorGrab(mode));
        ctx.send_viewport_cmd(egui::ViewportCommand::CursorVisible(!grab));
    }

    /// Turns this pass's input events into Doom events. `game_area` is where the picture is.
    fn input(&mut self, ctx: &egui::Context, game_area: Option<Rect>, settings: &Settings) {
        if self.is_quitting() {
            return;
        }
        let events = ctx.input(|i| i.events.clone());
        // A text field (the lobby's chat line) has the keyboard: keys are text, not moves.
        let typing = ctx.egui_wants_keyboard_input();
        let mut out: Vec<InputEvent> = Vec::new();
        if typing {
            self.keyboard.release_all(&mut out);
        }
        let mut mouse_changed = false;
        for ev in &events {
            match ev {
                Event::Key {
                    key,
                    physical_key,
                    pressed,
                    modifiers,
                    ..
                } => {
                    if crate::is_fullscreen_toggle(ev) || typing {
                        continue;
                    }
                    if *key == OVERLAY_KEY {
                        if *pressed && !ev_is_repeat(ev) && self.launched.net.is_some() {
                            self.overlay_toggled = true;
                        }
                        continue;
                    }
                    if *pressed && *key == egui::Key::Escape {
                        // Esc opens Doom's menu, which wants the pointer.
                        self.set_grab(ctx, false);
                    }
                    self.keyboard
                        .key(*physical_key, *key, *pressed, modifiers.shift, &mut out);
                }
                Event::Text(_) if typing => {}
                // The overlay key's character: the key itself was kept from the game above.
                Event::Text(t) if t == "`" && self.launched.net.is_some() => {}
                Event::Text(t) => self.keyboard.text(t, &mut out),
                // Ctrl+C/X/V reach egui as clipboard events instead of keys; in a game they are
                // Ctrl (fire) and a letter (a cheat being typed, a chat key).
                Event::Copy | Event::Cut | Event::Paste(_) => {
                    let c = match ev {
                        Event::Copy => b'c',
                        Event::Cut => b'x',
                        _ => b'v',
                    } as i32;
                    out.push(InputEvent::key_down(c));
                    out.push(InputEvent::key_up(c));
                }
                Event::PointerButton {
                    pos,
                    button,
                    pressed,
                    ..
                } => {
                    let bit = match button {
                        PointerButton::Primary => 1,
                        PointerButton::Secondary => 2,
                        PointerButton::Middle => 4,
                        _ => 0,
                    };
                    if !self.mouse.grabbed {
                        // The first click only takes the mouse; it does not fire.
                        if *pressed
                            && *button == PointerButton::Primary
                            && game_area.is_some_and(|r| r.contains(*pos))
                        {
                            self.set_grab(ctx, true);
                        }
                        continue;
                    }
                    let before = self.mouse.buttons;
                    if *pressed {
                        self.mouse.buttons |= bit;
                    } else {
                        self.mouse.buttons &= !bit;
                    }
                    mouse_changed |= before != self.mouse.buttons;
                }
                Event::MouseMoved(delta) if self.mouse.grabbed => {
                    self.mouse.dx += delta.x * settings.mouse_sensitivity;
                    // Doom's dy is positive forward: the mouse pushed away, screen y going up.
                    self.mouse.dy -= delta.y * settings.mouse_sensitivity;
                }
                Event::WindowFocused(false) => {
                    // Handled for certain in logic(); doing it here too keeps the order with
                    // the key events of this pass.
                    self.keyboard.release_all(&mut out);
                }
                _ => {}
            }
        }
        self.keyboard.end_frame();
        let (dx, dy) = (self.mouse.dx.trunc(), self.mouse.dy.trunc());
        if mouse_changed || dx != 0.0 || dy != 0.0 {
            self.mouse.dx -= dx;
            self.mouse.dy -= dy;
            out.push(InputEvent::mouse(self.mouse.buttons, dx as i32, dy as i32));
        }
        for ev in out {
            self.launched.guest.input.push(ev);
        }
    }

    /// Draws the game. Returns the overlay's new setting when the player toggled it (the app
    /// keeps it in [`Settings::show_net_overlay`]).
    pub fn ui(&mut self, ui: &mut egui::Ui, settings: &Settings) -> Option<bool> {
        let ctx = ui.ctx().clone();
        if let Some(s) = &self.stats {
            if let Ok(mut s) = s.lock() {
                s.pass();
            }
        }
        let options = if settings.scaling.nearest() {
            TextureOptions::NEAREST
        } else {
            TextureOptions::LINEAR
        };
        if let Some(frame) = self.pump.as_ref().and_then(|p| p.take()) {
            if let Some(d) = &mut self.dump {
                d.frame(frame.seq, &frame.image);
            }
            let size = frame.image.size;
            match &mut self.texture {
                Some(t) => t.set(frame.image, options),
                None => self.texture = Some(ctx.load_texture("doom-frame", frame.image, options)),
            }
            if let Some(s) = &self.stats {
                if let Ok(mut s) = s.lock() {
                    s.uploaded(frame.seq, frame.arrived);
                }
            }
            self.shown = Some((frame.seq, size));
        }

        let mut game_area = None;
        let mut lobby_action = None;
        // No fill: the window is cleared to black (App::clear_color), and a full-window rectangle
        // drawn every frame would cost a software renderer a second pass over every pixel.
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE)
            .show(ui, |ui| {
                let full = ui.max_rect();
                let ppp = ctx.pixels_per_point();
                let win = [
                    (full.width() * ppp).round() as u32,
                    (full.height() * ppp).round() as u32,
                ];
                if let (Some(tex), Some((seq, [w, h]))) = (&self.texture, self.shown) {
                    let r = game_rect(win[0], win[1], w as u32, h as u32, settings.scaling);
                    let rect = to_points(full, r, ppp);
                    game_area = Some(rect);
                    ui.painter().image(
                        tex.id(),
                        rect,
                        Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                        Color32::WHITE,
                    );
                    if let Some(stats) = &self.stats {
                        let stats = stats.clone();
                        ui.painter().add(egui::PaintCallback {
                            rect,
                            callback: Arc::new(egui_glow::CallbackFn::new(move |_, _| {
                                if let Ok(mut s) = stats.lock() {
                                    s.painted(seq);
                                }
                            })),
                        });
                    }
                    if let Some(d) = &mut self.dump {
                        d.view(seq, r, win);
                    }
                } else if self.lobby.latest.is_none() {
                    ui.centered_and_justified(|ui| {
                        ui.label(egui::RichText::new("Starting…").color(Color32::GRAY));
                    });
                }
                let net = self.launched.net.clone();
                if let Some(n) = &net {
                    self.ticker.update(n.chat(), Instant::now());
                }
                if let Some(l) = self.lobby.latest.as_ref().filter(|l| !l.launched()) {
                    let shown = net.as_deref().map(|n| LobbyNet {
                        peers: n.peers(),
                        chat: n.chat(),
                    });
                    lobby_action = lobby_panel(ui, l, shown.as_ref(), &mut self.chat_input);
                    crate::invite::lobby_invite(ui, &self.launched);
                } else if let Some(n) = &net {
                    let area = game_area.unwrap_or(full);
                    net_overlay(
                        &ctx,
                        area,
                        || n.peers(),
                        &self.ticker,
                        settings.show_net_overlay,
                    );
                }
                self.notices.retain(|(_, t)| t.elapsed() < NOTICE_TIME);
                let mut y = full.top() + 8.0;
                for (text, _) in &self.notices {
                    ui.painter().text(
                        egui::pos2(full.left() + 8.0, y),
                        egui::Align2::LEFT_TOP,
                        text,
                        egui::FontId::proportional(15.0),
                        Color32::from_rgb(255, 220, 120),
                    );
                    y += 20.0;
                }
                if self.is_quitting() {
                    ui.painter().text(
                        full.center_bottom() - egui::vec2(0.0, 12.0),
                        egui::Align2::CENTER_BOTTOM,
                        "Quitting…",
                        egui::FontId::proportional(16.0),
                        Color32::WHITE,
                    );
                }
            });
        match lobby_action {
            Some(LobbyAction::Start) => self.launched.guest.lobby.send("start"),
            Some(LobbyAction::Leave) => self.launched.guest.lobby.send("quit"),
            Some(LobbyAction::Chat(text)) => {
                if let Some(n) = &self.launched.net {
                    self.chat_input.error = n.send_chat(&text).err().map(|e| e.to_string());
                }
            }
            None => {}
        }
        self.input(&ctx, game_area, settings);
        if !self.notices.is_empty() {
            ctx.request_repaint_after(Duration::from_millis(500));
        }
        if self.launched.net.is_some() {
            // Figures and chat change without frames (in the lobby the guest draws none).
            ctx.request_repaint_after(Duration::from_millis(500));
        }
        std::mem::take(&mut self.overlay_toggled).then_some(!settings.show_net_overlay)
    }
}

fn ev_is_repeat(ev: &Event) -> bool {
    matches!(ev, Event::Key { repeat: true, .. })
}

/// A pixel rectangle of the window as egui points.
fn to_points(full: Rect, r: PixelRect, ppp: f32) -> Rect {
    Rect::from_min_size(
        full.min + egui::vec2(r.x as f32 / ppp, r.y as f32 / ppp),
        egui::vec2(r.w as f32 / ppp, r.h as f32 / ppp),
    )
}

impl Drop for GameScreen {
    /// The app is going away with the game still running (it should have ended through
    /// `request_quit` first): the same quit, waited for here, then a kill.
    fn drop(&mut self) {
        let p = &self.launched.guest.process;
        if p.try_status().is_some() {
            return;
        }
        if !self.is_quitting() {
            self.launched.guest.input.push(InputEvent::quit());
            self.launched.guest.input.push(InputEvent::quit());
        }
        if p.wait_timeout(QUIT_GRACE).is_none() {
            p.kill();
            let _ = p.wait_timeout(Duration::from_secs(1));
        }
    }
}
