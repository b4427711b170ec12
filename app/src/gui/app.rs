//! The one app struct: which screen is showing (home, a game starting, a game), the settings,
//! the audio output, and every transition between screens in one place ([`Transition`]).

use super::game::{GameEnd, GameScreen};
use super::home::{Banner, HomeAction, HomeFacts, HomeScreen};
use super::launch::{GameSetup, Launched, PendingLaunch};
use super::netplay::{NetGameRequest, Netplay};
use super::settings::{settings_path, Settings};
use crate::audio::AudioOutput;
use eframe::egui::{self, RichText};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// What the window shows.
enum Screen {
    Home,
    /// A game is being started on a worker thread.
    Starting(PendingLaunch),
    Game(Box<GameScreen>),
}

/// Every change of screen.
enum Transition {
    /// Home → Starting.
    Launch(PendingLaunch),
    /// Starting → Game.
    Started(Launched),
    /// Starting → Home, with the reason.
    StartFailed(String),
    /// Game → Home, or the window closes.
    Ended(GameEnd),
}

/// The audio device, opened once.
enum Audio {
    Open(AudioOutput),
    /// Why there is none; `told`: the player has been told once in a game.
    Unavailable {
        why: String,
        told: bool,
    },
}

/// How the window was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `doomlink`: the home screen.
    Home,
    /// `doomlink run`: straight into a game; its normal end closes the window.
    Direct,
}

pub struct DoomlinkApp {
    screen: Screen,
    home: HomeScreen,
    settings: Settings,
    settings_path: Option<PathBuf>,
    audio: Audio,
    netplay: Arc<dyn Netplay>,
    data_dir: PathBuf,
    mode: Mode,
    /// The process's exit status (for `doomlink run`: the game's).
    exit_code: Arc<AtomicI32>,
    /// The title last sent to the window.
    title: String,
    /// Settings changed and not saved yet: saved once they stop changing (a slider being
    /// dragged changes them every frame).
    unsaved_since: Option<std::time::Instant>,
}

/// How long settings must stay unchanged before they are written.
const SAVE_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

