//! A flood against a running game: a host thread injects at least 10^6 junk datagrams (random
//! sizes and sources, some behind real Chocolate Doom packet types) into the game port (2342) of
//! a netgame server guest as fast as it can. The socket's queue must stay at its cap (256) with
//! the excess dropped and counted, the process's memory must stay bounded, and the game must
//! keep its tic rate (35 a second, from the `gametic` lines on /dev/control).
//!
//! The guest is Chocolate Doom with `-server -nodes 1 -warp 1 1`: its own player joins the
//! server (over the engine's in-process loopback) and the game starts at once, so the server's
//! UDP socket is open while the game runs. The tic-rate bound is deliberately loose (≥ 30/s):
//! this checks behaviour (the guest is not starved or stalled by the flood), not speed.

use doomlink_e2e::*;
use doomlink_kernel::{NoNetwork, MAX_INJECT_DGRAM_QUEUE_LEN};
use doomlink_play::guest::{self, DoomConfig};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const DATAGRAMS: u64 = 1_000_000;
/// The flood goes on at least this long, so that the tic rate under it is measured over
/// several `gametic` lines even if 10^6 injections take less.
const MIN_FLOOD: Duration = Duration::from_secs(6);
const PORT: u16 = 2342;
/// Resident memory may grow this much over the flood (the queue holds at most 256 datagrams,
/// ≤ 16 MiB even if all were 64 KiB).
const RSS_SLACK_KB: u64 = 64 * 1024;

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// xorshift64*: junk that is the same on every run.
struct Junk(u64);
impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// One datagram into `buf`: mostly small, now and then the largest UDP payload; one in four
    /// starts with a real packet type (SYN, GAMEDATA, QUERY…) so the engine's parsers see it.
    fn datagram<'a>(&mut self, buf: &'a mut [u8]) -> &'a [u8] {
        let r = self.next();
        let len = match r % 1024 {
            0 => buf.len(),
            1..=15 => 0,
            _ => (r >> 10) as usize % 1400,
        };
        for chunk in buf[..len].chunks_mut(8) {
            let x = self.next().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
        if len >= 2 && (r >> 40).is_multiple_of(4) {
            buf[0] = 0;
            buf[1] = ((r >> 42) % 17) as u8;
        }
        &buf[..len]
    }
}

/// What the flood thread saw.
#[derive(Debug, Default)]
struct FloodReport {
    injected: u64,
    refused: u64,
    max_queued: usize,
    elapsed: Duration,
}

