//! LAN play interoperates with stock Chocolate Doom, tic for tic, both ways: a native client
//! joins a game hosted by doomlink, and doomlink joins a native `chocolate-server`. Two native
//! versions: Debian 12's 3.0 (so every game here with it is a mixed 3.0/3.1 game: doom.wasm is
//! 3.1.1) and upstream's 3.1.1 built natively from the very source doom.wasm is built from
//! (`scripts/native-chocolate-doom`). And one game with both: a doomlink host, a native 3.0
//! client and a native 3.1.1 client.
//!
//! Sync mode: the game's settings, which the player who starts the game chooses and the server
//! sends to everyone, say whether clients adjust their clocks to the server's ("new sync") or
//! not. 3.0 defaults to the old mode, 3.1 to the new one (steered by a PID controller in 3.1;
//! 3.0 has the same mode with a plainer controller). A doomlink host starts its games in the new
//! mode, 3.1's default: either mode keeps the lockstep (these demos are equal in both), and the
//! old one stalls every player every second or two in games of three or more over the
//! Internet (Chocolate Doom upstream's reason for making the new one the default again).
//!
//! Everything runs in a network namespace of the test's own with only a loopback: native 3.1's
//! client asks the public master server for a hole punch when a server is slow to answer its
//! SYN, and there that request goes nowhere. Servers are always private (no master server). The
//! native clients run with SDL's dummy video and audio drivers.
//!
//! A native client cannot fetch a doomlink host's PWADs: one whose WADs differ is told in its
//! lobby what the game plays (a console message, which Chocolate Doom prints), one with the
//! game's files is told nothing; the same at a dedicated room's LAN port.

use doomlink_e2e::netns::loopback_only_network_for_this_thread;
use doomlink_e2e::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A native Chocolate Doom.
#[derive(Debug, Clone, Copy)]
enum Native {
    /// Debian 12's package: 3.0.
    Debian30,
    /// Upstream's 3.1.1, built natively from doom.wasm's source.
    Upstream311,
}

impl Native {
    fn bin(self, program: &str) -> PathBuf {
        match self {
            Native::Debian30 => Path::new("/usr/games").join(program),
            Native::Upstream311 => native_chocolate_doom_3_1_1().join(program),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Native::Debian30 => "3.0",
            Native::Upstream311 => "3.1.1",
        }
    }
}

/// Builds what the test runs (cargo and apt cannot reach anything from inside the namespace),
/// then moves the test's thread into its loopback-only network.
fn isolate(natives: &[Native]) {
    doomlink();
    for n in natives {
        n.bin("chocolate-doom");
    }
    loopback_only_network_for_this_thread();
}

fn logged(cmd: &mut Command, dir: &Path) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(log_file(&dir.join("log")))
        .stderr(log_file(&dir.join("err")))
        .spawn()
        .unwrap()
}

fn logs(dir: &Path) -> String {
    let r = |f: &str| read_log(&dir.join(f));
    format!(
        "--- {} stdout\n{}\n--- stderr\n{}",
        dir.display(),
        r("log"),
        r("err")
    )
}

fn doomlink_peer(args: &[&str], dir: &Path, seed: u64, tics: u32, record: &str) -> Child {
    logged(
        Command::new(doomlink()).args(args).args(peer_args(
            Bind::Lan("127.0.0.1"),
            dir,
            seed,
            tics,
            record,
        )),
        dir,
    )
}

/// A native client; its stdout line-buffered (`stdbuf`), so that what it prints in the lobby is
/// in its log at once.
fn native_doom(native: Native, args: &[&str], dir: &Path) -> Child {
    logged(
        Command::new("stdbuf")
            .arg("-oL")
            .arg(native.bin("chocolate-doom"))
            .args(["-iwad", FREEDOOM1, "-nogui", "-nosound"])
            .args(args)
            .current_dir(dir)
            .env("HOME", dir)
            .env("SDL_VIDEODRIVER", "dummy")
            .env("SDL_AUDIODRIVER", "dummy"),
        dir,
    )
}

fn wait(child: &mut Child, limit: Duration, dir: &Path) -> std::process::ExitStatus {
    wait_or_kill(child, limit).unwrap_or_else(|| panic!("timed out after {limit:?}\n{}", logs(dir)))
}

