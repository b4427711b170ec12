// Running a wasm32-wasi guest with the browser's WebAssembly engine, its imports served by
// doomlink's kernel (doomlink_web.js, made by wasm-bindgen from the doomlink-web crate): the
// pieces the page's own runner (runGuest) and the worker's (worker.js) share.
import init, { WebProcess } from './doomlink_web.js';

// Instantiates `module` (a compiled WebAssembly.Module) with one function per import it
// declares, each going to `process` (a WebProcess) by name with its arguments (i32s as Numbers,
// i64s as BigInts) as BigInts, on the instance's own memory.
export async function instantiate(module, process) {
  let memory = null;
  const imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== 'function') continue;
    (imports[from] ??= {})[name] = (...args) =>
      process.call(from, name, BigInt64Array.from(args, (v) => BigInt(v)), memory);
  }
  const instance = await WebAssembly.instantiate(module, imports);
  memory = instance.exports.memory;
  return instance;
}

// Runs the guest's `_start` to its end: its exit status (the kernel ends a guest's proc_exit
// by throwing "exit N"; anything else thrown is the guest's failure, rethrown).
export function runToExit(instance) {
  try {
    instance.exports._start();
    return 0;
  } catch (e) {
    const exit = /^exit (-?\d+)$/.exec(String(e));
    if (!exit) throw e;
    return Number(exit[1]);
  }
}

// Runs the guest at `url` in this page (it cannot block here: no network, no waits) with argv
// `args` and `files` ({ guest path: Uint8Array }) mounted read-only. Resolves to
// { status, output }: the guest's exit status and what it printed.
export async function runGuest(url, args, files = {}) {
  await init();
  const module = await WebAssembly.compile(await (await fetch(url)).arrayBuffer());
  const process = new WebProcess(args, [], false);
  for (const [path, data] of Object.entries(files)) process.mount(path, data);
  const status = runToExit(await instantiate(module, process));
  return { status, output: process.output() };
}
