//! The home screen: a column of places — Play, Host, Join, LAN games, Settings — each its own
//! page type, and a banner for what happened last (a game's error, a failed start). Pages return
//! a [`HomeAction`]; the app turns it into a state transition.

use crate::choice::GameChoice;
use crate::confirm_join::{Answer, OutsideInvite};
use crate::keys::DEFAULT_BINDINGS;
use crate::settings::{InternetSettingsError, Settings, TurnServer};
use crate::view::Scaling;
use doomlink_play::launch::GameSetup;
use doomlink_play::netplay::{
    parse_join_target, GameMode, HostOptions, InternetOptions, JoinTextError, LanGame, Netplay,
    NetplayError, Transport,
};
use eframe::egui::{self, RichText};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};

/// What the player asked the home screen for.
pub enum HomeAction {
    Play(GameSetup),
    Host(GameSetup, HostOptions),
    /// Host over the Internet with no rendezvous, by trading codes with one friend.
    HostManual(GameSetup, HostOptions),
    Join(String),
    /// Settings changed: save them, apply the volume.
    SettingsChanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Play,
    Host,
    Join,
    Lan,
    Settings,
}

impl Page {
    const ALL: [Page; 5] = [
        Page::Play,
        Page::Host,
        Page::Join,
        Page::Lan,
        Page::Settings,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Page::Play => "Play",
            Page::Host => "Host a game",
            Page::Join => "Join a game",
            Page::Lan => "LAN games",
            Page::Settings => "Settings",
        }
    }
}

/// A message at the top of the home screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Banner {
    Error(String),
    Info(String),
}

pub struct HomeScreen {
    pub page: Page,
    pub choice: GameChoice,
    pub banner: Option<Banner>,
    host: HostPage,
    join: JoinPage,
    lan: LanPage,
}

/// What the home screen shows about the machine (read-only facts).
pub struct HomeFacts<'a> {
    pub audio: &'a str,
    pub settings_path: Option<&'a std::path::Path>,
    pub data_dir: &'a std::path::Path,
    pub netplay: &'a Arc<dyn Netplay>,
}

impl HomeScreen {
    pub fn new(settings: &Settings) -> HomeScreen {
        HomeScreen {
            page: Page::Play,
            choice: GameChoice::new(
                settings.last_iwad.clone(),
                settings.last_pwads.clone(),
                settings.last_skill,
                settings.last_map.clone(),
            ),
            banner: None,
            host: HostPage::default(),
            join: JoinPage::default(),
            lan: LanPage::default(),
        }
    }

    /// The Join page on `text` that came from outside the window (the URL handler, a second
    /// start): an invite link waits there for the player's answer (`Ok(None)`; see
    /// `confirm_join`; `trust` checks its rendezvous's certificate when asking who hosts); an address or an offer code gives the action that joins it, or why it
    /// is not something to join (then also shown under the field).
    pub fn offer_join(
        &mut self,
        text: &str,
        trust: doomlink_play::net::tls_client::ClientTls,
        data_dir: &std::path::Path,
    ) -> Result<Option<HomeAction>, JoinTextError> {
        self.page = Page::Join;
        self.join.address = text.trim().to_string();
        if let Some(q) = OutsideInvite::from_text(text, trust, data_dir.to_path_buf()) {
            eprintln!("doomlink: asking before joining {}", q.summary());
            self.join.error = None;
            self.join.asking = Some(q);
            return Ok(None);
        }
        self.join.submit().map(Some)
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &mut Settings,
        facts: &HomeFacts,
    ) -> Option<HomeAction> {
        let internet = settings.internet();
        let mut action = None;
        egui::Panel::left("home-nav")
            .resizable(false)
            .exact_size(170.0)
            .show(ui, |ui| {
                ui.add_space(14.0);
                ui.heading(RichText::new("doomlink").strong().size(26.0));
                ui.label(RichText::new("Classic DOOM with friends").weak());
                ui.add_space(18.0);
                for p in Page::ALL {
                    let label = RichText::new(p.label()).size(17.0);
                    if ui
                        .add_sized(
                            [150.0, 32.0],
                            egui::Button::selectable(self.page == p, label),
                        )
                        .clicked()
                    {
                        self.page = p;
                    }
                }
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.add_space(8.0);
                if let Some(b) = &self.banner {
                    let closed = banner_ui(ui, b);
                    if closed {
                        self.banner = None;
                    }
                    ui.add_space(8.0);
                }
                action = match self.page {
                    Page::Play => play_page(ui, &mut self.choice),
                    Page::Host => {
                        let a = self.host.ui(ui, &mut self.choice, &internet);
                        if std::mem::take(&mut self.host.to_settings) {
                            self.page = Page::Settings;
                        }
                        a
                    }
                    Page::Join => {
                        let trust = internet.as_ref().map(|i| i.trust()).unwrap_or_default();
                        self.join.ui(ui, trust, facts.data_dir)
                    }
                    Page::Lan => self.lan.ui(ui, facts.netplay),
                    Page::Settings => settings_page(ui, settings, facts),
                };
            });
        });
        action
    }
}

