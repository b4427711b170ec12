//! Chocolate Doom in a real browser: the desktop's own doom.wasm, run by headless chromium's
//! WebAssembly engine in a Web Worker with doomlink's kernel compiled for the browser
//! (doomlink-web), everything served from 127.0.0.1.
//! - A timedemo gives the gametics native Chocolate Doom gives (the guest runs the same game).
//! - In a game, the canvas shows Doom's picture, trusted key presses (WebDriver's, as a
//!   person's) steer the player, and the demo the guest records in its in-memory /data is read
//!   back by the page: its tics carry the key's movement.

use doomlink_e2e::browser::DoomPage;
use serde_json::json;
use std::time::Duration;

#[test]
fn a_timedemo_in_chromium_gives_native_gametics() {
    let output = DoomPage::open().timedemo("demo1");
    // Native Chocolate Doom 3.0 times freedoom1's demo1 at 1531 gametics (the desktop guest's
    // test checks the same count).
    assert!(
        output.contains("timed 1531 gametics"),
        "no native gametic count in the browser's timedemo:\n{output}"
    );
}

#[test]
fn in_game_the_canvas_shows_doom_and_keys_move_the_player_in_the_recorded_demo() {
    let page = DoomPage::open();
    let browser = &page.browser;
    // E1M1 from the start, recording a demo into /data; the run ends by itself after 350
    // gametics (10 s), writing the demo.
    page.start(
        &[
            "doom",
            "-iwad",
            "/iwad/freedoom1.wad",
            "-warp",
            "1",
            "1",
            "-record",
            "walk",
        ],
        &["DOOMLINK_TICS=350"],
        true,
        &["walk.lmp"],
    );
    browser.wait_for("window.doom.frames.count > 35", Duration::from_secs(60));
    assert!(
        browser.canvas_colours("screen") > 32,
        "the canvas shows no game picture"
    );
    // Focus the canvas as a click would, then hold the up arrow (WebDriver's U+E013).
    browser.execute("document.getElementById('screen').focus();", json!([]));
    browser.hold_key("\u{E013}", Duration::from_secs(2));
    let shot = browser.screenshot();
    assert!(
        shot.starts_with(b"\x89PNG"),
        "WebDriver's screenshot is a PNG"
    );
    if let Ok(dir) = std::env::var("DOOMLINK_SCREENSHOT_DIR") {
        std::fs::write(std::path::Path::new(&dir).join("browser-game.png"), &shot).unwrap();
    }
    let exit = page.exit();
    assert_eq!(exit["status"], json!(0), "{exit}");
    let demo: Vec<u8> = exit["files"]["walk.lmp"]
        .as_array()
        .unwrap_or_else(|| panic!("no demo read back from /data: {exit}"))
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    // Doom's demo: a 13-byte header (version, skill, episode, map, ...), one 4-byte ticcmd per
    // gametic for the one player (forwardmove first), then 0x80.
    assert_eq!(demo.last(), Some(&0x80), "a finished demo");
    assert_eq!(demo[2..4], [1, 1], "episode 1, map 1");
    let tics: Vec<&[u8]> = demo[13..demo.len() - 1].chunks(4).collect();
    assert_eq!(tics.len(), 350, "one ticcmd per gametic");
    let forward = tics.iter().filter(|t| (t[0] as i8) > 0).count();
    // 2 s held: about 70 tics of forward movement. The bounds are wide for a loaded machine
    // (CI runs tests side by side); a lost key gives none, a stuck one all 350.
    assert!(
        (35..=105).contains(&forward),
        "{forward} tics moved forward while the key was held for 2 s"
    );
}

/// With sound, the guest's /dev/dsp plays through the page's AudioWorklet at the output's own
/// rate: the title screen's music reaches it (loud samples), the output consumes it in real
/// time, and the guest's queue stays topped up (about what the run lasted reaches the page).
#[test]
fn sound_plays_through_the_pages_audio_output() {
    let page = DoomPage::open();
    // The title screen and its music, 175 gametics: 5 s.
    page.start_with(json!({
        "args": ["doom", "-iwad", "/iwad/freedoom1.wad"],
        "env": ["DOOMLINK_TICS=175"],
        "canvas": true,
        "audio": true,
    }));
    let exit = page.exit();
    assert_eq!(exit["status"], json!(0), "{exit}");
    let audio = page.browser.execute(
        "const a = window.doom.audio;\
         return { rate: a.rate, posted: a.stats.posted, peak: a.stats.peak,\
                  played: window.doom.audioPlayed(), ms: window.doomExit.ms };",
        json!([]),
    );
    println!("audio: {audio}");
    let output = exit["output"].as_str().unwrap_or_default();
    let rate = audio["rate"].as_f64().unwrap();
    assert!(
        output.contains(&format!("I_InitSound: {rate} Hz stereo to /dev/dsp")),
        "the guest did not open /dev/dsp at the output's rate {rate}:\n{output}"
    );
    let seconds = audio["ms"].as_f64().unwrap() / 1e3;
    let posted = audio["posted"].as_f64().unwrap() / rate;
    let played = audio["played"].as_f64().unwrap() / rate;
    // What reached the page covers much of the run (the guest keeps its queue full; on a
    // loaded machine it may fall behind for a while), never more than the run and its queue,
    // and the output played it in real time.
    assert!(
        posted > 0.5 * seconds && posted < seconds + 1.0,
        "{posted:.2} s of sound posted in a {seconds:.2} s run: {audio}"
    );
    assert!(
        played > 0.4 * seconds,
        "{played:.2} s of sound played in a {seconds:.2} s run: {audio}"
    );
    assert!(
        audio["peak"].as_f64().unwrap() > 500.0,
        "the music did not reach the output: {audio}"
    );
}
