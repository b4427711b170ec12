//! Dedicated rooms in `doomlink serve`, through the real binary on 127.0.0.1: the
//! service hosts Chocolate Doom `-dedicated` guests, real headless players join by invite link
//! over WebRTC (`--rtc-bind 127.0.0.1`), and their demos are compared.
//!
//! - eight standing rooms from a config file play at once, two players each, with equal demos
//!   per room and the room's options (deathmatch, E1M3) enforced on the game; a ninth room's
//!   guest is killed mid-game through the test hook (`DOOMLINK_TEST_FAIL_ROOM`, the path a trap
//!   takes): it is closed and counted, and the eight play on; these rooms' WebRTC goes through
//!   the shared edge (`rtc_edge = "shared"`, two threads), every other test's through each
//!   room's own socket (the default);
//! - junk at every port the service has open (HTTP, STUN/TURN UDP, the rooms' WebRTC UDP ports
//!   from /proc/net/udp) while a three-player game runs, and one joiner killed mid-game: the
//!   service lives and the other two finish the same game;
//! - `room create` prints a link, a bad token is one line; `--lan-port` opens the room's LAN
//!   port (a bad or taken one is refused in one line, leaving nothing behind) and a LAN player
//!   plays the room's game there; /health and /metrics; SIGHUP reloads the token; SIGTERM
//!   drains and exits;
//! - `--check-config` on good and bad files;
//! - a room with a `lan_port`: two players join it over the LAN transport (`doomlink join
//!   127.0.0.1:PORT`) and one by its link, and play one game with equal demos; a fourth LAN
//!   joiner is turned away (the room is full), junk at the LAN port is dropped; the standing
//!   room's next game takes LAN players again at the same port.
//!
//! The eight-room test plays `min(test_tics(), 1500)` gametics: 19 players and 9 guests on a
//! 2-core machine, and a failed room's players have to run out their deadline.

use doomlink_e2e::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-0123456789";

/// A running `doomlink serve`: its HTTP port, and the "NAME LINK" lines of its standing rooms.
struct Service {
    child: KillOnDrop,
    port: u16,
    links: Vec<(String, String)>,
    log: PathBuf,
}

impl Service {
    /// Writes `toml` as `dir`/serve.toml and starts the service with `--config` it (and `extra`).
    /// A config without a token gets [`TOKEN`] from the environment (`/metrics` wants one).
    fn with_config(
        dir: &Path,
        toml: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        standing: usize,
    ) -> Service {
        let cfg_path = dir.join("serve.toml");
        std::fs::write(&cfg_path, toml).unwrap();
        let mut args = vec!["--config", cfg_path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let mut env = env.to_vec();
        if !toml.contains("admin_token") {
            env.push(("DOOMLINK_ADMIN_TOKEN", TOKEN));
        }
        Service::start(dir, &args, &env, standing)
    }

    /// Waits until /health counts `n` players.
    fn wait_players(&self, n: usize) {
        let want = format!("players {n}");
        poll_until(
            Duration::from_millis(300),
            Duration::from_secs(90),
            &format!("{n} players in the room"),
            || self.get("/health").1.contains(&want),
            || format!("{}\n{}", self.get("/health").1, self.log()),
        );
    }

    fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)], standing: usize) -> Service {
        let log = dir.join("serve.log");
        let (mut cmd, port) = serve_command(&doomlink(), dir);
        cmd.args(["--rtc-bind", "127.0.0.1", "--drain-seconds", "2"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = KillOnDrop(cmd.spawn().unwrap());
        let links = serve_rooms(&mut child.0, standing, &log);
        Service {
            child,
            port,
            links,
            log,
        }
    }
    fn link(&self, name: &str) -> String {
        self.links
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| panic!("no room {name}"))
    }
    fn log(&self) -> String {
        read_log(&self.log)
    }
    /// GET with the admin token (`/metrics` wants it; `/health` does not mind).
    fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path, Some(TOKEN), "")
    }
    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

/// A plain HTTP/1.1 exchange; (status, body).
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

/// A headless player joining `link`; every player asks for `-nodes N` so that whichever is the
/// controller starts the game when all are in.
fn player(link: &str, dir: &Path, seed: u64, tics: u32, nodes: usize, record: &str) -> KillOnDrop {
    joiner(
        link,
        Bind::Rtc("127.0.0.1"),
        dir,
        seed,
        tics,
        Some(nodes),
        record,
    )
}

