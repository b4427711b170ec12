//! `doomlink host` and `doomlink join` typed without `--headless`, as the README shows them: the
//! window opens straight into hosting or joining (as its Host and Join pages do), under its own
//! Xvfb, and plays a LAN game on 127.0.0.1 against a headless peer. The game must start with
//! both players, play its gametics to the end in both, and the window close by itself with the
//! game's status; both demos must be the same game.
//!
//! Needs Xvfb (scripts/setup installs it) and Freedoom.

use doomlink_e2e::xvfb::Xvfb;
use doomlink_e2e::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Gametics these games play: enough to see a game run, short enough for a window on a
/// software renderer beside a headless peer.
fn window_tics() -> u32 {
    test_tics().min(700)
}

/// `doomlink ARGS` in a window on `x`, with its own config and data dirs (a player name in the
/// settings file, which the command line's `--name` must win over), recording `DIR/w.lmp`.
fn window(x: &Xvfb, dir: &Path, args: &[String], tics: u32) -> KillOnDrop {
    let config = dir.join("config/doomlink");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("settings.toml"),
        "player_name = \"from-settings\"\n",
    )
    .unwrap();
    let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    let child = x
        .cmd(doomlink().to_str().unwrap())
        .args(args)
        .args(["--lan-bind", "127.0.0.1", "--iwad", FREEDOOM1, "--tics"])
        .arg(tics.to_string())
        .arg("--data-dir")
        .arg(dir)
        .args(["--", "-record", "w"])
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("DOOMLINK_DUMP_FRAMES", dir.join("dump"))
        .env("DOOMLINK_INSTANCE_SOCKET", dir.join("instance.sock"))
        .stdin(Stdio::null())
        .stdout(log("stdout"))
        .stderr(log("stderr"))
        .spawn()
        .expect("doomlink runs");
    KillOnDrop(child)
}

/// A headless LAN peer (`ROLE… --headless …`), bot input from `seed`, recording `DIR/p.lmp`.
fn headless(role: &[&str], dir: &Path, seed: u64, tics: u32) -> KillOnDrop {
    KillOnDrop(
        Command::new(doomlink())
            .args(role)
            .args(peer_args(Bind::Lan("127.0.0.1"), dir, seed, tics, "p"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join("err")))
            .spawn()
            .expect("doomlink runs"),
    )
}

/// Both ends play to the end with success (the window closing itself), and their demos are
/// the same two-player game.
fn both_play_it_out(
    window: &mut KillOnDrop,
    wdir: &Path,
    peer: &mut KillOnDrop,
    pdir: &Path,
    tics: u32,
) {
    let logs = || {
        format!(
            "--- window stderr\n{}\n--- headless stderr\n{}",
            read_log(&wdir.join("stderr")),
            read_log(&pdir.join("err"))
        )
    };
    // The first start on a machine compiles doom.wasm (cached afterwards).
    let limit = Duration::from_secs(240) + game_limit(tics);
    for (what, p) in [("the window", window), ("the headless peer", peer)] {
        let st = wait_with_deadline(&mut p.0, limit, what, logs);
        assert!(st.success(), "{what}: {st}\n{}", logs());
    }
    assert!(
        !read_log(&wdir.join("stderr")).contains("panicked"),
        "{}",
        logs()
    );
    assert_demos_equal(&[wdir.join("w.lmp"), pdir.join("p.lmp")], 2, tics);
}

#[test]
fn host_lan_opens_the_window_and_a_headless_joiner_plays_in_it() {
    let tics = window_tics();
    let x = Xvfb::start();
    let port = free_server_port();
    let w = Scratch::new("wcli-host");
    let args: Vec<String> = [
        "host",
        "--lan",
        "--port",
        &port.to_string(),
        "--players",
        "2",
        "--deathmatch",
        "--warp",
        "1",
        "1",
        "--name",
        "windowed",
    ]
    .map(String::from)
    .to_vec();
    let mut win = window(&x, w.path(), &args, tics);
    let j = Scratch::new("wcli-joiner");
    // The window's server may take a moment to listen (its first start compiles doom.wasm):
    // a joiner that finds nobody there gives up, and is started again.
    let target = format!("127.0.0.1:{port}");
    let mut joiner = headless(&["join", &target], j.path(), 31, tics);
    poll_until(
        Duration::from_millis(300),
        Duration::from_secs(240),
        "the headless joiner in the window's lobby",
        || {
            let err = read_log(&j.path().join("err"));
            if err.contains("doomlink: lobby player ") && err.contains("windowed") {
                return true;
            }
            if joiner.0.try_wait().unwrap().is_some() {
                joiner = headless(&["join", &target], j.path(), 31, tics);
            }
            false
        },
        || read_log(&w.path().join("stderr")),
    );
    both_play_it_out(&mut win, w.path(), &mut joiner, j.path(), tics);
    // The host's options from the command line are the game's: E1M1, deathmatch.
    let demo = std::fs::read(w.path().join("w.lmp")).unwrap();
    assert_eq!(&demo[2..5], &[1, 1, 1], "episode/map/deathmatch");
}

#[test]
fn join_address_opens_the_window_into_a_headless_hosts_game() {
    let tics = window_tics();
    let x = Xvfb::start();
    let port = free_server_port();
    let h = Scratch::new("wcli-lanhost");
    let port_s = port.to_string();
    let mut host = headless(
        &[
            "host",
            "--lan",
            "--port",
            &port_s,
            "--players",
            "2",
            "--name",
            "host",
        ],
        h.path(),
        41,
        tics,
    );
    poll_until(
        Duration::from_millis(200),
        Duration::from_secs(240),
        "the headless host's lobby",
        || read_log(&h.path().join("err")).contains("doomlink: lobby "),
        || read_log(&h.path().join("err")),
    );
    let w = Scratch::new("wcli-join");
    let args: Vec<String> = ["join", &format!("127.0.0.1:{port}"), "--name", "windowed"]
        .map(String::from)
        .to_vec();
    let mut win = window(&x, w.path(), &args, tics);
    poll_until(
        Duration::from_millis(300),
        Duration::from_secs(240),
        "the window's player (its --name) in the host's lobby",
        || {
            read_log(&h.path().join("err"))
                .lines()
                .any(|l| l.starts_with("doomlink: lobby player ") && l.contains("windowed"))
        },
        || read_log(&w.path().join("stderr")),
    );
    both_play_it_out(&mut win, w.path(), &mut host, h.path(), tics);
}

#[test]
fn join_with_a_bad_address_says_so_in_one_line_before_any_window() {
    // No Xvfb: the check comes before the window would open.
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["join", "not an address!"])
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY"),
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("doomlink: "), "{err}");
}
