//! The NAT lab: a small private "Internet" in network namespaces, with doomlink peers behind real
//! Linux NATs. A lab is built per test (unique namespace names, so tests run side by side) and
//! always removed when its guard drops, even on a panic; namespaces left by a killed run are
//! removed by the next one. Nothing of it reaches a real network.
//!
//! ```text
//!               inet: bridge br0, 192.0.2.1/24 — the rendezvous (HTTP+WS, STUN, TURN)
//!              /              |                 \
//!   r1: wan 192.0.2.11   r2: wan 192.0.2.12  …  rN: wan 192.0.2.1N     (N = 2..=4 sites)
//!       lan 100.64.1.1/24    lan 100.64.2.1/24     lan 100.64.N.1/24
//!   h1: 100.64.1.2       h2: 100.64.2.2         hN: 100.64.N.2
//! ```
//!
//! Each router's NAT is one of [`Nat`]:
//! - [`Nat::PortPreserving`]: plain MASQUERADE keeps a flow's source port (endpoint-independent
//!   mapping): peers learn server-reflexive candidates from STUN and punch through — *direct*;
//! - [`Nat::Symmetric`]: MASQUERADE `--random-fully` picks a new port per destination: hole
//!   punching fails and a link must be *relayed* by the rendezvous's TURN;
//! - [`Nat::UdpBlocked`]: the router forwards no UDP at all (TCP still passes, so signaling
//!   works and ICE is what fails).
//!
//! Every router drops unsolicited packets arriving on its wan, as home routers do.
//!
//! Processes run inside a namespace through [`Lab::command`] (`ip netns exec NS …`, which execs,
//! so the child's pid is the program's); in-process peers through [`in_ns`], a thread that
//! enters the namespace with setns(2) before it opens any socket. Needs root (CAP_NET_ADMIN,
//! CAP_SYS_ADMIN) and iproute2 + iptables (scripts/setup installs them): without them the lab
//! panics with a message that says so — it never skips silently.

use crate::netns::{command_in, must, must_in, Namespaces};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;

/// The prefix of every namespace a lab makes, followed by the test process's pid (so a later run
/// can tell a stale lab from a live one) and the lab's tag.
const PREFIX: &str = "dln";

/// The rendezvous's address on the lab's "Internet" (a documentation address, RFC 5737).
pub const INET_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The lab's "Internet", where the routers' public addresses and the rendezvous's TURN relay
/// are. TURN refuses documentation ranges unless allowed: a lab's rendezvous allows this one
/// (`turn_allow_peers`).
pub const INET_NET: &str = "192.0.2.0/24";

/// What a site's router does to its host's traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nat {
    /// MASQUERADE: endpoint-independent, port-preserving mapping.
    PortPreserving,
    /// MASQUERADE `--random-fully`: a new port per destination.
    Symmetric,
    /// No UDP forwarded either way (TCP passes).
    UdpBlocked,
}

fn ip(args: &[&str]) {
    must("ip", args);
}

/// One lab: its namespaces, deleted when dropped (veths, bridge and NAT rules go with them).
pub struct Lab {
    spaces: Namespaces,
    tag: String,
    nats: Vec<Nat>,
}

impl Lab {
    /// Builds the lab of the module docs with one site per entry of `nats` (2..=4). `tag` makes
    /// the namespace names unique among the labs of one test process (a few letters: interface
    /// and namespace names are short).
    pub fn build(tag: &str, nats: &[Nat]) -> Lab {
        assert!(
            (2..=4).contains(&nats.len()),
            "a lab has 2 to 4 sites, not {}",
            nats.len()
        );
        let mut lab = Lab {
            spaces: Namespaces::new(PREFIX),
            tag: tag.into(),
            nats: nats.to_vec(),
        };
        let inet = lab.add("i");
        ip(&["-n", &inet, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &inet, "addr", "add", "192.0.2.1/24", "dev", "br0"]);
        ip(&["-n", &inet, "link", "set", "br0", "up"]);
        for (i, nat) in nats.iter().enumerate() {
            lab.add_site(&inet, i + 1, *nat);
        }
        lab
    }

    fn add(&mut self, short: &str) -> String {
        self.spaces.add(&format!("{}{short}", self.tag))
    }