/// A headless `doomlink join TARGET` on `bind`, recording `record`; with `-nodes N` if given.
fn joiner(
    target: &str,
    bind: Bind,
    dir: &Path,
    seed: u64,
    tics: u32,
    nodes: Option<usize>,
    record: &str,
) -> KillOnDrop {
    let nodes = nodes.map(|n| ["-nodes".to_string(), n.to_string()]);
    KillOnDrop(
        Command::new(doomlink())
            .args(["join", target])
            .args(headless_args(bind, dir, seed, tics))
            .arg("--")
            .args(nodes.iter().flatten())
            .args(["-record", record])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join("err")))
            .spawn()
            .unwrap(),
    )
}

/// Waits for every player to end, each having played to its end (`what` starts the message).
fn wait_all_played(
    ps: &mut [KillOnDrop],
    dirs: &[Scratch],
    limit: Duration,
    what: &str,
    svc: &Service,
) {
    for (k, p) in ps.iter_mut().enumerate() {
        let st = wait(p, limit, dirs[k].path());
        assert!(
            st.success(),
            "{what}player {k}: {st}\n{}\n{}",
            read_log(&dirs[k].path().join("err")),
            svc.log()
        );
    }
}

fn wait(p: &mut KillOnDrop, limit: Duration, dir: &Path) -> std::process::ExitStatus {
    wait_with_deadline(&mut p.0, limit, "a player", || read_log(&dir.join("err")))
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// `doomlink room create --on ON EXTRA…` with the token in the environment, run to its end
/// (60 s at most).
fn room_create(on: &str, token: &str, extra: &[&str]) -> std::process::Output {
    run_with_deadline(
        Command::new(doomlink())
            .args(["room", "create", "--on", on])
            .env("DOOMLINK_ADMIN_TOKEN", token)
            .args(extra),
        Duration::from_secs(60),
    )
}

/// A standing deathmatch room of `players` players on E1M3 at skill 4.
fn room_toml(name: &str, players: usize) -> String {
    format!(
        "[[room]]\nname = \"{name}\"\niwad = \"{FREEDOOM1}\"\nplayers = {players}\nmode = \"deathmatch\"\nwarp = [1, 3]\nskill = 4\n\n"
    )
}

/// The header bytes the room's options decide: skill (0-based), episode, map, deathmatch.
fn assert_room_game(demo: &Path) {
    let b = std::fs::read(demo).unwrap();
    assert_eq!(
        &b[1..5],
        &[3, 1, 3, 1],
        "{}: skill/episode/map/deathmatch",
        demo.display()
    );
}

#[test]
fn eight_rooms_play_at_once_and_a_failing_room_leaves_them_playing() {
    let tics = test_tics().min(1500);
    let dir = Scratch::new("ded8");
    let mut cfg = format!(
        "admin_token = \"{TOKEN}\"\nrtc_edge = \"shared\"\nrtc_threads = 2\n[limits]\nrooms = 9\n\n"
    );
    for i in 0..8 {
        cfg += &room_toml(&format!("r{i}"), 2);
    }
    cfg += &room_toml("doomed", 2);
    // The doomed room's guest is killed 6 s after its first player came: mid-game.
    let svc = Service::with_config(
        dir.path(),
        &cfg,
        &[],
        &[("DOOMLINK_TEST_FAIL_ROOM", "doomed:6")],
        9,
    );
    let mut players = Vec::new();
    for i in 0..8 {
        for k in 0..2 {
            let d = Scratch::new(&format!("ded8-r{i}-{k}"));
            let p = player(
                &svc.link(&format!("r{i}")),
                d.path(),
                100 + 2 * i as u64 + k,
                tics,
                2,
                "p",
            );
            players.push((i, d, p));
        }
    }
    let mut doomed = Vec::new();
    for k in 0..2 {
        let d = Scratch::new(&format!("ded8-doomed-{k}"));
        let p = player(&svc.link("doomed"), d.path(), 200 + k, tics, 2, "p");
        doomed.push((d, p));
    }
    // The doomed room goes; the others go on.
    poll_until(
        Duration::from_millis(500),
        Duration::from_secs(120),
        "the doomed room closed",
        || metric(&svc.get("/metrics").1, "doomlink_rooms_failed_total") >= 1.0,
        || format!("{}\n{}", svc.get("/metrics").1, svc.log()),
    );
    let (_, list) = http(svc.port, "GET", "/admin/rooms", Some(TOKEN), "");
    assert!(!list.contains("\"doomed\""), "{list}");
    assert!(svc.log().contains("room closed"), "{}", svc.log());
    let limit = Duration::from_secs(120 + tics as u64 / 10);
    for (i, d, p) in players.iter_mut() {
        let st = wait(p, limit, d.path());
        assert!(
            st.success(),
            "room r{i}: {st}\n{}\n{}",
            read_log(&d.path().join("err")),
            svc.log()
        );
    }
    for i in 0..8 {
        let demos: Vec<PathBuf> = players
            .iter()
            .filter(|(r, _, _)| *r == i)
            .map(|(_, d, _)| d.path().join("p.lmp"))
            .collect();
        assert_demos_equal(&demos, 2, tics);
        assert_room_game(&demos[0]);
    }
    // The doomed room's players did not finish their game (their hub closed).
    for (d, p) in doomed.iter_mut() {
        let st = wait(p, Duration::from_secs(60), d.path());
        let demo = d.path().join("p.lmp");
        let full = 13 + 4 * 2 * tics as u64 + 1;
        assert!(
            !st.success() || std::fs::metadata(&demo).map(|m| m.len()).unwrap_or(0) < full,
            "a player of the failed room played to the end"
        );
    }
}

/// The UDP ports `pid` has open, from /proc/net/udp and the process's socket inodes.
fn udp_ports_of(pid: u32) -> Vec<u16> {
    let mut inodes = std::collections::HashSet::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if let Ok(t) = std::fs::read_link(e.path()) {
            let t = t.to_string_lossy().into_owned();
            if let Some(i) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                inodes.insert(i.to_string());
            }
        }
    }
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (local, inode) = (f.get(1)?, f.get(9)?);
            if !inodes.contains(*inode) {
                return None;
            }
            let (ip, port) = local.split_once(':')?;
            // Only 127.0.0.1 (0100007F): this test sends nowhere else.
            (ip == "0100007F").then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

