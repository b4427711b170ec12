//! Sound out: the guest's `/dev/dsp` ring (sound effects and OPL music, mixed by the guest at the
//! device's own rate, so nothing is resampled here) played through the platform's default output
//! device with cpal, under a master volume.
//!
//! Owns the output stream. It is opened once and outlives games: each game hands its ring over
//! with [`AudioOutput::play`], and the stream plays silence between games. The callback never
//! blocks on the guest: it takes what is queued (the guest keeps ~84 ms there) and fills the rest
//! with silence. Volume changes are ramped over one buffer, so moving the slider does not click.

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use doomlink_play::kernel::devices::AudioRing;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

/// Why there is no sound.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("no audio output device")]
    NoDevice,
    #[error("the audio device has no usable configuration: {0}")]
    Config(cpal::Error),
    #[error("the audio device's sample format {0} is not supported")]
    Format(SampleFormat),
    #[error("cannot open the audio device: {0}")]
    Open(cpal::Error),
    #[error("cannot start the audio device: {0}")]
    Play(cpal::Error),
}

/// An open output stream playing whatever ring it was last given.
pub struct AudioOutput {
    _stream: cpal::Stream,
    rate: u32,
    description: String,
    volume: Arc<AtomicU32>,
    rings: mpsc::Sender<Option<AudioRing>>,
}

