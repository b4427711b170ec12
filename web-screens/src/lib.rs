//! doomlink's screens in a web browser: the desktop's own (doomlink-screens), for the player
//! page. A wasm module of its own, loaded by the page alone: the guest's worker loads
//! doomlink-web's, which has no egui.
//!
//! - `netgame` (browser build only): a netgame's screens, drawn by eframe's web runner on a
//!   canvas over the game's: the lobby panel while the game waits to start, then the network
//!   overlay (`NetScreens`)
//! - [`game_rect`]: where the page puts the game picture, by the desktop's letterbox

#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
pub mod netgame;

use wasm_bindgen::prelude::*;

/// Where the game picture goes in a window of `win_w`×`win_h` device pixels, for frames of
/// `frame_w`×`frame_h`: the desktop's letterbox (4:3, whole multiples by default), as
/// `[x, y, w, h]`. `scaling`: `integer`, `fit` or `smooth`, as the desktop's setting is
/// written; anything else is `integer`.
#[wasm_bindgen(js_name = gameRect)]
pub fn game_rect(win_w: u32, win_h: u32, frame_w: u32, frame_h: u32, scaling: &str) -> Vec<u32> {
    use doomlink_screens::view::Scaling;
    let scaling = match scaling {
        "fit" => Scaling::Fit,
        "smooth" => Scaling::Smooth,
        _ => Scaling::Integer,
    };
    let r = doomlink_screens::view::game_rect(win_w, win_h, frame_w, frame_h, scaling);
    vec![r.x, r.y, r.w, r.h]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_gets_the_desktops_letterbox() {
        assert_eq!(
            game_rect(1920, 1080, 320, 200, "integer"),
            [320, 60, 1280, 960]
        );
        assert_eq!(
            game_rect(1920, 1080, 320, 200, "smooth"),
            [240, 0, 1440, 1080]
        );
        assert_eq!(game_rect(1920, 1080, 320, 200, "fit"), [240, 0, 1440, 1080]);
        assert_eq!(
            game_rect(1920, 1080, 320, 200, "nonsense"),
            game_rect(1920, 1080, 320, 200, "integer")
        );
    }
}
