//! The window and Internet play, for real, on 127.0.0.1: `doomlink serve`, a headless `doomlink
//! host --internet` that prints its invite link, and the window started as `doomlink LINK` (what
//! a URL handler does) under its own Xvfb. The window asks before it joins (a link opened from
//! outside could come from any web page) and joins nothing until answered; then the host's lobby
//! shows the window's player, the game starts with both and plays to its end, and the window
//! presents the game's frames. With no rendezvous at all, the window started with a host's
//! manual offer code makes the answer code (shown, and printed) and plays the same way. A bad link
//! opens the Join page with the error (and says it on stderr, in one line) instead of failing.
//!
//! WebRTC binds to 127.0.0.1 on both sides (`--rtc-bind`, and `DOOMLINK_RTC_BIND` for the
//! window). Needs Xvfb and xdotool (scripts/setup installs them) and Freedoom.

use doomlink_e2e::xvfb::Xvfb;
use doomlink_e2e::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The window's player name (from its settings file), looked for in the host's lobby.
const WINDOW_PLAYER: &str = "windowed";

/// A headless `doomlink host --internet` at the rendezvous on `port`, 2 players, `tics`
/// gametics of bot input; returns it and the link it printed. Its stderr goes to `dir/err`.
fn host_with_link(port: u16, dir: &Path, tics: u32) -> (KillOnDrop, String) {
    let mut cmd = Command::new(doomlink());
    cmd.args([
        "host",
        "--internet",
        "--rendezvous",
        &format!("127.0.0.1:{port}"),
    ])
    .args([
        "--players",
        "2",
        "--deathmatch",
        "--warp",
        "1",
        "1",
        "--name",
        "host",
    ])
    .args(headless_args(Bind::Rtc("127.0.0.1"), dir, 21, tics))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(log_file(&dir.join("err")));
    // The rendezvous may take a moment to listen: then the host fails, and is started again.
    spawn_until_link(&mut cmd, &dir.join("err"))
}

/// The window, started with `arg` as its only argument, in its own config and data dirs (the
/// settings name the player and the IWAD the host plays).
fn start_window(x: &Xvfb, dir: &Path, arg: &str) -> KillOnDrop {
    let config = dir.join("config/doomlink");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("settings.toml"),
        format!("player_name = \"{WINDOW_PLAYER}\"\nlast_iwad = \"{FREEDOOM1}\"\n"),
    )
    .unwrap();
    let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    let child = x
        .cmd(doomlink().to_str().unwrap())
        .arg(arg)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("DOOMLINK_RTC_BIND", "127.0.0.1")
        .env("DOOMLINK_DUMP_FRAMES", dir.join("dump"))
        .env("DOOMLINK_INSTANCE_SOCKET", dir.join("instance.sock"))
        .stdout(log("stdout"))
        .stderr(log("stderr"))
        .spawn()
        .expect("doomlink runs");
    KillOnDrop(child)
}

