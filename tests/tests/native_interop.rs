//! LAN play interoperates with stock Chocolate Doom 3.0 (Debian's chocolate-doom, the same
//! engine natively): a native client joins a game hosted by doomlink, and doomlink joins a
//! native `chocolate-server`. Everything on 127.0.0.1; servers are always private (no master
//! server). The native client runs with SDL's dummy video and audio drivers.

use doomlink_e2e::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NATIVE_DOOM: &str = "/usr/games/chocolate-doom";
const NATIVE_SERVER: &str = "/usr/games/chocolate-server";

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

fn native_doom(args: &[&str], dir: &Path) -> Child {
    logged(
        Command::new(NATIVE_DOOM)
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

#[test]
fn a_native_client_joins_a_doomlink_host() {
    let tics = test_tics();
    let port = free_server_port().to_string();
    let (host_dir, native_dir) = (Scratch::new("interop-host"), Scratch::new("interop-native"));
    let mut host = doomlink_peer(
        &[
            "host",
            "--lan",
            "--port",
            &port,
            "--players",
            "2",
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
    // The native client records until the game ends under it (the host stops at `tics`).
    let mut native = native_doom(
        &[
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-record",
            "native",
            "-maxdemo",
            "512",
        ],
        native_dir.path(),
    );
    let limit = game_limit(tics);
    let st = wait(&mut host, limit, host_dir.path());
    assert!(
        st.success(),
        "doomlink host: {st}\n{}",
        logs(host_dir.path())
    );
    wait(&mut native, Duration::from_secs(60), native_dir.path());
    let demos: Vec<PathBuf> = vec![
        host_dir.path().join("host.lmp"),
        native_dir.path().join("native.lmp"),
    ];
    assert_demos_equal(&demos, 2, tics);
}

#[test]
fn doomlink_joins_a_native_server() {
    let tics = test_tics();
    let port = free_server_port().to_string();
    let server_dir = Scratch::new("interop-server");
    let mut server = logged(
        Command::new(NATIVE_SERVER)
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