impl DoomlinkApp {
    pub fn new(
        ctx: &egui::Context,
        mode: Mode,
        direct: Option<GameSetup>,
        data_dir: PathBuf,
        netplay: Arc<dyn Netplay>,
        exit_code: Arc<AtomicI32>,
    ) -> DoomlinkApp {
        // Ctrl is Fire and -/= resize Doom's view: egui's Ctrl+plus/minus zoom would steal them.
        ctx.options_mut(|o| o.zoom_with_keyboard = false);
        let settings_path = settings_path();
        let mut banner = None;
        let settings = match settings_path.as_deref().map(Settings::load) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                banner = Some(Banner::Error(format!("{e} (using defaults)")));
                Settings::default()
            }
            None => Settings::default(),
        };
        let audio = match AudioOutput::open(settings.volume) {
            Ok(a) => Audio::Open(a),
            Err(e) => {
                let why = e.to_string();
                eprintln!("doomlink: {why}: the game runs without sound");
                Audio::Unavailable { why, told: false }
            }
        };
        let mut home = HomeScreen::new(&settings);
        home.banner = banner;
        let mut app = DoomlinkApp {
            screen: Screen::Home,
            home,
            settings,
            settings_path,
            audio,
            netplay,
            data_dir,
            mode,
            exit_code,
            title: String::new(),
            unsaved_since: None,
        };
        if let Some(setup) = direct {
            let config = setup.config(app.data_dir.clone(), app.audio_rate());
            app.go(ctx, Transition::Launch(PendingLaunch::local(config, ctx)));
        }
        app
    }

    fn audio_rate(&self) -> Option<u32> {
        match &self.audio {
            Audio::Open(a) => Some(a.rate()),
            Audio::Unavailable { .. } => None,
        }
    }

    fn audio_output(&self) -> Option<&AudioOutput> {
        match &self.audio {
            Audio::Open(a) => Some(a),
            Audio::Unavailable { .. } => None,
        }
    }

    fn save_settings(&mut self) {
        self.unsaved_since = None;
        if let Some(path) = &self.settings_path {
            if let Err(e) = self.settings.save(path) {
                self.home.banner = Some(Banner::Error(e.to_string()));
            }
        }
    }

    /// The one place screens change.
    fn go(&mut self, ctx: &egui::Context, t: Transition) {
        match t {
            Transition::Launch(p) => {
                self.screen = Screen::Starting(p);
            }
            Transition::Started(launched) => {
                let mut game = GameScreen::new(launched, ctx, self.audio_output());
                if let Audio::Unavailable { why, told } = &mut self.audio {
                    if !*told {
                        game.notice(format!("No sound: {}.", why.trim_end_matches('.')));
                        *told = true;
                    }
                }
                self.screen = Screen::Game(Box::new(game));
            }
            Transition::StartFailed(msg) => {
                self.home.banner = Some(Banner::Error(format!("The game did not start: {msg}")));
                self.screen = Screen::Home;
            }
            Transition::Ended(end) => {
                let audio = match &self.audio {
                    Audio::Open(a) => Some(a),
                    Audio::Unavailable { .. } => None,
                };
                if let Screen::Game(g) = &mut self.screen {
                    g.stop_audio(audio);
                }
                if self.mode == Mode::Direct {
                    self.exit_code.store(end.status().code(), Ordering::Relaxed);
                }
                match end {
                    GameEnd::Finished(_) if self.mode == Mode::Direct => {
                        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                    GameEnd::Finished(_) => {
                        self.home.banner = Some(Banner::Info("The game has ended.".into()));
                    }
                    GameEnd::Failed(msg, _) => {
                        eprintln!("doomlink: {msg}");
                        self.home.banner = Some(Banner::Error(msg));
                    }
                    GameEnd::Closed { stopped, .. } => {
                        if stopped {
                            eprintln!("doomlink: the game was stopped before it had quit");
                        }
                        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                }
                self.screen = Screen::Home;
            }
        }
    }

    fn home_action(&mut self, ctx: &egui::Context, action: HomeAction) {
        let remember = |s: &mut Settings, setup: &GameSetup, map: Option<String>, skill: u8| {
            s.last_iwad = Some(setup.iwad.clone());
            s.last_pwads = setup.pwads.clone();
            s.last_map = map;
            s.last_skill = skill;
        };
        match action {
            HomeAction::SettingsChanged => {
                if let Audio::Open(a) = &self.audio {
                    a.set_volume(self.settings.volume);
                }
                self.unsaved_since = Some(std::time::Instant::now());
                ctx.request_repaint_after(SAVE_DELAY);
            }
            HomeAction::Play(setup) => {
                remember(
                    &mut self.settings,
                    &setup,
                    self.home.choice.map.clone(),
                    self.home.choice.skill,
                );
                self.save_settings();
                let config = setup.config(self.data_dir.clone(), self.audio_rate());
                self.home.banner = None;
                self.go(ctx, Transition::Launch(PendingLaunch::local(config, ctx)));
            }
            HomeAction::Host(setup, mut options) => {
                remember(
                    &mut self.settings,
                    &setup,
                    self.home.choice.map.clone(),
                    self.home.choice.skill,
                );
                self.save_settings();
                options.game.skill = setup.skill;
                options.game.warp = setup.warp.as_deref().and_then(super::netplay::warp_of);
                let mut game = setup.config(self.data_dir.clone(), self.audio_rate());
                game.args.clear();
                let request = NetGameRequest {
                    game,
                    player_name: self.settings.player_name.clone(),
                };
                let np = self.netplay.clone();
                let p =
                    PendingLaunch::net("hosting".into(), ctx, move || np.host(&request, &options));
                self.go(ctx, Transition::Launch(p));
            }
            HomeAction::Join(address) => {
                // The server decides the game; the IWAD and PWADs must be the same as its own.
                let Ok(setup) = self.home.choice.setup() else {
                    self.home.banner = Some(Banner::Error(
                        "Choose the IWAD (and PWADs) the host plays on the Play page first.".into(),
                    ));
                    return;
                };
                let mut game = setup.config(self.data_dir.clone(), self.audio_rate());
                game.args.clear();
                let request = NetGameRequest {
                    game,
                    player_name: self.settings.player_name.clone(),
                };
                let np = self.netplay.clone();
                let label = format!("joining {address}");
                let p = PendingLaunch::net(label, ctx, move || np.join(&request, &address));
                self.go(ctx, Transition::Launch(p));
            }
        }
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match &self.screen {
            Screen::Game(g) => match &g.title {
                Some(t) => format!("{t} — doomlink"),
                None => "doomlink".to_string(),
            },
            _ => "doomlink".to_string(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }
}

impl eframe::App for DoomlinkApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        // Closing the window while a game runs first asks the game to quit; the window closes
        // when it has (Transition::Ended with GameEnd::Closed).
        if ctx.input(|i| i.viewport().close_requested()) {
            if let Screen::Game(g) = &mut self.screen {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                g.request_quit();
            }
        }
        let t = match &mut self.screen {
            Screen::Home => None,
            Screen::Starting(p) => p.poll().map(|r| match r {
                Ok(l) => Transition::Started(l),
                Err(e) => Transition::StartFailed(e),
            }),
            Screen::Game(g) => g.logic(ctx).map(Transition::Ended),
        };
        if let Some(t) = t {
            self.go(ctx, t);
        }
        self.update_title(ctx);
        if self
            .unsaved_since
            .is_some_and(|t| t.elapsed() >= SAVE_DELAY)
        {
            self.save_settings();
        }
    }

    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        match self.screen {
            // The letterbox.
            Screen::Game(_) => [0.0, 0.0, 0.0, 1.0],
            _ => visuals.panel_fill.to_normalized_gamma_f32(),
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if self.unsaved_since.is_some() {
            self.save_settings();
        }
        // Normally a game has ended before the window closes (logic() cancels the close and asks
        // the game to quit first); if eframe closed it anyway, end the game cleanly here.
        if let Screen::Game(g) = &mut self.screen {
            let status = g.quit_and_wait();
            if self.mode == Mode::Direct {
                self.exit_code.store(status.code(), Ordering::Relaxed);
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if ctx.input(|i| i.events.iter().any(super::is_fullscreen_toggle)) {
            let full = ctx.input(|i| i.viewport().fullscreen.unwrap_or(false));
            ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(!full));
        }
        match &mut self.screen {
            Screen::Game(g) => g.ui(ui, &self.settings),
            Screen::Starting(p) => {
                let label = p.label.clone();
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.centered_and_justified(|ui| {
                        ui.horizontal_centered(|ui| {
                            ui.spinner();
                            ui.label(RichText::new(format!("Starting {label}…")).size(18.0));
                        });
                    });
                });
                ctx.request_repaint_after(std::time::Duration::from_millis(100));
            }
            Screen::Home => {
                let audio = match &self.audio {
                    Audio::Open(a) => format!("Sound: {}", a.description()),
                    Audio::Unavailable { why, .. } => format!("No sound: {why}"),
                };
                let facts = HomeFacts {
                    audio: &audio,
                    settings_path: self.settings_path.as_deref(),
                    data_dir: &self.data_dir,
                    netplay: &self.netplay,
                };
                if let Some(a) = self.home.ui(ui, &mut self.settings, &facts) {
                    self.home_action(&ctx, a);
                }
            }
        }
    }
}