/// Frames the window has presented (the first field of the dump's view.txt).
fn frames_presented(dump: &Path) -> u64 {
    read_log(&dump.join("view.txt"))
        .split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

/// The doomlink window's id, once it is mapped.
fn find_window(x: &Xvfb) -> Option<u32> {
    let out = x
        .cmd("xdotool")
        .args(["search", "--name", "doomlink"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().parse().ok())
}

/// How often the tests look at the window and the host's log.
const POLL: Duration = Duration::from_millis(200);

/// The game the window joined, to its end: game frames presented in the window, the window
/// still there during the game, and the host's game over (after its `tics` gametics, played with
/// the window's player in) with success.
fn watch_the_game(
    host: &mut KillOnDrop,
    window: &mut KillOnDrop,
    dump: &Path,
    tics: u32,
    logs: impl Fn() -> String + Copy,
) {
    poll_until(
        POLL,
        Duration::from_secs(60),
        "game frames presented in the window",
        || frames_presented(dump) >= 35,
        logs,
    );
    assert!(
        window.0.try_wait().unwrap().is_none(),
        "the window ended during the game\n{}",
        logs()
    );
    poll_until(
        POLL,
        game_limit(tics),
        "the host's game over",
        || host.0.try_wait().unwrap().is_some(),
        logs,
    );
    let st = host.0.wait().unwrap();
    assert!(st.success(), "host: {st}\n{}", logs());
}

/// Answers the window's "Join this game?" with Enter, once it asks; until then the host must
/// not see the window's player.
fn confirm_join(x: &Xvfb, w: &Path, h: &Path, logs: impl Fn() -> String + Copy) {
    poll_until(
        POLL,
        Duration::from_secs(60),
        "the window asking before it joins",
        || read_log(&w.join("stderr")).contains("doomlink: asking before joining room "),
        logs,
    );
    // It asked the rendezvous who hosts the room (the host is `--name host`) and who is in it
    // (the host told the rendezvous: itself, and that the game waits for its `--players 2`).
    poll_until(
        POLL,
        Duration::from_secs(10),
        "the window naming the room's host and players",
        || read_log(&w.join("stderr")).contains("is hosted by \"host\"; players: [\"host\"] of 2"),
        logs,
    );
    // And what the room plays, found on this computer.
    poll_until(
        POLL,
        Duration::from_secs(10),
        "the window naming the room's IWAD",
        || {
            read_log(&w.join("stderr")).contains(&format!(
                "it plays freedoom1.wad, Freedoom: Phase 1 (0.12.1): here ({FREEDOOM1})"
            ))
        },
        logs,
    );
    let window = loop {
        if let Some(id) = find_window(x) {
            break id.to_string();
        }
        std::thread::sleep(POLL);
    };
    // A link opened from outside joins nothing by itself.
    std::thread::sleep(Duration::from_secs(3));
    if let Ok(dir) = std::env::var("DOOMLINK_SCREENSHOT_DIR") {
        let shot = Path::new(&dir).join("join-question.png");
        x.tool("import", &["-window", "root", shot.to_str().unwrap()]);
    }
    assert!(
        !read_log(&h.join("err")).contains(WINDOW_PLAYER),
        "the window joined before the player said so\n{}",
        logs()
    );
    x.tool("xdotool", &["windowfocus", "--sync", &window]);
    x.tool("xdotool", &["key", "--delay", "80", "Return"]);
}

#[test]
fn a_link_opens_the_window_which_asks_then_goes_into_the_game() {
    let tics = test_tics();
    let x = Xvfb::start();
    let rv = Scratch::new("winet-rv");
    let (_serve, port) = serve(rv.path(), &["--public-addr", "127.0.0.1"]);
    let h = Scratch::new("winet-host");
    let (mut host, link) = host_with_link(port, h.path(), tics);
    let w = Scratch::new("winet-window");
    let mut window = start_window(&x, w.path(), &link);
    let logs = || {
        format!(
            "--- host stderr\n{}\n--- window stderr\n{}",
            read_log(&h.path().join("err")),
            read_log(&w.path().join("stderr"))
        )
    };
    confirm_join(&x, w.path(), h.path(), logs);
    // The first start on a machine compiles doom.wasm (cached afterwards).
    let started = Instant::now();
    poll_until(
        POLL,
        Duration::from_secs(240),
        "the window's player in the host's lobby",
        || {
            read_log(&h.path().join("err"))
                .lines()
                .any(|l| l.starts_with("doomlink: lobby player ") && l.contains(WINDOW_PLAYER))
        },
        logs,
    );
    println!("window in the host's lobby after {:?}", started.elapsed());
    assert!(find_window(&x).is_some(), "no doomlink window\n{}", logs());
    // Two players in: the game starts by itself (--players 2), and the window shows it.
    poll_until(
        POLL,
        Duration::from_secs(60),
        "the game launched with two players",
        || {
            let err = read_log(&h.path().join("err"));
            err.lines()
                .any(|l| l.starts_with("doomlink: lobby players 2"))
                && err.contains("doomlink: lobby state launched")
        },
        logs,
    );
    watch_the_game(&mut host, &mut window, &w.path().join("dump"), tics, logs);
    assert!(
        !read_log(&w.path().join("stderr")).contains("panicked"),
        "{}",
        logs()
    );
}

#[test]
fn a_bad_link_opens_the_join_page_with_the_error() {
    let x = Xvfb::start();
    let w = Scratch::new("winet-bad");
    // A room id with a character no room id has.
    let bad = format!(
        "doomlink://join/127.0.0.1:7342/r!om?fp={}#{}",
        "A".repeat(43),
        "s".repeat(22)
    );
    let mut window = start_window(&x, w.path(), &bad);
    let stderr = || read_log(&w.path().join("stderr"));
    poll_until(
        POLL,
        Duration::from_secs(60),
        "the window open",
        || find_window(&x).is_some(),
        stderr,
    );
    poll_until(
        POLL,
        Duration::from_secs(10),
        "the error on stderr",
        || stderr().contains("room id"),
        stderr,
    );
    let err = stderr();
    let line: Vec<&str> = err.lines().filter(|l| l.contains("room id")).collect();
    assert_eq!(line.len(), 1, "one line: {err}");
    assert!(line[0].contains("\"r!om\""), "names the bad part: {err}");
    // The window stays, on the Join page, rather than ending.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        window.0.try_wait().unwrap().is_none(),
        "the window ended:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_offer_code_opens_the_window_into_trading_codes_and_the_game() {
    let tics = test_tics();
    let x = Xvfb::start();
    let h = Scratch::new("winet-mhost");
    let mut host = Command::new(doomlink())
        .args([
            "host",
            "--internet",
            "--manual",
            "--players",
            "2",
            "--deathmatch",
        ])
        .args(["--warp", "1", "1", "--name", "host"])
        .args(headless_args(Bind::Rtc("127.0.0.1"), h.path(), 23, tics))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file(&h.path().join("err")))
        .spawn()
        .unwrap();
    let mut host_in = host.stdin.take().unwrap();
    let offer = first_stdout_line(&mut host).trim().to_string();
    let mut host = KillOnDrop(host);
    assert!(
        offer.len() > 40,
        "no offer code: {offer:?}\n{}",
        read_log(&h.path().join("err"))
    );
    let w = Scratch::new("winet-mwindow");
    let mut window = start_window(&x, w.path(), &offer);
    let logs = || {
        format!(
            "--- host stderr\n{}\n--- window stdout\n{}\n--- window stderr\n{}",
            read_log(&h.path().join("err")),
            read_log(&w.path().join("stdout")),
            read_log(&w.path().join("stderr"))
        )
    };
    // The window prints its answer code on a line of its own (and shows it to copy).
    let mut answer = String::new();
    poll_until(
        POLL,
        Duration::from_secs(240),
        "the window's answer code",
        || {
            answer = read_log(&w.path().join("stdout"))
                .lines()
                .find(|l| l.len() > 40 && !l.contains(' '))
                .unwrap_or_default()
                .to_string();
            !answer.is_empty()
        },
        logs,
    );
    use std::io::Write;
    writeln!(host_in, "{answer}").unwrap();
    host_in.flush().unwrap();
    poll_until(
        POLL,
        Duration::from_secs(120),
        "the game launched with the window's player",
        || {
            let err = read_log(&h.path().join("err"));
            err.lines()
                .any(|l| l.starts_with("doomlink: lobby player ") && l.contains(WINDOW_PLAYER))
                && err.contains("doomlink: lobby state launched")
        },
        logs,
    );
    watch_the_game(&mut host, &mut window, &w.path().join("dump"), tics, logs);
}
