//! Does a joiner's download lag a game in progress? `doomlink serve` with two standing rooms:
//! room "a" plays a two-player coop game of real headless players (each its own `doomlink join`
//! process, by link: WebRTC on 127.0.0.1); room "b" plays a 21 MB PWAD. While room a is in
//! game, joiners without the PWAD join room b one after another and download it from the
//! service, each into a fresh data dir.
//!
//! The figure: room a's tics through the service (its `doomlink_room_tic_delay_seconds`
//! histogram: a tic's last game datagram in to the server's tic out) while the downloads run,
//! against a window of the same game just before with no download: p99 and mean, from the
//! histogram's deltas over each window. The b rooms have no game (their joiners wait in the
//! lobby), so every tic counted is room a's.
//!
//! `cargo bench -p doomlink-e2e --bench room_download` (the `dist` build, as a server runs;
//! `DOOMLINK_BENCH_BIN` another binary); ROOM_DOWNLOAD_ROUNDS (default 5) downloads.

use doomlink_e2e::pwad::write_changed_e1m1;
use doomlink_e2e::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Room a's game: long enough for a quiet window and the downloads after it.
const TICS: u32 = 35 * 90;

/// The tic-delay histogram's cumulative buckets (upper bound in seconds, count), summed over
/// rooms, with its sum.
struct Histogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
}

impl Histogram {
    fn read(port: u16) -> Histogram {
        let metrics = http_get(port, "/metrics");
        Histogram {
            buckets: tic_delay_buckets(&metrics),
            sum: metric_sum(&metrics, "doomlink_room_tic_delay_seconds_sum{"),
        }
    }

    /// What was added between `earlier` and this: (count, p99 bucket bound, mean) in seconds.
    fn since(&self, earlier: &Histogram) -> (u64, f64, f64) {
        let delta: Vec<(f64, u64)> = self
            .buckets
            .iter()
            .map(|&(le, n)| {
                let before = earlier
                    .buckets
                    .iter()
                    .find(|b| b.0 == le)
                    .map_or(0, |b| b.1);
                (le, n.saturating_sub(before))
            })
            .collect();
        let total = delta.last().map_or(0, |b| b.1);
        let want = (total as f64 * 0.99).ceil() as u64;
        let p99 = delta.iter().find(|b| b.1 >= want).map_or(f64::NAN, |b| b.0);
        let mean = (self.sum - earlier.sum) / total.max(1) as f64;
        (total, p99, mean)
    }
}

fn joiner(target: &str, dir: &Path, seed: u64, extra: &[&str]) -> KillOnDrop {
    KillOnDrop(
        Command::new(doomlink_dist())
            .args(["join", target])
            .args(headless_args(Bind::Rtc("127.0.0.1"), dir, seed, TICS))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join("err")))
            .spawn()
            .unwrap(),
    )
}

fn main() {
    let rounds: usize = std::env::var("ROOM_DOWNLOAD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = Scratch::new("room-download");
    let pwad = dir.path().join("big.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 20 << 20);
    let size = std::fs::metadata(&pwad).unwrap().len();
    let mut cfg = format!(
        "admin_token = \"{SERVICE_TOKEN}\"\niwads = [\"{FREEDOOM1}\"]\npwads = [\"{}\"]\n\
         [limits]\nrooms = {}\n\n\
         [[room]]\nname = \"a\"\niwad = \"{FREEDOOM1}\"\nplayers = 2\nmode = \"coop\"\nwarp = [1, 1]\nskill = 3\n\n",
        pwad.display(),
        rounds + 1
    );
    for round in 0..rounds {
        cfg += &format!(
            "[[room]]\nname = \"b{round}\"\niwad = \"{FREEDOOM1}\"\nplayers = 4\nmode = \"coop\"\n\
             warp = [1, 1]\nfiles = [\"big.wad\"]\n\n"
        );
    }
    let cfg_path = dir.path().join("serve.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let log = dir.path().join("serve.log");
    let (mut cmd, port) = serve_command(&doomlink_dist(), dir.path());
    let mut svc = KillOnDrop(
        cmd.args(["--rtc-bind", "127.0.0.1", "--config"])
            .arg(&cfg_path)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&log))
            .spawn()
            .unwrap(),
    );
    let links = serve_rooms(&mut svc.0, rounds + 1, &log);
    let link = |name: &str| {
        links
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("room {name}: {links:?}"))
            .1
            .clone()
    };
    let link_a = link("a");

    // Room a's game.
    let player_dirs: Vec<Scratch> = (0..2)
        .map(|k| Scratch::new(&format!("room-download-a{k}")))
        .collect();
    let mut players: Vec<KillOnDrop> = player_dirs
        .iter()
        .enumerate()
        .map(|(k, d)| joiner(&link_a, d.path(), k as u64 + 1, &["--", "-nodes", "2"]))
        .collect();
    let started = Instant::now();
    while !player_dirs
        .iter()
        .all(|d| read_log(&d.path().join("err")).contains("lobby state launched"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "room a's game did not start: {}",
            read_log(&player_dirs[0].path().join("err"))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));

    // The quiet window, then the downloads, one after another.
    let quiet_from = Histogram::read(port);
    std::thread::sleep(Duration::from_secs(15));
    let quiet_to = Histogram::read(port);
    let busy_from = Histogram::read(port);
    let busy_started = Instant::now();
    let mut times = Vec::new();
    for round in 0..rounds {
        let d = Scratch::new(&format!("room-download-b{round}"));
        let t0 = Instant::now();
        let mut j = joiner(
            &link(&format!("b{round}")),
            d.path(),
            100 + round as u64,
            &[],
        );
        let got = loop {
            let err = read_log(&d.path().join("err"));
            if err.contains("downloaded big.wad") {
                break true;
            }
            if j.0.try_wait().unwrap().is_some() || t0.elapsed() > Duration::from_secs(60) {
                eprintln!("round {round}: no download: {err}");
                break false;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let _ = j.0.kill();
        let _ = j.0.wait();
        if got {
            times.push(t0.elapsed());
            println!(
                "round {round}: join with the download of {:.1} MB: {:.0} ms",
                size as f64 / 1e6,
                t0.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    let busy_to = Histogram::read(port);
    let busy_secs = busy_started.elapsed().as_secs_f64();
    let (qn, qp99, qmean) = quiet_to.since(&quiet_from);
    let (bn, bp99, bmean) = busy_to.since(&busy_from);
    let ms = |s: f64| s * 1e3;
    println!(
        "room a's tic delay through the service, {rounds} downloads over {busy_secs:.1} s: \
         p99 <= {:.2} ms, mean {:.3} ms ({bn} tics); quiet 15 s just before: p99 <= {:.2} ms, \
         mean {:.3} ms ({qn} tics): mean {:.2}x",
        ms(bp99),
        ms(bmean),
        ms(qp99),
        ms(qmean),
        bmean / qmean
    );
    assert_eq!(times.len(), rounds, "every round downloaded");
    // The game went on meanwhile: both players still running it.
    for (p, d) in players.iter_mut().zip(&player_dirs) {
        assert!(
            p.0.try_wait().unwrap().is_none(),
            "a player of room a ended early: {}",
            read_log(&d.path().join("err"))
        );
    }
}
