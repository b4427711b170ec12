//! Scripted input for headless play: a seeded random walk of key presses fed to the guest's input
//! device, so tests and benchmarks can play real games without a person.

use doomlink_kernel::devices::{InputEvent, InputQueue};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

// Doom key codes (doomkeys.h).
const KEY_RIGHTARROW: i32 = 0xae;
const KEY_LEFTARROW: i32 = 0xac;
const KEY_UPARROW: i32 = 0xad;
const KEY_DOWNARROW: i32 = 0xaf;
const KEY_FIRE: i32 = 0x80 + 0x1d; // KEY_RCTRL
const KEY_USE: i32 = b' ' as i32;
const KEY_STRAFE_L: i32 = b',' as i32;
const KEY_STRAFE_R: i32 = b'.' as i32;

const KEYS: &[i32] = &[
    KEY_UPARROW,
    KEY_DOWNARROW,
    KEY_LEFTARROW,
    KEY_RIGHTARROW,
    KEY_FIRE,
    KEY_USE,
    KEY_STRAFE_L,
    KEY_STRAFE_R,
];

/// Feeds `input` until `stop` is set: every step (about 3 tics) a random key is pressed or
/// released, biased towards moving forward and firing, as a player would.
pub fn spawn(seed: u64, input: InputQueue, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut held = [false; KEYS.len()];
        while !stop.load(Ordering::Relaxed) {
            let i = if rng.random_bool(0.3) {
                0
            } else {
                rng.random_range(0..KEYS.len())
            };
            held[i] = !held[i];
            input.push(if held[i] {
                InputEvent::key_down(KEYS[i])
            } else {
                InputEvent::key_up(KEYS[i])
            });
            // Don't back up or spin forever: let go of what is held long enough.
            if rng.random_bool(0.1) {
                for (k, h) in KEYS.iter().zip(held.iter_mut()) {
                    if *h {
                        input.push(InputEvent::key_up(*k));
                        *h = false;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(85));
        }
    })
}
