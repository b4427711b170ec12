//! The one app struct: which screen is showing (home, a game starting, a game), the settings,
//! the audio output, and every transition between screens in one place ([`Transition`]).

use crate::audio::AudioOutput;
use crate::game::{GameEnd, GameScreen};
use crate::home::{Banner, HomeAction, HomeFacts, HomeScreen, Page};
use crate::launch::PendingLaunch;
use crate::settings::{settings_path, Settings};
use doomlink_play::launch::{GameSetup, Launched};
use doomlink_play::netplay::{
    parse_join_target, CodeExchange, InternetOptions, JoinTarget, ManualSide, NetAction,
    NetGameRequest, NetStart, Netplay, Transport,
};
use doomlink_play::wadcache::DownloadProgress;
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

/// What the window does as soon as it opens.
pub enum Direct {
    /// Starts this game (`doomlink run`).
    Game(GameSetup),
    /// Joins this link or address from the Join page (`doomlink LINK`).
    Join(String),
    /// Hosts or joins this netgame (`doomlink host` / `join`).
    Net(NetStart),
}

/// How the window was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `doomlink`: the home screen.
    Home,
    /// `doomlink run`, `host`, `join`: straight into a game; its normal end closes the window.
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
    /// A manual game being set up: the codes, shown on the Starting screen.
    codes: Option<CodeView>,
    /// Links that later `doomlink LINK` starts handed to this window (single instance).
    handed_links: Option<std::sync::mpsc::Receiver<String>>,
}

/// The Starting screen's part in a manual game: our code to copy, and (for the host) a field
/// for the joiner's answer code.
struct CodeView {
    exchange: Arc<CodeExchange>,
    /// Where the answer goes (the host's side; None once sent, and for a joiner).
    answer_tx: Option<std::sync::mpsc::Sender<String>>,
    answer: String,
    error: Option<String>,
}

impl CodeView {
    /// Draws it; true if the player cancelled.
    fn ui(&mut self, ui: &mut egui::Ui) -> bool {
        let Some(ours) = self.exchange.ours() else {
            ui.label("Making the code (gathering this machine's addresses)…");
            return ui.button("Cancel").clicked();
        };
        let waiting_for_answer = self.answer_tx.is_some();
        ui.label(if waiting_for_answer || !self.answer.is_empty() {
            "1. Send this offer code to your friend (they paste it on their Join page):"
        } else {
            "Send this answer code back to the host (they paste it on their screen):"
        });
        ui.add(
            egui::Label::new(RichText::new(&ours).monospace().size(11.0))
                .wrap()
                .selectable(true),
        );
        if ui.button("Copy code").clicked() {
            ui.ctx().copy_text(ours.clone());
        }
        ui.add_space(10.0);
        if let Some(tx) = &self.answer_tx {
            ui.label("2. Paste the answer code they send back:");
            let mut send = false;
            ui.horizontal(|ui| {
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut self.answer)
                        .hint_text("their answer code")
                        .desired_width(420.0),
                );
                send = ui.button("Connect").clicked()
                    || edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            });
            if send {
                use doomlink_play::net::online::manual::{CodeKind, ManualCode};
                match ManualCode::decode_kind(&self.answer, CodeKind::Answer) {
                    Ok(_) => {
                        let _ = tx.send(self.answer.trim().to_string());
                        self.answer_tx = None;
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        } else if !self.answer.is_empty() {
            ui.label("Connecting…");
        } else {
            ui.label("Waiting for the host to paste it…");
        }
        ui.add_space(10.0);
        ui.button("Cancel").clicked()
    }
}

/// How long settings must stay unchanged before they are written.
const SAVE_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

impl DoomlinkApp {
    pub fn new(
        ctx: &egui::Context,
        mode: Mode,
        direct: Option<Direct>,
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
            codes: None,
            handed_links: None,
        };
        match direct {
            Some(Direct::Game(setup)) => {
                let config = setup.config(app.data_dir.clone(), app.audio_rate());
                app.go(ctx, Transition::Launch(PendingLaunch::local(config, ctx)));
            }
            Some(Direct::Join(text)) => app.open_join(ctx, &text),
            Some(Direct::Net(start)) => app.start_net(ctx, start),
            None => {}
        }
        app
    }

    /// From now on, links from later starts arrive on `rx` (see `single_instance`).
    pub fn take_handed_links(&mut self, rx: std::sync::mpsc::Receiver<String>) {
        self.handed_links = Some(rx);
    }

    /// A later start handed us a link (or nothing: "show yourself"): raise the window and join.
    fn handed_link(&mut self, ctx: &egui::Context, text: &str) {
        ctx.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
        ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
        if text.trim().is_empty() {
            return;
        }
        eprintln!("doomlink: another start handed over a link or code");
        self.open_join(ctx, text);
    }

