//! doomlink's kernel in a real browser: Debian's chromium, headless, driven over WebDriver,
//! everything on 127.0.0.1. The page instantiates the kernel's C test guest with the browser's
//! own WebAssembly engine; the kernel, compiled for wasm32-unknown-unknown (doomlink-web), serves
//! its imports: the same syscalls, fd table and sockets as the desktop's wasmtime runner.

// The kernel's own helper that compiles its C test guests (clang-16, the guest libc).
#[path = "../../kernel/tests/common/mod.rs"]
mod guests;

use doomlink_e2e::browser::{web_bundle, Browser, StaticServer};
use doomlink_e2e::Scratch;
use serde_json::json;
use std::time::Duration;

/// The page bundle with the kernel's C test guest beside it, served, and a browser on its page.
fn ktest_page() -> (Scratch, StaticServer, Browser) {
    let bundle = web_bundle();
    std::fs::write(bundle.path().join("ktest.wasm"), guests::guest("ktest")).unwrap();
    let server = StaticServer::start(bundle.path());
    let browser = Browser::start();
    browser.open(&server.url("index.html"));
    browser.wait_for("window.ready", Duration::from_secs(30));
    (bundle, server, browser)
}

#[test]
fn a_c_guest_runs_in_chromium_with_its_imports_served_by_the_kernel() {
    let (_bundle, _server, browser) = ktest_page();
    // `files`: guest paths and their text, mounted read-only from the page's memory.
    let run_with = |args: &[&str], files: serde_json::Value| {
        browser.execute_async(
            "const done = arguments[arguments.length - 1];\
             const files = Object.fromEntries(Object.entries(arguments[1])\
               .map(([p, text]) => [p, new TextEncoder().encode(text)]));\
             window.runGuest('ktest.wasm', arguments[0], files)\
               .then(done, (e) => done({ error: String(e) }));",
            json!([args, files]),
        )
    };
    let run = |args: &[&str]| run_with(args, json!({}));
    // Sockets, and the host's answer to a datagram for the network it does not have.
    assert_eq!(
        run(&["ktest", "unreach"]),
        json!({ "status": 0, "output": "sendto: ENETUNREACH\n" })
    );
    // Pointers outside the guest's memory: EFAULT from every call, and the guest goes on.
    assert_eq!(
        run(&["ktest", "efault"]),
        json!({ "status": 0, "output": "efault ok\n" })
    );
    // Exit statuses, and argv: an unknown mode is the guest's own usage error.
    assert_eq!(
        run(&["ktest", "exit", "3"]),
        json!({ "status": 3, "output": "" })
    );
    assert_eq!(
        run(&["ktest", "nosuch"]),
        json!({ "status": 64, "output": "unknown mode nosuch\n" })
    );
    // A file the page holds (as it will hold the IWAD it fetched): stat, reads, seek, and
    // refused writes.
    assert_eq!(
        run_with(
            &["ktest", "cat", "/data/hello.txt"],
            json!({ "/data/hello.txt": "hello from the page" })
        ),
        json!({ "status": 0, "output": "19 bytes: hello from the page (ends 'page')\n" })
    );
}

/// The same guest in a Web Worker, its network the page: each datagram it sends beyond 127/8
/// reaches the page, which answers as an echo server would; the answer comes back through the
/// shared ring and wakes the guest's blocking recvfrom (Atomics.wait). 200 round trips.
#[test]
fn a_guest_in_a_worker_exchanges_datagrams_with_the_page() {
    let (_bundle, _server, browser) = ktest_page();
    let result = browser.execute_async(
        "const done = arguments[arguments.length - 1];\
         const echo = (d, player) => player.deliver(d.dstIp, d.dstPort, d.srcPort, d.data);\
         const player = window.startDoom({ wasm: 'ktest.wasm', args: arguments[0], network: echo });\
         player.exited.then((r) => done({ status: r.status, output: r.output }),\
                            (e) => done({ failure: String(e) }));",
        json!([["ktest", "ping", "10.0.0.2", "7777", "200", "64"]]),
    );
    assert_eq!(result["status"], json!(0), "{result}");
    let output = result["output"].as_str().unwrap_or_default();
    assert!(
        output.starts_with("rtt_ns p50=") && output.contains("n=199"),
        "{output}"
    );
    println!("guest in a worker ↔ page, 64-byte round trips: {output}");
}