/// Draws a banner; true if the player dismissed it.
fn banner_ui(ui: &mut egui::Ui, b: &Banner) -> bool {
    let (text, color) = match b {
        Banner::Error(t) => (t, ui.visuals().error_fg_color),
        Banner::Info(t) => (t, ui.visuals().hyperlink_color),
    };
    let mut closed = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(color, RichText::new(text).size(15.0));
            if ui.small_button("Dismiss").clicked() {
                closed = true;
            }
        });
    });
    closed
}

fn play_page(ui: &mut egui::Ui, choice: &mut GameChoice) -> Option<HomeAction> {
    ui.heading("Play");
    ui.label("A game on this computer.");
    ui.add_space(10.0);
    choice.ui(ui);
    ui.add_space(16.0);
    let start = ui.add_sized(
        [160.0, 40.0],
        egui::Button::new(RichText::new("Start").size(20.0).strong()),
    );
    let mut action = None;
    if start.clicked() {
        match choice.setup() {
            Ok(s) => action = Some(HomeAction::Play(s)),
            Err(e) => choice.error = Some(e),
        }
    }
    ui.add_space(16.0);
    choice.title_ui(ui);
    action
}

/// Shown on the network pages until LAN play exists.
#[derive(Default)]
struct HostPage {
    options: HostOptions,
    /// The player asked to go to the Settings page (to set a rendezvous).
    to_settings: bool,
}

