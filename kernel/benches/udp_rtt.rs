//! Datagram round trip between two guests over the kernel's loopback, against a
//! std::net::UdpSocket ping-pong on 127.0.0.1 in the same run, plus the cost of one guest→host
//! call. Prints p50/p99 and the ratios; asserts nothing (timings never go in tests).
//!
//! cargo bench -p doomlink-kernel --bench udp_rtt

#[path = "../tests/common/mod.rs"]
mod common;

use doomlink_kernel::*;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Instant;

const ROUNDS: usize = 20_000;
const SIZE: usize = 64;

fn percentile(sorted: &[u64], p: usize) -> u64 {
    sorted[(sorted.len() - 1) * p / 100]
}

fn std_udp_rtt() -> (u64, u64) {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..ROUNDS {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let msg = [b'p'; SIZE];
    let mut buf = [0u8; 2048];
    let mut rtts = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        client.send_to(&msg, addr).unwrap();
        client.recv_from(&mut buf).unwrap();
        rtts.push(t.elapsed().as_nanos() as u64);
    }
    echo.join().unwrap();
    rtts.sort_unstable();
    (percentile(&rtts, 50), percentile(&rtts, 99))
}

fn kernel_rtt(k: &Kernel, m: &GuestModule) -> (u64, u64) {
    let rounds = ROUNDS.to_string();
    let server = k
        .spawn(m, ProcessSpec::new(["ktest", "echo", "7300", &rounds]))
        .unwrap();
    let out = CaptureSink::new();
    let mut spec = ProcessSpec::new([
        "ktest",
        "ping",
        "127.0.0.1",
        "7300",
        &rounds,
        &SIZE.to_string(),
    ]);
    spec.stdout = Arc::new(out.clone());
    let st = k.spawn(m, spec).unwrap().wait();
    assert!(st.success(), "ping guest: {st}: {}", out.text());
    server.wait();
    let text = out.text();
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    (field("p50="), field("p99="))
}

fn main() {
    let k = Kernel::new(KernelConfig::default(), Arc::new(NoNetwork)).unwrap();
    let m = k.load(&common::guest("ktest")).unwrap();
    // Warm both paths once, then measure them back to back.
    kernel_rtt(&k, &m);
    std_udp_rtt();
    let (k50, k99) = kernel_rtt(&k, &m);
    let (s50, s99) = std_udp_rtt();
    println!("udp round trip, {SIZE}-byte datagrams, {ROUNDS} rounds");
    println!(
        "  kernel loopback (guest↔guest): p50 {:>6.1} µs  p99 {:>6.1} µs",
        k50 as f64 / 1e3,
        k99 as f64 / 1e3
    );
    println!(
        "  std UdpSocket 127.0.0.1:       p50 {:>6.1} µs  p99 {:>6.1} µs",
        s50 as f64 / 1e3,
        s99 as f64 / 1e3
    );
    println!(
        "  ratio kernel/std:              p50 {:>6.2}×    p99 {:>6.2}×",
        k50 as f64 / s50 as f64,
        k99 as f64 / s99 as f64
    );
    let out = CaptureSink::new();
    let mut spec = ProcessSpec::new(["ktest", "callcost", "2000000"]);
    spec.stdout = Arc::new(out.clone());
    k.spawn(&m, spec).unwrap().wait();
    println!(
        "  one guest→host call (fd_fdstat_get): {}",
        out.text().trim()
    );
}
