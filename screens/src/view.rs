//! Where the game picture goes in the window: Doom's 320×200 frame shown at 4:3 (its pixels were
//! 1.2 times taller than wide on a CRT), scaled by a whole number by default and letterboxed.
//! Pure arithmetic in physical pixels, so the picture lands on whole pixels at any DPI.

use serde::{Deserialize, Serialize};

/// How the frame is scaled to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    /// The largest whole multiple of 320×240 that fits; nearest-neighbour. Every Doom pixel has
    /// the same size on screen.
    #[default]
    Integer,
    /// As large as fits at 4:3; nearest-neighbour.
    Fit,
    /// As large as fits at 4:3; bilinear (soft).
    Smooth,
}

impl Scaling {
    pub const ALL: [Scaling; 3] = [Scaling::Integer, Scaling::Fit, Scaling::Smooth];

    pub fn label(self) -> &'static str {
        match self {
            Scaling::Integer => "Integer (sharp, whole multiples)",
            Scaling::Fit => "Fit window (sharp)",
            Scaling::Smooth => "Fit window (smooth)",
        }
    }

    pub fn nearest(self) -> bool {
        self != Scaling::Smooth
    }
}

/// A rectangle in physical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The height a frame is shown at relative to its width: 4:3 for Doom's 320×200 (and any frame
/// 1.6:1), square pixels for anything else.
fn display_height(frame_w: u32, frame_h: u32) -> f64 {
    if frame_w * 5 == frame_h * 8 {
        frame_w as f64 * 3.0 / 4.0
    } else {
        frame_h as f64
    }
}

/// Where a `frame_w`×`frame_h` frame goes in a `win_w`×`win_h` window (physical pixels): centred,
/// aspect-corrected, the rest black.
pub fn game_rect(
    win_w: u32,
    win_h: u32,
    frame_w: u32,
    frame_h: u32,
    scaling: Scaling,
) -> PixelRect {
    let (fw, fh) = (
        frame_w.max(1) as f64,
        display_height(frame_w.max(1), frame_h.max(1)),
    );
    let (ww, wh) = (win_w as f64, win_h as f64);
    let scale = (ww / fw).min(wh / fh);
    let scale = match scaling {
        Scaling::Integer if scale >= 1.0 => scale.floor(),
        _ => scale,
    };
    let w = ((fw * scale).round() as u32).min(win_w);
    let h = ((fh * scale).round() as u32).min(win_h);
    PixelRect {
        x: (win_w - w) / 2,
        y: (win_h - h) / 2,
        w,
        h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_scaling_is_a_whole_multiple_of_320x240_centred() {
        // 1280×800: 4× is 1280×960 (too tall), 3× is 960×720.
        let r = game_rect(1280, 800, 320, 200, Scaling::Integer);
        assert_eq!(
            r,
            PixelRect {
                x: 160,
                y: 40,
                w: 960,
                h: 720
            }
        );
        let r = game_rect(640, 480, 320, 200, Scaling::Integer);
        assert_eq!(
            r,
            PixelRect {
                x: 0,
                y: 0,
                w: 640,
                h: 480
            }
        );
    }

    #[test]
    fn fit_fills_one_side_at_4_3() {
        let r = game_rect(1280, 800, 320, 200, Scaling::Fit);
        assert_eq!((r.w, r.h), (1067, 800));
        assert_eq!(r.x, (1280 - 1067) / 2);
        let r = game_rect(800, 1000, 320, 200, Scaling::Smooth);
        assert_eq!((r.w, r.h, r.y), (800, 600, 200));
    }

    #[test]
    fn a_window_smaller_than_the_frame_still_shows_it_all() {
        let r = game_rect(200, 100, 320, 200, Scaling::Integer);
        assert!(r.w <= 200 && r.h <= 100 && r.w > 0);
        assert_eq!(game_rect(0, 0, 320, 200, Scaling::Integer).w, 0);
    }
}
