//! The netgame lobby as the guest describes it on `/dev/lobby` (assets/chocolate-doom/LOBBY.md):
//! records parsed into a snapshot, drawn over the game view while the game waits to start, with
//! each player's path and ping (the peers' [`PeerStatus`], matched to the lobby's rows), the
//! WAD checks, the chat, Start (for the controller) and Leave.

use crate::overlay::{format_loss, format_rtt};
pub use doomlink_net::chocolate::lobby::LobbySnapshot;
use doomlink_net::status::{ChatLine, PeerStatus, MAX_CHAT_BYTES};
use std::net::Ipv4Addr;

/// What the player asked for in the lobby panel.
pub enum LobbyAction {
    Start,
    Leave,
    /// Send this chat line.
    Chat(String),
}

/// The lobby's chat line being typed, and why the last one was not sent.
#[derive(Default)]
pub struct ChatInput {
    pub text: String,
    pub error: Option<String>,
}

/// The address in a lobby row (`a.b.c.d` or `a.b.c.d:port`; `local client` has none).
fn row_ip(addr: &str) -> Option<Ipv4Addr> {
    addr.split(':').next().and_then(|ip| ip.parse().ok())
}

/// The peer behind each lobby row, where known: by the address the server guest sees (unique
/// when players are on different machines), then by name (several players behind one address,
/// or a client looking at the server's own row). This guest's own row has none.
pub fn match_peers<'a>(
    lobby: &LobbySnapshot,
    peers: &'a [PeerStatus],
) -> Vec<Option<&'a PeerStatus>> {
    let mut taken = vec![false; peers.len()];
    let mut out = vec![None; lobby.names.len()];
    let pick = |i: usize, j: usize, out: &mut Vec<Option<&'a PeerStatus>>, taken: &mut [bool]| {
        taken[j] = true;
        out[i] = Some(&peers[j]);
    };
    // 1: one peer at the row's address. Rows carry the addresses the server guest sees: ours
    // too if we are the server (our row is `local client`), or if the transport gives the
    // whole game one virtual network (Internet play). A LAN client's NAT numbers its peers on
    // its own, so there the same address can be another player.
    let we_serve = lobby
        .you
        .and_then(|i| lobby.names.get(i))
        .is_some_and(|(_, a)| a == "local client");
    let shared = we_serve || peers.iter().all(|p| p.path.as_deref() != Some("LAN"));
    for (i, (_, addr)) in lobby.names.iter().enumerate() {
        if lobby.you == Some(i) || !shared {
            continue;
        }
        if let Some(ip) = row_ip(addr) {
            let at: Vec<usize> = (0..peers.len())
                .filter(|&j| peers[j].guest_addr == Some(ip))
                .collect();
            if let [j] = at[..] {
                pick(i, j, &mut out, &mut taken);
            }
        }
    }
    // 2: by name among the peers left.
    for (i, (name, _)) in lobby.names.iter().enumerate() {
        if lobby.you == Some(i) || out[i].is_some() {
            continue;
        }
        let same: Vec<usize> = (0..peers.len())
            .filter(|&j| !taken[j] && peers[j].name.as_deref() == Some(name.as_str()))
            .collect();
        if let [j] = same[..] {
            pick(i, j, &mut out, &mut taken);
        }
    }
    // 3: a client talks to one peer, its server, whose player is the `local client` row.
    let addressed: Vec<usize> = (0..peers.len())
        .filter(|&j| peers[j].guest_addr.is_some())
        .collect();
    if let [server] = addressed[..] {
        if taken[server] {
            return out;
        }
        let rows: Vec<usize> = (0..lobby.names.len())
            .filter(|&i| {
                lobby.you != Some(i) && out[i].is_none() && lobby.names[i].1 == "local client"
            })
            .collect();
        if let [i] = rows[..] {
            pick(i, server, &mut out, &mut taken);
        }
    }
    out
}

/// What the lobby panel shows of the game's network: the peers now and the chat so far.
#[derive(Default)]
pub struct LobbyNet {
    pub peers: Vec<PeerStatus>,
    pub chat: Vec<ChatLine>,
}

