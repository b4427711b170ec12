//! A coturn (`turnserver`, Debian's `coturn` package) for tests: a child process on 127.0.0.1
//! with TURN REST credentials (`use-auth-secret`), the external TURN server an operator puts
//! beside `doomlink serve` ([`crate::rendezvous::turn_rest`]).
//!
//! Owns the child's life (killed and reaped on drop), its files (a config file holding the
//! secret, owner-only, so the secret is not on its command line; its log; its database) and
//! reading its log. It listens and relays on 127.0.0.1 only, on free ports, and relays to
//! loopback peers (the tests' players are there). Without `turnserver` installed it panics
//! saying so: a test of coturn must not pass without one (scripts/setup installs it).

use std::net::{SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The realm the test coturn answers with.
pub const REALM: &str = "doomlink-test";

/// A running coturn. See the module docs.
pub struct Coturn {
    child: Child,
    /// Where it takes TURN over UDP.
    pub addr: SocketAddr,
    /// The ports its allocations' relayed addresses are on (on 127.0.0.1).
    pub relay_ports: RangeInclusive<u16>,
    dir: PathBuf,
}

impl Coturn {
    /// Starts coturn with `secret` as its `static-auth-secret`; returns once it answers STUN.
    pub fn start(secret: &str) -> Coturn {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "doomlink-coturn-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        crate::files::private_dir(&dir).expect("coturn's directory");
        let conf = dir.join("turnserver.conf");
        crate::files::write_private(&conf, format!("static-auth-secret={secret}\n").as_bytes())
            .expect("coturn's config file");
        let port = free_udp_port();
        let relay_ports = free_udp_block(16);
        let log = std::fs::File::create(dir.join("log")).expect("coturn's log file");
        let spawned = Command::new("turnserver")
            .arg("-c")
            .arg(&conf)
            .args([
                "--use-auth-secret",
                &format!("--realm={REALM}"),
                "--no-cli",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                &format!("--min-port={}", relay_ports.start()),
                &format!("--max-port={}", relay_ports.end()),
                "--allow-loopback-peers",
                "--no-multicast-peers",
                "--no-tls",
                "--no-dtls",
                "--no-tcp",
                "--log-file=stdout",
                "--simple-log",
                // Verbose: each request's outcome is logged, with its username.
                "-v",
            ])
            .arg(format!("--pidfile={}", dir.join("pid").display()))
            .arg(format!("--db={}", dir.join("turndb").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                if e.kind() == std::io::ErrorKind::NotFound {
                    panic!(
                        "turnserver (coturn) is not installed: scripts/setup installs it \
                         (apt-get install coturn)"
                    );
                }
                panic!("cannot start turnserver: {e}");
            }
        };
        let mut coturn = Coturn {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            relay_ports,
            dir,
        };
        coturn.wait_ready(Duration::from_secs(10));
        coturn
    }

    /// Its URL, as `[[turn_server]] urls` name it.
    pub fn url(&self) -> String {
        format!("turn:{}?transport=udp", self.addr)
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// The usernames it granted an allocation to, in order, as its log says.
    pub fn allocations(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("incoming packet ALLOCATE processed, success"))
            .filter_map(|l| {
                let (_, rest) = l.split_once("user <")?;
                Some(rest.split_once('>')?.0.to_owned())
            })
            .collect()
    }

    /// Panics unless each of `players` (`host`, or a joiner's peer number) of `room` was
    /// granted an allocation under a username of its own (`EXPIRY:ROOM-PLAYER`).
    pub fn assert_allocated(&self, room: &str, players: &[&str]) {
        let users = self.allocations();
        for who in players {
            let suffix = format!(":{room}-{who}");
            assert!(
                users.iter().any(|u| u.ends_with(&suffix)),
                "no allocation for {suffix} in {users:?}"
            );
        }
    }

    /// Waits until a STUN Binding request is answered; panics with the log if the child
    /// exits or `limit` passes first.
    fn wait_ready(&mut self, limit: Duration) {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("a read timeout");
        // A Binding request: type 1, no attributes, the magic cookie, a transaction id.
        let mut req = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        req.extend_from_slice(b"doomlinkcotu");
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 1500];
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("turnserver exited ({st}):\n{}", self.log());
            }
            let _ = sock.send_to(&req, self.addr);
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                // A Binding success response to our transaction.
                if n >= 20 && buf[..2] == [1, 1] && buf[8..20] == req[8..20] {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "turnserver did not answer STUN on {} within {limit:?}:\n{}",
                    self.addr,
                    self.log()
                );
            }
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A UDP port free on 127.0.0.1 a moment ago.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

/// `n` consecutive UDP ports free on 127.0.0.1 a moment ago, away from the ephemeral range's
/// start where the tests' other sockets cluster.
fn free_udp_block(n: u16) -> RangeInclusive<u16> {
    for _ in 0..200 {
        let start = rand::random_range(20_000..30_000u16);
        let held: Vec<UdpSocket> = (start..start + n)
            .map_while(|p| UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == n as usize {
            return start..=start + n - 1;
        }
    }
    panic!("no block of {n} free UDP ports on 127.0.0.1");
}
