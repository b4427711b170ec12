//! An invite link that arrives from outside the window — a web page or another program opening
//! a `doomlink://` link through the URL handler, or a second start handing its link over — is
//! not joined at once: a page can open a link without the player's say, and joining tells the
//! host the player's address. The Join page shows where the link leads and joins only when the
//! player says so (Join, or Enter; Not now, or Escape).
//!
//! What is shown comes from the link itself, which the parser has checked (the rendezvous is a
//! host name or address and a port, the room id is `[A-Za-z0-9_-]`), and the host's name, its
//! players' names and what it plays (the IWAD, the PWADs with sizes, mode, map, skill; for each
//! file, whether this computer has it or will download it), which the rendezvous gives to
//! whoever holds the link's secret (stripped of control and bidi characters on arrival). A join
//! that cannot work (a file neither here nor to be had, the room full) says why and offers no
//! Join. Asking changes nothing at the rendezvous; the host hears nothing.

use doomlink_play::net::online::RoomPeek;
use doomlink_play::net::signaling::invite::InviteLink;
use doomlink_play::net::tls_client::ClientTls;
use doomlink_play::roomgame::{FileHere, JoinPreview, PreviewFile};
use eframe::egui::{self, RichText};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// An invite link waiting for the player's answer.
pub struct OutsideInvite {
    link: String,
    /// What the link's rendezvous's certificate is checked against, if it speaks TLS.
    trust: ClientTls,
    /// Who hosts the room and who is in it, as its rendezvous says when asked with the link's
    /// secret.
    host: Arc<Mutex<HostName>>,
    asked: bool,
    rendezvous: String,
    room: String,
    /// The start of the host's certificate fingerprint (the link's `fp`).
    host_key: String,
    expires: Option<u64>,
    /// Where downloaded WADs are kept (what is there counts as here).
    data_dir: PathBuf,
    /// The player typed or pasted the link on the Join page (not opened from outside).
    typed: bool,
}

enum HostName {
    Asking,
    /// The room, and what it plays if it says.
    Known(RoomPeek, Box<JoinPreview>),
    /// The rendezvous did not answer (why is on stderr).
    Unknown,
}

/// What the player answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Join,
    NotNow,
}

impl OutsideInvite {
    /// The question for `text` if it is a valid invite link; `None` for anything else (an
    /// address or an offer code is joined or refused as typed).
    pub fn from_text(text: &str, trust: ClientTls, data_dir: PathBuf) -> Option<OutsideInvite> {
        let link = InviteLink::parse(text.trim()).ok()?;
        let fp = link.fingerprint.to_base64url();
        Some(OutsideInvite {
            link: text.trim().to_string(),
            trust,
            host: Arc::new(Mutex::new(HostName::Asking)),
            asked: false,
            rendezvous: link.rendezvous,
            room: link.room,
            host_key: fp.chars().take(16).collect(),
            expires: link.expires,
            data_dir,
            typed: false,
        })
    }

    /// The question for a link the player typed on the Join page: the same, without the
    /// warning about links opened from outside.
    pub fn typed(text: &str, trust: ClientTls, data_dir: PathBuf) -> Option<OutsideInvite> {
        let mut q = OutsideInvite::from_text(text, trust, data_dir)?;
        q.typed = true;
        Some(q)
    }

    /// One line for the terminal: which room at which rendezvous.
    pub fn summary(&self) -> String {
        format!("room {} at {}", self.room, self.rendezvous)
    }