#[test]
fn junk_at_every_port_and_a_joiner_gone_leave_the_game_going() {
    let tics = test_tics();
    let dir = Scratch::new("dedjunk");
    let svc = Service::with_config(dir.path(), &room_toml("three", 3), &[], &[], 1);
    let link = svc.link("three");
    let dirs: Vec<Scratch> = (0..3)
        .map(|k| Scratch::new(&format!("dedjunk-{k}")))
        .collect();
    let mut ps: Vec<KillOnDrop> = dirs
        .iter()
        .enumerate()
        .map(|(k, d)| player(&link, d.path(), 300 + k as u64, tics, 3, "p"))
        .collect();
    // Wait for the game to run: three players in the room.
    svc.wait_players(3);
    std::thread::sleep(Duration::from_secs(3));
    let ports = udp_ports_of(svc.child.0.id());
    assert!(ports.len() >= 2, "STUN/TURN and WebRTC ports: {ports:?}");
    // Junk: UDP datagrams of every size class at every UDP port, and garbage at HTTP.
    let junk_udp = {
        let ports = ports.clone();
        std::thread::spawn(move || {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut x: u64 = 0x9e3779b97f4a7c15;
            let mut sent = 0u64;
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                for &p in &ports {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let len = [1usize, 20, 100, 600, 1400][(x % 5) as usize];
                    let buf: Vec<u8> = (0..len).map(|i| (x >> (i % 57)) as u8).collect();
                    let _ = s.send_to(&buf, ("127.0.0.1", p));
                    sent += 1;
                }
                if sent.is_multiple_of(2000) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            sent
        })
    };
    for i in 0..200 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", svc.port)) {
            let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
            let junk: Vec<u8> = (0..(i * 37 % 3000)).map(|k| (k * 31 + i) as u8).collect();
            let _ = s.write_all(&junk);
        }
    }
    for (m, p) in [
        ("POST", "/admin/rooms"),
        ("GET", "/metrics"),
        ("GET", "/join/%00%ff"),
    ] {
        let _ = http(svc.port, m, p, Some("junk"), "{{{{");
    }
    // One joiner gone mid-game.
    let _ = ps[2].0.kill();
    let sent = junk_udp.join().unwrap();
    println!("junk datagrams sent: {sent} to ports {ports:?}");
    let limit = Duration::from_secs(120 + tics as u64 / 10);
    for k in 0..2 {
        let st = wait(&mut ps[k], limit, dirs[k].path());
        assert!(
            st.success(),
            "player {k}: {st}\n{}",
            read_log(&dirs[k].path().join("err"))
        );
    }
    assert_same_game(
        &[dirs[0].path().join("p.lmp"), dirs[1].path().join("p.lmp")],
        3,
    );
    assert_room_game(&dirs[0].path().join("p.lmp"));
    // The service lives: it answers, and the room is still listed (a standing room).
    let (st, h) = svc.get("/health");
    assert_eq!(st, 200, "{h}\n{}", svc.log());
    let (_, m) = svc.get("/metrics");
    assert_eq!(metric(&m, "doomlink_rooms_failed_total"), 0.0, "{m}");
    // The rooms' WebRTC edges took the junk and threw it away.
    assert!(
        metric(&m, "doomlink_webrtc_edge_unknown_dropped_total") > 0.0,
        "{m}"
    );
}