    fn add_site(&mut self, inet: &str, site: usize, nat: Nat) {
        let r = self.add(&format!("r{site}"));
        let h = self.add(&format!("h{site}"));
        let w = format!("w{site}");
        let wan_ip = format!("192.0.2.{}/24", 10 + site);
        let lan_ip = format!("100.64.{site}.1/24");
        let host_ip = format!("100.64.{site}.2/24");
        let gw = format!("100.64.{site}.1");
        ip(&[
            "-n", inet, "link", "add", &w, "type", "veth", "peer", "name", "wan", "netns", &r,
        ]);
        ip(&["-n", inet, "link", "set", &w, "master", "br0", "up"]);
        ip(&["-n", &r, "addr", "add", &wan_ip, "dev", "wan"]);
        ip(&["-n", &r, "link", "set", "wan", "up"]);
        ip(&[
            "-n", &r, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", &h,
        ]);
        ip(&["-n", &r, "addr", "add", &lan_ip, "dev", "lan"]);
        ip(&["-n", &r, "link", "set", "lan", "up"]);
        ip(&["-n", &h, "addr", "add", &host_ip, "dev", "eth0"]);
        ip(&["-n", &h, "link", "set", "eth0", "up"]);
        ip(&["-n", &h, "route", "add", "default", "via", &gw]);
        must_in(&r, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        let mut masq = vec![
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            "wan",
            "-j",
            "MASQUERADE",
        ];
        if nat == Nat::Symmetric {
            masq.push("--random-fully");
        }
        must_in(&r, "iptables", &masq);
        // Unsolicited packets to the router are dropped, as home routers do. Besides realism
        // this matters: accepted, such a packet would leave a conntrack entry whose reply tuple
        // clashes with the peer's own outgoing flow to the same address, and MASQUERADE would
        // then pick another port for it, breaking the hole punch.
        must_in(
            &r,
            "iptables",
            &[
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
        if nat == Nat::UdpBlocked {
            must_in(
                &r,
                "iptables",
                &["-A", "FORWARD", "-p", "udp", "-j", "DROP"],
            );
        }
    }

    /// The full name of one of this lab's namespaces: "i" (the Internet), "rN", "hN".
    pub fn ns(&self, short: &str) -> String {
        self.spaces.name(&format!("{}{short}", self.tag))
    }

    /// The "Internet" namespace, where the rendezvous runs on [`INET_IP`].
    pub fn inet(&self) -> String {
        self.ns("i")
    }

    /// The namespace of site `site`'s player (1-based).
    pub fn host(&self, site: usize) -> String {
        self.ns(&format!("h{site}"))
    }

    /// The namespace of site `site`'s router (1-based).
    pub fn router(&self, site: usize) -> String {
        self.ns(&format!("r{site}"))
    }

    /// The NAT of site `site` (1-based).
    pub fn nat(&self, site: usize) -> Nat {
        self.nats[site - 1]
    }

    /// The address of site `site`'s player behind its NAT.
    pub fn host_ip(site: usize) -> Ipv4Addr {
        Ipv4Addr::new(100, 64, site as u8, 2)
    }

    /// The public (wan) address of site `site`'s router.
    pub fn wan_ip(site: usize) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, 10 + site as u8)
    }

    /// A command that runs `program` inside namespace `ns` (`ip netns exec NS program`; ip execs
    /// the program, so killing the child kills the program).
    pub fn command(&self, ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        command_in(ns, program)
    }

    /// Forwards UDP `port` of site `site`'s wan address to the same port of its player, as a
    /// user forwarding a port on a home router would (for anchors that need an inbound path).
    pub fn forward_udp(&self, site: usize, port: u16) {
        let to = format!("{}:{port}", Lab::host_ip(site));
        must_in(
            &self.router(site),
            "iptables",
            &[
                "-t",
                "nat",
                "-A",
                "PREROUTING",
                "-i",
                "wan",
                "-p",
                "udp",
                "--dport",
                &port.to_string(),
                "-j",
                "DNAT",
                "--to-destination",
                &to,
            ],
        );
    }
}

/// Runs `f` on a new thread that first enters namespace `ns` (setns on that thread only), so
/// every socket `f` opens lives there. Make any async runtime inside `f`, after the switch, and
/// single-threaded: worker threads of a runtime made elsewhere are in another namespace.
pub fn in_ns<T: Send + 'static>(
    ns: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name(format!("netns {ns}"))
        .spawn(move || {
            let file = std::fs::File::open(format!("/var/run/netns/{ns}"))
                .unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
            // SAFETY: setns on this thread only, with a valid namespace fd we hold open.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns({ns}): {}", std::io::Error::last_os_error());
            f()
        })
        .expect("spawn a lab thread")
}