/// Draws the lobby panel in the middle of `ui`. `net`: the game's network (None: a game
/// without one: no figures, no chat).
pub fn lobby_panel(
    ui: &mut egui::Ui,
    lobby: &LobbySnapshot,
    net: Option<&LobbyNet>,
    input: &mut ChatInput,
) -> Option<LobbyAction> {
    let mut action = None;
    let no_peers = [];
    let peers = net.map_or(&no_peers[..], |n| &n.peers[..]);
    let matched = match_peers(lobby, peers);
    egui::Window::new("Waiting for players")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ui.ctx(), |ui| {
            ui.label(format!(
                "{} of {} players in · {}",
                lobby.players, lobby.max_players, lobby.state
            ));
            if lobby.expected > 0 {
                ui.label(format!("Starts by itself with {} players.", lobby.expected));
            }
            egui::Grid::new("lobby-players")
                .striped(true)
                .show(ui, |ui| {
                    for h in ["Player", "Address", "Path", "Ping", "Loss"] {
                        ui.label(egui::RichText::new(h).weak());
                    }
                    ui.end_row();
                    for (i, (name, addr)) in lobby.names.iter().enumerate() {
                        let you = lobby.you == Some(i);
                        let suffix = if you { " (you)" } else { "" };
                        ui.label(format!("{}{suffix}", name));
                        ui.label(addr);
                        let peer = matched.get(i).copied().flatten();
                        if you {
                            for _ in 0..3 {
                                ui.label("");
                            }
                        } else {
                            ui.label(peer.and_then(|p| p.path.as_deref()).unwrap_or("—"));
                            ui.label(format_rtt(peer.and_then(|p| p.rtt)));
                            ui.label(format_loss(peer.and_then(|p| p.loss)));
                        }
                        ui.end_row();
                    }
                });
            if !lobby.checks.is_empty() {
                ui.horizontal(|ui| {
                    for (what, ok) in &lobby.checks {
                        let (word, color) = if *ok {
                            ("matches", egui::Color32::LIGHT_GREEN)
                        } else {
                            ("differs", egui::Color32::YELLOW)
                        };
                        ui.colored_label(color, format!("{what} {word}"))
                            .on_hover_text(if *ok {
                                "the same as the server's"
                            } else {
                                "differs from the server's"
                            });
                    }
                });
            }
            for (what, ok) in &lobby.checks {
                if !ok {
                    ui.colored_label(
                        egui::Color32::YELLOW,
                        format!("Your {what} differs from the server's: the game may desync."),
                    );
                }
            }
            if let Some(net) = net {
                ui.separator();
                if let Some(text) = chat_area(ui, &net.chat, input) {
                    action = Some(LobbyAction::Chat(text));
                }
            }
            ui.horizontal(|ui| {
                if lobby.controller {
                    if ui.button("Start the game").clicked() {
                        action = Some(LobbyAction::Start);
                    }
                } else {
                    ui.label("The host starts the game.");
                }
                if ui.button("Leave").clicked() {
                    action = Some(LobbyAction::Leave);
                }
            });
        });
    action
}

/// Id of the lobby's chat line, so the game screen can tell when it has the keyboard.
pub fn chat_field_id() -> egui::Id {
    egui::Id::unique("doomlink-lobby-chat")
}