/// A doomlink host for `natives.len() + 1` players and one native client of each version; all
/// record until the host stops at the test's tics; every demo is the same game.
fn native_clients_join_a_doomlink_host(natives: &[Native]) {
    isolate(natives);
    let tics = test_tics();
    let port = free_server_port().to_string();
    let players = (natives.len() + 1).to_string();
    let host_dir = Scratch::new("interop-host");
    let mut host = doomlink_peer(
        &[
            "host",
            "--lan",
            "--port",
            &port,
            "--players",
            &players,
            "--deathmatch",
            "--warp",
            "1",
            "1",
        ],
        host_dir.path(),
        7,
        tics,
        "host",
    );
    std::thread::sleep(Duration::from_millis(500));
    // The native clients record until the game ends under them (the host stops at `tics`).
    let mut clients: Vec<(Scratch, Child, String)> = Vec::new();
    for (i, &native) in natives.iter().enumerate() {
        let record = format!("native{i}");
        let dir = Scratch::new(&format!("interop-native-{}", native.tag()));
        let child = native_doom(
            native,
            &[
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-record",
                &record,
                "-maxdemo",
                "512",
            ],
            dir.path(),
        );
        clients.push((dir, child, record));
        std::thread::sleep(Duration::from_millis(300));
    }
    let limit = game_limit(tics);
    let st = wait(&mut host, limit, host_dir.path());
    let client_logs = || -> String {
        clients
            .iter()
            .map(|(d, _, _)| logs(d.path()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        st.success(),
        "doomlink host: {st}\n{}\n{}",
        logs(host_dir.path()),
        client_logs()
    );
    let mut demos: Vec<PathBuf> = vec![host_dir.path().join("host.lmp")];
    for (dir, child, record) in &mut clients {
        wait(child, Duration::from_secs(60), dir.path());
        demos.push(dir.path().join(format!("{record}.lmp")));
    }
    assert_demos_equal(&demos, natives.len() + 1, tics);
}

/// Two doomlink peers join a native server of `native`'s version; the first controls it.
fn doomlink_joins_a_native_server(native: Native) {
    isolate(&[native]);
    let tics = test_tics();
    let port = free_server_port().to_string();
    let server_dir = Scratch::new("interop-server");
    let mut server = logged(
        Command::new(native.bin("chocolate-server"))
            .args(["-privateserver", "-port", &port])
            .env("HOME", server_dir.path()),
        server_dir.path(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let (a, b) = (Scratch::new("interop-a"), Scratch::new("interop-b"));
    let target = format!("127.0.0.1:{port}");
    // The first client to join a dedicated server controls it: it sets the game and starts it
    // when two are in (-nodes, as natively).
    let mut ctl = Command::new(doomlink());
    let mut first = logged(
        ctl.args(["join", &target])
            .args(peer_args(Bind::Lan("127.0.0.1"), a.path(), 8, tics, "a"))
            .args(["-nodes", "2", "-deathmatch", "-warp", "1", "1"]),
        a.path(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut second = doomlink_peer(&["join", &target], b.path(), 9, tics, "b");
    let limit = game_limit(tics);
    let st1 = wait(&mut first, limit, a.path());
    let st2 = wait(&mut second, limit, b.path());
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        st1.success() && st2.success(),
        "{st1} {st2}\n{}\n{}\n{}",
        logs(a.path()),
        logs(b.path()),
        logs(server_dir.path())
    );
    assert_demos_equal(&[a.path().join("a.lmp"), b.path().join("b.lmp")], 2, tics);
}

#[test]
fn a_native_3_0_client_joins_a_doomlink_host() {
    native_clients_join_a_doomlink_host(&[Native::Debian30]);
}

#[test]
fn a_native_3_1_1_client_joins_a_doomlink_host() {
    native_clients_join_a_doomlink_host(&[Native::Upstream311]);
}

#[test]
fn native_3_0_and_3_1_1_clients_play_one_game_with_a_doomlink_host() {
    native_clients_join_a_doomlink_host(&[Native::Debian30, Native::Upstream311]);
}

#[test]
fn doomlink_joins_a_native_3_0_server() {
    doomlink_joins_a_native_server(Native::Debian30);
}

#[test]
fn doomlink_joins_a_native_3_1_1_server() {
    doomlink_joins_a_native_server(Native::Upstream311);
}

/// A doomlink LAN host with a PWAD; a native 3.0 client without it, a native 3.1.1 client with
/// it. Only the one without is told, in its lobby, the files the game plays.
#[test]
fn a_native_client_without_the_hosts_pwad_is_told_what_the_game_plays() {
    isolate(&[Native::Debian30, Native::Upstream311]);
    let files = Scratch::new("interop-wads");
    let pwad = files.path().join("nomonsters-e1m1.wad");
    pwad::write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 0);
    let port = free_server_port();
    let host_dir = Scratch::new("interop-wads-host");
    // Four players: the game waits in its lobby for one more than come.
    let _host = KillOnDrop(doomlink_peer(
        &[
            "host",
            "--lan",
            "--port",
            &port.to_string(),
            "--players",
            "4",
            "--file",
            pwad.to_str().unwrap(),
        ],
        host_dir.path(),
        7,
        test_tics(),
        "host",
    ));
    std::thread::sleep(Duration::from_millis(500));
    natives_with_and_without_the_pwad_are_told_what_they_need(
        port,
        &pwad,
        Native::Upstream311,
        host_dir.path(),
    );
}

/// The same in a dedicated room of `doomlink serve` at its `lan_port`: the room's guest is a
/// server alone, so the game's files Chocolate Doom compares a joiner's with are its
/// controller's, the first player in. A native client with the room's PWAD comes first; the one
/// without it is told what the room plays, the first is told nothing.
#[test]
fn a_native_client_without_a_dedicated_rooms_pwad_is_told_what_the_room_plays() {
    isolate(&[Native::Debian30]);
    let files = Scratch::new("interop-room-wads");
    let pwad = files.path().join("nomonsters-e1m1.wad");
    pwad::write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 0);
    let lan_port = free_server_port();
    let dir = Scratch::new("interop-room-serve");
    let cfg = dir.path().join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "iwads = [\"{FREEDOOM1}\"]\npwads = [\"{}\"]\n\n[[room]]\nname = \"lan\"\n\
             players = 4\nfiles = [\"nomonsters-e1m1.wad\"]\nlan_port = {lan_port}\n",
            pwad.display()
        ),
    )
    .unwrap();
    let (mut cmd, _) = serve_command(&doomlink(), dir.path());
    let _serve = KillOnDrop(logged(
        cmd.args(["--config", cfg.to_str().unwrap()]).args([
            "--rtc-bind",
            "127.0.0.1",
            "--lan-bind",
            "127.0.0.1",
        ]),
        dir.path(),
    ));
    wait_logged(dir.path(), "err", "dedicated room open", dir.path());
    natives_with_and_without_the_pwad_are_told_what_they_need(
        lan_port,
        &pwad,
        Native::Debian30,
        dir.path(),
    );
}

/// Waits up to 30 s for `text` in `dir`'s log `file`; fails with both `dir`'s and `other`'s logs.
fn wait_logged(dir: &Path, file: &str, text: &str, other: &Path) {
    let started = std::time::Instant::now();
    while !read_log(&dir.join(file)).contains(text) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no {text:?} in {file}: {}\n{}",
            logs(dir),
            logs(other)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A native client (`with`) that plays `pwad` joins the game at `port` first, then a native
/// 3.0 without it: the second is told in its lobby what the game plays, the first nothing.
fn natives_with_and_without_the_pwad_are_told_what_they_need(
    port: u16,
    pwad: &Path,
    with: Native,
    host_dir: &Path,
) {
    let connect = format!("127.0.0.1:{port}");
    let with_dir = Scratch::new("interop-wads-with");
    let _with = KillOnDrop(native_doom(
        with,
        &["-connect", &connect, "-file", pwad.to_str().unwrap()],
        with_dir.path(),
    ));
    // The one with the files first in: in a dedicated room it is the controller.
    wait_logged(
        with_dir.path(),
        "log",
        "D_InitNetGame: Connected to",
        host_dir,
    );
    let without_dir = Scratch::new("interop-wads-without");
    let _without = KillOnDrop(native_doom(
        Native::Debian30,
        &["-connect", &connect],
        without_dir.path(),
    ));
    let told = "Message from server:\nYour WADs differ: this game plays freedoom1.wad + nomonsters-e1m1.wad";
    wait_logged(without_dir.path(), "log", told, host_dir);
    // Waiting data comes every second: by now the one with the files has had several.
    std::thread::sleep(Duration::from_secs(3));
    let with_log = read_log(&with_dir.path().join("log"));
    assert!(
        with_log.contains("D_InitNetGame: Connected to"),
        "the one with the files is in the lobby too: {}",
        logs(with_dir.path())
    );
    assert!(!with_log.contains("Message from server"), "{with_log}");
}
