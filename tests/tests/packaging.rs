//! The Debian packages, for real: `packaging/build-deb` builds both (from the test build's
//! binaries, see DOOMLINK_DEB_BINARY there), `dpkg -i` installs them on this machine (CI runs as
//! root) and the test removes them at the end, even on failure. Then, as the installed system
//! sees them: the files are where they belong; the desktop package's entry validates, `xdg-mime`
//! names doomlink as the `doomlink://` handler, and under Xvfb `xdg-open doomlink://…` starts the
//! app on its join screen — a second link goes to the same window (one instance), not to a new
//! one; the server package depends on no GL, X11, Wayland or ALSA library (neither in its
//! Depends nor in what its binary links), `systemd-analyze verify` accepts its unit, and the
//! shipped config passes `doomlink-server serve --check-config`.
//!
//! Needs root, dpkg, xdg-utils, desktop-file-utils, systemd (for systemd-analyze), Xvfb,
//! xdotool and ImageMagick: scripts/setup installs them.

use doomlink_e2e::xvfb::Xvfb;
use doomlink_e2e::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Removes the packages when dropped, so a failed test leaves no doomlink installed.
struct Installed;
impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["--purge", "doomlink", "doomlink-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every process whose executable is the installed /usr/bin/doomlink, with its command line.
fn installed_doomlinks() -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let exe = std::fs::read_link(e.path().join("exe")).unwrap_or_default();
        if exe == Path::new("/usr/bin/doomlink") {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((pid, cmdline));
        }
    }
    found
}

