//! Getting the guest's frames to the screen without the UI ever waiting for the guest: a pump
//! thread blocks on the framebuffer device, turns each new frame into an image and wakes the UI;
//! the UI takes the newest image when it paints. Also the measurements (`DOOMLINK_FRAME_STATS`:
//! how long from a guest frame to its presentation) and the test hook
//! (`DOOMLINK_DUMP_FRAMES=<dir>`: every presented frame written out, for comparing with a
//! screenshot).

use doomlink_play::kernel::devices::{Frame, FrameBuffer};
use eframe::egui::{self, Color32, ColorImage};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A frame converted for upload, with when the host first saw it.
pub struct ReadyFrame {
    pub seq: u64,
    pub image: ColorImage,
    /// When the pump woke for it: the guest's write, give or take a thread wake-up.
    pub arrived: Instant,
}

#[derive(Default)]
struct Slot {
    frame: Option<ReadyFrame>,
    /// Frames the pump saw (each one the guest wrote, unless two came within one wake-up).
    seen: u64,
    /// Frames replaced in the slot before the UI took them.
    replaced: u64,
}

struct PumpShared {
    slot: Mutex<Slot>,
    stop: AtomicBool,
}

/// The pump thread's handle; dropping it stops the thread (within one wait, 100 ms).
pub struct FramePump {
    shared: Arc<PumpShared>,
}

/// "Repaint now, once" (see where it is used).
const REPAINT_NOW: Duration = Duration::from_micros(1);

/// How long the pump waits for a frame before it checks whether it should stop.
const PUMP_WAIT: Duration = Duration::from_millis(100);

