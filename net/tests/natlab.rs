//! The NAT lab: doomlink peers behind real Linux NATs, on a private "Internet" this test builds
//! in network namespaces and always removes. Nothing of it reaches a real network.
//!
//! ```text
//!               inet: bridge br0, 192.0.2.1/24 — the rendezvous (HTTP+WS, STUN, TURN)
//!              /                                        \
//!   r1: wan 192.0.2.11, MASQUERADE            r2: wan 192.0.2.12, MASQUERADE
//!       lan 100.64.1.1/24                         lan 100.64.2.1/24
//!   h1: 100.64.1.2 (the hub)                  h2: 100.64.2.2 (the joiner)
//! ```
//!
//! - plain MASQUERADE keeps a flow's source port (and the routers drop unsolicited packets):
//!   the peers learn server-reflexive candidates from STUN and punch through: a *direct* path;
//! - MASQUERADE `--random-fully` on both routers picks a new port per destination (a symmetric
//!   NAT): hole punching fails and the link must be *relayed* by the rendezvous's TURN.
//!
//! Each peer runs on its own thread, which enters its namespace (setns) before making a
//! single-threaded tokio runtime, so every socket it opens lives there. Needs root (CAP_NET_ADMIN,
//! CAP_SYS_ADMIN) and iproute2 + iptables (scripts/setup installs them): without them the test
//! fails, loudly.

mod common;

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use common::*;
use doomlink_net::identity::Identity;
use doomlink_net::invite::InviteLink;
use doomlink_net::node::{NodeEvent, WebRtcNode};
use doomlink_net::online::{host_room, join_room, HostOptions, JoinOptions};
use doomlink_net::peer::{PathInfo, PathKind, RtcOptions};
use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
use doomlink_net::Event;

