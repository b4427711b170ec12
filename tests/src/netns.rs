//! Network namespaces a test makes for itself with `ip netns` (iproute2): named after a prefix
//! and the test process's pid, so that a later run removes those a killed run left behind, and
//! deleted when dropped, with everything in them (veths, bridges, addresses, routes, iptables
//! rules), whether the test passed or panicked. Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN):
//! without it a test fails, loudly. The NAT lab (`natlab`), LAN discovery and the blocked-UDP
//! test build on it.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `program args…` to its end; panics if it cannot start.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}`: {e} (scripts/setup installs iproute2 and iptables)")
        })
}

/// [`run`], and panics with its stderr if it fails.
pub fn must(program: &str, args: &[&str]) {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}\nNetwork namespaces need root (or CAP_NET_ADMIN + CAP_SYS_ADMIN).",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// `program args…` inside namespace `ns`; panics if it fails.
pub fn must_in(ns: &str, program: &str, args: &[&str]) {
    let mut v = vec!["netns", "exec", ns, program];
    v.extend_from_slice(args);
    must("ip", &v);
}

/// `program` to be run inside namespace `ns`.
pub fn command_in(ns: &str, program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program);
    c
}

/// The namespaces of one test, deleted in reverse order when dropped.
pub struct Namespaces {
    prefix: &'static str,
    names: Vec<String>,
}

impl Namespaces {
    /// None yet; their names will start with `prefix` (a few letters: namespace and interface
    /// names are short) and this process's pid. Namespaces of `prefix` whose process is gone
    /// are removed first.
    pub fn new(prefix: &'static str) -> Namespaces {
        remove_stale(prefix);
        Namespaces {
            prefix,
            names: Vec::new(),
        }
    }

    /// The full name of this test's namespace `short`.
    pub fn name(&self, short: &str) -> String {
        format!("{}{}{short}", self.prefix, std::process::id())
    }

    /// Creates namespace `short` with its loopback up and returns its full name. One of that
    /// name left over (a run with the same pid) is replaced.
    pub fn add(&mut self, short: &str) -> String {
        let name = self.name(short);
        let _ = run("ip", &["netns", "del", &name]);
        must("ip", &["netns", "add", &name]);
        self.names.push(name.clone());
        must("ip", &["-n", &name, "link", "set", "lo", "up"]);
        name
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in self.names.iter().rev() {
            let _ = run("ip", &["netns", "del", n]);
        }
    }
}

/// Removes the namespaces of `prefix` left by an earlier run that was killed before its guard
/// ran (the pid in the name is gone).
fn remove_stale(prefix: &str) {
    let list = run("ip", &["netns", "list"]);
    assert!(
        list.status.success(),
        "`ip netns list` failed: {}",
        String::from_utf8_lossy(&list.stderr).trim()
    );
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let pid: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// Moves the calling thread (and every process and thread it starts from now on) into a new
/// network namespace with nothing but its loopback, up: whatever it runs reaches 127.0.0.1 and
/// nothing else. For native Chocolate Doom 3.1, whose client asks the public master server for
/// a hole punch when a server is slow to answer: here that request cannot leave. Build or
/// install what the test needs first (nothing can be fetched from inside).
pub fn loopback_only_network_for_this_thread() {
    // SAFETY: unshare takes no pointers; CLONE_NEWNET changes only this thread's namespace.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "unshare(CLONE_NEWNET): {} (network namespaces need root or CAP_SYS_ADMIN)",
        std::io::Error::last_os_error()
    );
    must("ip", &["link", "set", "lo", "up"]);
}

/// The address the calling thread's private network ([`private_network_for_this_thread`]) gives
/// its one interface.
pub const PRIVATE_HOST_IP: &str = "10.200.0.1";

/// Moves the calling thread (and every process and thread it starts from now on) into a new
/// network namespace of its own: loopback, and a veth pair whose `v0` holds
/// [`PRIVATE_HOST_IP`]/24 with the default route (what leaves by it ends at `v1`, in the same
/// namespace, and goes nowhere). The namespace ends with the thread and what it started.
///
/// For browsers: Chromium gathers no WebRTC candidate on loopback, nor in a namespace without a
/// default route, so a browser test's peers meet on `v0`'s address instead, and nothing they
/// send can leave the test. The thread's own sockets (WebDriver, HTTP) are in it too.
pub fn private_network_for_this_thread() {
    loopback_only_network_for_this_thread();
    must(
        "ip",
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
    );
    must(
        "ip",
        &["addr", "add", &format!("{PRIVATE_HOST_IP}/24"), "dev", "v0"],
    );
    must("ip", &["link", "set", "v0", "up"]);
    must("ip", &["link", "set", "v1", "up"]);
    must("ip", &["route", "add", "default", "dev", "v0"]);
}
