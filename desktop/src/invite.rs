//! The invite of a game hosted over the Internet, shown beside the lobby while the game waits:
//! the `doomlink://` link, a Copy button, and the link as a QR code (for a phone, or a friend
//! across the room).
//!
//! A hosted Internet game's [`Launched::keep_alive`] is a [`doomlink_play::launch::Hosted`]: the link travels with what
//! the game keeps alive, so no other screen has to know about it.

use doomlink_play::launch::invite_link;
use doomlink_play::launch::Launched;
use eframe::egui::{self, Color32, ColorImage, RichText, TextureHandle, TextureOptions};
use std::time::{Duration, Instant};

/// Quiet zone around the code, in modules: the 4 the QR standard asks for, so a reader finds
/// the code against any background.
const QUIET: usize = 4;

/// Screen points per module: a whole number, so every module is the same size.
const MODULE_POINTS: f32 = 3.0;

/// The QR code of `text` as an image, one pixel per module, black on white with the quiet zone.
pub fn qr_image(text: &str) -> Result<ColorImage, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    let n = code.width();
    let side = n + 2 * QUIET;
    let mut pixels = vec![Color32::WHITE; side * side];
    for (i, c) in code.to_colors().into_iter().enumerate() {
        if c == qrcode::Color::Dark {
            let (x, y) = (i % n + QUIET, i / n + QUIET);
            pixels[y * side + x] = Color32::BLACK;
        }
    }
    Ok(ColorImage::new([side, side], pixels))
}

/// What the panel remembers between frames (in egui's memory, by link).
#[derive(Clone)]
struct PanelState {
    link: String,
    /// None: the link does not fit a QR code (it always should).
    texture: Option<TextureHandle>,
    copied: Option<Instant>,
}

/// Draws the invite panel beside the lobby when `launched` is a hosted Internet game; nothing
/// otherwise. Called by the game view while the lobby shows.
pub fn lobby_invite(ui: &mut egui::Ui, launched: &Launched) {
    let Some(link) = invite_link(launched) else {
        return;
    };
    let ctx = ui.ctx().clone();
    let id = egui::Id::unique("doomlink-invite");
    let mut state = ctx
        .data(|d| d.get_temp::<PanelState>(id))
        .filter(|s| s.link == link)
        .unwrap_or_else(|| PanelState {
            link: link.to_string(),
            // Nearest: each module a crisp square, never blurred between black and white.
            texture: qr_image(link)
                .ok()
                .map(|img| ctx.load_texture("invite-qr", img, TextureOptions::NEAREST)),
            copied: None,
        });
    // Above the lobby (which sits in the middle): the code on the left, the link on the right.
    egui::Window::new("Invite your friends")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 12.0))
        .show(&ctx, |ui| {
            ui.horizontal_top(|ui| {
                match &state.texture {
                    Some(tex) => {
                        // Whole pixels per module at this scale: every module the same size.
                        let ppp = ctx.pixels_per_point();
                        let px = (MODULE_POINTS * ppp).round().max(1.0);
                        let side = tex.size()[0] as f32 * px / ppp;
                        ui.add(egui::Image::new((tex.id(), egui::vec2(side, side))));
                    }
                    None => {
                        ui.label(RichText::new("(the link is too long for a QR code)").weak());
                    }
                }
                ui.vertical(|ui| {
                    ui.set_max_width(270.0);
                    ui.label("Send them this link, or let them scan the code:");
                    ui.add(
                        egui::Label::new(RichText::new(link).monospace().size(11.0))
                            .wrap()
                            .selectable(true),
                    );
                    ui.horizontal(|ui| {
                        if ui.button("Copy link").clicked() {
                            ctx.copy_text(link.to_string());
                            state.copied = Some(Instant::now());
                        }
                        if state
                            .copied
                            .is_some_and(|t| t.elapsed() < Duration::from_secs(2))
                        {
                            ui.label(RichText::new("Copied").weak());
                            ctx.request_repaint_after(Duration::from_millis(250));
                        }
                    });
                });
            });
        });
    ctx.data_mut(|d| d.insert_temp(id, state));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_image_has_a_quiet_zone_and_finder_patterns() {
        let link = "doomlink://join/127.0.0.1:7342/AbCd1234?fp=\
                    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA#secretsecretsecret";
        let img = qr_image(link).unwrap();
        let [w, h] = img.size;
        assert_eq!(w, h);
        let at = |x: usize, y: usize| img.pixels[y * w + x];
        // The quiet zone is white all round.
        for i in 0..w {
            for q in 0..QUIET {
                assert_eq!(at(i, q), Color32::WHITE);
                assert_eq!(at(q, i), Color32::WHITE);
                assert_eq!(at(i, w - 1 - q), Color32::WHITE);
                assert_eq!(at(w - 1 - q, i), Color32::WHITE);
            }
        }
        // The top-left finder pattern: a dark 7×7 ring, then a light ring, then a 3×3 dark core.
        let (o, n) = (QUIET, w - 2 * QUIET);
        assert!(
            (n - 17) % 4 == 0,
            "a QR code is 17 + 4v modules wide, got {n}"
        );
        for i in 0..7 {
            assert_eq!(at(o + i, o), Color32::BLACK);
            assert_eq!(at(o, o + i), Color32::BLACK);
        }
        assert_eq!(at(o + 1, o + 1), Color32::WHITE);
        assert_eq!(at(o + 3, o + 3), Color32::BLACK);
    }
}
