//! The in-game network overlay: a small translucent panel in the game view's top-right corner
//! with each peer's name, path, RTT, loss and drops (shown on demand: the backquote key, kept in
//! Settings), and the chat lines that arrive during the game, for a few seconds each.
//!
//! Owns the drawing and the bookkeeping of which chat lines are new; the figures are the peers'
//! [`PeerStatus`], whatever the transport.

use doomlink_net::status::{ChatLine, PeerStatus};
use egui::{Color32, RichText};
use std::time::Duration;
use web_time::Instant;

/// How long a chat line that arrived during the game stays on screen.
pub const CHAT_SHOW_TIME: Duration = Duration::from_secs(8);
/// Chat lines shown at once during the game.
const CHAT_SHOW_MAX: usize = 4;

/// "12.3 ms", "0.45 ms", or "—" when unknown (a native Chocolate Doom never answers a ping).
pub fn format_rtt(rtt: Option<Duration>) -> String {
    match rtt {
        None => "—".into(),
        Some(r) => {
            let ms = r.as_secs_f64() * 1000.0;
            if ms < 10.0 {
                format!("{ms:.2} ms")
            } else {
                format!("{ms:.0} ms")
            }
        }
    }
}

/// "3%", or "—" when unknown.
pub fn format_loss(loss: Option<f64>) -> String {
    loss.map(|l| format!("{:.0}%", l * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// The chat lines of a bounded log that are new since the last look, with when they were seen.
#[derive(Default)]
pub struct ChatTicker {
    seen: Vec<ChatLine>,
    recent: Vec<(ChatLine, Instant)>,
}

impl ChatTicker {
    /// Takes the log as it is now; lines not seen before become recent.
    pub fn update(&mut self, now: Vec<ChatLine>, at: Instant) {
        let most = self.seen.len().min(now.len());
        let overlap = (0..=most)
            .rev()
            .find(|&k| self.seen[self.seen.len() - k..] == now[..k])
            .unwrap_or(0);
        for l in &now[overlap..] {
            self.recent.push((l.clone(), at));
        }
        self.seen = now;
        self.recent
            .retain(|(_, t)| at.duration_since(*t) < CHAT_SHOW_TIME);
        let extra = self.recent.len().saturating_sub(CHAT_SHOW_MAX);
        self.recent.drain(..extra);
    }

    /// Lines still on screen.
    pub fn recent(&self) -> impl Iterator<Item = &ChatLine> {
        self.recent.iter().map(|(l, _)| l)
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }
}

/// Draws the overlay in the top-right corner of `area`: the peers if `show_peers` (`peers` is
/// called only then), the recent chat lines always (if any).
pub fn net_overlay(
    ctx: &egui::Context,
    area: egui::Rect,
    peers: impl FnOnce() -> Vec<PeerStatus>,
    ticker: &ChatTicker,
    show_peers: bool,
) {
    if !show_peers && ticker.is_empty() {
        return;
    }
    let peers = if show_peers { peers() } else { Vec::new() };
    egui::Area::new(egui::Id::unique("doomlink-net-overlay"))
        .order(egui::Order::Foreground)
        .fixed_pos(area.right_top() + egui::vec2(-8.0, 8.0))
        .pivot(egui::Align2::RIGHT_TOP)
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::NONE
                .fill(Color32::from_black_alpha(150))
                .corner_radius(4.0)
                .inner_margin(6.0)
                .show(ui, |ui| {
                    ui.style_mut().override_text_style = Some(egui::TextStyle::Small);
                    if show_peers {
                        peer_grid(ui, &peers);
                    }
                    for l in ticker.recent() {
                        ui.label(
                            RichText::new(format!("{}: {}", l.from, l.text))
                                .color(Color32::from_rgb(255, 220, 120)),
                        );
                    }
                });
        });
}

fn peer_grid(ui: &mut egui::Ui, peers: &[PeerStatus]) {
    if peers.is_empty() {
        ui.label(RichText::new("No peers yet").color(Color32::LIGHT_GRAY));
        return;
    }
    egui::Grid::new("doomlink-net-overlay-grid")
        .spacing([10.0, 2.0])
        .show(ui, |ui| {
            for h in ["player", "path", "RTT", "loss", "drops"] {
                ui.label(RichText::new(h).color(Color32::GRAY));
            }
            ui.end_row();
            for p in peers {
                let name = p
                    .name
                    .clone()
                    .or_else(|| p.guest_addr.map(|a| a.to_string()))
                    .unwrap_or_else(|| "?".into());
                ui.label(RichText::new(name).color(Color32::WHITE));
                ui.label(
                    RichText::new(p.path.as_deref().unwrap_or("—")).color(Color32::LIGHT_GRAY),
                );
                ui.label(RichText::new(format_rtt(p.rtt)).color(Color32::WHITE));
                ui.label(RichText::new(format_loss(p.loss)).color(Color32::WHITE));
                ui.label(RichText::new(p.drops.to_string()).color(Color32::WHITE));
                ui.end_row();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str) -> ChatLine {
        ChatLine {
            from: "a".into(),
            text: t.into(),
            mine: false,
        }
    }

    #[test]
    fn figures_read_well() {
        assert_eq!(format_rtt(None), "—");
        assert_eq!(format_rtt(Some(Duration::from_micros(450))), "0.45 ms");
        assert_eq!(format_rtt(Some(Duration::from_millis(42))), "42 ms");
        assert_eq!(format_loss(Some(0.05)), "5%");
        assert_eq!(format_loss(None), "—");
    }

    #[test]
    fn the_ticker_shows_new_lines_for_a_while() {
        let t0 = Instant::now();
        let mut t = ChatTicker::default();
        t.update(vec![line("1"), line("2")], t0);
        assert_eq!(t.recent().count(), 2);
        t.update(
            vec![line("1"), line("2"), line("3")],
            t0 + Duration::from_secs(1),
        );
        let texts: Vec<_> = t.recent().map(|l| l.text.clone()).collect();
        assert_eq!(texts, ["1", "2", "3"]);
        // The bounded log dropped its oldest line: only "4" is new.
        t.update(
            vec![line("2"), line("3"), line("4")],
            t0 + Duration::from_millis(8500),
        );
        let texts: Vec<_> = t.recent().map(|l| l.text.clone()).collect();
        assert_eq!(texts, ["3", "4"], "1 and 2 are older than 8 s");
        t.update(Vec::new(), t0 + Duration::from_secs(30));
        assert!(t.is_empty());
    }
}
