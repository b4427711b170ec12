//! Real guests in a real kernel: C programs compiled to wasm32-wasi, run in wasmtime, exercising
//! sockets, the host relay, poll, files, EFAULT, traps, kills and the memory cap.

mod common;

use doomlink_kernel::*;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn kernel_with(host: Arc<dyn HostIO>) -> (Kernel, GuestModule) {
    let k = Kernel::new(KernelConfig::default(), host).unwrap();
    let m = k.load(&common::guest("ktest")).unwrap();
    (k, m)
}

fn run(k: &Kernel, m: &GuestModule, args: &[&str], vfs: Vfs) -> (ExitStatus, String) {
    let out = CaptureSink::new();
    let mut spec = ProcessSpec::new(std::iter::once("ktest").chain(args.iter().copied()));
    spec.stdout = Arc::new(out.clone());
    spec.vfs = vfs;
    let h = k.spawn(m, spec).unwrap();
    let st = h
        .wait_timeout(Duration::from_secs(30))
        .expect("guest finished");
    (st, out.text())
}

#[test]
fn sendto_non_loopback_with_default_host_is_enetunreach() {
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let (st, out) = run(&k, &m, &["unreach"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
    assert!(out.contains("ENETUNREACH"));
}

#[test]
fn two_processes_exchange_datagrams_over_loopback() {
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let server_out = CaptureSink::new();
    let mut spec = ProcessSpec::new(["ktest", "echo", "7100", "50"]);
    spec.stdout = Arc::new(server_out.clone());
    let server = k.spawn(&m, spec).unwrap();
    let (st, out) = run(
        &k,
        &m,
        &["ping", "127.0.0.1", "7100", "50", "64"],
        Vfs::new(),
    );
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
    assert!(out.contains("rtt_ns p50="), "{out}");
    assert_eq!(
        server.wait_timeout(Duration::from_secs(10)),
        Some(ExitStatus::Exited(0))
    );
    assert!(server_out.text().contains("echoed 50"));
}

#[test]
fn blocked_recvfrom_is_woken_by_inject() {
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let out = CaptureSink::new();
    let mut spec = ProcessSpec::new(["ktest", "recv-block", "2342"]);
    spec.stdout = Arc::new(out.clone());
    let h = k.spawn(&m, spec).unwrap();
    let t = Instant::now();
    while !out.text().contains("ready") {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        h.try_status().is_none(),
        "the guest is blocked, not finished"
    );
    k.inject_datagram(h.pid(), 2342, Ipv4Addr::new(10, 77, 0, 2), 40001, b"hello")
        .unwrap();
    assert_eq!(
        h.wait_timeout(Duration::from_secs(5)),
        Some(ExitStatus::Exited(0))
    );
    assert!(
        out.text().contains("got 'hello' from 10.77.0.2:40001"),
        "{}",
        out.text()
    );
}

#[test]
fn test_inject_datagram_unknown_pid() {
    let (k, _) = kernel_with(Arc::new(NoNetwork));
    assert_eq!(
        k.inject_datagram(4242, 2342, Ipv4Addr::LOCALHOST, 1, b"x"),
        Err(Errno::Srch)
    );
}

#[test]
fn guest_sends_reach_the_host_relay() {
    /// (source port, destination address, destination port, payload).
    type Sent = (u16, Ipv4Addr, u16, Vec<u8>);
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Sent>>, Mutex<Vec<u16>>);
    impl HostIO for Recorder {
        fn send_dgram(
            &self,
            _: Pid,
            sp: u16,
            ip: Ipv4Addr,
            dp: u16,
            d: &[u8],
        ) -> Result<(), Errno> {
            self.0.lock().unwrap().push((sp, ip, dp, d.to_vec()));
            Err(Errno::NetUnreach)
        }
        fn on_bind(&self, _: Pid, port: u16) {
            self.1.lock().unwrap().push(port);
        }
    }
    let rec = Arc::new(Recorder::default());
    let (k, m) = kernel_with(rec.clone());
    let (st, _) = run(&k, &m, &["unreach"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(0));
    let sent = rec.0.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].1, sent[0].2, sent[0].3.as_slice()),
        (Ipv4Addr::new(10, 0, 0, 1), 1234, &b"x"[..])
    );
    assert_eq!(
        rec.1.lock().unwrap().as_slice(),
        &[sent[0].0],
        "the host heard of the bind"
    );
}