impl HostPage {
    fn ui(
        &mut self,
        ui: &mut egui::Ui,
        choice: &mut GameChoice,
        internet: &Result<InternetOptions, InternetSettingsError>,
    ) -> Option<HomeAction> {
        ui.heading("Host a game");
        ui.horizontal(|ui| {
            ui.label("Over");
            let t = &mut self.options.transport;
            ui.selectable_value(t, Transport::Lan, "LAN");
            ui.selectable_value(t, Transport::Internet, "Internet");
            ui.selectable_value(t, Transport::Server, "On a server");
        });
        // Hosting over the Internet needs a rendezvous (no public one is assumed), or codes.
        let mut can_host = true;
        let mut manual = None;
        match self.options.transport {
            Transport::Lan => {
                ui.label("Others join you by your address, or find the game under LAN games.");
            }
            Transport::Server => {
                ui.label(
                    "A dedicated room on a `doomlink serve` you run (or may use): the server \
                     hosts the game, you join it first, and you get its invite link to share.",
                );
                let o = &mut self.options;
                egui::Grid::new("host-server")
                    .num_columns(2)
                    .show(ui, |ui| {
                        ui.label("Server");
                        ui.add(
                            egui::TextEdit::singleline(&mut o.server)
                                .hint_text("play.example.org:7342 (https://… for TLS)"),
                        );
                        ui.end_row();
                        ui.label("Admin token");
                        ui.add(egui::TextEdit::singleline(&mut o.admin_token).password(true));
                        ui.end_row();
                    });
                let server = o.server.trim();
                // HOST:PORT, or https://HOST:PORT for a service that speaks TLS.
                let server_ok =
                    doomlink_play::net::signaling::invite::RendezvousAddr::parse(server).is_ok();
                if !server_ok || o.admin_token.trim().is_empty() {
                    can_host = false;
                    if !server.is_empty() && !server_ok {
                        ui.colored_label(
                            ui.visuals().error_fg_color,
                            format!("{server:?} is not HOST:PORT"),
                        );
                    }
                }
            }
            Transport::Internet => match internet {
                Ok(InternetOptions {
                    rendezvous: Some(rv),
                    ..
                }) => {
                    ui.label(format!(
                        "Through the rendezvous at {rv}: you get an invite link (and its QR code) \
                         to send to your friends."
                    ));
                }
                Ok(_) => {
                    can_host = false;
                    egui::Frame::group(ui.style()).show(ui, |ui| {
                        ui.label(RichText::new("No rendezvous is set.").strong());
                        ui.label(
                            "Hosting over the Internet needs a rendezvous: a `doomlink serve` \
                             that you or a friend runs on a machine with a public address.",
                        );
                        ui.horizontal(|ui| {
                            if ui.button("Set a rendezvous in Settings").clicked() {
                                self.to_settings = true;
                            }
                            ui.label("or, with one friend:");
                            let trade = ui.button("Trade codes instead").on_hover_text(
                                "You send an offer code, your friend sends back an answer \
                                     code (by chat, mail…): no rendezvous needed.",
                            );
                            if trade.clicked() {
                                match choice.setup() {
                                    Ok(s) => {
                                        manual =
                                            Some(HomeAction::HostManual(s, self.options.clone()))
                                    }
                                    Err(e) => choice.error = Some(e),
                                }
                            }
                        });
                    });
                }
                Err(e) => {
                    can_host = false;
                    ui.colored_label(ui.visuals().error_fg_color, format!("Settings: {e}"));
                    if ui.button("Fix it in Settings").clicked() {
                        self.to_settings = true;
                    }
                }
            },
        }
        ui.add_space(10.0);
        let internet = self.options.transport != Transport::Lan;
        let mut action = None;
        ui.scope(|ui| {
            choice.ui(ui);
            ui.add_space(8.0);
            let o = &mut self.options;
            egui::Grid::new("host-options")
                .num_columns(2)
                .spacing([12.0, 10.0])
                .show(ui, |ui| {
                    if !internet {
                        ui.label("Game name");
                        ui.add(
                            egui::TextEdit::singleline(&mut o.game_name)
                                .hint_text("shown on the LAN"),
                        );
                        ui.end_row();
                    }
                    ui.label("Mode");
                    egui::ComboBox::from_id_salt("host-mode")
                        .selected_text(o.game.mode.label())
                        .show_ui(ui, |ui| {
                            for m in GameMode::ALL {
                                ui.selectable_value(&mut o.game.mode, m, m.label());
                            }
                        });
                    ui.end_row();
                    ui.label("Players");
                    ui.add(egui::Slider::new(o.game.players.get_or_insert(2), 2..=4))
                        .on_hover_text("The game starts by itself when this many are in.");
                    ui.end_row();
                    if !internet {
                        ui.label("Port");
                        ui.add(egui::DragValue::new(&mut o.port).range(1024..=65535));
                        ui.end_row();
                    }
                    ui.label("Options");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut o.game.respawn, "Monsters respawn");
                        ui.checkbox(&mut o.game.fast, "Fast monsters");
                        ui.checkbox(&mut o.game.nomonsters, "No monsters");
                    });
                    ui.end_row();
                    ui.label("Time limit");
                    let mut minutes = o.game.timer_minutes.unwrap_or(0);
                    ui.add(
                        egui::DragValue::new(&mut minutes)
                            .range(0..=120)
                            .suffix(" min"),
                    )
                    .on_hover_text("0: no limit");
                    o.game.timer_minutes = (minutes > 0).then_some(minutes);
                    ui.end_row();
                });
            ui.add_space(12.0);
            let host = ui
                .add_enabled_ui(can_host, |ui| {
                    ui.add_sized([160.0, 36.0], egui::Button::new("Host"))
                })
                .inner;
            if host.clicked() {
                match choice.setup() {
                    Ok(s) => action = Some(HomeAction::Host(s, self.options.clone())),
                    Err(e) => choice.error = Some(e),
                }
            }
        });
        action.or(manual)
    }
}

#[derive(Default)]
struct JoinPage {
    address: String,
    error: Option<String>,
    /// An invite link waiting for the player's answer: one from outside, or one typed here
    /// (then the question shows what the room plays and needs before the join starts).
    asking: Option<OutsideInvite>,
}

