//! Rooms per core measured at saturation, not projected: the server gets one core of
//! its own (`taskset -c 0`), the load generator the other (`taskset -c 1`: a child process of
//! [`chocobot`] bots, four per room, speaking Chocolate Doom's protocol over 127.0.0.1), and the
//! number of four-player rooms rises until the server no longer keeps up.
//!
//! Servers: `doomlink serve` with N standing rooms, the bots joining at each room's LAN port (the
//! LAN transport: Chocolate Doom's own packets over UDP, as native clients join) or joining by
//! each room's invite link over WebRTC (through the service's rendezvous and edge, as `doomlink
//! join LINK` does); the anchor in the same run is native `chocolate-server` (Debian's
//! chocolate-doom), N processes on the same core.
//!
//! For each N: the server core's load in the steady game (every bot in game, until the first
//! leaves), its CPU per room-second (over room-seconds actually played: a room running slow
//! counts less), the bots' game speed (tics received over the game's wall time; 1.0 is real
//! time), the delay from a bot's command for a tic to the server's tic coming back (p50 / p99
//! over every bot; both sides pay it: the other players' commands arrive as late as the
//! slowest, and the bots' own core is loaded), and the load generator's own core load. Beside the
//! tic delay, to tell whose it is: for doomlink, the service's own tic delay p99 (its metrics: a
//! tic's last datagram handed over by the edge to the next game datagram out), and the bots'
//! lateness for their own tic timers (p99); the bots' stderr adds how many tics came more than
//! a tic late and how many resends either side asked for (a lost datagram shows there). A server
//! keeps up at N when every room plays at ≥ 0.97 of real time, the tic delay's p99 is within one
//! tic (28.6 ms) and no bot failed; the figure is the largest such N. A step that fails with the
//! bots' own core ≥ 85% busy says nothing of the server's limit: the figure is then a lower bound
//! (WebRTC: a bot's own WebRTC stack costs about what the service's edge does).
//!
//! Every room's game starts at once: the bots hold their rooms' launch until every bot is in its
//! lobby (WebRTC joins take a while: 16 at a time).
//!
//! `cargo bench -p doomlink-e2e --bench saturation`; SATURATION_ROOMS (default
//! "25,50,75,100,150,200,250,300,350,400") and SATURATION_MODES (default "native,lan,webrtc")
//! choose the steps, SATURATION_TICS (default 700 = 20 s of game) the game's length, SATURATION_CPU_SHARE
//! (default 1) the server's share of its core ([`CpuCap`]); CAPACITY_RTC_EDGE the service's `rtc_edge`
//! ("per-room", its default, or "shared"); DOOMLINK_BENCH_BIN another `doomlink` binary to
//! serve with. Needs two cores. `tests/benches/saturation-ab.sh` runs this bench twice at once
//! to compare two builds of the service.

use doomlink_e2e::chocobot::{self, Phase, Target};
use doomlink_e2e::*;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PLAYERS: usize = 4;