/// The recent chat lines and the line being typed; Enter sends. Returns a line to send.
fn chat_area(ui: &mut egui::Ui, lines: &[ChatLine], input: &mut ChatInput) -> Option<String> {
    let mut send = None;
    egui::ScrollArea::vertical()
        .max_height(110.0)
        .stick_to_bottom(true)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            if lines.is_empty() {
                ui.label(egui::RichText::new("No chat yet.").weak());
            }
            for l in lines {
                let who = egui::RichText::new(format!("{}:", l.from))
                    .strong()
                    .color(if l.mine {
                        egui::Color32::LIGHT_BLUE
                    } else {
                        egui::Color32::from_rgb(255, 220, 120)
                    });
                ui.horizontal_wrapped(|ui| {
                    ui.label(who);
                    ui.label(&l.text);
                });
            }
        });
    let r = ui.add(
        egui::TextEdit::singleline(&mut input.text)
            .id(chat_field_id())
            .hint_text("Say something, Enter sends")
            .char_limit(MAX_CHAT_BYTES)
            .desired_width(f32::INFINITY),
    );
    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
        let text = input.text.trim().to_string();
        if !text.is_empty() {
            send = Some(text);
            input.text.clear();
        }
        // Keep typing: Enter takes the focus away from a single line.
        r.request_focus();
    }
    if let Some(e) = &input.error {
        ui.colored_label(egui::Color32::YELLOW, e);
    }
    send
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, ip: [u8; 4], rtt_ms: u64) -> PeerStatus {
        PeerStatus {
            name: Some(name.into()),
            guest_addr: Some(Ipv4Addr::from(ip)),
            path: Some("LAN".into()),
            rtt: Some(std::time::Duration::from_millis(rtt_ms)),
            ..Default::default()
        }
    }

    fn snapshot(you: usize, rows: &[(&str, &str)]) -> LobbySnapshot {
        LobbySnapshot {
            you: Some(you),
            names: rows
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn lobby_rows_find_their_peers() {
        // The host: two clients on different machines, matched by address whatever their names.
        let host = snapshot(
            0,
            &[
                ("Me", "local client"),
                ("Imp", "10.77.0.128:5000"),
                ("Pinky", "10.77.0.129:5000"),
            ],
        );
        let peers = [
            peer("x", [10, 77, 0, 129], 2),
            peer("y", [10, 77, 0, 128], 1),
        ];
        let m = match_peers(&host, &peers);
        assert_eq!(m[0], None, "our own row");
        assert_eq!(m[1].unwrap().name.as_deref(), Some("y"));
        assert_eq!(m[2].unwrap().name.as_deref(), Some("x"));
        // Two clients on one machine share an address: names tell them apart.
        let same = snapshot(
            0,
            &[
                ("Me", "local client"),
                ("Imp", "10.77.0.128:5000"),
                ("Pinky", "10.77.0.128:5001"),
            ],
        );
        let peers = [
            peer("Pinky", [10, 77, 0, 128], 2),
            peer("Imp", [10, 77, 0, 128], 1),
        ];
        let m = match_peers(&same, &peers);
        assert_eq!(m[1].unwrap().rtt, Some(std::time::Duration::from_millis(1)));
        assert_eq!(m[2].unwrap().rtt, Some(std::time::Duration::from_millis(2)));
        // A client: its one peer is the server, whose player is the `local client` row even
        // under another name; the other client's row stays unknown.
        let client = snapshot(
            2,
            &[
                ("Boss", "local client"),
                ("Imp", "10.77.0.128:5000"),
                ("Me", "10.77.0.129:5001"),
            ],
        );
        let peers = [peer("host", [10, 77, 0, 130], 3)];
        assert_eq!(
            match_peers(&client, &peers),
            vec![Some(&peers[0]), None, None]
        );
        assert!(match_peers(&client, &[]).iter().all(Option::is_none));
        // With the server's roster, the other client's row is found by name.
        let roster = PeerStatus {
            name: Some("Imp".into()),
            path: Some("LAN via host".into()),
            ..Default::default()
        };
        let peers = [peer("host", [10, 77, 0, 130], 3), roster];
        assert_eq!(
            match_peers(&client, &peers),
            vec![Some(&peers[0]), Some(&peers[1]), None]
        );
        // Its NAT may well give the server the address the server gave another client.
        let peers = [peer("host", [10, 77, 0, 128], 3)];
        assert_eq!(
            match_peers(&client, &peers),
            vec![Some(&peers[0]), None, None]
        );
        // Over the Internet the game shares one virtual network: addresses match anywhere.
        let mut rtc = peer("Imp", [10, 77, 0, 128], 4);
        rtc.path = Some("direct".into());
        let hub = PeerStatus {
            name: Some("Boss".into()),
            guest_addr: Some(Ipv4Addr::new(10, 77, 0, 1)),
            path: Some("direct".into()),
            ..Default::default()
        };
        let peers = [hub, rtc];
        let m = match_peers(&client, &peers);
        assert_eq!(m[0].unwrap().name.as_deref(), Some("Boss"));
        assert_eq!(m[1].unwrap().name.as_deref(), Some("Imp"));
    }
}