/// Stops every installed doomlink this test started (xdg-open does not wait for them).
struct StopInstalled;
impl Drop for StopInstalled {
    fn drop(&mut self) {
        for (pid, _) in installed_doomlinks() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// A well-formed invite link to a rendezvous where nothing listens: the window opens its join
/// screen for it (and then says it cannot reach the rendezvous).
fn link(room: &str) -> String {
    let fp = doomlink_net::identity::Fingerprint([7u8; 32]).to_base64url();
    format!("doomlink://join/127.0.0.1:9/{room}?fp={fp}#abcdefghijklmnopqrstuv")
}

#[test]
fn the_package_installs_handles_doomlink_links_and_keeps_one_window() {
    // SAFETY-free uid check: /proc/self belongs to our effective user.
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(uid, 0, "installing a package needs root (CI runs as root)");
    let scratch = Scratch::new("packaging");
    let web = browser::web_bundle();

    // Build: the last two lines of build-deb's output are the packages, the desktop one first.
    let out = ok(Command::new(repo_root().join("packaging/build-deb"))
        .env("DOOMLINK_DEB_BINARY", doomlink())
        .env("DOOMLINK_DEB_SERVER_BINARY", doomlink_server())
        .env("DOOMLINK_DEB_WEB_DIR", web.path())
        .env("CARGO_TARGET_DIR", scratch.path().join("target")));
    let paths: Vec<&str> = out.lines().rev().take(2).collect();
    let (deb, server_deb) = (paths[1].to_string(), paths[0].to_string());
    for p in [&deb, &server_deb] {
        assert!(p.ends_with(".deb") && Path::new(p).exists(), "{out}");
    }
    assert!(server_deb.contains("doomlink-server_"), "{server_deb}");

    // Their files and fields, before installing.
    let listing = ok(Command::new("dpkg-deb").args(["-c", &deb]));
    for f in [
        "./usr/bin/doomlink",
        "./usr/share/applications/doomlink.desktop",
        "./usr/share/icons/hicolor/scalable/apps/doomlink.svg",
        "./usr/share/icons/hicolor/256x256/apps/doomlink.png",
        "./usr/share/doc/doomlink/copyright",
        // The browser player, which the app's `doomlink serve` serves from beside itself.
        "./usr/share/doomlink/web/play.html",
        "./usr/share/doomlink/web/doomlink_web_bg.wasm",
        "./usr/share/doomlink/web/doomlink_web_screens_bg.wasm",
    ] {
        assert!(listing.contains(f), "{f} is not in the package:\n{listing}");
    }
    let server_listing = ok(Command::new("dpkg-deb").args(["-c", &server_deb]));
    for f in [
        "./usr/bin/doomlink-server",
        "./lib/systemd/system/doomlink-serve.service",
        "./etc/doomlink/serve.toml",
        "./usr/share/doc/doomlink-server/copyright",
        // The browser player, which the shipped serve.toml's web_dir names.
        "./usr/share/doomlink-server/web/play.html",
        "./usr/share/doomlink-server/web/net.js",
        "./usr/share/doomlink-server/web/doomlink_web_bg.wasm",
        "./usr/share/doomlink-server/web/doomlink_web_screens_bg.wasm",
    ] {
        assert!(
            server_listing.contains(f),
            "{f} is not in the server package:\n{server_listing}"
        );
    }
    // A server installs no display or sound libraries: neither asked for by the package nor
    // linked by its binary.
    let server_fields = ok(Command::new("dpkg-deb").args(["-f", &server_deb, "Depends"]));
    let needed = ok(Command::new("objdump").args(["-p"]).arg(doomlink_server()));
    for gui in [
        "libgl",
        "libegl",
        "libx11",
        "libxkb",
        "libxcursor",
        "libxrandr",
        "libxi",
        "libwayland",
        "libasound",
    ] {
        assert!(
            !server_fields.to_lowercase().contains(gui),
            "server Depends: {server_fields}"
        );
        assert!(
            !needed
                .lines()
                .any(|l| l.trim_start().starts_with("NEEDED") && l.to_lowercase().contains(gui)),
            "doomlink-server links {gui}:\n{needed}"
        );
    }
    // The notices of the crates linked in ride along (wasmtime's LICENSE as one of them).
    assert!(
        listing
            .lines()
            .any(|l| l.contains("./usr/share/doc/doomlink/crates/wasmtime-")
                && l.trim_end().ends_with("/LICENSE")),
        "no crate notices in the package:\n{listing}"
    );
    let fields = ok(Command::new("dpkg-deb").args(["-f", &deb, "Depends", "Recommends"]));
    assert!(
        fields.contains("libasound2") && fields.contains("libgl1"),
        "{fields}"
    );
    assert!(fields.contains("freedoom"), "{fields}");

    // Install it for real.
    let _installed = Installed;
    let _stop = StopInstalled;
    ok(Command::new("dpkg").args(["-i", &deb, &server_deb]));
    ok(Command::new("desktop-file-validate").arg("/usr/share/applications/doomlink.desktop"));
    // The copyright file names what the binary is made of: ours, Chocolate Doom, every crate.
    let copyright = std::fs::read_to_string("/usr/share/doc/doomlink/copyright").unwrap();
    for needle in [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
        "License: GPL-3.0-or-later",
        "Simon Howard",
        "License: GPL-2.0-or-later",
        "Files: rust-crate/wasmtime-",
        "Files: rust-crate/rtc-sctp-0.21.1",
        "Files: rust-crate/wasm-bindgen-0.2.",
    ] {
        assert!(
            copyright.contains(needle),
            "{needle:?} is not in the copyright file"
        );
    }
    assert!(
        copyright.matches("Files: rust-crate/").count() > 100,
        "too few crates in the copyright file"
    );
    assert!(
        !copyright.contains("License: unknown"),
        "a crate without a license in the copyright file"
    );
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let handler = ok(Command::new("xdg-mime")
        .args(["query", "default", "x-scheme-handler/doomlink"])
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME"));
    assert_eq!(handler.trim(), "doomlink.desktop");
    let verify = Command::new("systemd-analyze")
        .args(["verify", "/lib/systemd/system/doomlink-serve.service"])
        .output()
        .unwrap();
    let verify_err = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && !verify_err.contains("doomlink-serve"),
        "systemd-analyze verify: {verify_err}"
    );
    ok(Command::new("/usr/bin/doomlink-server").args([
        "serve",
        "--config",
        "/etc/doomlink/serve.toml",
        "--check-config",
    ]));
    // The installed app's `doomlink serve`, told nothing about it, serves the browser player
    // the package put beside it.
    {
        let (mut cmd, port) = serve_command(Path::new("/usr/bin/doomlink"), scratch.path());
        let _serve = KillOnDrop(
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let page = loop {
            let page = http_get(port, "/play/");
            if !page.is_empty() || Instant::now() > deadline {
                break page;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(
            page.contains("<title>doomlink — play in the browser</title>"),
            "the installed doomlink serve has no browser player: {page:?}"
        );
    }
    // The admin token: made at install, root's alone; the world-readable config holds none.
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let m = std::fs::metadata("/etc/doomlink/admin-token").unwrap();
        assert_eq!((m.permissions().mode() & 0o777, m.uid()), (0o600, 0));
        let token = std::fs::read_to_string("/etc/doomlink/admin-token").unwrap();
        assert!(token.trim().len() >= 16, "{token:?}");
        let config = std::fs::read_to_string("/etc/doomlink/serve.toml").unwrap();
        assert!(!config.contains(token.trim()));
        assert!(
            !config
                .lines()
                .any(|l| l.trim_start().starts_with("admin_token")),
            "serve.toml sets a token"
        );
    }
    let server_copyright =
        std::fs::read_to_string("/usr/share/doc/doomlink-server/copyright").unwrap();
    assert!(server_copyright.contains("Files: rust-crate/wasmtime-"));
    assert!(
        !server_copyright.contains("rust-crate/eframe-"),
        "the server's copyright names a GUI crate"
    );

    // A link opened as a desktop does it: xdg-open → the scheme handler → the app.
    let x = Xvfb::start();
    let sock = scratch.path().join("instance.sock");
    let stderr_path = scratch.path().join("first.stderr");
    let first_link = link("roomone");
    let opener = |l: &str, stderr: std::fs::File| {
        x.cmd("xdg-open")
            .arg(l)
            .env("HOME", &home)
            .env("DOOMLINK_INSTANCE_SOCKET", &sock)
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CURRENT_DESKTOP")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("xdg-open runs")
    };
    let _first = KillOnDrop(opener(
        &first_link,
        std::fs::File::create(&stderr_path).unwrap(),
    ));
    let mut window = String::new();
    poll_until(
        Duration::from_millis(250),
        Duration::from_secs(60),
        "a doomlink window",
        || {
            let out = x
                .cmd("xdotool")
                .args(["search", "--onlyvisible", "--name", "doomlink"])
                .output()
                .unwrap();
            let found = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .map(|w| w.trim().to_string());
            window = found.unwrap_or_default();
            !window.is_empty()
        },
        || format!("stderr: {}", read_log(&stderr_path)),
    );
    let running = installed_doomlinks();
    assert_eq!(running.len(), 1, "{running:?}");
    assert!(running[0].1.contains("roomone"), "{running:?}");
    // The join screen: the window says whom it is joining (its title names the screen).
    let title_has = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let title = x.tool("xdotool", &["getwindowname", &window]);
            if title.to_lowercase().contains(want) {
                return title;
            }
            assert!(
                Instant::now() < deadline,
                "window title {title:?} never said {want:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    title_has("join");
    // The screenshot the README shows; kept in the repo only when asked for.
    let shot = scratch.path().join("xdg-open-join.png");
    x.tool(
        "import",
        &["-window", "root", shot.to_str().expect("utf-8 path")],
    );
    if std::env::var_os("DOOMLINK_SAVE_SCREENSHOTS").is_some() {
        std::fs::copy(
            &shot,
            repo_root().join("docs/screenshots/xdg-open-join.png"),
        )
        .unwrap();
    }

    // A second link goes to the running window: the second start exits by itself and no second
    // doomlink stays.
    let second_stderr = scratch.path().join("second.stderr");
    let mut second = opener(
        &link("roomtwo"),
        std::fs::File::create(&second_stderr).unwrap(),
    );
    let status = wait_with_deadline(
        &mut second,
        Duration::from_secs(20),
        "the second start",
        String::new,
    );
    let mut said = String::new();
    std::fs::File::open(&second_stderr)
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(status.success(), "second start: {status:?} {said}");
    let running = installed_doomlinks();
    assert_eq!(running.len(), 1, "a second doomlink stayed: {running:?}");
    // The running window took the link: it now joins the second room.
    poll_until(
        Duration::from_millis(200),
        Duration::from_secs(20),
        "the running window taking the second link",
        || read_log(&stderr_path).contains("roomtwo"),
        || format!("its stderr: {}", read_log(&stderr_path)),
    );
}