/// The bots' side, in a child process pinned to the other core: plays, prints `event NAME` as
/// things happen and one `room I SPEED FAILED` line per room, then `delays P50 P99` and `lag P99`
/// (µs; the bots' own lateness for their tic timers).
fn bots_child(targets: &str, tics: u32) {
    let rooms: Vec<Target> = targets
        .lines()
        .map(|t| match t.parse::<SocketAddr>() {
            Ok(a) => Target::Udp(a),
            Err(_) => Target::Link(t.to_string()),
        })
        .collect();
    let limit = Duration::from_secs(60 + tics as u64 / 35 * 2);
    let reports = chocobot::run(&rooms, PLAYERS, tics, limit, |e| {
        println!("event {e:?}");
        let _ = std::io::stdout().flush();
    })
    .expect("bots run");
    let mut delays: Vec<u32> = Vec::new();
    let mut lags: Vec<u32> = Vec::new();
    let mut failures: std::collections::BTreeMap<String, usize> = Default::default();
    for (room, bots) in reports.chunk_by(|a, b| a.room == b.room).enumerate() {
        let mut failed = 0;
        let mut slowest = f64::INFINITY;
        for b in bots {
            if b.phase != Phase::Done || b.stats.tics_received < tics {
                failed += 1;
                *failures.entry(format!("{:?}", b.phase)).or_default() += 1;
            }
            let speed =
                b.stats.tics_received as f64 / 35.0 / b.stats.game_time.as_secs_f64().max(1e-3);
            slowest = slowest.min(speed);
            delays.extend_from_slice(&b.stats.tic_delays_us);
            lags.extend_from_slice(&b.stats.timer_lag_us);
        }
        println!("room {room} {slowest:.4} {failed}");
    }
    let asked: u32 = reports.iter().map(|r| r.stats.resends_asked).sum();
    let answered: u32 = reports.iter().map(|r| r.stats.resends_answered).sum();
    let slow = delays.iter().filter(|&&d| d > 1_000_000 / 35).count();
    eprintln!(
        "  tics over a tic late: {slow} of {}; resend requests: the bots' {asked}, the server's {answered}",
        delays.len()
    );
    for (why, n) in &failures {
        eprintln!("  {n} bots ended {why}");
    }
    let secs = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
    let spread = |f: &dyn Fn(&chocobot::BotReport) -> f64| {
        let v: Vec<f64> = reports.iter().map(f).filter(|x| x.is_finite()).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let joins = spread(&|r| secs(r.joined_after));
    let starts = spread(&|r| secs(r.started_after));
    eprintln!(
        "  bots joined {:.1}–{:.1} s, games started {:.1}–{:.1} s after the bots began",
        joins.0, joins.1, starts.0, starts.1
    );
    let q = |v: &mut Vec<u32>, f: f64| {
        v.sort_unstable();
        v.get(((v.len() as f64 * f) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!("delays {} {}", q(&mut delays, 0.5), q(&mut delays, 0.99));
    println!("lag {}", q(&mut lags, 0.99));
}

/// One step's figures.
struct Step {
    /// The server core's load in the steady game (CPU seconds per second).
    load: f64,
    /// CPU seconds per room-second of game played.
    per_room: f64,
    /// The slowest room's game speed (1.0: real time).
    slowest: f64,
    failed: usize,
    /// Tic delay p50 and p99, ms.
    delay: (f64, f64),
    /// The load generator's core load.
    bots_load: f64,
    /// doomlink only: the service's own tic delay p99, ms (its metrics' histogram: the datagram
    /// completing a tic in, as the edge hands it over, to the server's next game datagram out).
    /// Set beside the bots' figure, it tells the service's share of a slow tic from the bots'.
    service_p99: Option<f64>,
    /// The bots' own lateness for their tic timers, p99, ms: a tic's delay includes it.
    bots_lag_p99: f64,
}

impl Step {
    /// The game as players would have it: every room at real time, the tic delay's p99 within
    /// a tic (28.6 ms), no bot failed. Not the core's load: native chocolate-server polls its
    /// socket every millisecond, a load that yields to work when the core is full.
    /// The load generator's core is (nearly) full: a slow game may be the bots' doing.
    fn bots_saturated(&self) -> bool {
        self.bots_load >= 0.85
    }

    fn keeps_up(&self) -> bool {
        self.slowest >= 0.97 && self.delay.1 <= 1000.0 / 35.0 && self.failed == 0
    }
}

/// Runs the bots against `targets`, measuring `servers` (pids) while every bot is in game.
fn play(servers: &[u32], targets: &[Target], tics: u32) -> Step {
    let list: Vec<String> = targets
        .iter()
        .map(|t| match t {
            Target::Udp(a) => a.to_string(),
            Target::Link(l) => l.clone(),
        })
        .collect();
    let mut child = Command::new("taskset")
        .args(["-c", "1"])
        .arg(std::env::current_exe().unwrap())
        .env("SATURATION_BOTS_CHILD", list.join("\n"))
        .env("SATURATION_TICS", tics.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("taskset (util-linux) runs the bots");
    let bots_pid = child.id();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let cpu = |pids: &[u32]| -> f64 { pids.iter().map(|&p| cpu_seconds(p)).sum() };
    let mut window: Option<(Instant, f64, f64)> = None;
    let mut measured = None;
    let mut lines = Vec::new();
    let began = Instant::now();
    for l in rx.iter() {
        if l.starts_with("event ") {
            eprintln!("  {:5.1} s: {l}", began.elapsed().as_secs_f64());
        }
        match l.as_str() {
            "event AllInGame" => {
                // A second for the last joins' packets to settle.
                std::thread::sleep(Duration::from_secs(1));
                window = Some((Instant::now(), cpu(servers), cpu_seconds(bots_pid)));
            }
            "event FirstLeft" => {
                if let Some((t0, c0, b0)) = window {
                    let secs = t0.elapsed().as_secs_f64();
                    measured = Some((secs, cpu(servers) - c0, cpu_seconds(bots_pid) - b0));
                }
            }
            _ => lines.push(l),
        }
    }
    let _ = child.wait();
    let mut speeds = Vec::new();
    let mut failed = 0;
    let mut delay = (f64::NAN, f64::NAN);
    let mut lag_p99 = f64::NAN;
    for l in &lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f.as_slice() {
            ["room", _, speed, fails] => {
                speeds.push(speed.parse::<f64>().unwrap_or(0.0));
                failed += fails.parse::<usize>().unwrap_or(PLAYERS);
            }
            ["lag", p99] => lag_p99 = p99.parse::<f64>().unwrap_or(f64::NAN) / 1e3,
            ["delays", p50, p99] => {
                delay = (
                    p50.parse::<f64>().unwrap_or(f64::NAN) / 1e3,
                    p99.parse::<f64>().unwrap_or(f64::NAN) / 1e3,
                )
            }
            _ => {}
        }
    }
    failed += (targets.len() - speeds.len()) * PLAYERS;
    let slowest = speeds.iter().copied().fold(f64::INFINITY, f64::min);
    let (secs, server_cpu, bots_cpu) = measured.unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    let room_secs: f64 = speeds.iter().map(|s| s.min(1.0) * secs).sum();
    Step {
        load: server_cpu / secs,
        per_room: server_cpu / room_secs,
        slowest,
        failed,
        delay,
        bots_load: bots_cpu / secs,
        service_p99: None,
        bots_lag_p99: lag_p99,
    }
}

/// The server's share of core 0 when below a whole core (SATURATION_CPU_SHARE): its processes
/// in a cgroup (v1 `cpu` controller) whose CFS bandwidth is `share` × 10 ms every 10 ms. N rooms
/// kept up on half a core stand for 2N on a whole one: how a server too big for the load
/// generator to fill is measured at saturation (the short period keeps the throttling's stalls
/// within a few milliseconds, well inside a tic).
struct CpuCap {
    dir: std::path::PathBuf,
}

const CGROUP_CPU: &str = "/sys/fs/cgroup/cpu";

impl CpuCap {
    /// None at a whole core; panics with the reason if the cgroup cannot be made.
    fn new(share: f64, pids: &[u32]) -> Option<CpuCap> {
        if share >= 1.0 {
            return None;
        }
        let dir = std::path::Path::new(CGROUP_CPU)
            .join(format!("doomlink-saturation-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let write = |f: &str, v: String| {
            std::fs::write(dir.join(f), &v)
                .unwrap_or_else(|e| panic!("SATURATION_CPU_SHARE needs cgroup v1's cpu controller at {CGROUP_CPU} (root): {f}: {e}"))
        };
        write("cpu.cfs_period_us", "10000".into());
        write(
            "cpu.cfs_quota_us",
            ((share * 10_000.0) as u64).max(1000).to_string(),
        );
        for pid in pids {
            write("cgroup.procs", pid.to_string());
        }
        Some(CpuCap { dir })
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        // The servers are gone by now (killed before this drops); wait for the cgroup to empty.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn cpu_share() -> f64 {
    std::env::var("SATURATION_CPU_SHARE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(1.0, |s| s.min(1.0))
}

/// `n` native chocolate-server processes on core 0.
fn run_native(n: usize, tics: u32) -> Step {
    let dir = Scratch::new(&format!("sat-native-{n}"));
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    for p in free_udp_ports(n) {
        servers.push(native_server(p, dir.path(), Some(0)));
        targets.push(Target::Udp(SocketAddr::from(([127, 0, 0, 1], p))));
    }
    std::thread::sleep(Duration::from_millis(500));
    let pids: Vec<u32> = servers.iter().map(|s| s.0.id()).collect();
    let _cap = CpuCap::new(cpu_share(), &pids);
    let step = play(&pids, &targets, tics);
    drop(servers);
    step
}

/// `doomlink serve` on core 0 with `n` standing rooms, the bots at their LAN ports (`lan`) or
/// joining by their links over WebRTC.
fn run_doomlink(n: usize, tics: u32, lan: bool) -> Step {
    let dir = Scratch::new(&format!("sat-dl-{n}"));
    let ports = free_udp_ports(n);
    let (svc, http, links) =
        serve_standing_rooms(&doomlink_dist(), dir.path(), n, lan.then_some(&ports[..]));
    let pid = svc.0.id();
    // Every thread the service has and will make runs on core 0.
    let pinned = Command::new("taskset")
        .args(["-a", "-p", "-c", "0", &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(pinned, "taskset -a -p pins the service");
    std::thread::sleep(Duration::from_secs(1));
    let targets: Vec<Target> = match lan {
        true => ports
            .iter()
            .map(|&p| Target::Udp(SocketAddr::from(([127, 0, 0, 1], p))))
            .collect(),
        false => links.into_iter().map(Target::Link).collect(),
    };
    let _cap = CpuCap::new(cpu_share(), &[pid]);
    let mut step = play(&[pid], &targets, tics);
    let metrics = http_get(http, "/metrics");
    step.service_p99 = tic_p99(&metrics).0.map(|s| s * 1e3);
    if !lan {
        // SCTP's and DTLS's own datagrams ride beside the game's (8 a tic in a four-player
        // room: one each way per player).
        let udp = metric_sum(&metrics, "doomlink_webrtc_edge_datagrams_in_total ")
            + metric_sum(&metrics, "doomlink_webrtc_edge_datagrams_out_total ");
        // A room's game is tics × 4 players' datagrams each way (and the lobby's few).
        eprintln!(
            "  UDP datagrams at the WebRTC ports: {udp} in all, {:.2} per room per game tic",
            udp / n.max(1) as f64 / tics as f64
        );
    }
    drop(svc);
    step
}

fn main() {
    if let Ok(targets) = std::env::var("SATURATION_BOTS_CHILD") {
        let tics = std::env::var("SATURATION_TICS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(700);
        bots_child(&targets, tics);
        return;
    }
    if std::thread::available_parallelism().map_or(0, |n| n.get()) < 2 {
        println!("saturation: needs two cores (the server's and the bots'); skipped");
        return;
    }
    let tics: u32 = std::env::var("SATURATION_TICS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(700);
    let counts: Vec<usize> = std::env::var("SATURATION_ROOMS")
        .unwrap_or_else(|_| "25,50,75,100,150,200,250,300,350,400".into())
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let modes = std::env::var("SATURATION_MODES").unwrap_or_else(|_| "native,lan,webrtc".into());
    let _ = doomlink_dist();
    let share = cpu_share();
    println!(
        "saturation: the server on {} core 0, {PLAYERS} bots per room on core 1, {tics} tics ({:.0} s) of game per room",
        match share < 1.0 {
            true => format!("{:.0}% of", share * 100.0),
            false => "all of".into(),
        },
        tics as f64 / 35.0
    );
    println!(
        "{:>7} | {:>5} | {:>9} | {:>12} | {:>8} | {:>19} | {:>11} | {:>9} | {:>12} | {:>6} | keeps up",
        "server",
        "rooms",
        "its load",
        "CPU/room-s",
        "slowest",
        "tic delay p50/p99",
        "service p99",
        "bots load",
        "bots lag p99",
        "failed"
    );
    let mut best: Vec<(String, usize, f64)> = Vec::new();
    let mut saturated_bots: Vec<String> = Vec::new();
    for mode in modes.split(',').map(str::trim) {
        let mut kept = None;
        for &n in &counts {
            let s = match mode {
                "native" => run_native(n, tics),
                "lan" => run_doomlink(n, tics, true),
                "webrtc" => run_doomlink(n, tics, false),
                other => panic!("SATURATION_MODES: unknown mode {other}"),
            };
            println!(
                "{mode:>7} | {n:>5} | {:>8.0}% | {:>7.2} ms/s | {:>8.3} | {:>7.1} / {:>6.1} ms | {:>11} | {:>8.0}% | {:>9.1} ms | {:>6} | {}",
                s.load / share * 100.0,
                s.per_room * 1e3,
                s.slowest,
                s.delay.0,
                s.delay.1,
                s.service_p99
                    .map_or("-".to_string(), |p| format!("≤ {p:.1} ms")),
                s.bots_load * 100.0,
                s.bots_lag_p99,
                s.failed,
                match (s.keeps_up(), s.bots_saturated()) {
                    (true, _) => "yes",
                    (false, false) => "no",
                    (false, true) => "unknown: the bots' own core is full",
                }
            );
            if !s.keeps_up() {
                if s.bots_saturated() {
                    saturated_bots.push(mode.to_string());
                }
                break;
            }
            kept = Some((n, s.per_room));
        }
        if let Some((n, per_room)) = kept {
            best.push((mode.to_string(), n, per_room));
        }
    }
    for (mode, n, per_room) in best {
        let more = match saturated_bots.contains(&mode) {
            true => {
                " (at least: the next step filled the bots' core, not necessarily the server's)"
            }
            false => "",
        };
        let on = match share < 1.0 {
            true => format!(
                "{:.0}% of a core, so {:.0} per core",
                share * 100.0,
                n as f64 / share
            ),
            false => "one core".into(),
        };
        println!(
            "{mode}: keeps up with {n} four-player rooms on {on} (measured){more}; {:.0} rooms per core projected from its CPU per room-second there",
            1.0 / per_room
        );
    }
}