#[test]
fn a_million_junk_datagrams_do_not_stall_the_game_or_grow_memory() {
    let (kernel, module) = guest::boot(Arc::new(NoNetwork)).unwrap();
    let dir = Scratch::new("flood");
    let args = [
        "-server",
        "-nodes",
        "1",
        "-warp",
        "1",
        "1",
        "-port",
        &PORT.to_string(),
    ]
    .map(String::from)
    .to_vec();
    let cfg = DoomConfig {
        iwad: FREEDOOM1.into(),
        pwads: vec![],
        data_dir: dir.path().into(),
        video: false,
        audio_rate: None,
        tics: None,
        args,
    };
    let (g, log) = start_logged_guest(&kernel, &module, &cfg);
    let pid = g.process.pid();

    // `gametic N` lines, timestamped as they arrive.
    let next_tic = |within: Duration| -> (u64, Instant) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = g.control.recv_timeout(left).unwrap_or_else(|| {
                panic!(
                    "no gametic line in {within:?} (status {:?}); log:\n{}",
                    g.process.try_status(),
                    log.text()
                )
            });
            if let Some(n) = line
                .strip_prefix("gametic ")
                .and_then(|n| n.trim().parse().ok())
            {
                return (n, Instant::now());
            }
        }
    };
    let rate =
        |a: (u64, Instant), b: (u64, Instant)| (b.0 - a.0) as f64 / (b.1 - a.1).as_secs_f64();

    // The game runs; let it settle, then measure its rate without the flood.
    next_tic(Duration::from_secs(60));
    next_tic(Duration::from_secs(5));
    let before_start = next_tic(Duration::from_secs(5));
    let mut before_end = before_start;
    for _ in 0..3 {
        before_end = next_tic(Duration::from_secs(5));
    }
    let stats = || {
        kernel
            .socket_stats(pid)
            .into_iter()
            .find(|s| s.port == PORT)
    };
    let at_start = stats().expect("the server's socket is open on 2342");
    let rss_before = rss_kb();

    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let flood = {
        let (kernel, stop) = (kernel.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
            let mut buf = vec![0u8; doomlink_kernel::MAX_DGRAM_PAYLOAD];
            let mut r = FloodReport::default();
            let t0 = Instant::now();
            while (r.injected + r.refused < DATAGRAMS || t0.elapsed() < MIN_FLOOD)
                && !stop.load(Ordering::Relaxed)
            {
                let x = junk.next();
                let src = Ipv4Addr::new(10, 77, 0, 2 + (x % 250) as u8);
                let data = junk.datagram(&mut buf);
                match kernel.inject_datagram(pid, PORT, src, (x >> 8) as u16 | 1, data) {
                    Ok(()) => r.injected += 1,
                    Err(_) => r.refused += 1,
                }
                if r.injected.is_multiple_of(256) {
                    let q = kernel
                        .socket_stats(pid)
                        .into_iter()
                        .find(|s| s.port == PORT)
                        .map_or(0, |s| s.queued);
                    r.max_queued = r.max_queued.max(q);
                }
            }
            r.elapsed = t0.elapsed();
            let _ = done_tx.send(());
            r
        })
    };
    // The game's rate while the flood lasts: gametic lines strictly inside it.
    let mut during = Vec::new();
    while done_rx.try_recv().is_err() {
        match g.control.recv_timeout(Duration::from_millis(200)) {
            Some(line) => {
                if let Some(n) = line
                    .strip_prefix("gametic ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                {
                    during.push((n, Instant::now()));
                }
            }
            None if g.process.try_status().is_some() => break,
            None => {}
        }
        assert!(
            before_end.1.elapsed() < Duration::from_secs(120),
            "the flood never ended"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let report = flood.join().unwrap();
    let at_end = stats();
    let rss_after = rss_kb();
    let alive = g.process.try_status().is_none();
    let after = if alive {
        Some((
            next_tic(Duration::from_secs(5)),
            next_tic(Duration::from_secs(5)),
        ))
    } else {
        None
    };
    g.process.kill();
    let _ = g.process.wait_timeout(Duration::from_secs(10));

    let before_rate = rate(before_start, before_end);
    let during_rate = if during.len() >= 2 {
        rate(during[0], *during.last().unwrap())
    } else {
        0.0
    };
    eprintln!(
        "flood: {} injected ({} refused) in {:.2?} = {:.0}/s; max queued {}; socket {at_start:?} → {at_end:?}\n\
         tic rate before {before_rate:.1}/s, during {during_rate:.1}/s over {} gametic lines; RSS {rss_before} kB → {rss_after} kB",
        report.injected,
        report.refused,
        report.elapsed,
        report.injected as f64 / report.elapsed.as_secs_f64(),
        report.max_queued,
        during.len(),
    );

    assert!(alive, "the game died under the flood; log:\n{}", log.text());
    let at_end = at_end.expect("the socket is still open");
    assert_eq!(report.refused, 0, "the socket was there for every datagram");
    assert!(report.injected >= DATAGRAMS, "{} injected", report.injected);
    // The queue never outgrew its cap, and the flood overran it: the excess was counted.
    assert!(
        report.max_queued <= MAX_INJECT_DGRAM_QUEUE_LEN
            && at_end.queued <= MAX_INJECT_DGRAM_QUEUE_LEN,
        "{report:?} {at_end:?}"
    );
    let dropped = at_end.dropped - at_start.dropped;
    assert!(
        dropped > 0,
        "the flood never filled the queue: {report:?} {at_end:?}"
    );
    // Every injected datagram was either read by the guest, dropped, or is still queued.
    let read = report
        .injected
        .checked_sub(dropped + at_end.queued as u64)
        .expect("more drops than datagrams");
    eprintln!(
        "the guest read {read} of them, {dropped} were dropped, {} still queued",
        at_end.queued
    );
    assert!(
        read > MAX_INJECT_DGRAM_QUEUE_LEN as u64,
        "the guest stopped reading its socket during the flood ({read} read)"
    );
    assert!(
        rss_after <= rss_before + RSS_SLACK_KB,
        "RSS grew from {rss_before} kB to {rss_after} kB"
    );
    // The game kept its pace under the flood, and after it.
    assert!(
        during.len() >= 3,
        "only {} gametic lines during a {:?} flood",
        during.len(),
        report.elapsed
    );
    assert!(
        during_rate >= 30.0,
        "{during_rate:.1} tics/s during the flood (before: {before_rate:.1})"
    );
    let (a, b) = after.expect("alive");
    assert!(
        rate(a, b) >= 30.0,
        "{:.1} tics/s after the flood",
        rate(a, b)
    );
}
