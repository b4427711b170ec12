//! A netgame's screens on the page, the desktop's own (doomlink-screens), drawn by eframe's web
//! runner on a canvas over the game's: the lobby panel while the game waits to start, then the
//! network overlay (the chat lines that arrive, for a few seconds each, and the peers on
//! demand). The page hands it what it learns (the guest's `/dev/lobby` records, the host's path
//! and ping, chat lines, where the game picture is) and hears back what the player asked for
//! in the lobby: start (the controller), leave, a chat line.

use doomlink_net::chocolate::lobby::{LobbyReader, LobbySnapshot};
use doomlink_net::status::{ChatLine, PeerStatus};
use doomlink_screens::egui;
use doomlink_screens::lobby::{lobby_panel, ChatInput, LobbyAction, LobbyNet};
use doomlink_screens::overlay::{net_overlay, ChatTicker};
use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use web_time::Instant;

/// Chat lines kept for the panel (the desktop's log keeps as many).
const CHAT_KEEP: usize = 100;

/// What the screens draw: the latest lobby record, the network as the page sees it, the chat
/// line being typed, the chat lines on screen during the game.
#[derive(Default)]
struct Shown {
    lobby: Option<LobbySnapshot>,
    net: LobbyNet,
    input: ChatInput,
    /// The runner's context, to ask for a repaint when something changes.
    ctx: Option<egui::Context>,
    /// Passes the runner has drawn.
    painted: u32,
    /// Chat lines that arrived lately, shown over the game for a while.
    ticker: ChatTicker,
    /// Where the game picture is, in points (CSS pixels): the overlay sits in its corner.
    game_area: Option<egui::Rect>,
    /// Whether the overlay lists the peers (the desktop's backquote key).
    show_peers: bool,
}

impl Shown {
    fn changed(&self) {
        if let Some(ctx) = &self.ctx {
            ctx.request_repaint();
        }
    }

    /// Whether the lobby panel is up: a lobby described and not yet launched.
    fn in_lobby(&self) -> bool {
        self.lobby.as_ref().is_some_and(|l| !l.launched())
    }

    /// One pass of the screens in `ui`: the lobby panel while the game waits, the network
    /// overlay once it runs. What the player asked for in the lobby, if anything.
    fn draw(&mut self, ui: &mut egui::Ui) -> Option<LobbyAction> {
        self.ticker.update(self.net.chat.clone(), Instant::now());
        if let Some(lobby) = self.lobby.as_ref().filter(|l| !l.launched()) {
            return lobby_panel(ui, lobby, Some(&self.net), &mut self.input);
        }
        if let Some(area) = self.game_area {
            let peers = &self.net.peers;
            net_overlay(
                ui.ctx(),
                area,
                || peers.clone(),
                &self.ticker,
                self.show_peers,
            );
        }
        if !self.ticker.is_empty() {
            // The lines leave the screen by themselves.
            ui.ctx().request_repaint_after(Duration::from_millis(500));
        }
        None
    }
}

struct ScreensApp {
    shown: Rc<RefCell<Shown>>,
    /// `on_action(kind, text)`: "start", "leave", or "chat" with the line.
    on_action: js_sys::Function,
}

impl eframe::App for ScreensApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let action = {
            let mut s = self.shown.borrow_mut();
            s.painted = s.painted.wrapping_add(1);
            s.draw(ui)
        };
        let (kind, text) = match action {
            None => return,
            Some(LobbyAction::Start) => ("start", String::new()),
            Some(LobbyAction::Leave) => ("leave", String::new()),
            Some(LobbyAction::Chat(text)) => ("chat", text),
        };
        let _ = self
            .on_action
            .call2(&JsValue::NULL, &kind.into(), &text.into());
    }

    /// The lobby on a dimmed page; during the game, nothing but the overlay over the picture.
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        if self.shown.borrow().in_lobby() {
            egui::Color32::from_rgba_unmultiplied(12, 12, 12, 180).to_normalized_gamma_f32()
        } else {
            let _ = visuals;
            [0.0; 4]
        }
    }
}

/// The page's handle on its netgame screens.
#[wasm_bindgen]
pub struct NetScreens {
    shown: Rc<RefCell<Shown>>,
    runner: eframe::WebRunner,
}

#[wasm_bindgen]
impl NetScreens {
    /// Starts drawing on `canvas` (sized by the page's CSS); `on_action(kind, text)` hears what
    /// the player asks for. Rejects with a one-line error when the canvas gets no WebGL.
    pub async fn start(
        canvas: web_sys::HtmlCanvasElement,
        on_action: js_sys::Function,
    ) -> Result<NetScreens, JsError> {
        let shown = Rc::new(RefCell::new(Shown::default()));
        let runner = eframe::WebRunner::new();
        let app_shown = shown.clone();
        runner
            .start(
                canvas,
                eframe::WebOptions::default(),
                Box::new(move |cc| {
                    app_shown.borrow_mut().ctx = Some(cc.egui_ctx.clone());
                    Ok(Box::new(ScreensApp {
                        shown: app_shown,
                        on_action,
                    }))
                }),
            )
            .await
            .map_err(|e| {
                JsError::new(&format!(
                    "cannot draw the lobby: {}",
                    e.as_string().unwrap_or_else(|| format!("{e:?}"))
                ))
            })?;
        Ok(NetScreens { shown, runner })
    }

