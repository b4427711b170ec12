// Runs a wasm32-wasi guest in this page with the browser's WebAssembly engine, its imports
// served by doomlink's kernel (doomlink_web.js, made by wasm-bindgen from the doomlink-web
// crate), with `files` ({ guest path: Uint8Array }) mounted read-only. Resolves to
// { status, output }: the guest's exit status and what it printed.
import init, { WebProcess } from './doomlink_web.js';

const MODULES = ['wasi_snapshot_preview1', 'doomlink_net'];

export async function runGuest(url, args, files = {}) {
  await init();
  const bytes = await (await fetch(url)).arrayBuffer();
  const process = new WebProcess(args, [], false);
  for (const [path, data] of Object.entries(files)) process.mount(path, data);
  let memory = null;
  // Every import of a kernel module goes to the kernel by name, its arguments as BigInts.
  const forward = (module) => new Proxy({}, {
    get: (_, name) => (...args) =>
      process.call(module, name, BigInt64Array.from(args, (v) => BigInt(v)), memory),
  });
  const imports = Object.fromEntries(MODULES.map((m) => [m, forward(m)]));
  const { instance } = await WebAssembly.instantiate(bytes, imports);
  memory = instance.exports.memory;
  let status = 0;
  try {
    instance.exports._start();
  } catch (e) {
    const exit = /^exit (-?\d+)$/.exec(String(e));
    if (!exit) throw e;
    status = Number(exit[1]);
  }
  return { status, output: process.output() };
}
