//! Chocolate Doom in the kernel, through the real `doomlink` binary: demos play back to the same
//! gametic counts as native Chocolate Doom 3.0.1, and a bad WAD is one clear line.

use doomlink_e2e::*;
use std::process::Command;
use std::time::Duration;

fn timedemo(iwad: &str, demo: &str) -> String {
    let data = Scratch::new("timedemo");
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["run", "--headless", "--iwad", iwad, "--data-dir"])
            .arg(data.path())
            .args(["--", "-timedemo", demo]),
        Duration::from_secs(300),
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.starts_with("timed "))
        .unwrap_or_else(|| panic!("no timedemo result:\n{text}"))
        .to_string()
}

/// The counts native Chocolate Doom 3.0.1 prints on this machine for the same demos.
#[test]
fn timedemos_match_native_gametic_counts() {
    for (iwad, demo, tics) in [
        (FREEDOOM1, "demo1", 1531),
        (FREEDOOM1, "demo2", 2763),
        (FREEDOOM1, "demo3", 1241),
        (FREEDOOM2, "demo1", 1415),
    ] {
        let line = timedemo(iwad, demo);
        assert!(
            line.starts_with(&format!("timed {tics} gametics")),
            "{iwad} {demo}: {line}"
        );
    }
}

#[test]
fn a_bad_wad_is_one_line_naming_the_file() {
    let dir = Scratch::new("badwad");
    let bad = dir.path().join("broken.wad");
    std::fs::write(&bad, b"this is not a wad at all").unwrap();
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["run", "--headless", "--iwad"])
            .arg(&bad),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("broken.wad") && err.contains("not a WAD"),
        "{err}"
    );
}

/// An engine error (I_Error) ends the guest with a non-zero status and its message reaches the
/// caller; the host does not panic.
#[test]
fn an_engine_error_reaches_the_caller() {
    let data = Scratch::new("ierror");
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["run", "--headless", "--iwad", FREEDOOM1, "--data-dir"])
            .arg(data.path())
            .args(["--", "-playdemo", "nodemo"]),
        Duration::from_secs(120),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.to_lowercase().contains("nodemo"),
        "the engine's message names the demo: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