    /// A whole `/dev/lobby` record of the page's guest (`lobby` … `end`); anything else is
    /// ignored.
    pub fn record(&self, text: &str) {
        let mut reader = LobbyReader::default();
        text.lines().for_each(|l| reader.line(l.trim_end()));
        if let Some(lobby) = reader.latest {
            let mut s = self.shown.borrow_mut();
            s.lobby = Some(lobby);
            s.changed();
        }
    }

    /// The host as the page's session sees it: its name, its address in the game's network
    /// (`a.b.c.d`, to find its row), the path ("direct", "relayed (TURN)", …; empty: not
    /// known yet) and the round trip in ms (negative: not measured yet).
    pub fn host(&self, name: &str, guest_ip: &str, path: &str, rtt_ms: f64) {
        let peer = PeerStatus {
            name: Some(name.to_string()).filter(|n| !n.is_empty()),
            guest_addr: guest_ip.parse::<Ipv4Addr>().ok(),
            path: Some(path.to_string()).filter(|p| !p.is_empty()),
            rtt: (rtt_ms >= 0.0 && rtt_ms.is_finite())
                .then(|| Duration::from_secs_f64(rtt_ms / 1000.0)),
            ..PeerStatus::default()
        };
        let mut s = self.shown.borrow_mut();
        s.net.peers = vec![peer];
        s.changed();
    }

    /// A chat line heard (`mine`: one this player sent).
    pub fn chat(&self, from: &str, text: &str, mine: bool) {
        let mut s = self.shown.borrow_mut();
        if s.net.chat.len() == CHAT_KEEP {
            s.net.chat.remove(0);
        }
        s.net.chat.push(ChatLine {
            from: from.to_string(),
            text: text.to_string(),
            mine,
        });
        s.changed();
    }

    /// Where the game picture is on the canvas, in CSS pixels: the overlay sits in its
    /// top-right corner.
    #[wasm_bindgen(js_name = gameArea)]
    pub fn game_area(&self, x: f32, y: f32, w: f32, h: f32) {
        let mut s = self.shown.borrow_mut();
        s.game_area = Some(egui::Rect::from_min_size(
            egui::pos2(x, y),
            egui::vec2(w, h),
        ));
        s.changed();
    }

    /// Shows or hides the peers in the overlay (the desktop's backquote key): whether they are
    /// shown now.
    #[wasm_bindgen(js_name = togglePeers)]
    pub fn toggle_peers(&self) -> bool {
        let mut s = self.shown.borrow_mut();
        s.show_peers = !s.show_peers;
        s.changed();
        s.show_peers
    }

    /// Why the last chat line was not sent (empty: it was).
    #[wasm_bindgen(js_name = chatError)]
    pub fn chat_error(&self, why: &str) {
        let mut s = self.shown.borrow_mut();
        s.input.error = Some(why.to_string()).filter(|w| !w.is_empty());
        s.changed();
    }

    /// The text the screens draw now, line by line (for the page's tests: the canvas has no
    /// DOM).
    pub fn text(&self) -> String {
        let texts: Vec<String> = self.laid_out().into_iter().map(|(t, _)| t).collect();
        texts.join("\n")
    }

    /// Where the screens draw `text` (a label or a button's): its centre on the canvas in CSS
    /// pixels, `[x, y]`, or undefined. For the page's tests, which click there.
    pub fn at(&self, text: &str) -> Option<Vec<f32>> {
        let (_, rect) = self.laid_out().into_iter().find(|(t, _)| t == text)?;
        Some(vec![rect.center().x, rect.center().y])
    }

    /// Passes the runner has drawn on the canvas so far.
    pub fn painted(&self) -> u32 {
        self.shown.borrow().painted
    }

    /// Stops drawing and lets go of the canvas.
    pub fn close(&self) {
        self.runner.destroy();
    }
}

impl NetScreens {
    /// The screens' text and where each piece goes: the same pass laid out once more on a
    /// context of its own, at the canvas's size (egui's layout depends on nothing else), and
    /// its text shapes read back.
    fn laid_out(&self) -> Vec<(String, egui::Rect)> {
        let mut s = self.shown.borrow_mut();
        let size = s
            .ctx
            .as_ref()
            .map_or(egui::vec2(800.0, 600.0), |c| c.content_rect().size());
        let ctx = egui::Context::default();
        let input = || egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
            ..Default::default()
        };
        let mut texts = Vec::new();
        // A window lays itself out unseen on its first pass; the second is the one drawn.
        for pass in 0..2 {
            let out = ctx.run_ui(input(), |ui| {
                let _ = s.draw(ui);
            });
            if pass == 1 {
                for clipped in out.shapes {
                    collect_text(&clipped.shape, &mut texts);
                }
            }
        }
        texts
    }
}

fn collect_text(shape: &egui::Shape, into: &mut Vec<(String, egui::Rect)>) {
    match shape {
        egui::Shape::Text(t) => into.push((
            t.galley.text().to_string(),
            t.galley.rect.translate(t.pos.to_vec2()),
        )),
        egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| collect_text(s, into)),
        _ => {}
    }
}
