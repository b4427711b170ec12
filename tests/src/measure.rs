//! Measuring servers for the capacity benchmarks: a process's CPU and memory from /proc, the
//! service's metrics over HTTP, and `doomlink serve` with standing rooms.

use crate::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;

/// CPU seconds (user + system) process `pid` has used; 0 if it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// Process `pid`'s resident memory in bytes; 0 if it is gone.
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The admin token of the services the benches start (`/metrics` wants it).
pub const SERVICE_TOKEN: &str = "bench-token-0123456789";

/// The body of `GET path` from 127.0.0.1:`port`, with [`SERVICE_TOKEN`] ("" on any failure).
pub fn http_get(port: u16, path: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SERVICE_TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

/// `doomlink serve` (the binary `bin`) with `rooms` standing four-player coop rooms of
/// Freedoom 1, each also on a LAN port when `lan_ports` is given; returns it, its HTTP port and
/// the rooms' links. CAPACITY_RTC_EDGE and CAPACITY_RTC_THREADS set its WebRTC edge.
pub fn serve_standing_rooms(
    bin: &Path,
    dir: &Path,
    rooms: usize,
    lan_ports: Option<&[u16]>,
) -> (KillOnDrop, u16, Vec<String>) {
    // CAPACITY_RTC_THREADS: the service's WebRTC edge threads (its default: one per core).
    let mut cfg = match std::env::var("CAPACITY_RTC_THREADS") {
        Ok(n) => format!("rtc_threads = {}\n", n.trim()),
        Err(_) => String::new(),
    };
    // CAPACITY_RTC_EDGE: "per-room" (the service's default) or "shared".
    if let Ok(e) = std::env::var("CAPACITY_RTC_EDGE") {
        cfg += &format!("rtc_edge = \"{}\"\n", e.trim());
    }
    cfg += &format!("[limits]\nrooms = {}\n\n", rooms.max(1));
    for i in 0..rooms {
        cfg += &format!(
            "[[room]]\nname = \"r{i}\"\niwad = \"{FREEDOOM1}\"\nplayers = 4\nmode = \"coop\"\nwarp = [1, 1]\nskill = 3\n"
        );
        if let Some(ports) = lan_ports {
            cfg += &format!("lan_port = {}\n", ports[i]);
        }
        cfg += "\n";
    }
    let cfg_path = dir.join("serve.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let log = dir.join("serve.log");
    let (mut cmd, port) = serve_command(bin, dir);
    let mut child = cmd
        .args(["--rtc-bind", "127.0.0.1", "--lan-bind", "127.0.0.1"])
        .arg("--config")
        .arg(&cfg_path)
        .env("RUST_LOG", "warn")
        .env("DOOMLINK_ADMIN_TOKEN", SERVICE_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&log))
        .spawn()
        .unwrap();
    let links = serve_rooms(&mut child, rooms, &log)
        .into_iter()
        .map(|(_, link)| link)
        .collect();
    (KillOnDrop(child), port, links)
}

/// The sum of every sample in Prometheus text `metrics` whose line starts with `prefix` (a
/// metric's name and `{` for all its labelled series, or its name and a space for one).
pub fn metric_sum(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// p99 upper bound (seconds) from the service's tic delay histogram, summed over rooms.
pub fn tic_p99(metrics: &str) -> (Option<f64>, u64) {
    let buckets = tic_delay_buckets(metrics);
    let total = buckets.last().map_or(0, |b| b.1);
    if total == 0 {
        return (None, 0);
    }
    let want = (total as f64 * 0.99).ceil() as u64;
    (buckets.iter().find(|b| b.1 >= want).map(|b| b.0), total)
}

/// The `doomlink_room_tic_delay_seconds` histogram in Prometheus text `metrics`, summed over
/// rooms: its cumulative buckets (upper bound in seconds, count), lowest bound first.
pub fn tic_delay_buckets(metrics: &str) -> Vec<(f64, u64)> {
    let mut by_le: std::collections::BTreeMap<String, u64> = Default::default();
    for l in metrics.lines() {
        let Some(rest) = l.strip_prefix("doomlink_room_tic_delay_seconds_bucket{") else {
            continue;
        };
        let le = rest.split("le=\"").nth(1).and_then(|x| x.split('"').next());
        let v: u64 = rest
            .rsplit(' ')
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        if let Some(le) = le {
            *by_le.entry(le.to_string()).or_default() += v;
        }
    }
    let mut buckets: Vec<(f64, u64)> = by_le
        .into_iter()
        .map(|(le, n)| (le.parse().unwrap_or(f64::INFINITY), n))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// `n` distinct UDP ports free on 127.0.0.1 now, all below the kernel's ephemeral range: a port
/// from that range could be handed to another socket (a room's own, a bot's) between this pick
/// and the server's bind; with hundreds of rooms and bots that happens in most runs. Where in
/// that range the picks start depends on the process id, so two benches at once
/// (`saturation-ab.sh`) pick apart.
pub fn free_udp_ports(n: usize) -> Vec<u16> {
    const FROM: u16 = 10000;
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .max(FROM + 1);
    let span = u32::from(low - FROM);
    let start = std::process::id() * 7919 % span;
    let ports: Vec<u16> = (0..span)
        .map(|i| FROM + ((start + i) % span) as u16)
        .filter(|&p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok())
        .take(n)
        .collect();
    assert_eq!(ports.len(), n, "{n} free UDP ports below {low}");
    ports
}

/// Debian's chocolate-doom server, the native anchor of the capacity benchmarks.
pub const NATIVE_SERVER: &str = "/usr/games/chocolate-server";

/// Native `chocolate-server -privateserver` (never the public master server) on UDP `port`,
/// its config under `home`; on CPU `core` only (`taskset`) when given.
pub fn native_server(port: u16, home: &Path, core: Option<u32>) -> KillOnDrop {
    let mut cmd = match core {
        Some(c) => {
            let mut t = Command::new("taskset");
            t.args(["-c", &c.to_string(), NATIVE_SERVER]);
            t
        }
        None => Command::new(NATIVE_SERVER),
    };
    KillOnDrop(
        cmd.args(["-privateserver", "-port", &port.to_string()])
            .env("HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chocolate-server (Debian's chocolate-doom) is installed"),
    )
}

/// The `p`-th percentile (0 to 100) of samples sorted in ascending order: the sample at rank
/// `(len - 1) * p / 100`, rounded down.
pub fn percentile<T: Copy>(sorted: &[T], p: usize) -> T {
    sorted[(sorted.len() - 1) * p / 100]
}

/// Round trips of a UDP ping-pong: `warmup + rounds` datagrams of `payload` from `socket` to an
/// echo at `to`, one in flight; the first `warmup` and any lost (a read timeout on `socket`) are
/// left out.
pub fn udp_ping_pong(
    socket: &std::net::UdpSocket,
    to: std::net::SocketAddr,
    payload: &[u8],
    warmup: usize,
    rounds: usize,
) -> Vec<Duration> {
    let mut buf = [0u8; 2048];
    let mut out = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let t = Instant::now();
        socket.send_to(payload, to).expect("send to the echo");
        if socket.recv_from(&mut buf).is_ok() && i >= warmup {
            out.push(t.elapsed());
        }
    }
    out
}
