//! `doomlink serve` with TLS, through the real `doomlink-server` binary on 127.0.0.1, with a CA
//! and certificates made in the test:
//!
//! - a missing certificate file stops the start with one line naming it;
//! - `/health` over https, checked against the test CA; `room create --on https://…
//!   --ca-file` makes a dedicated room whose link says TLS (the room registers at its own
//!   service over wss, trusting the service's certificate);
//! - a real SIGHUP after the files are replaced by a certificate from another CA: new
//!   connections get it, and rooms are still made; a SIGHUP with a broken file logs one line
//!   naming it and the certificate in use stays.

use doomlink_e2e::*;
use doomlink_net::testing::TestCa;
use doomlink_net::tls_client::{self, ClientTls, ConnectError};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "test-token-0123456789";

/// GET `path` over https from 127.0.0.1:`port`, trusting `trust`: the answer's text.
fn https_get(port: u16, path: &str, trust: &ClientTls) -> Result<String, ConnectError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let addr = format!("127.0.0.1:{port}");
        let mut io = tls_client::connect(&addr, Some(trust), Duration::from_secs(5)).await?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        io.write_all(req.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), io.read_to_end(&mut answer)).await;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    })
}

/// `room create` on the service over https, trusting `ca`: its output.
fn room_create(port: u16, ca: &Path) -> std::process::Output {
    run_with_deadline(
        Command::new(doomlink_server())
            .args([
                "room",
                "create",
                "--on",
                &format!("https://127.0.0.1:{port}"),
            ])
            .arg("--ca-file")
            .arg(ca)
            .args(["--players", "2"])
            .env("DOOMLINK_ADMIN_TOKEN", TOKEN),
        Duration::from_secs(120),
    )
}

fn assert_tls_link(out: &std::process::Output, log: &Path) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim().contains("tls=1"),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        read_log(log)
    );
}

#[test]
fn serve_with_tls_reloads_its_certificate_on_sighup() {
    let dir = Scratch::new("servetls");
    let d = dir.path();
    let (a, b) = (TestCa::new(d, "a"), TestCa::new(d, "b"));
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));

    // No certificate yet: the service does not start, and names the file.
    let (mut cmd, _) = serve_command(&doomlink_server(), d);
    let out = run_with_deadline(
        cmd.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "{err}");
    assert!(
        line.contains(&format!("tls_cert {}", cert.display())),
        "{err}"
    );

    a.issue(&cert, &key);
    let log = d.join("serve.log");
    let (mut cmd, port) = serve_command(&doomlink_server(), d);
    cmd.arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--rtc-bind", "127.0.0.1", "--iwad", FREEDOOM1])
        .env("DOOMLINK_ADMIN_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&log));
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    serve_rooms(&mut child.0, 0, &log);
    let health = https_get(port, "/health", &a.trust()).expect("CA a is trusted");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(matches!(
        https_get(port, "/health", &b.trust()),
        Err(ConnectError::Untrusted { .. })
    ));
    assert_tls_link(&room_create(port, &a.ca_file), &log);

    let hup = || {
        let st = Command::new("kill")
            .args(["-HUP", &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    };
    // A certificate from CA b replaces the files; SIGHUP, and new connections get it.
    b.issue(&cert, &key);
    hup();
    poll_until(
        Duration::from_millis(100),
        Duration::from_secs(10),
        "the new certificate served",
        || https_get(port, "/health", &b.trust()).is_ok(),
        || read_log(&log),
    );
    assert!(matches!(
        https_get(port, "/health", &a.trust()),
        Err(ConnectError::Untrusted { .. })
    ));
    // The dedicated rooms trust the service's certificate as it is now.
    assert_tls_link(&room_create(port, &b.ca_file), &log);

    // A broken certificate file: one line naming it, and the certificate in use stays.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    hup();
    poll_until(
        Duration::from_millis(100),
        Duration::from_secs(10),
        "the failed reload logged",
        || read_log(&log).contains("TLS certificate not reloaded"),
        || read_log(&log),
    );
    let text = read_log(&log);
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("TLS certificate not reloaded"))
        .collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].contains(&cert.display().to_string()), "{text}");
    let health = https_get(port, "/health", &b.trust()).expect("the old certificate stays");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // The key is never in the log.
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_line = key_text.lines().nth(1).unwrap();
    assert!(!text.contains(key_line));

    let st = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    wait_with_deadline(&mut child.0, Duration::from_secs(60), "serve exits", || {
        read_log(&log)
    });
}