#[test]
fn a_host_panic_under_a_guest_call_ends_that_guest_as_a_trap() {
    struct Panics;
    impl HostIO for Panics {
        fn send_dgram(&self, _: Pid, _: u16, _: Ipv4Addr, _: u16, _: &[u8]) -> Result<(), Errno> {
            panic!("the relay broke");
        }
    }
    let (k, m) = kernel_with(Arc::new(Panics));
    let (st, _) = run(&k, &m, &["unreach"], Vfs::new());
    match st {
        ExitStatus::Trapped(why) => assert!(why.contains("the relay broke"), "{why}"),
        other => panic!("not a trap: {other:?}"),
    }
    // The kernel goes on: another guest runs to its end.
    let (st, out) = run(&k, &m, &["poll"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
}

#[test]
fn poll_times_out_wakes_and_nonblocking_works() {
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let (st, out) = run(&k, &m, &["poll"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
}

#[test]
fn files_in_the_sandbox_and_refused_escapes() {
    let dir = std::env::temp_dir().join(format!("dl-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rw")).unwrap();
    std::fs::create_dir_all(dir.join("ro")).unwrap();
    std::fs::write(dir.join("ro/hello.txt"), "hello").unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("rw/escape")).unwrap();
    let mut vfs = Vfs::new();
    vfs.mount(Mount::ReadWriteDir {
        guest: "/data".into(),
        host: dir.join("rw"),
    });
    vfs.mount(Mount::ReadOnlyDir {
        guest: "/ro".into(),
        host: dir.join("ro"),
    });
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let (st, out) = run(&k, &m, &["files"], vfs);
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
    assert!(!dir.join("mine").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same guest, its /data a tree held in memory (as in a browser) and its read-only file a
/// page's bytes: the same answers as from host directories, and a cap the guest cannot pass.
#[test]
fn files_in_a_tree_held_in_memory_and_its_cap() {
    let fs = MemFs::new(1 << 20);
    let mut vfs = Vfs::new();
    vfs.mount(Mount::MemoryDir {
        guest: "/data".into(),
        fs: fs.clone(),
    });
    vfs.mount(Mount::Bytes {
        guest: "/ro/hello.txt".into(),
        data: Arc::from(&b"hello"[..]),
    });
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let (st, out) = run(&k, &m, &["files"], vfs.clone());
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
    assert!(out.contains("files ok"), "{out}");
    // The guest removed what it made.
    assert_eq!(fs.list(&[]).unwrap(), vec![]);
    let (st, out) = run(&k, &m, &["fill", "/data/fill"], vfs);
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
    assert_eq!(out, "wrote 1048576 bytes, then ENOSPC\n");
    // What the guest wrote is the host's to read.
    let fill = fs.read(&["fill".to_string()]).unwrap();
    assert_eq!((fill.len(), fill[0]), (1 << 20, b'x'));
    assert_eq!(fs.used(), 1 << 20);
}

#[test]
fn bad_pointers_are_efault() {
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let (st, out) = run(&k, &m, &["efault"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
}

#[test]
fn a_trap_is_reported_and_the_host_lives_on() {
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let (st, out) = run(&k, &m, &["trap"], Vfs::new());
    match &st {
        ExitStatus::Trapped(msg) => assert!(msg.contains("unreachable"), "{msg}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(out.contains("about to trap"));
    // The kernel still runs guests afterwards.
    let (st, _) = run(&k, &m, &["exit", "3"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(3));
}

#[test]
fn a_spinning_guest_is_killed_from_another_thread() {
    let (k, m) = kernel_with(Arc::new(NoNetwork));
    let h = k.spawn(&m, ProcessSpec::new(["ktest", "spin"])).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(h.try_status().is_none());
    h.kill();
    assert_eq!(
        h.wait_timeout(Duration::from_secs(5)),
        Some(ExitStatus::Killed)
    );
    // A guest blocked in recvfrom is killed too.
    let h = k
        .spawn(&m, ProcessSpec::new(["ktest", "recv-block", "2400"]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    k.kill(h.pid()).unwrap();
    assert_eq!(
        h.wait_timeout(Duration::from_secs(5)),
        Some(ExitStatus::Killed)
    );
    assert_eq!(
        k.inject_datagram(h.pid(), 2400, Ipv4Addr::LOCALHOST, 1, b"x"),
        Err(Errno::Srch)
    );
}

#[test]
fn the_memory_cap_holds() {
    let k = Kernel::new(
        KernelConfig {
            memory_limit: 32 << 20,
            ..Default::default()
        },
        Arc::new(NoNetwork),
    )
    .unwrap();
    let m = k.load(&common::guest("ktest")).unwrap();
    let (st, out) = run(&k, &m, &["memhog"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(0), "{out}");
    let mib: usize = out
        .split_whitespace()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .expect(&out);
    assert!(mib < 32, "{out}");
}

#[test]
fn a_missing_import_is_named_at_load() {
    let wasm = wat::parse_str(
        r#"(module (import "env" "mystery" (func)) (memory (export "memory") 1) (func (export "_start")))"#,
    )
    .unwrap();
    let k = Kernel::new(KernelConfig::default(), Arc::new(NoNetwork)).unwrap();
    match k.load(&wasm) {
        Err(KernelError::MissingImport(name)) => assert_eq!(name, "env::mystery"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("loaded a module with an unknown import"),
    }
    assert!(matches!(
        k.load(b"not wasm"),
        Err(KernelError::InvalidModule(_))
    ));
}

#[test]
fn compiled_modules_are_cached() {
    let dir = std::env::temp_dir().join(format!("dl-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let k = Kernel::new(
        KernelConfig {
            cache_dir: Some(dir.clone()),
            ..Default::default()
        },
        Arc::new(NoNetwork),
    )
    .unwrap();
    let wasm = common::guest("ktest");
    k.load(&wasm).unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1, "one .cwasm written");
    let m = k.load(&wasm).unwrap();
    let (st, _) = run(&k, &m, &["exit", "0"], Vfs::new());
    assert_eq!(st, ExitStatus::Exited(0));
    let _ = std::fs::remove_dir_all(&dir);
}
