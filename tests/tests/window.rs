//! The desktop window, for real: each test starts its own Xvfb (on a display number Xvfb picks
//! itself, so parallel runs never collide), runs the real `doomlink` binary in it with Freedoom,
//! and looks at the window as a person would — a screenshot with ImageMagick's `import`, keys
//! with `xdotool`, and the window manager's close message.
//!
//! The app writes every frame it presents to DOOMLINK_DUMP_FRAMES (the guest's own 320×200
//! pixels, unscaled) and where it drew the last one (`view.txt`); the screenshot's game area
//! must be those pixels scaled with nearest-neighbour at 4:3, and the letterbox black.
//!
//! Needs Xvfb, xdotool and imagemagick (scripts/setup installs them) and Freedoom.

use doomlink_e2e::xvfb::Xvfb;
use doomlink_e2e::*;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How long the app's notices stay over the game, and a margin.
const NOTICE_TIME: Duration = Duration::from_millis(6500);

/// An RGB image.
#[derive(Clone)]
struct Image {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Image {
    /// Reads a binary PPM (P6, maxval 255; comments allowed in the header).
    fn read_ppm(path: &Path) -> Image {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Image::parse_ppm(&data, path)
    }

    fn parse_ppm(data: &[u8], path: &Path) -> Image {
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while data[i].is_ascii_whitespace() {
                i += 1;
            }
            if data[i] == b'#' {
                while data[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            let start = i;
            while !data[i].is_ascii_whitespace() {
                i += 1;
            }
            fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
        }
        assert_eq!(fields[0], "P6", "{}: not a binary PPM", path.display());
        assert_eq!(fields[3], "255");
        let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        let rgb = data[i + 1..].to_vec();
        assert_eq!(rgb.len(), w * h * 3, "{}", path.display());
        Image { w, h, rgb }
    }

    fn px(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.w + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// Where the app drew the frame: (seq, x, y, w, h, window_w, window_h).
fn read_view(dump: &Path) -> Option<[u64; 7]> {
    let text = std::fs::read_to_string(dump.join("view.txt")).ok()?;
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    v.try_into().ok()
}

/// The frames in the dump, newest first.
fn dumped_frames(dump: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(dump)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let seq = name
                        .strip_prefix("frame-")?
                        .strip_suffix(".ppm")?
                        .parse()
                        .ok()?;
                    Some((seq, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    v
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 6)
}

/// Whether source coordinate `f` is in texel `c` or within rounding distance of it.
fn near(f: f64, c: i64) -> bool {
    let (lo, hi) = (c as f64, c as f64 + 1.0);
    let d = if f < lo {
        lo - f
    } else if f >= hi {
        f - hi
    } else {
        0.0
    };
    d < 0.02
}

/// The share of the screenshot's game area that is `frame` scaled with nearest-neighbour into
/// `rect` (x, y, w, h). A pixel on the boundary between two source pixels may show either
/// (the GPU's rounding), so the source pixels next to the exact one also count.
fn match_fraction(shot: &Image, frame: &Image, rect: [usize; 4]) -> f64 {
    let [rx, ry, rw, rh] = rect;
    let mut good = 0usize;
    for y in 0..rh {
        let fy = (y as f64 + 0.5) * frame.h as f64 / rh as f64;
        for x in 0..rw {
            let fx = (x as f64 + 0.5) * frame.w as f64 / rw as f64;
            let s = shot.px(rx + x, ry + y);
            let (sx, sy) = (fx as usize, fy as usize);
            let hit = [(0i64, 0i64), (-1, 0), (1, 0), (0, -1), (0, 1)]
                .iter()
                .any(|(dx, dy)| {
                    let (cx, cy) = (sx as i64 + dx, sy as i64 + dy);
                    cx >= 0
                        && cy >= 0
                        && (cx as usize) < frame.w
                        && (cy as usize) < frame.h
                        && near(fx, cx)
                        && near(fy, cy)
                        && close(s, frame.px(cx as usize, cy as usize))
                });
            good += hit as usize;
        }
    }
    good as f64 / (rw * rh) as f64
}

/// A running app in its own X server.
struct App {
    x: Xvfb,
    child: Child,
    dir: Scratch,
    window: u32,
}

impl App {
    fn start(tag: &str, doom_args: &[&str]) -> App {
        let x = Xvfb::start();
        let dir = Scratch::new(tag);
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        let child = x
            .cmd(doomlink().to_str().unwrap())
            .args(["run", "--iwad", FREEDOOM1, "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--")
            .args(doom_args)
            .env("DOOMLINK_DUMP_FRAMES", dir.path().join("dump"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdout(log("stdout"))
            .stderr(log("stderr"))
            .spawn()
            .expect("doomlink runs");
        let mut app = App {
            x,
            child,
            dir,
            window: 0,
        };
        // The first launch on a machine compiles doom.wasm (cached afterwards).
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if let Some(st) = app.child.try_wait().unwrap() {
                panic!("doomlink ended early ({st}):\n{}", app.logs());
            }
            let found = app
                .x
                .cmd("xdotool")
                .args(["search", "--name", "doomlink"])
                .output()
                .unwrap();
            let ids: Vec<u32> = String::from_utf8_lossy(&found.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            let frames = read_view(&app.dump()).map(|v| v[0]).unwrap_or(0);
            if let (Some(&id), true) = (ids.first(), frames >= 20) {
                app.window = id;
                // A notice may cover the top of the picture for its first seconds ("No sound"
                // on a machine without an audio device): let it go.
                std::thread::sleep(NOTICE_TIME);
                return app;
            }
            assert!(
                Instant::now() < deadline,
                "no game in the window after 240 s:\n{}",
                app.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn dump(&self) -> PathBuf {
        self.dir.path().join("dump")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            read("stdout"),
            read("stderr")
        )
    }

    fn title(&self) -> String {
        self.x
            .tool("xdotool", &["getwindowname", &self.window.to_string()])
            .trim()
            .to_string()
    }

    fn screenshot(&self, name: &str) -> Image {
        let path = self.dir.path().join(format!("{name}.ppm"));
        let target = format!("ppm:{}", path.display());
        self.x.tool(
            "import",
            &["-window", &self.window.to_string(), "-depth", "8", &target],
        );
        Image::read_ppm(&path)
    }

    /// Takes screenshots until one shows a presented frame, and returns (that frame's seq, the
    /// frame); fails if none does. Frames change 35 times a second, so the one on screen is
    /// looked for among the last ones presented.
    fn shown_frame(&self, name: &str, after_seq: u64) -> (u64, Image) {
        let mut why = String::new();
        for _attempt in 0..8 {
            match self.try_shown_frame(name, after_seq) {
                Ok(found) => return found,
                Err(e) => why = e,
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let keep =
            std::env::temp_dir().join(format!("doomlink-window-failure-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::copy(
            self.dir.path().join(format!("{name}.ppm")),
            keep.join("shot.ppm"),
        );
        for (seq, path) in dumped_frames(&self.dump()) {
            let _ = std::fs::copy(&path, keep.join(format!("frame-{seq}.ppm")));
        }
        let _ = std::fs::copy(self.dump().join("view.txt"), keep.join("view.txt"));
        panic!(
            "the window does not show the game: {why} (screenshot and frames kept in {})\n{}",
            keep.display(),
            self.logs()
        );
    }

    /// One screenshot, checked against where the app drew and what it presented.
    fn try_shown_frame(&self, name: &str, after_seq: u64) -> Result<(u64, Image), String> {
        let layout = |v: [u64; 7]| [v[1], v[2], v[3], v[4], v[5], v[6]];
        let before = read_view(&self.dump()).ok_or("no view.txt")?;
        let shot = self.screenshot(name);
        let view = read_view(&self.dump()).ok_or("no view.txt")?;
        if layout(before) != layout(view) {
            return Err("the layout changed during the screenshot".into());
        }
        let [_, x, y, w, h, ww, wh] = view.map(|v| v as usize);
        if (shot.w, shot.h) != (ww, wh) {
            return Err(format!(
                "screenshot {}x{}, window {ww}x{wh}",
                shot.w, shot.h
            ));
        }
        // Letterboxed at 4:3: the picture is 4:3 (to a pixel), centred, the rest black.
        if (w as f64 / h as f64 - 4.0 / 3.0).abs() > 0.01 {
            return Err(format!("{w}x{h} is not 4:3"));
        }
        if x.abs_diff((ww - w) / 2) > 1 || y.abs_diff((wh - h) / 2) > 1 {
            return Err(format!("{w}x{h} at {x},{y} is not centred in {ww}x{wh}"));
        }
        for py in 0..wh {
            for px in 0..ww {
                let outside = px < x || px >= x + w || py < y || py >= y + h;
                if outside && shot.px(px, py) != [0, 0, 0] {
                    return Err(format!("the letterbox is not black at {px},{py}"));
                }
            }
        }
        let mut best = (0.0, 0);
        for (seq, path) in dumped_frames(&self.dump())
            .into_iter()
            .filter(|(s, _)| *s > after_seq)
        {
            let Ok(data) = std::fs::read(&path) else {
                continue; // the app removed it while we looked
            };
            let frame = Image::parse_ppm(&data, &path);
            let f = match_fraction(&shot, &frame, [x, y, w, h]);
            if f > best.0 {
                best = (f, seq);
            }
            if f >= 0.995 {
                return Ok((seq, frame));
            }
        }
        Err(format!(
            "no presented frame matches the screenshot (best: seq {} matched {:.2}%)",
            best.1,
            best.0 * 100.0
        ))
    }

    fn key(&self, key: &str) {
        let id = self.window.to_string();
        self.x.tool("xdotool", &["windowfocus", "--sync", &id]);
        self.x.tool("xdotool", &["key", "--delay", "80", key]);
    }

    /// Closes the window and waits for the app to end; returns its exit status.
    fn close(mut self) -> (std::process::ExitStatus, App) {
        self.x.close_window(self.window);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st, self);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the app did not end within 30 s of closing its window\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The share of pixels that differ between two frames inside a rectangle of the frame.
fn differing(a: &Image, b: &Image, x0: usize, y0: usize, x1: usize, y1: usize) -> f64 {
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            n += (a.px(x, y) != b.px(x, y)) as usize;
        }
    }
    n as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

#[test]
fn the_window_shows_the_game_opens_the_menu_on_esc_and_closes_cleanly() {
    let app = App::start("window", &["-warp", "1", "1", "-skill", "3"]);
    let title = app.title();
    assert!(
        title.contains("Freedoom: Phase 1") && title.contains("E1M1"),
        "the title names the game and the map: {title:?}"
    );

    // A window that is not a multiple of 320×240 letterboxes: 1000×800 fits 3× (960×720).
    app.x.tool(
        "xdotool",
        &[
            "windowsize",
            "--sync",
            &app.window.to_string(),
            "1000",
            "800",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (before_seq, before) = app.shown_frame("game", 0);
    let [.., w, h, ww, wh] = read_view(&app.dump()).unwrap();
    assert_eq!(
        (w, h, ww, wh),
        (960, 720, 1000, 800),
        "integer scaling, letterboxed"
    );

    assert!(
        !app.data().join("default.cfg").exists(),
        "a fresh data dir gets its config when the game quits, not before"
    );

    // Esc opens Doom's main menu over the view: the area the menu covers changes a lot.
    app.key("Escape");
    std::thread::sleep(Duration::from_millis(1000));
    let (menu_seq, menu) = app.shown_frame("menu", before_seq);
    assert!(menu_seq > before_seq);
    let changed = differing(&before, &menu, 90, 20, 240, 160);
    assert!(
        changed > 0.25,
        "the menu did not appear: only {:.1}% of its area changed",
        changed * 100.0
    );

    let (status, app) = app.close();
    assert!(status.success(), "exit status {status}\n{}", app.logs());
    let logs = app.logs();
    assert!(
        !logs.contains("stopping it"),
        "the game had to be killed:\n{logs}"
    );
    for cfg in ["default.cfg", "chocolate-doom.cfg"] {
        assert!(
            app.data().join(cfg).is_file(),
            "{cfg} was not saved:\n{logs}"
        );
    }
}

#[test]
fn closing_the_window_writes_the_demo_being_recorded() {
    let app = App::start("window-demo", &["-warp", "1", "1", "-record", "closed"]);
    app.shown_frame("game", 0);
    // Play a little, so the demo has tics in it.
    app.key("Up");
    let (status, app) = app.close();
    assert!(status.success(), "exit status {status}\n{}", app.logs());
    let demo = app.data().join("closed.lmp");
    let len = std::fs::metadata(&demo).map(|m| m.len()).unwrap_or(0);
    assert!(
        len > 13,
        "{} was not written ({len} bytes)\n{}",
        demo.display(),
        app.logs()
    );
}
