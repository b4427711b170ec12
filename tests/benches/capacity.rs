//! Capacity of dedicated rooms: `doomlink serve` hosting 1, 2, 4 and 8 four-player
//! rooms of real headless players (each player its own `doomlink join` process on 127.0.0.1),
//! once with every player joining by the room's link (WebRTC) and once by the room's LAN port
//! (the LAN transport: plain UDP), against the anchor in the same run: native
//! `chocolate-server` (Debian's chocolate-doom) serving the same games to doomlink LAN clients.
//!
//! For each count it reports the server's CPU per room-second of steady game (CPU of the server
//! process while every room is in game, over the room-seconds of game played meanwhile: see
//! [`play`]), the same over the players' whole run (joins, lobby and leave included, over rooms ×
//! the game's length),
//! memory per room (resident peak minus the service with no rooms, over rooms), the idle cost
//! of a room with no players, the p99 delay of a tic through the service (the service's own
//! histogram, `doomlink_room_tic_delay_seconds`: the game datagram completing a tic in, to the
//! server's tic out), and rooms per core projected from the steady CPU figure: a room lives for
//! many games, so its joins are a small part of its life, and the whole-run figure shows them.
//!
//! `cargo bench -p doomlink-e2e --bench capacity`; CAPACITY_TICS (default 1050 = 30 s of game)
//! CAPACITY_ROOMS (default "1,2,4,8") and CAPACITY_MODES (default "native,webrtc,lan") shorten
//! or change it; CAPACITY_RTC_EDGE sets the service's `rtc_edge` ("per-room", its default, or
//! "shared") and CAPACITY_RTC_THREADS the shared edge's threads (default: one per core);
//! DOOMLINK_BENCH_BIN another `doomlink` binary to serve with.

use doomlink_e2e::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PLAYERS: usize = 4;

fn player(target: &str, lan: bool, dir: &Path, seed: u64, tics: u32) -> KillOnDrop {
    let bind = if lan {
        Bind::Lan("127.0.0.1")
    } else {
        Bind::Rtc("127.0.0.1")
    };
    KillOnDrop(
        Command::new(doomlink_dist())
            .args(["join", target])
            .args(headless_args(bind, dir, seed, tics))
            .args(["--", "-nodes", "4", "-warp", "1", "1", "-skill", "3"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join("err")))
            .spawn()
            .unwrap(),
    )
}

/// What [`play`] saw of the servers while the players played.
struct Played {
    /// CPU seconds of the servers from the players' start to the last one's exit (joins,
    /// lobby, game and leave).
    cpu: f64,
    /// The steady game: CPU seconds of the servers while every room was in game, and the
    /// room-seconds of game played in that window (see [`play`]); None if it was too short.
    steady: Option<(f64, f64)>,
    /// The servers' summed resident peak.
    peak: u64,
    wall: Duration,
    /// Players that failed.
    failed: usize,
}

/// Whether a player's log says its game has launched (its lobby's last state).
fn launched(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("err"))
        .unwrap_or_default()
        .contains("lobby state launched")
}

