//! Chocolate Doom in the kernel against native Chocolate Doom, in one run:
//! - `-timedemo demo1` (freedoom1) fps: the guest headless (no /dev/fb0: nothing is blitted)
//!   against native `chocolate-doom -noblit -nosound` under Xvfb — Chocolate Doom 3.1.1 built
//!   natively from the very source doom.wasm is built from (`scripts/native-chocolate-doom`,
//!   `-O2` as autoconf's default; the anchor), and Debian 12's 3.0 package — and the same
//!   doom.wasm in headless chromium (its engine, the kernel built for the browser, a Web
//!   Worker; no canvas), best of 3 each, and the ratios;
//! - launch to first frame: from kernel creation to the first frame on /dev/fb0, cold (module
//!   compiled, empty cache) and warm (module from the cache).
//!
//! Prints figures; asserts nothing.
//!
//! cargo bench -p doomlink-e2e --bench guest_speed

use doomlink_e2e::browser::DoomPage;
use doomlink_e2e::{native_chocolate_doom_3_1_1, start_logged_guest, Scratch, FREEDOOM1};
use doomlink_kernel::NoNetwork;
use doomlink_play::guest::{boot_with_cache, DoomConfig};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fps_of(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("timed "))?;
    line.split('(')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn native_fps(program: &Path) -> f64 {
    let home = Scratch::new("native-bench");
    let out = Command::new("xvfb-run")
        .arg("-a")
        .arg(program)
        .args([
            "-iwad",
            FREEDOOM1,
            "-timedemo",
            "demo1",
            "-noblit",
            "-nosound",
            "-nogui",
        ])
        .env("HOME", home.path())
        .output()
        .expect("xvfb-run and chocolate-doom (scripts/setup installs them)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    fps_of(&text).unwrap_or_else(|| panic!("native printed no timedemo result:\n{text}"))
}

fn guest_fps(cache: &Path) -> f64 {
    let data = Scratch::new("guest-bench");
    let (kernel, module) = boot_with_cache(Arc::new(NoNetwork), Some(cache.into())).unwrap();
    let cfg = DoomConfig {
        iwad: FREEDOOM1.into(),
        pwads: vec![],
        data_dir: data.path().into(),
        video: false,
        audio_rate: None,
        tics: None,
        args: vec!["-timedemo".into(), "demo1".into()],
    };
    let (g, log) = start_logged_guest(&kernel, &module, &cfg);
    g.process.wait();
    fps_of(&log.text())
        .unwrap_or_else(|| panic!("guest printed no timedemo result:\n{}", log.text()))
}

fn browser_fps(page: &DoomPage) -> f64 {
    let text = page.timedemo("demo1");
    fps_of(&text).unwrap_or_else(|| panic!("the browser printed no timedemo result:\n{text}"))
}

/// Kernel creation (and module load) to the first frame the guest presents.
fn first_frame(cache: &Path) -> Duration {
    let data = Scratch::new("first-frame");
    let t = Instant::now();
    let (kernel, module) = boot_with_cache(Arc::new(NoNetwork), Some(cache.into())).unwrap();
    let cfg = DoomConfig {
        iwad: FREEDOOM1.into(),
        pwads: vec![],
        data_dir: data.path().into(),
        video: true,
        audio_rate: None,
        tics: None,
        args: vec![],
    };
    let (g, _log) = start_logged_guest(&kernel, &module, &cfg);
    let fb = g.framebuffer.as_ref().unwrap();
    fb.wait_newer(0, Duration::from_secs(60))
        .expect("a first frame");
    let took = t.elapsed();
    g.process.kill();
    g.process.wait();
    took
}

fn main() {
    let cache = Scratch::new("bench-cache");
    let cold = first_frame(cache.path());
    let warm: Vec<Duration> = (0..3).map(|_| first_frame(cache.path())).collect();
    let warm = *warm.iter().min().unwrap();
    let native_3_1_1 = native_chocolate_doom_3_1_1().join("chocolate-doom");
    let debian_3_0 = Path::new("/usr/games/chocolate-doom");
    let page = DoomPage::open();
    let (mut guest, mut native, mut debian, mut browser) = (vec![], vec![], vec![], vec![]);
    for _ in 0..3 {
        guest.push(guest_fps(cache.path()));
        native.push(native_fps(&native_3_1_1));
        debian.push(native_fps(debian_3_0));
        browser.push(browser_fps(&page));
    }
    let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let (g, n, d, b) = (best(&guest), best(&native), best(&debian), best(&browser));
    println!(
        "freedoom1 -timedemo demo1, best of 3 (all: guest {guest:.0?}, native 3.1.1 \
         {native:.0?}, Debian 3.0 {debian:.0?}, browser {browser:.0?})"
    );
    println!("  guest (doomlink kernel, headless): {g:>7.1} fps");
    println!("  native 3.1.1 -noblit (same source):{n:>7.1} fps");
    println!("  Debian 12's native 3.0 -noblit:    {d:>7.1} fps");
    println!("  headless chromium, Web Worker:     {b:>7.1} fps");
    println!("  ratio guest/native 3.1.1:          {:>7.2}×", g / n);
    println!("  ratio guest/Debian 3.0:            {:>7.2}×", g / d);
    println!("  ratio browser/guest:               {:>7.2}×", b / g);
    println!(
        "launch to first frame: cold {:.0} ms (compile), warm {:.0} ms (cached module)",
        cold.as_secs_f64() * 1e3,
        warm.as_secs_f64() * 1e3
    );
}