    /// Opens the Join page on `text` (a link the app was started with, or handed later): an
    /// invite link waits for the player's answer, an offer code or address is joined at once;
    /// text that is none of them stays on the page with the error.
    pub fn open_join(&mut self, ctx: &egui::Context, text: &str) {
        if matches!(self.screen, Screen::Game(_) | Screen::Starting(_)) {
            self.home.banner = Some(Banner::Error(
                "Already in a game: leave it first to join another.".into(),
            ));
            return;
        }
        // Who hosts the room is asked of the link's rendezvous, trusting what Settings say.
        let trust = self
            .settings
            .internet()
            .map(|i| i.trust())
            .unwrap_or_default();
        match self.home.offer_join(text, trust, &self.data_dir) {
            Ok(Some(action)) => self.home_action(ctx, action),
            Ok(None) => {}
            Err(e) => eprintln!("doomlink: {e}"),
        }
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
                self.codes = None;
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
                self.codes = None;
                if self.mode == Mode::Direct {
                    eprintln!("doomlink: the game did not start: {msg}");
                }
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
        let manual = matches!(action, HomeAction::HostManual(..));
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
            HomeAction::Host(setup, mut options) | HomeAction::HostManual(setup, mut options) => {
                remember(
                    &mut self.settings,
                    &setup,
                    self.home.choice.map.clone(),
                    self.home.choice.skill,
                );
                self.save_settings();
                options.game.skill = setup.skill;
                options.game.warp = setup
                    .warp
                    .as_deref()
                    .and_then(doomlink_play::netplay::warp_of);
                let mut game = setup.config(self.data_dir.clone(), self.audio_rate());
                game.args.clear();
                let needs_internet = manual || options.transport == Transport::Internet;
                let Some(internet) = self.internet_options(needs_internet) else {
                    return;
                };
                let request = NetGameRequest {
                    game,
                    player_name: self.settings.player_name.clone(),
                    internet,
                    progress: Default::default(),
                };
                let action = if manual {
                    NetAction::HostManual(options)
                } else {
                    NetAction::Host(options)
                };
                self.launch_net(ctx, request, action);
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
                let over_internet =
                    !matches!(parse_join_target(&address), Ok(JoinTarget::Address(_)));
                let Some(internet) = self.internet_options(over_internet) else {
                    return;
                };
                let request = NetGameRequest {
                    game,
                    player_name: self.settings.player_name.clone(),
                    internet,
                    progress: Default::default(),
                };
                self.launch_net(ctx, request, NetAction::Join(address));
            }
        }
    }

    /// Internet play's options from Settings. When they are wrong and `needed`, the home
    /// screen says so and there are none; when not needed, the defaults do.
    fn internet_options(&mut self, needed: bool) -> Option<InternetOptions> {
        match self.settings.internet() {
            Ok(i) => Some(i),
            Err(e) if needed => {
                self.home.banner = Some(Banner::Error(format!("Settings: {e}")));
                None
            }
            Err(_) => Some(Default::default()),
        }
    }

    /// A netgame from the command line: the request as the Host and Join pages make it, with
    /// what the command line gave in place of the Settings' values.
    fn start_net(&mut self, ctx: &egui::Context, start: NetStart) {
        let needs_internet = match &start.action {
            NetAction::Host(o) => o.transport != Transport::Lan,
            NetAction::HostManual(_) => true,
            NetAction::Join(t) => !matches!(parse_join_target(t), Ok(JoinTarget::Address(_))),
        };
        let Some(mut internet) =
            self.internet_options(needs_internet && start.rendezvous.is_none())
        else {
            // The error is on the home screen; say it where the command was typed too.
            if let Some(Banner::Error(e)) = &self.home.banner {
                eprintln!("doomlink: {e}");
            }
            return;
        };
        if start.rendezvous.is_some() {
            internet.rendezvous = start.rendezvous;
        }
        if start.rendezvous_ca_file.is_some() {
            internet.rendezvous_ca_file = start.rendezvous_ca_file;
        }
        internet.ice_servers.extend(start.ice_servers);
        let request = NetGameRequest {
            game: start.setup.config(self.data_dir.clone(), self.audio_rate()),
            player_name: start
                .player_name
                .unwrap_or_else(|| self.settings.player_name.clone()),
            internet,
            progress: Default::default(),
        };
        self.launch_net(ctx, request, start.action);
    }

    /// Hosts or joins: on a worker thread behind the Starting screen, or by trading codes.
    fn launch_net(&mut self, ctx: &egui::Context, request: NetGameRequest, action: NetAction) {
        let np = self.netplay.clone();
        match action {
            NetAction::HostManual(options) => {
                self.trade_codes(ctx, request, ManualSide::Host(options));
            }
            NetAction::Host(options) => {
                let p =
                    PendingLaunch::net("hosting".into(), ctx, move || np.host(&request, &options));
                self.go(ctx, Transition::Launch(p));
            }
            NetAction::Join(address) => {
                if let Ok(JoinTarget::OfferCode(code)) = parse_join_target(&address) {
                    self.trade_codes(ctx, request, ManualSide::Join(code));
                    return;
                }
                let label = match parse_join_target(&address) {
                    Ok(JoinTarget::Invite(_)) => "joining over the Internet".to_string(),
                    _ => format!("joining {address}"),
                };
                let progress = request.progress.clone();
                let mut p = PendingLaunch::net(label, ctx, move || np.join(&request, &address));
                p.download = Some(progress);
                self.go(ctx, Transition::Launch(p));
            }
        }
    }

    /// Starts a manual game: the worker makes our code and (for a host) waits for the joiner's,
    /// while the Starting screen shows ours and takes theirs ([`CodeView`]).
    fn trade_codes(&mut self, ctx: &egui::Context, request: NetGameRequest, side: ManualSide) {
        let repaint = ctx.clone();
        let (exchange, answer_tx) = CodeExchange::new(move || repaint.request_repaint());
        let host = matches!(side, ManualSide::Host(_));
        let label = if host {
            "a game with codes"
        } else {
            "joining with codes"
        };
        let np = self.netplay.clone();
        let x = exchange.clone();
        let p = PendingLaunch::net(label.into(), ctx, move || np.manual(&request, &side, &x));
        self.go(ctx, Transition::Launch(p));
        self.codes = Some(CodeView {
            exchange,
            // A joiner waits for nothing: its answer code goes out by hand, not through here.
            answer_tx: host.then_some(answer_tx),
            answer: String::new(),
            error: None,
        });
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match &self.screen {
            Screen::Game(g) => match &g.title {
                Some(t) => format!("{t} — doomlink"),
                None => "doomlink".to_string(),
            },
            // The title says where the window is: desktop tools (and tests) read it.
            Screen::Starting(_) if self.home.page == Page::Join => {
                "Joining a game — doomlink".to_string()
            }
            Screen::Starting(_) => "Starting — doomlink".to_string(),
            Screen::Home => format!("{} — doomlink", self.home.page.label()),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }
}