/// The prefix of every namespace this test makes, followed by its pid (see `remove_stale`).
const PREFIX: &str = "dln";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}`: {e} (scripts/setup installs iproute2 and iptables)")
        })
}

fn must(program: &str, args: &[&str]) {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}\nThe NAT lab builds network namespaces and needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN).",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn ip(args: &[&str]) {
    must("ip", args);
}

/// The namespaces of one lab, deleted when dropped (veths, bridge, NAT rules go with them).
struct Lab {
    names: Vec<String>,
    tag: String,
}

impl Lab {
    fn ns(&self, short: &str) -> String {
        format!("{PREFIX}{}{}{short}", std::process::id(), self.tag)
    }
    fn add(&mut self, short: &str) -> String {
        let name = self.ns(short);
        ip(&["netns", "add", &name]);
        self.names.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// Builds the topology of the module docs; `symmetric` makes both NATs symmetric.
    fn build(tag: &str, symmetric: bool) -> Lab {
        remove_stale();
        let mut lab = Lab {
            names: Vec::new(),
            tag: tag.into(),
        };
        let inet = lab.add("i");
        ip(&["-n", &inet, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &inet, "addr", "add", "192.0.2.1/24", "dev", "br0"]);
        ip(&["-n", &inet, "link", "set", "br0", "up"]);
        for site in 1..=2 {
            let r = lab.add(&format!("r{site}"));
            let h = lab.add(&format!("h{site}"));
            let w = format!("w{site}");
            ip(&[
                "-n", &inet, "link", "add", &w, "type", "veth", "peer", "name", "wan", "netns", &r,
            ]);
            ip(&["-n", &inet, "link", "set", &w, "master", "br0", "up"]);
            ip(&[
                "-n",
                &r,
                "addr",
                "add",
                &format!("192.0.2.{}/24", 10 + site),
                "dev",
                "wan",
            ]);
            ip(&["-n", &r, "link", "set", "wan", "up"]);
            ip(&[
                "-n", &r, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", &h,
            ]);
            ip(&[
                "-n",
                &r,
                "addr",
                "add",
                &format!("100.64.{site}.1/24"),
                "dev",
                "lan",
            ]);
            ip(&["-n", &r, "link", "set", "lan", "up"]);
            ip(&[
                "-n",
                &h,
                "addr",
                "add",
                &format!("100.64.{site}.2/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &h, "link", "set", "eth0", "up"]);
            ip(&[
                "-n",
                &h,
                "route",
                "add",
                "default",
                "via",
                &format!("100.64.{site}.1"),
            ]);
            must(
                "ip",
                &[
                    "netns",
                    "exec",
                    &r,
                    "sysctl",
                    "-qw",
                    "net.ipv4.ip_forward=1",
                ],
            );
            let mut nat = vec![
                "netns",
                "exec",
                &r,
                "iptables",
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                "wan",
                "-j",
                "MASQUERADE",
            ];
            if symmetric {
                nat.push("--random-fully");
            }
            must("ip", &nat);
            // Unsolicited packets to the router are dropped, as home routers do. Besides realism
            // this matters: accepted, such a packet would leave a conntrack entry whose reply
            // tuple clashes with the peer's own outgoing flow to the same address, and
            // MASQUERADE would then pick another port for it, breaking the hole punch.
            must(
                "ip",
                &[
                    "netns",
                    "exec",
                    &r,
                    "iptables",
                    "-A",
                    "INPUT",
                    "-i",
                    "wan",
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "NEW",
                    "-j",
                    "DROP",
                ],
            );
        }
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in self.names.iter().rev() {
            let _ = run("ip", &["netns", "del", n]);
        }
    }
}

/// Namespaces left by an earlier run that was killed before its guard ran.
fn remove_stale() {
    let list = run("ip", &["netns", "list"]);
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// Runs `f` on a new thread inside namespace `ns`, on a single-threaded tokio runtime.
fn in_ns<T: Send + 'static>(
    ns: String,
    f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let file = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("namespace file");
        // SAFETY: setns on this thread only, with a valid namespace fd we hold open.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns({ns}): {}", std::io::Error::last_os_error());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    })
}

/// What the lab's hub saw.
struct Outcome {
    path: PathInfo,
    datagrams_from_joiner: usize,
}

fn play(tag: &str, symmetric: bool) -> Outcome {
    init_tracing();
    let lab = Lab::build(tag, symmetric);
    let (inv_tx, inv_rx) = std_mpsc::channel::<InviteLink>();
    let (rv_tx, rv_rx) = std_mpsc::channel::<String>();
    let (done_tx, done_rx) = std_mpsc::channel::<()>();
    let done_rx = std::sync::Arc::new(std::sync::Mutex::new(done_rx));
    let dir = std::env::temp_dir().join(format!("doomlink-natlab-{}-{tag}", std::process::id()));

    // The rendezvous, on the "Internet".
    let rv_dir = dir.clone();
    let wait = done_rx.clone();
    let rv = in_ns(lab.ns("i"), move || {
        Box::pin(async move {
            let mut cfg = ServeConfig::new("192.0.2.1:0".parse().unwrap(), "192.0.2.1", rv_dir);
            cfg.stun_port = 0;
            cfg.turn_port = 0;
            let rv = Rendezvous::bind(cfg).await.expect("rendezvous");
            rv_tx.send(rv.http_addr().to_string()).unwrap();
            let stop = rv.shutdown_handle();
            let task = tokio::spawn(rv.run());
            // Until the peers are done.
            tokio::task::spawn_blocking(move || {
                let _ = wait.lock().unwrap().recv();
            })
            .await
            .unwrap();
            stop.shutdown();
            let _ = task.await;
        })
    });
    let rv_addr = rv_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("rendezvous address");
    let opts = || RtcOptions {
        bind: vec!["0.0.0.0:0".parse().unwrap()],
        ..RtcOptions::default()
    };

    // The hub behind NAT 1.
    let hub = in_ns(lab.ns("h1"), move || {
        Box::pin(async move {
            let mut ho = HostOptions::new(rv_addr, Identity::ephemeral().unwrap());
            ho.rtc = opts();
            let mut room = host_room(ho).await.expect("host a room");
            inv_tx.send(room.invite.clone()).unwrap();
            let joiner = room
                .next_joiner()
                .await
                .expect("a joiner")
                .expect("its link");
            let inbox = Inbox::new();
            let (node, mut ev) = WebRtcNode::hub(cfg("hub"), inbox.clone());
            node.add_link(joiner.link).unwrap();
            wait_event(&mut ev, Duration::from_secs(10), |e| {
                matches!(e, NodeEvent::Session(Event::PeerJoined { .. }))
            })
            .await
            .expect("handshake");
            let got = inbox.wait_for(30, Duration::from_secs(10)).await;
            // Answer so the joiner sees datagrams too.
            for (_, src, _) in got.iter().take(30) {
                let _ = node.send_from_guest(2342, *src.ip(), src.port(), b"pong");
            }
            let path = node.links()[0].path.clone().expect("path reported");
            tokio::time::sleep(Duration::from_secs(1)).await;
            Outcome {
                path,
                datagrams_from_joiner: got.len(),
            }
        })
    });
    let invite = inv_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("invite link");

    // The joiner behind NAT 2.
    let joiner = in_ns(lab.ns("h2"), move || {
        Box::pin(async move {
            let joined = join_room(
                &invite,
                JoinOptions {
                    name: "joiner".into(),
                    rtc: opts(),
                },
            )
            .await
            .expect("join");
            let inbox = Inbox::new();
            let (node, mut ev) = WebRtcNode::client(cfg("joiner"), inbox.clone());
            node.add_link(joined.link).unwrap();
            let hub_addr = wait_joined(&mut ev).await;
            let _ = hub_addr;
            let hub = node.links()[0].addr.expect("hub address");
            for i in 0..30u32 {
                node.send_from_guest(5000, hub, 2342, &i.to_be_bytes())
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            inbox.wait_for(25, Duration::from_secs(10)).await.len()
        })
    });
    let back = joiner.join().expect("joiner thread");
    let out = hub.join().expect("hub thread");
    drop(done_tx);
    rv.join().expect("rendezvous thread");
    let _ = std::fs::remove_dir_all(&dir);
    drop(lab);
    assert!(back >= 25, "the joiner got {back} of 30 answers");
    out
}

#[test]
fn behind_two_port_preserving_nats_the_path_is_direct() {
    let out = play("c", false);
    eprintln!("cone NATs: {:?}", out.path);
    assert_eq!(out.path.kind, PathKind::Direct, "{:?}", out.path);
    assert!(out.datagrams_from_joiner >= 25);
}

#[test]
fn behind_two_symmetric_nats_the_path_is_relayed() {
    let out = play("s", true);
    eprintln!("symmetric NATs: {:?}", out.path);
    assert_eq!(out.path.kind, PathKind::Relayed, "{:?}", out.path);
    assert!(out.datagrams_from_joiner >= 25);
}