impl FramePump {
    pub fn start(fb: FrameBuffer, ctx: egui::Context) -> std::io::Result<FramePump> {
        let shared = Arc::new(PumpShared {
            slot: Mutex::new(Slot::default()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("frame-pump".into())
            .spawn(move || {
                let mut last = 0;
                while !s.stop.load(Ordering::Relaxed) {
                    let Some(frame) = fb.wait_newer(last, PUMP_WAIT) else {
                        continue;
                    };
                    let arrived = Instant::now();
                    last = frame.seq;
                    let image = to_image(&frame);
                    {
                        let mut slot = lock(&s.slot);
                        slot.seen += 1;
                        if slot.frame.is_some() {
                            slot.replaced += 1;
                        }
                        slot.frame = Some(ReadyFrame {
                            seq: frame.seq,
                            image,
                            arrived,
                        });
                    }
                    // Any non-zero delay: egui answers `request_repaint()` (a zero delay) with
                    // two passes "to let things settle", which here would draw every frame
                    // twice.
                    ctx.request_repaint_after(REPAINT_NOW);
                }
            })?;
        Ok(FramePump { shared })
    }

    /// The newest frame not taken yet.
    pub fn take(&self) -> Option<ReadyFrame> {
        lock(&self.shared.slot).frame.take()
    }

    /// (frames seen, frames replaced before the UI took them).
    pub fn counts(&self) -> (u64, u64) {
        let s = lock(&self.shared.slot);
        (s.seen, s.replaced)
    }
}

impl Drop for FramePump {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// The paletted frame as an image, one `Color32` per Doom pixel.
pub fn to_image(frame: &Frame) -> ColorImage {
    let pal = &frame.palette;
    let pixels = frame
        .pixels
        .iter()
        .map(|&i| {
            let i = i as usize * 3;
            Color32::from_rgb(pal[i], pal[i + 1], pal[i + 2])
        })
        .collect();
    ColorImage::new([frame.width as usize, frame.height as usize], pixels)
}

/// Per-frame timings of the presentation path, printed when a game ends if
/// `DOOMLINK_FRAME_STATS` is set.
#[derive(Default)]
pub struct FrameStats {
    started: Option<Instant>,
    /// Guest frame seen → texture updated (the UI's pass for it started), µs.
    to_upload: Vec<u32>,
    /// Guest frame seen → the draw of the frame that shows it was issued to GL, right before the
    /// buffer swap, µs.
    to_paint: Vec<u32>,
    pending_paint: VecDeque<(u64, Instant)>,
    presented: u64,
    /// UI passes while the game ran (frames, input, anything else that repainted).
    passes: u64,
}

pub type SharedStats = Arc<Mutex<FrameStats>>;

impl FrameStats {
    pub fn from_env() -> Option<SharedStats> {
        std::env::var_os("DOOMLINK_FRAME_STATS")
            .map(|_| Arc::new(Mutex::new(FrameStats::default())))
    }

    pub fn pass(&mut self) {
        self.passes += 1;
    }

    pub fn uploaded(&mut self, seq: u64, arrived: Instant) {
        let now = Instant::now();
        self.started.get_or_insert(arrived);
        self.presented += 1;
        self.to_upload.push(micros(now - arrived));
        self.pending_paint.push_back((seq, arrived));
        if self.pending_paint.len() > 16 {
            self.pending_paint.pop_front();
        }
    }

    /// Called from the paint callback of the frame showing `seq`.
    pub fn painted(&mut self, seq: u64) {
        let now = Instant::now();
        while let Some(&(s, arrived)) = self.pending_paint.front() {
            if s > seq {
                break;
            }
            self.pending_paint.pop_front();
            if s == seq {
                self.to_paint.push(micros(now - arrived));
            }
        }
    }

    /// A report, one figure per line.
    pub fn report(&self, seen: u64, replaced: u64) -> String {
        let secs = self
            .started
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0)
            .max(1e-9);
        let mut out = format!(
            "doomlink frame stats: {seen} guest frames seen ({:.1}/s), {} presented ({:.1}/s), \
             {replaced} replaced before presentation, {} UI passes ({:.1}/s)\n",
            seen as f64 / secs,
            self.presented,
            self.presented as f64 / secs,
            self.passes,
            self.passes as f64 / secs,
        );
        for (name, v) in [
            ("guest frame -> texture upload", &self.to_upload),
            ("guest frame -> drawn (before swap)", &self.to_paint),
        ] {
            out += &format!("doomlink frame stats: {name}: {}\n", percentiles(v));
        }
        out
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

fn percentiles(v: &[u32]) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let at = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    let mean = s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64 / 1000.0;
    format!(
        "n={} mean {mean:.2} ms, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        s.len(),
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0)
    )
}

/// Writes every presented frame to a directory as `frame-<seq>.ppm` (binary PPM, the frame's
/// own pixels, unscaled), keeping the newest [`DUMP_KEEP`], and `view.txt` with where the last
/// one was drawn: `seq x y w h window_w window_h` in physical pixels of the window.
pub struct FrameDump {
    dir: PathBuf,
    written: VecDeque<u64>,
}

/// Frames kept on disk: about two seconds' worth, so a screenshot taken a moment ago still finds
/// the frame it shows.
pub const DUMP_KEEP: usize = 70;

impl FrameDump {
    pub fn from_env() -> Option<FrameDump> {
        let dir = PathBuf::from(std::env::var_os("DOOMLINK_DUMP_FRAMES")?);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!(
                "doomlink: DOOMLINK_DUMP_FRAMES: cannot create {}: {e}",
                dir.display()
            );
            return None;
        }
        Some(FrameDump {
            dir,
            written: VecDeque::new(),
        })
    }

    pub fn frame(&mut self, seq: u64, image: &ColorImage) {
        let [w, h] = image.size;
        let mut data = format!("P6\n{w} {h}\n255\n").into_bytes();
        data.reserve(w * h * 3);
        for p in &image.pixels {
            data.extend_from_slice(&[p.r(), p.g(), p.b()]);
        }
        self.write_atomically(&format!("frame-{seq}.ppm"), &data);
        self.written.push_back(seq);
        while self.written.len() > DUMP_KEEP {
            if let Some(old) = self.written.pop_front() {
                let _ = std::fs::remove_file(self.dir.join(format!("frame-{old}.ppm")));
            }
        }
    }

    pub fn view(&mut self, seq: u64, rect: crate::view::PixelRect, window: [u32; 2]) {
        let line = format!(
            "{seq} {} {} {} {} {} {}\n",
            rect.x, rect.y, rect.w, rect.h, window[0], window[1]
        );
        self.write_atomically("view.txt", line.as_bytes());
    }

    fn write_atomically(&self, name: &str, data: &[u8]) {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let result =
            std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, self.dir.join(name)));
        if let Err(e) = result {
            eprintln!("doomlink: DOOMLINK_DUMP_FRAMES: {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_images_through_the_palette() {
        let mut palette = vec![0u8; 768];
        palette[3..6].copy_from_slice(&[10, 20, 30]);
        let f = Frame {
            width: 2,
            height: 1,
            palette,
            pixels: vec![1, 0],
            seq: 1,
        };
        let img = to_image(&f);
        assert_eq!(img.size, [2, 1]);
        assert_eq!(img.pixels[0], Color32::from_rgb(10, 20, 30));
        assert_eq!(img.pixels[1], Color32::BLACK);
    }

    #[test]
    fn stats_pair_paints_with_uploads() {
        let mut s = FrameStats::default();
        let t = Instant::now();
        s.uploaded(1, t);
        s.uploaded(2, t);
        s.painted(2);
        assert_eq!(s.to_upload.len(), 2);
        assert_eq!(s.to_paint.len(), 1);
        assert!(s.report(2, 0).contains("2 presented"));
    }
}