#[test]
fn room_create_health_metrics_reload_and_drain() {
    let dir = Scratch::new("dedadmin");
    let cfg_path = dir.path().join("serve.toml");
    // Rooms' LAN ports bind 127.0.0.1 only.
    let svc = Service::with_config(
        dir.path(),
        &format!("admin_token = \"{TOKEN}\"\niwads = [\"{FREEDOOM1}\"]\n[limits]\nrooms = 2\n"),
        &["--lan-bind", "127.0.0.1"],
        &[],
        0,
    );
    let on = format!("127.0.0.1:{}", svc.port);
    let lan_port = free_server_port();
    // A bad token: one line, exit 1.
    let out = room_create(&on, "wrong", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("token"), "{err}");
    // The right one: the link on a line of its own.
    let out = room_create(
        &on,
        TOKEN,
        &[
            "--name",
            "made",
            "--deathmatch",
            "--warp",
            "1",
            "2",
            "--lan-port",
            &lan_port.to_string(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(link.starts_with("doomlink://join/127.0.0.1:"), "{link}");
    // With a LAN port: its address on stderr, and the service has that UDP port open.
    assert!(
        err.contains(&format!("doomlink join 127.0.0.1:{lan_port}")),
        "{err}"
    );
    let ports = udp_ports_of(svc.child.0.id());
    assert!(ports.contains(&lan_port), "{lan_port} not in {ports:?}");
    // Bad LAN ports — 0, the made room's, one another process holds — are refused in one line
    // naming lan_port, and leave nothing behind (/health still counts one room below).
    let held = std::net::UdpSocket::bind(("127.0.0.1", free_server_port())).unwrap();
    let held_port = held.local_addr().unwrap().port();
    for bad in [0, lan_port, held_port] {
        let out = room_create(&on, TOKEN, &["--lan-port", &bad.to_string()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "lan_port {bad}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("lan_port"), "{err}");
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    drop(held);
    // A bad request names the field.
    let (st, body) = http(
        svc.port,
        "POST",
        "/admin/rooms",
        Some(TOKEN),
        "{\"players\": 9}",
    );
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("players"), "{body}");
    let (st, h) = svc.get("/health");
    assert_eq!((st, h.as_str()), (200, "rooms 1\nplayers 0\nok\n"));
    let (st, m) = svc.get("/metrics");
    assert_eq!(st, 200);
    assert_eq!(metric(&m, "doomlink_rooms"), 1.0, "{m}");
    assert_eq!(metric(&m, "doomlink_rendezvous_rooms"), 1.0, "{m}");
    assert!(
        m.contains("doomlink_room_guest_cpu_seconds_total{room="),
        "{m}"
    );
    assert!(
        m.contains("# TYPE doomlink_rendezvous_connections gauge"),
        "{m}"
    );
    // A flood of /metrics and /health (four threads at once) visits the rooms at most four
    // times a second: the rest are served the last figures.
    let renders = |m: &str| metric(m, "doomlink_metrics_renders_total");
    let before = renders(&m);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..4 {
            let svc = &svc;
            s.spawn(move || {
                for i in 0..50 {
                    let path = if (i + t) % 2 == 0 {
                        "/metrics"
                    } else {
                        "/health"
                    };
                    assert_eq!(svc.get(path).0, 200);
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let after = renders(&svc.get("/metrics").1);
    assert!(
        after - before <= (elapsed * 4.0).ceil() + 2.0,
        "{} renders for 200 requests in {elapsed:.2} s",
        after - before
    );
    // SIGHUP: a new token takes effect, the old one is refused.
    std::fs::write(
        &cfg_path,
        format!("admin_token = \"another-token-0123456789\"\niwads = [\"{FREEDOOM1}\"]\n[limits]\nrooms = 2\n"),
    )
    .unwrap();
    svc.signal("-HUP");
    poll_until(
        Duration::from_millis(100),
        Duration::from_secs(10),
        "the reload (the old token refused)",
        || http(svc.port, "GET", "/admin/rooms", Some(TOKEN), "").0 == 401,
        || svc.log(),
    );
    let (st, list) = http(
        svc.port,
        "GET",
        "/admin/rooms",
        Some("another-token-0123456789"),
        "",
    );
    assert_eq!(st, 200);
    assert!(list.contains("\"made\""), "{list}");
    // A LAN player plays the made room's one game at its LAN port, with the room's options;
    // the room then closes, and its port is free again.
    let tics = test_tics().min(100);
    let pdir = Scratch::new("dedadmin-lan");
    let mut p = lan_player(lan_port, pdir.path(), 600, tics, 1, "p");
    let st = wait(&mut p, Duration::from_secs(120), pdir.path());
    assert!(
        st.success(),
        "{st}\n{}\n{}",
        read_log(&pdir.path().join("err")),
        svc.log()
    );
    let demo = pdir.path().join("p.lmp");
    assert_demos_equal(std::slice::from_ref(&demo), 1, tics);
    let b = std::fs::read(&demo).unwrap();
    assert_eq!(&b[2..5], &[1, 2, 1], "episode/map/deathmatch");
    poll_until(
        Duration::from_millis(300),
        Duration::from_secs(30),
        "the made room closed after its game, its LAN port free",
        || {
            let (_, list) = http(
                svc.port,
                "GET",
                "/admin/rooms",
                Some("another-token-0123456789"),
                "",
            );
            !list.contains("\"made\"") && std::net::UdpSocket::bind(("127.0.0.1", lan_port)).is_ok()
        },
        || svc.log(),
    );
    // SIGTERM: drains and exits within the bound (drain 2 s + the rendezvous's own close).
    let mut svc = svc;
    svc.signal("-TERM");
    let st = wait_with_deadline(
        &mut svc.child.0,
        Duration::from_secs(15),
        "the service after SIGTERM",
        || read_log(&svc.log),
    );
    assert!(st.success(), "{st}\n{}", svc.log());
    assert!(svc.log().contains("drained"), "{}", svc.log());
}

/// `room create --players N` rooms start by themselves once N players are in: their joiners
/// come by link with no `-nodes` of their own (as a person clicking the link does), so only the
/// room knows how many to wait for. A two-player and a three-player room play at once.
#[test]
fn created_rooms_start_when_their_players_are_in() {
    let dir = Scratch::new("dedcount");
    let svc = Service::with_config(
        dir.path(),
        &format!("admin_token = \"{TOKEN}\"\niwads = [\"{FREEDOOM1}\"]\n[limits]\nrooms = 2\n"),
        &[],
        &[],
        0,
    );
    let on = format!("127.0.0.1:{}", svc.port);
    let tics = test_tics().min(200);
    let mut games = Vec::new();
    for n in [2usize, 3] {
        let out = room_create(
            &on,
            TOKEN,
            &[
                "--name",
                &format!("of{n}"),
                "--players",
                &n.to_string(),
                "--deathmatch",
                "--warp",
                "1",
                "2",
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let dirs: Vec<Scratch> = (0..n)
            .map(|k| Scratch::new(&format!("dedcount-{n}-{k}")))
            .collect();
        let spawn = |k: usize| {
            let seed = 700 + 10 * n as u64 + k as u64;
            joiner(
                &link,
                Bind::Rtc("127.0.0.1"),
                dirs[k].path(),
                seed,
                tics,
                None,
                "p",
            )
        };
        let mut ps: Vec<KillOnDrop> = (0..n - 1).map(spawn).collect();
        // Before the last player: whoever asks with the link learns who is in and how many
        // the game waits for.
        poll_until(
            Duration::from_millis(200),
            Duration::from_secs(60),
            &format!("room of {n} saying {} of {n} are in", n - 1),
            || {
                let room = doomlink_play::internet::peek(&link, &Default::default()).unwrap();
                assert_eq!(room.host, format!("of{n}"));
                assert_eq!(room.expected as usize, n);
                room.players.len() == n - 1
            },
            || svc.log(),
        );
        ps.push(spawn(n - 1));
        games.push((n, dirs, ps));
    }
    for (n, dirs, ps) in games.iter_mut() {
        wait_all_played(
            ps,
            dirs,
            Duration::from_secs(120 + tics as u64 / 10),
            &format!("room of {n}: "),
            &svc,
        );
        let demos: Vec<PathBuf> = dirs.iter().map(|d| d.path().join("p.lmp")).collect();
        assert_demos_equal(&demos, *n, tics);
        let b = std::fs::read(&demos[0]).unwrap();
        assert_eq!(&b[2..5], &[1, 2, 1], "episode/map/deathmatch");
    }
}

#[test]
fn rooms_disabled_answer_503() {
    let dir = Scratch::new("ded503");
    let rtc_port = free_server_port().to_string();
    let svc = Service::start(
        dir.path(),
        &["--max-rooms", "0", "--rtc-port", &rtc_port],
        &[("DOOMLINK_ADMIN_TOKEN", TOKEN)],
        0,
    );
    // The token came from the environment: nobody reads it in the process list.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", svc.child.0.id())).unwrap();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(TOKEN),
        "{cmdline:?}"
    );
    let (st, body) = http(svc.port, "POST", "/admin/rooms", Some(TOKEN), "{}");
    assert_eq!(st, 503, "{body}");
    let (st, _) = http(svc.port, "POST", "/admin/rooms", None, "{}");
    assert_eq!(st, 401);
    // A service that hosts no rooms opens no WebRTC port for them.
    let ports = udp_ports_of(svc.child.0.id());
    assert!(
        !ports.contains(&rtc_port.parse().unwrap()),
        "{rtc_port} in {ports:?}"
    );
    // Guessing the token: ten wrong ones a minute (the one above counts), then 429 whatever
    // is sent, the right token included.
    for i in 1..10 {
        let (st, _) = http(
            svc.port,
            "GET",
            "/admin/rooms",
            Some("wrong-token-0123456789"),
            "",
        );
        assert_eq!(st, 401, "guess {i}");
    }
    for token in ["wrong-token-0123456789", TOKEN] {
        let (st, body) = http(svc.port, "GET", "/admin/rooms", Some(token), "");
        assert_eq!(st, 429, "{body}");
    }
}

#[test]
fn check_config_says_ok_or_names_the_key() {
    let dir = Scratch::new("dedcheck");
    let check = |text: &str| {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        run_with_deadline(
            Command::new(doomlink())
                .args(["serve", "--check-config", "--config"])
                .arg(&p),
            Duration::from_secs(60),
        )
    };
    // The packaged example is good as shipped.
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["serve", "--check-config", "--config"])
            .arg(repo_root().join("packaging/serve.toml")),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    let out = check(&format!(
        "listen = \"127.0.0.1:7342\"\nadmin_token = \"{TOKEN}\"\n[limits]\nrooms = 4\n{}",
        room_toml("a", 2)
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    for (text, key) in [
        ("listne = \"127.0.0.1:1\"\n", "listne"),
        ("[limits]\nguest_memory_mb = 1\n", "limits.guest_memory_mb"),
        ("admin_token = \"short\"\n", "admin_token"),
        (
            "[[room]]\nname = \"x\"\niwad = \"/nonexistent.wad\"\n",
            "room[0].iwad",
        ),
        (
            &format!("[[room]]\nname = \"x\"\niwad = \"{FREEDOOM1}\"\nmode = \"ctf\"\n"),
            "room[0].mode",
        ),
        ("listen = 12\n", "listen"),
    ] {
        let out = check(text);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(key), "{key}: {err}");
    }
}

/// A headless player joining the room's LAN port over the LAN transport (Chocolate Doom's own
/// protocol on 127.0.0.1), with `-nodes N` like [`player`].
fn lan_player(
    port: u16,
    dir: &Path,
    seed: u64,
    tics: u32,
    nodes: usize,
    record: &str,
) -> KillOnDrop {
    let target = format!("127.0.0.1:{port}");
    joiner(
        &target,
        Bind::Lan("127.0.0.1"),
        dir,
        seed,
        tics,
        Some(nodes),
        record,
    )
}

/// The value of the one series of a per-room metric (`NAME{room="…"} V`).
fn room_metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix("{room=")?;
            rest.rsplit_once(' ')?.1.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no {name}{{room=…}} in\n{text}"))
}

#[test]
fn lan_players_join_a_room() {
    let tics = test_tics();
    let dir = Scratch::new("dedlan");
    let lan_port = free_server_port();
    let cfg = room_toml("mixed", 3) + &format!("lan_port = {lan_port}\n");
    // The LAN port binds 127.0.0.1 only.
    let svc = Service::with_config(dir.path(), &cfg, &["--lan-bind", "127.0.0.1"], &[], 1);
    let link = svc.link("mixed");
    let dirs: Vec<Scratch> = (0..3)
        .map(|k| Scratch::new(&format!("dedlan-{k}")))
        .collect();
    // Two over the LAN (the first of them the controller), one by the link over WebRTC.
    let mut ps = vec![
        lan_player(lan_port, dirs[0].path(), 400, tics, 3, "p"),
        lan_player(lan_port, dirs[1].path(), 401, tics, 3, "p"),
        player(&link, dirs[2].path(), 402, tics, 3, "p"),
    ];
    svc.wait_players(3);
    let (_, m) = svc.get("/metrics");
    assert_eq!(room_metric(&m, "doomlink_room_players"), 3.0, "{m}");
    assert_eq!(room_metric(&m, "doomlink_room_lan_players"), 2.0, "{m}");
    // A fourth, over the LAN: the room is full, and it hears so (Chocolate Doom's reject).
    let extra_dir = Scratch::new("dedlan-extra");
    let mut extra = lan_player(lan_port, extra_dir.path(), 403, tics, 3, "p");
    let st = wait(&mut extra, Duration::from_secs(60), extra_dir.path());
    let err = read_log(&extra_dir.path().join("err"));
    assert!(
        !st.success(),
        "a fourth player joined a room of three\n{err}"
    );
    assert!(err.contains("Server is full"), "{err}");
    // Junk at the LAN port mid-game (some of it shaped like a Chocolate Doom header): the
    // room is full, so it is dropped and the game goes on.
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut x: u64 = 0x2545f4914f6cdd1d;
    for i in 0..3000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = [1usize, 6, 20, 100, 600][(x % 5) as usize];
        let mut buf: Vec<u8> = (0..len).map(|k| (x >> (k % 57)) as u8).collect();
        if i % 2 == 0 && len >= 2 {
            buf[..2].copy_from_slice(&[0, (i % 16) as u8]);
        }
        let _ = junk.send_to(&buf, ("127.0.0.1", lan_port));
        if i % 500 == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let limit = Duration::from_secs(120 + tics as u64 / 10);
    wait_all_played(&mut ps, &dirs, limit, "", &svc);
    let demos: Vec<PathBuf> = dirs.iter().map(|d| d.path().join("p.lmp")).collect();
    assert_demos_equal(&demos, 3, tics);
    assert_room_game(&demos[0]);
    let (_, m) = svc.get("/metrics");
    assert!(metric(&m, "doomlink_players_refused_total") >= 1.0, "{m}");
    // Both ways through the LAN port: at least a datagram a gametic per LAN player.
    for dir in ["in", "out"] {
        let n = room_metric(&m, &format!("doomlink_room_lan_datagrams_{dir}_total"));
        assert!(n >= 2.0 * tics as f64, "LAN datagrams {dir}: {n}\n{m}");
        assert!(
            room_metric(&m, &format!("doomlink_room_datagrams_{dir}_total")) > n,
            "{m}"
        );
    }

    // The standing room's next game (a new guest) takes LAN players at the same port.
    poll_until(
        Duration::from_millis(300),
        Duration::from_secs(60),
        "the room's second game",
        || metric(&svc.get("/metrics").1, "doomlink_games_total") >= 2.0,
        || format!("{}\n{}", svc.get("/metrics").1, svc.log()),
    );
    let tics2 = tics.min(300);
    let dirs2: Vec<Scratch> = (0..2)
        .map(|k| Scratch::new(&format!("dedlan2-{k}")))
        .collect();
    let mut ps2: Vec<KillOnDrop> = dirs2
        .iter()
        .enumerate()
        .map(|(k, d)| lan_player(lan_port, d.path(), 500 + k as u64, tics2, 2, "q"))
        .collect();
    wait_all_played(&mut ps2, &dirs2, limit, "second game, ", &svc);
    let demos2: Vec<PathBuf> = dirs2.iter().map(|d| d.path().join("q.lmp")).collect();
    assert_demos_equal(&demos2, 2, tics2);
    assert_room_game(&demos2[0]);
}

/// A room made with `room create --file NAME` plays one of the service's `pwads`: two joiners
/// without it, one by link (3 MiB over WebRTC, past what the shared edge lets a link hold
/// unacknowledged) and one at the room's LAN port (its file service, TCP on the same number),
/// are sent it and play the room's game with equal demos; a name that is not one of the
/// service's is refused in one line.
#[test]
fn a_room_sends_its_pwad_to_joiners_who_lack_it() {
    let dir = Scratch::new("dedpwad");
    let pwad = dir.path().join("nomonsters-e1m1.wad");
    pwad::write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 3 << 20);
    let svc = Service::with_config(
        dir.path(),
        &format!(
            "admin_token = \"{TOKEN}\"\niwads = [\"{FREEDOOM1}\"]\npwads = [\"{}\"]\n\
             rtc_edge = \"shared\"\n[limits]\nrooms = 1\n",
            pwad.display()
        ),
        &["--lan-bind", "127.0.0.1"],
        &[],
        0,
    );
    let lan_port = free_server_port();
    let on = format!("127.0.0.1:{}", svc.port);
    let out = room_create(&on, TOKEN, &["--file", "other.wad"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("\"other.wad\" is not one of this service's pwads"),
        "{err}"
    );

    let out = room_create(
        &on,
        TOKEN,
        &[
            "--players",
            "2",
            "--deathmatch",
            "--warp",
            "1",
            "1",
            "--file",
            "nomonsters-e1m1.wad",
            "--lan-port",
            &lan_port.to_string(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let tics = test_tics().min(300);
    let dirs: Vec<Scratch> = (0..2)
        .map(|k| Scratch::new(&format!("dedpwad-{k}")))
        .collect();
    let lan_target = format!("127.0.0.1:{lan_port}");
    let ways = [
        (link.as_str(), Bind::Rtc("127.0.0.1")),
        (lan_target.as_str(), Bind::Lan("127.0.0.1")),
    ];
    let mut ps: Vec<KillOnDrop> = ways
        .iter()
        .enumerate()
        .map(|(k, (target, bind))| {
            joiner(
                target,
                *bind,
                dirs[k].path(),
                800 + k as u64,
                tics,
                None,
                "p",
            )
        })
        .collect();
    wait_all_played(&mut ps, &dirs, Duration::from_secs(150), "", &svc);
    let demos: Vec<PathBuf> = dirs.iter().map(|d| d.path().join("p.lmp")).collect();
    assert_demos_equal(&demos, 2, tics);
    let want = std::fs::read(&pwad).unwrap();
    for d in &dirs {
        let err = read_log(&d.path().join("err"));
        assert!(
            err.contains("downloaded nomonsters-e1m1.wad from the host"),
            "{err}"
        );
        let hash = doomlink_net::iwads::hex(&doomlink_net::iwads::sha256_file(&pwad).unwrap());
        let kept = d.path().join("wads").join(hash).join("nomonsters-e1m1.wad");
        assert!(std::fs::read(&kept).unwrap() == want, "{}", kept.display());
    }
}