    /// Asks the rendezvous who hosts the room, once, off the UI thread (a few seconds at
    /// most); the answer is shown when it comes.
    fn ask_who(&mut self, ctx: &egui::Context) {
        if std::mem::replace(&mut self.asked, true) {
            return;
        }
        let (link, trust, host, ctx, summary, data_dir) = (
            self.link.clone(),
            self.trust.clone(),
            self.host.clone(),
            ctx.clone(),
            self.summary(),
            self.data_dir.clone(),
        );
        let _ = std::thread::Builder::new()
            .name("doomlink-peek".into())
            .spawn(move || {
                let peeked = match doomlink_play::wadcache::WadCache::open(&data_dir) {
                    Ok(cache) => {
                        let f = doomlink_play::wadshare::Fetching {
                            cache,
                            cap: doomlink_play::wadcache::DEFAULT_DOWNLOAD_CAP,
                            own: Default::default(),
                        };
                        doomlink_play::internet::peek_join(&link, &trust, &f)
                            .map_err(|e| format!("{e:#}"))
                    }
                    Err(e) => Err(format!("the WAD cache in {}: {e}", data_dir.display())),
                };
                let answer = match peeked {
                    Ok(preview) => match preview.room.clone() {
                        Some(room) => {
                            eprintln!(
                                "doomlink: {summary} is hosted by {:?}; players: {:?} of {}",
                                room.host, room.players, room.expected
                            );
                            for line in preview.lines() {
                                eprintln!("doomlink: {summary}: {line}");
                            }
                            HostName::Known(room, Box::new(preview))
                        }
                        None => {
                            eprintln!("doomlink: who hosts {summary}: the rendezvous did not say");
                            HostName::Unknown
                        }
                    },
                    Err(e) => {
                        eprintln!("doomlink: who hosts {summary}: {e:#}");
                        HostName::Unknown
                    }
                };
                *host.lock().unwrap_or_else(|e| e.into_inner()) = answer;
                ctx.request_repaint();
            });
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<Answer> {
        self.ask_who(ui.ctx());
        let mut answer = None;
        let mut blocked = None;
        egui::Frame::group(ui.style())
            .inner_margin(14.0)
            .show(ui, |ui| {
                ui.label(RichText::new("Join this game?").strong().size(18.0));
                ui.label(if self.typed {
                    "What the link leads to, and what this computer has of its game:"
                } else {
                    "A link was opened from outside doomlink. Join only if you expected it:"
                });
                ui.add_space(6.0);
                egui::Grid::new("outside-invite")
                    .num_columns(2)
                    .spacing([16.0, 4.0])
                    .show(ui, |ui| {
                        let asked = self.host.lock().unwrap_or_else(|e| e.into_inner());
                        ui.label("Host");
                        match &*asked {
                            HostName::Asking => ui.label(RichText::new("asking…").weak()),
                            HostName::Known(room, _) if room.host.is_empty() => {
                                ui.label(RichText::new("(no name)").weak())
                            }
                            HostName::Known(room, _) => {
                                ui.label(RichText::new(&room.host).strong())
                            }
                            HostName::Unknown => ui.label(
                                RichText::new("unknown: the rendezvous did not answer").weak(),
                            ),
                        };
                        ui.end_row();
                        if let HostName::Known(room, preview) = &*asked {
                            ui.label("Players");
                            ui.label(players_line(room));
                            ui.end_row();
                            if let Some(iwad) = &preview.iwad {
                                ui.label("IWAD");
                                file_cell(ui, iwad);
                                ui.end_row();
                            }
                            for (i, pwad) in preview.pwads.iter().enumerate() {
                                ui.label(if i == 0 { "PWADs" } else { "" });
                                file_cell(ui, pwad);
                                ui.end_row();
                            }
                            if !preview.settings.is_empty() {
                                ui.label("Game");
                                ui.label(&preview.settings);
                                ui.end_row();
                            }
                            let (n, bytes) = preview.to_download();
                            if n > 0 {
                                ui.label("Download");
                                ui.label(format!(
                                    "{n} file{} from the host, {}, kept for next time",
                                    if n == 1 { "" } else { "s" },
                                    doomlink_play::roomgame::size_text(bytes)
                                ));
                                ui.end_row();
                            }
                            blocked = preview.blocker();
                        }
                        drop(asked);
                        ui.label("Rendezvous");
                        ui.label(RichText::new(&self.rendezvous).monospace());
                        ui.end_row();
                        ui.label("Room");
                        ui.label(RichText::new(&self.room).monospace());
                        ui.end_row();
                        ui.label("Host's key");
                        ui.label(RichText::new(format!("{}…", self.host_key)).monospace());
                        ui.end_row();
                        if let Some(left) = self.expires.and_then(time_left) {
                            ui.label("Link valid for");
                            ui.label(left);
                            ui.end_row();
                        }
                    });
                ui.add_space(8.0);
                if let Some(why) = &blocked {
                    ui.label(
                        RichText::new(format!("Cannot join: {why}"))
                            .color(egui::Color32::LIGHT_RED),
                    );
                }
                ui.horizontal(|ui| {
                    let join = ui.add_enabled(
                        blocked.is_none(),
                        egui::Button::new(RichText::new("Join").strong()),
                    );
                    if join.clicked() {
                        answer = Some(Answer::Join);
                    }
                    if ui.button("Not now").clicked() {
                        answer = Some(Answer::NotNow);
                    }
                });
            });
        answer.or_else(|| {
            ui.input(|i| {
                if i.key_pressed(egui::Key::Enter) && blocked.is_none() {
                    Some(Answer::Join)
                } else if i.key_pressed(egui::Key::Escape) {
                    Some(Answer::NotNow)
                } else {
                    None
                }
            })
        })
    }
}

/// A file's name and whether this computer has it, will download it, or cannot have it.
fn file_cell(ui: &mut egui::Ui, f: &PreviewFile) {
    let (text, colour) = match &f.here {
        FileHere::Here(p) => (format!("{}: here ({})", f.described, p.display()), None),
        FileHere::Download(_) => (format!("{}: to download from the host", f.described), None),
        FileHere::Missing(why) => (why.clone(), Some(egui::Color32::LIGHT_RED)),
    };
    match colour {
        Some(c) => ui.label(RichText::new(text).color(c)),
        None => ui.label(text),
    };
}

/// "alice, bob (2 of 4)": who is in the room and how many the game waits for, as the host
/// last told its rendezvous.
fn players_line(room: &RoomPeek) -> String {
    let names: Vec<&str> = room
        .players
        .iter()
        .map(|n| {
            if n.is_empty() {
                "(no name)"
            } else {
                n.as_str()
            }
        })
        .collect();
    let list = if names.is_empty() {
        "nobody yet".to_string()
    } else {
        names.join(", ")
    };
    match room.expected {
        0 => list,
        n => format!("{list} ({} of {n})", names.len()),
    }
}

/// "5 h 59 min" until `expires` (unix seconds); `None` once past.
fn time_left(expires: u64) -> Option<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    let left = expires.checked_sub(now)?;
    Some(match (left / 3600, left % 3600 / 60) {
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m} min"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invite_links_are_asked_about() {
        let fp = "A".repeat(43);
        let link = format!("doomlink://join/rv.example.org:7342/Room_1?fp={fp}#secretsecretsecret");
        let q = OutsideInvite::from_text(&link, ClientTls::default(), PathBuf::new()).unwrap();
        assert_eq!(q.summary(), "room Room_1 at rv.example.org:7342");
        assert_eq!(q.host_key.len(), 16);
        assert!(OutsideInvite::from_text(
            "192.168.1.20:2342",
            ClientTls::default(),
            PathBuf::new()
        )
        .is_none());
        assert!(OutsideInvite::from_text(
            "doomlink://join/x/r!om#s",
            ClientTls::default(),
            PathBuf::new()
        )
        .is_none());
    }

    #[test]
    fn players_read_as_a_list_with_the_count_the_game_waits_for() {
        let room = |players: &[&str], expected| RoomPeek {
            host: "h".into(),
            players: players.iter().map(|p| p.to_string()).collect(),
            expected,
        };
        assert_eq!(
            players_line(&room(&["alice", ""], 4)),
            "alice, (no name) (2 of 4)"
        );
        assert_eq!(players_line(&room(&["alice"], 0)), "alice");
        assert_eq!(players_line(&room(&[], 2)), "nobody yet (0 of 2)");
    }

    #[test]
    fn time_left_reads_in_hours_and_minutes() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(time_left(now + 6 * 3600 + 90).as_deref(), Some("6 h 1 min"));
        assert_eq!(time_left(now + 150).as_deref(), Some("2 min"));
        assert_eq!(time_left(now.saturating_sub(5)), None);
    }
}