impl eframe::App for DoomlinkApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let handed: Vec<String> = self
            .handed_links
            .as_ref()
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default();
        for text in handed {
            self.handed_link(ctx, &text);
        }
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
        if ctx.input(|i| i.events.iter().any(crate::is_fullscreen_toggle)) {
            let full = ctx.input(|i| i.viewport().fullscreen.unwrap_or(false));
            ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(!full));
        }
        match &mut self.screen {
            Screen::Game(g) => {
                if let Some(on) = g.ui(ui, &self.settings) {
                    self.settings.show_net_overlay = on;
                    self.unsaved_since = Some(std::time::Instant::now());
                }
            }
            Screen::Starting(p) if self.codes.is_some() => {
                let label = p.label.clone();
                let mut cancel = false;
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.add_space(16.0);
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(RichText::new(format!("Starting {label}…")).size(18.0));
                    });
                    ui.add_space(12.0);
                    if let Some(c) = &mut self.codes {
                        cancel = c.ui(ui);
                    }
                });
                if cancel {
                    // The worker ends by itself: a host's sees the answer channel close.
                    self.codes = None;
                    self.screen = Screen::Home;
                }
                ctx.request_repaint_after(std::time::Duration::from_millis(100));
            }
            Screen::Starting(p) => {
                let label = p.label.clone();
                let download = p.download.as_ref().and_then(|d| d.get());
                egui::CentralPanel::default().show(ui, |ui| match download {
                    // The host's files this computer lacks, coming in before the game.
                    Some(d) => {
                        ui.vertical_centered(|ui| {
                            ui.add_space(ui.available_height() / 3.0);
                            ui.label(
                                RichText::new(format!(
                                    "Downloading from the host: {}",
                                    DownloadProgress::line(&d)
                                ))
                                .size(18.0),
                            );
                            ui.add_space(8.0);
                            let done = d.received as f32 / d.size.max(1) as f32;
                            ui.add(
                                egui::ProgressBar::new(done)
                                    .desired_width(360.0)
                                    .show_percentage(),
                            );
                        });
                    }
                    None => {
                        ui.centered_and_justified(|ui| {
                            ui.horizontal_centered(|ui| {
                                ui.spinner();
                                ui.label(RichText::new(format!("Starting {label}…")).size(18.0));
                            });
                        });
                    }
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