impl AudioOutput {
    /// Opens the default output device at its preferred rate, playing silence.
    pub fn open(volume: f32) -> Result<AudioOutput, AudioError> {
        let host = cpal::default_host();
        let device = host.default_output_device().ok_or(AudioError::NoDevice)?;
        let supported = device.default_output_config().map_err(|e| match e.kind() {
            // ALSA's "default" device exists on a machine without a sound card, and fails here.
            cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable => {
                AudioError::NoDevice
            }
            _ => AudioError::Config(e),
        })?;
        let format = supported.sample_format();
        let mut config: cpal::StreamConfig = supported.config();
        let volume = Arc::new(AtomicU32::new(volume.clamp(0.0, 1.0).to_bits()));
        // Ask for ~10 ms periods: the guest keeps ~84 ms queued and tops up every millisecond
        // or so while it waits for the next tic, so short periods never run the ring dry, and
        // a backend's default (sometimes 100 ms or more) would add latency to every sound.
        let period = (config.sample_rate / 100).next_power_of_two();
        let fixed = match supported.buffer_size() {
            cpal::SupportedBufferSize::Range { min, max } => {
                Some(cpal::BufferSize::Fixed(period.clamp(*min, *max)))
            }
            cpal::SupportedBufferSize::Unknown => None,
        };
        let (stream, rings) = match fixed {
            Some(size) => {
                config.buffer_size = size;
                open_stream(&device, format, config, &volume).or_else(|_| {
                    config.buffer_size = cpal::BufferSize::Default;
                    open_stream(&device, format, config, &volume)
                })
            }
            None => open_stream(&device, format, config, &volume),
        }?;
        stream.play().map_err(AudioError::Play)?;
        let name = device
            .description()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|_| "default".into());
        Ok(AudioOutput {
            _stream: stream,
            rate: config.sample_rate,
            description: format!(
                "{name}, {} Hz, {} channels, {format}",
                config.sample_rate, config.channels
            ),
            volume,
            rings,
        })
    }

    /// The rate the guest must mix at (`DOOMLINK_AUDIO_RATE`).
    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Plays `ring` from now on (a new game's `/dev/dsp`).
    pub fn play(&self, ring: AudioRing) {
        let _ = self.rings.send(Some(ring));
    }

    /// Back to silence (the game ended).
    pub fn stop(&self) {
        let _ = self.rings.send(None);
    }

    pub fn set_volume(&self, volume: f32) {
        self.volume
            .store(volume.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }
}

/// An output stream in the device's sample format, pulling from the rings sent to it.
fn open_stream(
    device: &cpal::Device,
    format: SampleFormat,
    config: cpal::StreamConfig,
    volume: &Arc<AtomicU32>,
) -> Result<(cpal::Stream, mpsc::Sender<Option<AudioRing>>), AudioError> {
    let (tx, rx) = mpsc::channel();
    let source = Source {
        ring: None,
        rings: rx,
        scratch: Vec::new(),
        gain: volume_of(volume),
        volume: volume.clone(),
        channels: config.channels.max(1) as usize,
    };
    let stream = match format {
        SampleFormat::F32 => build::<f32>(device, config, source),
        SampleFormat::I16 => build::<i16>(device, config, source),
        SampleFormat::I32 => build::<i32>(device, config, source),
        SampleFormat::I24 => build::<cpal::I24>(device, config, source),
        SampleFormat::U16 => build::<u16>(device, config, source),
        SampleFormat::F64 => build::<f64>(device, config, source),
        SampleFormat::I8 => build::<i8>(device, config, source),
        SampleFormat::U8 => build::<u8>(device, config, source),
        other => return Err(AudioError::Format(other)),
    }
    .map_err(AudioError::Open)?;
    Ok((stream, tx))
}

fn volume_of(v: &AtomicU32) -> f32 {
    f32::from_bits(v.load(Ordering::Relaxed))
}

/// What the audio callback owns.
struct Source {
    ring: Option<AudioRing>,
    rings: mpsc::Receiver<Option<AudioRing>>,
    /// Interleaved stereo from the ring; grows to the largest buffer the device asks for, once.
    scratch: Vec<i16>,
    gain: f32,
    volume: Arc<AtomicU32>,
    channels: usize,
}

impl Source {
    fn fill<T: SizedSample + FromSample<f32>>(&mut self, out: &mut [T]) {
        while let Ok(r) = self.rings.try_recv() {
            self.ring = r;
        }
        let frames = out.len() / self.channels;
        if self.scratch.len() < frames * 2 {
            self.scratch.resize(frames * 2, 0);
        }
        let stereo = &mut self.scratch[..frames * 2];
        match &self.ring {
            Some(ring) => ring.pull(stereo, 1.0),
            None => stereo.fill(0),
        }
        // Ramp from the last gain to the new volume across this buffer.
        let target = volume_of(&self.volume);
        let step = if frames > 0 {
            (target - self.gain) / frames as f32
        } else {
            0.0
        };
        for (frame, lr) in out.chunks_mut(self.channels).zip(stereo.chunks_exact(2)) {
            self.gain += step;
            let l = lr[0] as f32 / 32768.0 * self.gain;
            let r = lr[1] as f32 / 32768.0 * self.gain;
            match frame {
                [mono] => *mono = T::from_sample((l + r) * 0.5),
                [left, right, rest @ ..] => {
                    *left = T::from_sample(l);
                    *right = T::from_sample(r);
                    for s in rest {
                        *s = T::from_sample(0.0f32);
                    }
                }
                [] => {}
            }
        }
        self.gain = target;
    }
}

fn build<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut source: Source,
) -> Result<cpal::Stream, cpal::Error> {
    device.build_output_stream(
        config,
        move |out: &mut [T], _: &cpal::OutputCallbackInfo| source.fill(out),
        |e: cpal::Error| match e.kind() {
            // An underrun is one click; the stream goes on.
            cpal::ErrorKind::Xrun => {}
            _ => eprintln!("doomlink: audio: {e}"),
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use doomlink_play::kernel::Device;

    fn source(channels: usize, volume: f32) -> (Source, mpsc::Sender<Option<AudioRing>>) {
        let (tx, rx) = mpsc::channel();
        let v = Arc::new(AtomicU32::new(volume.to_bits()));
        (
            Source {
                ring: None,
                rings: rx,
                scratch: Vec::new(),
                gain: volume,
                volume: v,
                channels,
            },
            tx,
        )
    }

    #[test]
    fn plays_the_ring_then_silence_when_it_runs_dry() {
        let (mut s, tx) = source(2, 1.0);
        let ring = AudioRing::new(48000, 64);
        let pcm: Vec<u8> = [16384i16, -16384, 8192, -8192]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        ring.write(&pcm).unwrap();
        tx.send(Some(ring)).unwrap();
        let mut out = [1.0f32; 6];
        s.fill(&mut out);
        assert_eq!(out, [0.5, -0.5, 0.25, -0.25, 0.0, 0.0]);
    }

    #[test]
    fn mono_and_surround_devices_get_the_stereo_mix() {
        let (mut s, tx) = source(1, 1.0);
        let ring = AudioRing::new(48000, 64);
        let pcm: Vec<u8> = [16384i16, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
        ring.write(&pcm).unwrap();
        tx.send(Some(ring)).unwrap();
        let mut out = [0i16; 1];
        s.fill(&mut out);
        assert_eq!(out[0], 8192);

        let (mut s, _tx) = source(6, 1.0);
        let mut out = [7u16; 12];
        s.fill(&mut out);
        assert!(
            out.iter().all(|&v| v == 32768),
            "silence is mid-scale for u16: {out:?}"
        );
    }

    #[test]
    fn volume_changes_ramp_instead_of_jumping() {
        let (mut s, tx) = source(2, 0.0);
        s.volume.store(1.0f32.to_bits(), Ordering::Relaxed);
        let ring = AudioRing::new(48000, 64);
        let pcm: Vec<u8> = std::iter::repeat_n(16384i16, 8)
            .flat_map(|v| v.to_le_bytes())
            .collect();
        ring.write(&pcm).unwrap();
        tx.send(Some(ring)).unwrap();
        let mut out = [0f32; 8];
        s.fill(&mut out);
        let lefts: Vec<f32> = out.iter().step_by(2).copied().collect();
        assert!(lefts.windows(2).all(|w| w[1] > w[0]), "{lefts:?}");
        assert!((lefts[3] - 0.5).abs() < 1e-6);
    }
}
