// The page's audio output for a guest's /dev/dsp: an AudioWorklet that plays the interleaved
// stereo s16le chunks the worker posts, and counts the frames it consumed into the shared
// memory (shared.js: SLOT.audioPlayed) so the guest keeps its queue topped up as on the desktop.
// Underruns play silence. This file is both the page's side (startAudio) and, loaded by
// audioWorklet.addModule, the worklet's processor.
const PLAYED = 7; // SLOT.audioPlayed (a worklet module cannot import the page's modules)

if (typeof AudioWorkletProcessor !== 'undefined') {
  class DoomlinkPcm extends AudioWorkletProcessor {
    constructor(options) {
      super();
      this.shared = new Int32Array(options.processorOptions.shared);
      this.chunks = [];
      this.at = 0; // the next sample in chunks[0]
      this.port.onmessage = ({ data }) => this.chunks.push(new Int16Array(data));
    }

    process(_inputs, outputs) {
      const [left, right] = outputs[0];
      let frames = 0;
      for (let i = 0; i < left.length; i++) {
        const chunk = this.chunks[0];
        if (!chunk) {
          left[i] = 0;
          right[i] = 0;
          continue;
        }
        left[i] = chunk[this.at] / 32768;
        right[i] = chunk[this.at + 1] / 32768;
        this.at += 2;
        frames += 1;
        if (this.at >= chunk.length) {
          this.chunks.shift();
          this.at = 0;
        }
      }
      if (frames > 0) Atomics.add(this.shared, PLAYED, frames);
      return true;
    }
  }
  registerProcessor('doomlink-pcm', DoomlinkPcm);
}

// An AudioContext playing what `post(chunk)` is given; `shared` is the worker's Int32Array.
// Browsers start audio only after a user gesture: `resume()` is called on the page's first
// click or key. Returns { rate, post, stats } (stats: frames posted and the loudest sample).
export async function startAudio(shared) {
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule(new URL(import.meta.url));
  const node = new AudioWorkletNode(ctx, 'doomlink-pcm', {
    numberOfInputs: 0,
    outputChannelCount: [2],
    processorOptions: { shared: shared.buffer },
  });
  node.connect(ctx.destination);
  const resume = () => ctx.resume();
  addEventListener('pointerdown', resume);
  addEventListener('keydown', resume);
  const stats = { posted: 0, peak: 0 };
  const post = (buffer) => {
    const samples = new Int16Array(buffer);
    stats.posted += samples.length / 2;
    for (let i = 0; i < samples.length; i++) {
      const v = Math.abs(samples[i]);
      if (v > stats.peak) stats.peak = v;
    }
    node.port.postMessage(buffer, [buffer]);
  };
  return { rate: ctx.sampleRate, post, stats, context: ctx };
}