/// Runs the players (`PLAYERS` consecutive ones per room) to their end while sampling the
/// servers' CPU every 250 ms.
///
/// The steady window runs from a second after the last room launched its game to the sample
/// before the first player's exit, so it holds no join, lobby or leave. Its room-seconds of game
/// are the window's length times each room's game speed (its `tics` over its wall time from
/// launch to its first exit: 1.0 when the machine keeps up), summed over rooms: a machine too
/// busy to run the players in real time does not flatter the figure.
fn play(servers: &[u32], players: &mut [(Scratch, KillOnDrop)], tics: u32) -> Played {
    let cpu_now = || -> f64 { servers.iter().map(|&p| cpu_seconds(p)).sum() };
    let cpu0 = cpu_now();
    let start = Instant::now();
    let mut peak = 0u64;
    let limit = Duration::from_secs(120 + tics as u64 / 5);
    let mut failed = 0;
    let mut exited: Vec<Option<Instant>> = vec![None; players.len()];
    let mut launched_at: Vec<Option<Instant>> = vec![None; players.len()];
    // (time, servers' CPU) of every sample taken while no player had exited.
    let mut samples: Vec<(Instant, f64)> = Vec::new();
    while exited.iter().any(|d| d.is_none()) {
        peak = peak.max(servers.iter().map(|&p| rss_bytes(p)).sum());
        let now = Instant::now();
        if exited.iter().all(|d| d.is_none()) {
            samples.push((now, cpu_now()));
        }
        for (i, (d, p)) in players.iter_mut().enumerate() {
            if exited[i].is_some() {
                continue;
            }
            if launched_at[i].is_none() && launched(d.path()) {
                launched_at[i] = Some(now);
            }
            if let Some(st) = p.0.try_wait().unwrap() {
                exited[i] = Some(now);
                if !st.success() {
                    failed += 1;
                    eprintln!(
                        "a player failed: {st}: {}",
                        std::fs::read_to_string(d.path().join("err"))
                            .unwrap_or_default()
                            .lines()
                            .last()
                            .unwrap_or("")
                    );
                }
            } else if start.elapsed() > limit {
                let _ = p.0.kill();
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let cpu = cpu_now() - cpu0;
    let steady = steady_window(&samples, &launched_at, &exited, tics);
    Played {
        cpu,
        steady,
        peak,
        wall: start.elapsed(),
        failed,
    }
}

/// The instants, if every one is known.
fn every(v: &[Option<Instant>]) -> Option<Vec<Instant>> {
    v.iter().copied().collect()
}

/// The steady window of [`play`]: (servers' CPU seconds in it, room-seconds of game in it).
fn steady_window(
    samples: &[(Instant, f64)],
    launched_at: &[Option<Instant>],
    exited: &[Option<Instant>],
    tics: u32,
) -> Option<(f64, f64)> {
    let game_secs = tics as f64 / 35.0;
    let mut last_launch = None::<Instant>;
    let mut speeds = Vec::new();
    for (l, e) in launched_at.chunks(PLAYERS).zip(exited.chunks(PLAYERS)) {
        let launch = every(l)?.into_iter().max()?;
        let exit = every(e)?.into_iter().min()?;
        speeds.push(game_secs / exit.checked_duration_since(launch)?.as_secs_f64().max(1e-3));
        last_launch = last_launch.max(Some(launch));
    }
    let from = last_launch? + Duration::from_secs(1);
    let (t0, c0) = *samples.iter().find(|(t, _)| *t >= from)?;
    let (t1, c1) = *samples.last()?;
    let secs = t1.checked_duration_since(t0)?.as_secs_f64();
    (secs >= 3.0).then(|| (c1 - c0, secs * speeds.iter().sum::<f64>()))
}

/// In a child process: start `n` idle `-dedicated` guests, in one shared kernel or one kernel
/// each, and print "start_ms rss_bytes" (the process's resident growth).
fn layout_child(mode: &str, n: usize) {
    use doomlink_kernel::{NoNetwork, OutputSink, ProcessSpec};
    use std::sync::Arc;
    struct Quiet;
    impl OutputSink for Quiet {
        fn write(&self, _: &[u8]) {}
    }
    let rss0 = rss_bytes(std::process::id());
    let t0 = Instant::now();
    // As the service boots a room's kernel: the compiled-module cache, doom.wasm loaded.
    let boot = || doomlink_play::guest::boot(Arc::new(NoNetwork)).unwrap();
    let mut keep = Vec::new();
    let shared = (mode == "shared").then(boot);
    for i in 0..n {
        let (k, m) = match &shared {
            Some((k, m)) => (k.clone(), m.clone()),
            None => boot(),
        };
        let mut spec = ProcessSpec::new(["doom", "-dedicated", "-port", &(2342 + i).to_string()]);
        spec.stdout = Arc::new(Quiet);
        spec.stderr = Arc::new(Quiet);
        let p = k.spawn(&m, spec).unwrap();
        keep.push((k, m, p));
    }
    let start_ms = t0.elapsed().as_secs_f64() * 1e3;
    std::thread::sleep(Duration::from_secs(2));
    let c0 = cpu_seconds(std::process::id());
    std::thread::sleep(Duration::from_secs(3));
    let cpu = (cpu_seconds(std::process::id()) - c0) / 3.0;
    println!(
        "{start_ms} {} {cpu}",
        rss_bytes(std::process::id()).saturating_sub(rss0)
    );
    for (_, _, p) in &keep {
        p.kill();
    }
}

/// One kernel per room against one shared kernel: start time, memory and idle CPU of `n` idle
/// dedicated guests (the figures behind dedicated.rs's choice).
fn layouts(n: usize) {
    for mode in ["shared", "per-kernel"] {
        let out = Command::new(std::env::current_exe().unwrap())
            .env("CAPACITY_LAYOUT_CHILD", format!("{mode}:{n}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<f64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() < 3 {
            println!(
                "{mode}: failed: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        println!(
            "{n} idle dedicated guests, {mode:>10}: start {:.0} ms ({:.1} ms each), {:.1} MB resident ({:.2} MB each), idle CPU {:.1} ms/s each",
            f[0],
            f[0] / n as f64,
            f[1] / 1e6,
            f[1] / 1e6 / n as f64,
            f[2] * 1e3 / n as f64
        );
    }
}

fn main() {
    if let Ok(v) = std::env::var("CAPACITY_LAYOUT_CHILD") {
        let (mode, n) = v.split_once(':').unwrap();
        layout_child(mode, n.parse().unwrap());
        return;
    }
    layouts(16);
    let tics: u32 = std::env::var("CAPACITY_TICS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1050);
    let counts: Vec<usize> = std::env::var("CAPACITY_ROOMS")
        .unwrap_or_else(|_| "1,2,4,8".into())
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let game_secs = tics as f64 / 35.0;
    let _ = doomlink_dist();
    println!(
        "capacity: {PLAYERS}-player coop rooms, {tics} gametics ({game_secs:.0} s of game) each"
    );

    // The service with no rooms: the base its rooms add to.
    let base_dir = Scratch::new("cap-base");
    let (base, _, _) = serve_standing_rooms(&doomlink_dist(), base_dir.path(), 0, None);
    std::thread::sleep(Duration::from_secs(2));
    let base_rss = rss_bytes(base.0.id());
    drop(base);
    println!(
        "doomlink serve with no rooms: {:.1} MB resident",
        base_rss as f64 / 1e6
    );

    println!(
        "{:>5} | {:>9} | {:>24} | {:>22} | {:>16} | {:>14} | {:>13} | {:>26}",
        "rooms",
        "players",
        "doomlink CPU/room-second",
        "native CPU/game-second",
        "doomlink MB/room",
        "native MB/game",
        "idle CPU/room",
        "tic delay p99 (samples)"
    );
    // CAPACITY_MODES (default "native,webrtc,lan"): which to run, e.g. one mode to profile it.
    let modes = std::env::var("CAPACITY_MODES").unwrap_or_else(|_| "native,webrtc,lan".into());
    let runs = |m: &str| modes.split(',').any(|x| x.trim() == m);
    for &n in &counts {
        let native = if runs("native") {
            run_native(n, tics, game_secs)
        } else {
            Figures::none()
        };
        for lan in [false, true] {
            if !runs(if lan { "lan" } else { "webrtc" }) {
                continue;
            }
            let r = run_doomlink(n, tics, game_secs, lan, base_rss);
            println!(
                "{n:>5} | {:>9} | {:>17.2} ms/s | {:>15.2} ms/s | {:>13.1} MB | {:>11.1} MB | {:>8.2} ms/s | {:>14} ({})",
                if lan { "LAN" } else { "WebRTC" },
                r.per_room * 1e3,
                native.per_room * 1e3,
                r.mb_per_room,
                native.mb_per_room,
                r.idle * 1e3,
                r.p99.map(|s| format!("≤ {:.2} ms", s * 1e3)).unwrap_or_else(|| "-".into()),
                r.samples,
            );
            println!(
                "      with joins and leaves (whole run over game time): doomlink {:.2} ms/s, native {:.2} ms/s; \
                 walls: doomlink {:.1} s, native {:.1} s; failed players: doomlink {}, native {}; \
                 rooms per core projected (steady game): doomlink {:.0}, native {:.0}; doomlink/native CPU {:.2}×; \
                 Chocolate Doom guests' share of the service's CPU {:.0}%; \
                 datagrams per room-second (whole run, in + out): game {:.0}, WebRTC port UDP {:.0}",
                r.per_room_whole * 1e3,
                native.per_room_whole * 1e3,
                r.wall.as_secs_f64(),
                native.wall.as_secs_f64(),
                r.failed,
                native.failed,
                1.0 / r.per_room,
                1.0 / native.per_room,
                r.per_room / native.per_room,
                r.guest_share * 100.0,
                r.dgrams.0,
                r.dgrams.1,
            );
        }
    }
}

/// One measured configuration.
struct Figures {
    /// CPU seconds per room (game) per second of game, in the steady window (NaN if none).
    per_room: f64,
    /// CPU seconds per room per second of game over the players' whole run: joins, lobby,
    /// game and leave, over the game's length.
    per_room_whole: f64,
    mb_per_room: f64,
    /// CPU seconds per second of an idle room (doomlink only).
    idle: f64,
    p99: Option<f64>,
    samples: u64,
    guest_share: f64,
    /// Datagrams per room-second over the whole run (in + out): the game's, and the WebRTC
    /// port's UDP ones (doomlink only).
    dgrams: (f64, f64),
    wall: Duration,
    failed: usize,
}

impl Figures {
    /// A configuration not run: every figure NaN.
    fn none() -> Figures {
        Figures {
            per_room: f64::NAN,
            per_room_whole: f64::NAN,
            mb_per_room: f64::NAN,
            idle: f64::NAN,
            p99: None,
            samples: 0,
            guest_share: f64::NAN,
            dgrams: (f64::NAN, f64::NAN),
            wall: Duration::ZERO,
            failed: 0,
        }
    }

    /// The CPU, wall and failure figures of `played` (`n` rooms of `game_secs` each).
    fn of(played: &Played, n: usize, game_secs: f64) -> Figures {
        Figures {
            per_room: played
                .steady
                .map_or(f64::NAN, |(cpu, room_secs)| cpu / room_secs),
            per_room_whole: played.cpu / (n as f64 * game_secs),
            mb_per_room: played.peak as f64 / 1e6 / n as f64,
            idle: 0.0,
            p99: None,
            samples: 0,
            guest_share: 0.0,
            dgrams: (f64::NAN, f64::NAN),
            wall: played.wall,
            failed: played.failed,
        }
    }
}

/// doomlink: `n` standing rooms; players join by link (WebRTC) or by the rooms' LAN ports.
fn run_doomlink(n: usize, tics: u32, game_secs: f64, lan: bool, base_rss: u64) -> Figures {
    let tag = if lan { "lan" } else { "rtc" };
    let dir = Scratch::new(&format!("cap-dl-{tag}-{n}"));
    let lan_ports: Vec<u16> = (0..n).map(|_| free_server_port()).collect();
    let (svc, port, links) = serve_standing_rooms(
        &doomlink_dist(),
        dir.path(),
        n,
        lan.then_some(&lan_ports[..]),
    );
    let pid = svc.0.id();
    std::thread::sleep(Duration::from_secs(1));
    let idle0 = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(5));
    let idle = (cpu_seconds(pid) - idle0) / 5.0 / n as f64;
    let mut players: Vec<(Scratch, KillOnDrop)> = Vec::new();
    for (r, link) in links.iter().enumerate() {
        let target = if lan {
            format!("127.0.0.1:{}", lan_ports[r])
        } else {
            link.clone()
        };
        for k in 0..PLAYERS {
            let d = Scratch::new(&format!("cap-dl-{tag}-{n}-{r}-{k}"));
            let p = player(&target, lan, d.path(), (r * PLAYERS + k) as u64 + 1, tics);
            players.push((d, p));
        }
    }
    let played = play(&[pid], &mut players, tics);
    if played.failed > 0 {
        // The service's side of it (it logs warnings and up here).
        let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        eprintln!("the service's log, last lines:");
        for l in tail.iter().rev() {
            eprintln!("  {l}");
        }
    }
    let metrics = http_get(port, "/metrics");
    let (p99, samples) = tic_p99(&metrics);
    // The guests' share of the service's CPU over its life (idle minutes, joins, games).
    let sum_of = |prefix: &str| metric_sum(&metrics, prefix);
    let guest_share = sum_of("doomlink_room_guest_cpu_seconds_total{")
        / sum_of("process_cpu_seconds_total ").max(1e-9);
    // Datagrams over the whole run, per room-second of game: the game's (both transports) and
    // the WebRTC port's UDP ones (with STUN, DTLS and SCTP's own).
    let per_room_sec = |v: f64| v / (n as f64 * game_secs);
    let game_dgrams = per_room_sec(
        sum_of("doomlink_room_datagrams_in_total{") + sum_of("doomlink_room_datagrams_out_total{"),
    );
    let udp_dgrams = per_room_sec(
        sum_of("doomlink_webrtc_edge_datagrams_in_total ")
            + sum_of("doomlink_webrtc_edge_datagrams_out_total "),
    );
    Figures {
        mb_per_room: played.peak.saturating_sub(base_rss) as f64 / 1e6 / n as f64,
        idle,
        p99,
        samples,
        guest_share,
        dgrams: (game_dgrams, udp_dgrams),
        ..Figures::of(&played, n, game_secs)
    }
}

/// Native: `n` chocolate-server processes, doomlink LAN clients.
fn run_native(n: usize, tics: u32, game_secs: f64) -> Figures {
    let ndir = Scratch::new(&format!("cap-native-{n}"));
    let mut servers = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..n {
        let p = free_server_port();
        servers.push(native_server(p, ndir.path(), None));
        ports.push(p);
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut nplayers = Vec::new();
    for (r, p) in ports.iter().enumerate() {
        for k in 0..PLAYERS {
            let d = Scratch::new(&format!("cap-nat-{n}-{r}-{k}"));
            let pl = player(
                &format!("127.0.0.1:{p}"),
                true,
                d.path(),
                (r * PLAYERS + k) as u64 + 1,
                tics,
            );
            nplayers.push((d, pl));
        }
    }
    let spids: Vec<u32> = servers.iter().map(|s| s.0.id()).collect();
    let played = play(&spids, &mut nplayers, tics);
    Figures::of(&played, n, game_secs)
}
