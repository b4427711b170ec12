//! An invite link that arrives from outside the window — a web page or another program opening
//! a `doomlink://` link through the URL handler, or a second start handing its link over — is
//! not joined at once: a page can open a link without the player's say, and joining tells the
//! host the player's address. The Join page shows where the link leads and joins only when the
//! player says so (Join, or Enter; Not now, or Escape).
//!
//! What is shown comes from the link itself, which the parser has checked (the rendezvous is a
//! host name or address and a port, the room id is `[A-Za-z0-9_-]`), and the host's name, its
//! players' names and the IWAD it plays (with whether this computer has it), which the
//! rendezvous gives to whoever holds the link's secret (stripped of control and bidi characters
//! on arrival). Asking changes nothing at the rendezvous; the host hears nothing.

use doomlink_play::internet::RoomIwad;
use doomlink_play::net::online::RoomPeek;
use doomlink_play::net::signaling::invite::InviteLink;
use doomlink_play::net::tls_client::ClientTls;
use eframe::egui::{self, RichText};
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
}

enum HostName {
    Asking,
    /// The room, and what it plays if it says.
    Known(RoomPeek, Option<RoomIwad>),
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
    pub fn from_text(text: &str, trust: ClientTls) -> Option<OutsideInvite> {
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
        })
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
        let (link, trust, host, ctx, summary) = (
            self.link.clone(),
            self.trust.clone(),
            self.host.clone(),
            ctx.clone(),
            self.summary(),
        );
        let _ = std::thread::Builder::new()
            .name("doomlink-peek".into())
            .spawn(move || {
                let answer = match doomlink_play::internet::peek(&link, &trust) {
                    Ok(room) => {
                        eprintln!(
                            "doomlink: {summary} is hosted by {:?}; players: {:?} of {}",
                            room.host, room.players, room.expected
                        );
                        let game = doomlink_play::internet::peek_iwad(&link, &trust)
                            .unwrap_or_else(|e| {
                                eprintln!("doomlink: what {summary} plays: {e:#}");
                                None
                            });
                        if let Some(g) = &game {
                            match &g.here {
                                Ok(p) => eprintln!(
                                    "doomlink: {summary} plays {}; here: {}",
                                    g.described,
                                    p.display()
                                ),
                                Err(why) => eprintln!("doomlink: {summary}: {why}"),
                            }
                        }
                        HostName::Known(room, game)
                    }
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
        egui::Frame::group(ui.style())
            .inner_margin(14.0)
            .show(ui, |ui| {
                ui.label(RichText::new("Join this game?").strong().size(18.0));
                ui.label("A link was opened from outside doomlink. Join only if you expected it:");
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
                        if let HostName::Known(room, game) = &*asked {
                            ui.label("Players");
                            ui.label(players_line(room));
                            ui.end_row();
                            if let Some(g) = game {
                                ui.label("Game");
                                ui.label(&g.described);
                                ui.end_row();
                                ui.label("Here");
                                match &g.here {
                                    Ok(p) => ui.label(format!("found: {}", p.display())),
                                    Err(why) => {
                                        ui.label(RichText::new(why).color(egui::Color32::LIGHT_RED))
                                    }
                                };
                                ui.end_row();
                            }
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
                ui.horizontal(|ui| {
                    if ui.button(RichText::new("Join").strong()).clicked() {
                        answer = Some(Answer::Join);
                    }
                    if ui.button("Not now").clicked() {
                        answer = Some(Answer::NotNow);
                    }
                });
            });
        answer.or_else(|| {
            ui.input(|i| {
                if i.key_pressed(egui::Key::Enter) {
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
        let q = OutsideInvite::from_text(&link, ClientTls::default()).unwrap();
        assert_eq!(q.summary(), "room Room_1 at rv.example.org:7342");
        assert_eq!(q.host_key.len(), 16);
        assert!(OutsideInvite::from_text("192.168.1.20:2342", ClientTls::default()).is_none());
        assert!(
            OutsideInvite::from_text("doomlink://join/x/r!om#s", ClientTls::default()).is_none()
        );
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