impl JoinPage {
    /// Checks the text: the action that joins it, or the error (kept for the page to show).
    fn submit(&mut self) -> Result<HomeAction, JoinTextError> {
        match parse_join_target(&self.address) {
            Ok(t) => {
                self.error = None;
                Ok(HomeAction::Join(t.text().to_string()))
            }
            Err(e) => {
                self.error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Join pressed on the typed text: an invite link is asked about first (what the room
    /// plays, what this computer lacks, whether it can work); anything else joins or says
    /// what is wrong.
    fn join_typed(
        &mut self,
        trust: doomlink_play::net::tls_client::ClientTls,
        data_dir: &std::path::Path,
    ) -> Option<HomeAction> {
        let action = self.submit().ok()?;
        match OutsideInvite::typed(&self.address, trust, data_dir.to_path_buf()) {
            Some(q) => {
                eprintln!("doomlink: asking before joining {}", q.summary());
                self.asking = Some(q);
                None
            }
            None => Some(action),
        }
    }

    fn ui(
        &mut self,
        ui: &mut egui::Ui,
        trust: doomlink_play::net::tls_client::ClientTls,
        data_dir: &std::path::Path,
    ) -> Option<HomeAction> {
        ui.heading("Join a game");
        if let Some(q) = &mut self.asking {
            ui.add_space(10.0);
            return match q.ui(ui)? {
                Answer::Join => {
                    self.asking = None;
                    eprintln!("doomlink: the player said join");
                    self.submit().ok()
                }
                Answer::NotNow => {
                    self.asking = None;
                    self.address.clear();
                    None
                }
            };
        }
        ui.label(
            "Paste the invite link the host sent you (doomlink://join/…), \
             or type the address of a game on your LAN.",
        );
        ui.add_space(10.0);
        let mut action = None;
        ui.scope(|ui| {
            ui.horizontal(|ui| {
                ui.label("Link or address");
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut self.address)
                        .hint_text("doomlink://join/… or 192.168.1.20:2342")
                        .desired_width(420.0),
                );
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("Join").clicked() || enter {
                    action = self.join_typed(trust.clone(), data_dir);
                }
            });
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
        action
    }
}

#[derive(Default)]
struct LanPage {
    games: Vec<LanGame>,
    refreshing: Option<mpsc::Receiver<Result<Vec<LanGame>, NetplayError>>>,
    error: Option<String>,
}

impl LanPage {
    fn refresh(&mut self, ctx: &egui::Context, netplay: &Arc<dyn Netplay>) {
        if self.refreshing.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let np = netplay.clone();
        let ctx = ctx.clone();
        if std::thread::Builder::new()
            .name("lan-list".into())
            .spawn(move || {
                let _ = tx.send(np.lan_games());
                ctx.request_repaint();
            })
            .is_ok()
        {
            self.refreshing = Some(rx);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, netplay: &Arc<dyn Netplay>) -> Option<HomeAction> {
        if let Some(rx) = &self.refreshing {
            if let Ok(r) = rx.try_recv() {
                self.refreshing = None;
                match r {
                    Ok(g) => {
                        self.games = g;
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
        }
        ui.heading("LAN games");
        ui.label("Games hosted on your local network.");
        ui.add_space(10.0);
        let mut action = None;
        ui.scope(|ui| {
            ui.horizontal(|ui| {
                if ui.button("Refresh").clicked() {
                    self.refresh(ui.ctx(), netplay);
                }
                if self.refreshing.is_some() {
                    ui.spinner();
                }
            });
            if self.games.is_empty() {
                ui.label(RichText::new("No games found.").weak());
            }
            egui::Grid::new("lan-games").striped(true).show(ui, |ui| {
                for g in &self.games {
                    ui.label(&g.name);
                    ui.label(&g.iwad);
                    ui.label(format!("{}/{}", g.players, g.max_players));
                    ui.label(&g.address);
                    if ui.button("Join").clicked() {
                        action = Some(HomeAction::Join(g.address.clone()));
                    }
                    ui.end_row();
                }
            });
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
        action
    }
}

fn settings_page(ui: &mut egui::Ui, s: &mut Settings, facts: &HomeFacts) -> Option<HomeAction> {
    ui.heading("Settings");
    ui.add_space(10.0);
    let before = s.clone();
    egui::Grid::new("settings")
        .num_columns(2)
        .spacing([12.0, 10.0])
        .show(ui, |ui| {
            ui.label("Player name");
            ui.add(egui::TextEdit::singleline(&mut s.player_name).char_limit(30))
                .on_hover_text("What other players see in network games.");
            ui.end_row();
            ui.label("Volume");
            ui.add(
                egui::Slider::new(&mut s.volume, 0.0..=1.0)
                    .custom_formatter(|v, _| format!("{:.0}%", v * 100.0)),
            );
            ui.end_row();
            ui.label("");
            ui.label(RichText::new(facts.audio).weak());
            ui.end_row();
            ui.label("Scaling");
            egui::ComboBox::from_id_salt("scaling")
                .selected_text(s.scaling.label())
                .show_ui(ui, |ui| {
                    for m in Scaling::ALL {
                        ui.selectable_value(&mut s.scaling, m, m.label());
                    }
                });
            ui.end_row();
            ui.label("Mouse sensitivity");
            ui.add(egui::Slider::new(&mut s.mouse_sensitivity, 0.1..=5.0).logarithmic(true));
            ui.end_row();
        });
    ui.add_space(14.0);
    internet_settings(ui, s);
    ui.add_space(14.0);
    ui.label(RichText::new("Controls").strong());
    egui::Grid::new("bindings").striped(true).show(ui, |ui| {
        for (what, keys) in DEFAULT_BINDINGS {
            ui.label(*what);
            ui.label(RichText::new(*keys).monospace());
            ui.end_row();
        }
    });
    ui.label(
        RichText::new(
            "Doom's own controls are changed in its config (default.cfg in the data folder).",
        )
        .weak(),
    );
    ui.add_space(14.0);
    ui.label(RichText::new("Files").strong());
    let path = |p: Option<&std::path::Path>| {
        p.map(|p| p.display().to_string())
            .unwrap_or_else(|| "(no config folder on this system: not saved)".into())
    };
    ui.label(format!("Settings: {}", path(facts.settings_path)));
    ui.label(format!(
        "Saves, demos and Doom's config: {}",
        PathBuf::from(facts.data_dir).display()
    ));
    (*s != before).then_some(HomeAction::SettingsChanged)
}

/// Settings → Internet play: the rendezvous, and STUN/TURN servers besides a rendezvous's own;
/// what is wrong with them shown in one line under them.
fn internet_settings(ui: &mut egui::Ui, s: &mut Settings) {
    ui.label(RichText::new("Internet play").strong());
    egui::Grid::new("internet-settings")
        .num_columns(2)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            ui.label("Rendezvous");
            ui.add(
                egui::TextEdit::singleline(&mut s.rendezvous)
                    .hint_text("host:port of a doomlink serve (empty: none)")
                    .desired_width(320.0),
            )
            .on_hover_text(
                "Where hosting registers its room and gets an invite link. \
                 Joining needs none: the link names its rendezvous. \
                 wss://host:port for one that speaks TLS.",
            );
            ui.end_row();
            ui.label("Rendezvous CA file");
            ui.add(
                egui::TextEdit::singleline(&mut s.rendezvous_ca_file)
                    .hint_text("PEM file (empty: the system's certificates)")
                    .desired_width(320.0),
            )
            .on_hover_text(
                "For a rendezvous with a certificate from a private CA: \
                 its CA certificates, trusted besides the system's.",
            );
            ui.end_row();
            ui.label("STUN servers");
            // One a line; split on '\n' (not lines()) so a newline being typed survives.
            let mut text = s.stun_servers.join("\n");
            if ui
                .add(
                    egui::TextEdit::multiline(&mut text)
                        .hint_text("stun:stun.example.org:3478 (one a line)")
                        .desired_rows(2)
                        .desired_width(320.0),
                )
                .changed()
            {
                s.stun_servers = if text.is_empty() {
                    Vec::new()
                } else {
                    text.split('\n').map(str::to_string).collect()
                };
            }
            ui.end_row();
            ui.label("TURN servers");
            ui.vertical(|ui| {
                let mut remove = None;
                for (i, t) in s.turn_servers.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(&mut t.url)
                                .hint_text("turn:host:3478")
                                .desired_width(210.0),
                        );
                        ui.add(
                            egui::TextEdit::singleline(&mut t.username)
                                .hint_text("username")
                                .desired_width(90.0),
                        );
                        ui.add(
                            egui::TextEdit::singleline(&mut t.credential)
                                .hint_text("credential")
                                .password(true)
                                .desired_width(90.0),
                        );
                        if ui.small_button("Remove").clicked() {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = remove {
                    s.turn_servers.remove(i);
                }
                if ui.button("Add a TURN server").clicked() {
                    s.turn_servers.push(TurnServer::default());
                }
            });
            ui.end_row();
        });
    if let Err(e) = s.internet() {
        ui.colored_label(ui.visuals().error_fg_color, e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_link_is_asked_about_and_an_address_joins_at_once() {
        let data = std::path::Path::new("/nonexistent");
        let fp = "A".repeat(43);
        let mut page = JoinPage {
            address: format!("doomlink://join/127.0.0.1:9/Room_1?fp={fp}#secretsecretsecret"),
            ..JoinPage::default()
        };
        assert!(page.join_typed(Default::default(), data).is_none());
        let q = page.asking.as_ref().expect("a link waits for the answer");
        assert_eq!(q.summary(), "room Room_1 at 127.0.0.1:9");

        let mut page = JoinPage {
            address: "192.168.1.20:2342".into(),
            ..JoinPage::default()
        };
        assert!(matches!(
            page.join_typed(Default::default(), data),
            Some(HomeAction::Join(a)) if a == "192.168.1.20:2342"
        ));
        assert!(page.asking.is_none());

        let mut page = JoinPage {
            address: "doomlink://join/x/r!om#s".into(),
            ..JoinPage::default()
        };
        assert!(page.join_typed(Default::default(), data).is_none());
        assert!(page.asking.is_none() && page.error.is_some());
    }
}
