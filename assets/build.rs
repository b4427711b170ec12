// SPDX-License-Identifier: GPL-3.0-or-later
//! Builds doom.wasm: Chocolate Doom 3.1.1's engine (Debian's upstream tarball) plus doomlink's
//! platform layer (chocolate-doom/) and guest C library (guest-libc/), compiled with clang-16
//! for wasm32-wasi and linked with wasm-ld-16.
//!
//! What is compiled, and with which flags, is listed in chocolate-doom/build.manifest (shared
//! with the build-doom-wasm script). The engine's source tree is $DOOMLINK_CHOCOLATE_SRC, or
//! else the path scripts/setup prints on its last line (it fetches, checks and unpacks the source
//! into a cache once). The tree is only read: nothing is written into it.
//!
//! The output is reproducible — the same bytes from the same inputs wherever the checkout, the
//! tree and OUT_DIR are: paths are mapped away (-ffile-prefix-map), nothing embeds the date,
//! and objects are linked in manifest order. The build fails if the module imports anything
//! kernel/ABI.md does not provide, since the kernel would refuse to load it.

use sha2::{Digest, Sha256};
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The imports kernel/ABI.md lists; anything else makes the kernel refuse the module.
const ALLOWED_IMPORTS: &[(&str, &[&str])] = &[
    (
        "wasi_snapshot_preview1",
        &[
            "args_get",
            "args_sizes_get",
            "environ_get",
            "environ_sizes_get",
            "clock_res_get",
            "clock_time_get",
            "fd_advise",
            "fd_allocate",
            "fd_close",
            "fd_datasync",
            "fd_fdstat_get",
            "fd_fdstat_set_flags",
            "fd_fdstat_set_rights",
            "fd_filestat_get",
            "fd_filestat_set_size",
            "fd_filestat_set_times",
            "fd_pread",
            "fd_pwrite",
            "fd_prestat_get",
            "fd_prestat_dir_name",
            "fd_read",
            "fd_readdir",
            "fd_renumber",
            "fd_seek",
            "fd_sync",
            "fd_tell",
            "fd_write",
            "path_create_directory",
            "path_filestat_get",
            "path_filestat_set_times",
            "path_link",
            "path_open",
            "path_readlink",
            "path_remove_directory",
            "path_rename",
            "path_symlink",
            "path_unlink_file",
            "poll_oneoff",
            "proc_exit",
            "proc_raise",
            "random_get",
            "sched_yield",
            "sock_accept",
            "sock_recv",
            "sock_send",
            "sock_shutdown",
        ],
    ),
    (
        "doomlink_net",
        &[
            "sock_open",
            "sock_bind",
            "sock_connect",
            "sock_sendto",
            "sock_recvfrom",
            "sock_getsockname",
            "sock_getpeername",
            "sock_setsockopt",
            "sock_getsockopt",
        ],
    ),
];

/// Where a source file lives.
#[derive(Clone, Copy, PartialEq)]
enum Origin {
    /// The Chocolate Doom source tree.
    Engine,
    /// This crate's directory.
    Ours,
}

struct Source {
    origin: Origin,
    /// As written in the manifest; also names the object file.
    path: String,
}

/// chocolate-doom/build.manifest, read.
#[derive(Default)]
struct Manifest {
    includes: Vec<PathBuf>,
    cflags: Vec<String>,
    engine_cflags: Vec<String>,
    ours_cflags: Vec<String>,
    /// (file, compiler arguments) for single files: `-DNAME=VALUE` macros, `-include HEADER`.
    file_args: Vec<(String, Vec<String>)>,
    ldflags: Vec<String>,
    sources: Vec<Source>,
}

fn main() {
    let started = Instant::now();
    let assets = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-env-changed=DOOMLINK_CHOCOLATE_SRC");
    println!("cargo:rerun-if-env-changed=DOOMLINK_CLANG");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=chocolate-doom");
    println!("cargo:rerun-if-changed=guest-libc");
    // Which source tree setup provides (the engine version) is decided there.
    println!("cargo:rerun-if-changed=../scripts/setup");

    let tree = chocolate_doom_tree(&assets);
    // scripts/setup touches this marker once the tree is completely unpacked; another tree
    // (DOOMLINK_CHOCOLATE_SRC) is watched as a whole.
    let marker = tree
        .parent()
        .map(|p| p.join(".complete"))
        .filter(|m| m.exists());
    println!(
        "cargo:rerun-if-changed={}",
        marker.as_deref().unwrap_or(&tree).display()
    );

    let clang = env::var("DOOMLINK_CLANG").unwrap_or_else(|_| "clang-16".into());
    let manifest = read_manifest(
        &assets.join("chocolate-doom/build.manifest"),
        &tree,
        &assets,
    );

    // Flags every compile and the link share. The prefix maps make __FILE__ (in assert
    // messages) independent of where things are.
    let common = vec![
        "--target=wasm32-wasi".to_string(),
        "--sysroot=/usr".to_string(),
        format!("-ffile-prefix-map={}=chocolate-doom", tree.display()),
        format!("-ffile-prefix-map={}=doomlink-assets", assets.display()),
    ];

    let obj_dir = out_dir.join("obj");
    fs::create_dir_all(&obj_dir).unwrap();

    let objects = compile_all(&clang, &common, &manifest, &tree, &assets, &obj_dir);

    let wasm = out_dir.join("doom.wasm");
    let mut link = Command::new(&clang);
    link.args(&common)
        .args(["-fuse-ld=lld", "-L/usr/lib/wasm32-wasi"]);
    link.args(&manifest.ldflags)
        .args(&objects)
        .arg("-o")
        .arg(&wasm);
    run(&mut link, "linking doom.wasm");

    let bytes = fs::read(&wasm).unwrap();
    check_imports(&bytes);

    let digest = Sha256::digest(&bytes);
    let mut hex = String::new();
    for b in digest.iter() {
        write!(hex, "{b:02x}").unwrap();
    }
    fs::write(
        out_dir.join("doom_wasm_sha256.rs"),
        format!("/// SHA-256 of [`DOOM_WASM`], in lowercase hex.\npub const DOOM_WASM_SHA256: &str = \"{hex}\";\n"),
    )
    .unwrap();

    // Visible with `cargo build -vv`; the time is the whole build script's.
    println!(
        "doom.wasm: {} bytes, sha256 {hex}, {} files compiled, built in {:.1} s",
        bytes.len(),
        manifest.sources.len(),
        started.elapsed().as_secs_f64()
    );
}

/// The Chocolate Doom source tree: $DOOMLINK_CHOCOLATE_SRC, else scripts/setup's last line.
fn chocolate_doom_tree(assets: &Path) -> PathBuf {
    let tree = match env::var_os("DOOMLINK_CHOCOLATE_SRC") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let setup = assets.join("../scripts/setup");
            let output = Command::new("bash")
                .arg(&setup)
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run {}: {e}", setup.display());
                });
            if !output.status.success() {
                panic!(
                    "{} failed ({}):\n{}",
                    setup.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let last = stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_else(|| {
                    panic!("{} printed no source tree path", setup.display());
                });
            PathBuf::from(last.trim())
        }
    };
    if !tree.join("src/d_loop.c").is_file() {
        panic!(
            "{} is not a Chocolate Doom source tree (no src/d_loop.c); set DOOMLINK_CHOCOLATE_SRC \
             or run scripts/setup",
            tree.display()
        );
    }
    tree
}

fn read_manifest(path: &Path, tree: &Path, assets: &Path) -> Manifest {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut manifest = Manifest::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.splitn(3, char::is_whitespace);
        let kind = words.next().unwrap();
        let value = words.next().unwrap_or("").to_string();
        let rest = words.next().unwrap_or("").trim().to_string();
        let bad = || -> ! { panic!("{}:{}: cannot read '{line}'", path.display(), number + 1) };
        match kind {
            "include" => manifest.includes.push(match value.split_once(':') {
                Some(("tree", dir)) => tree.join(dir),
                Some(("ours", dir)) => assets.join(dir),
                _ => bad(),
            }),
            "cflag" => manifest.cflags.push(value),
            "engine-cflag" => manifest.engine_cflags.push(value),
            "ours-cflag" => manifest.ours_cflags.push(value),
            "ldflag" => manifest.ldflags.push(value),
            "define" if !rest.is_empty() => {
                manifest.file_args.push((value, vec![format!("-D{rest}")]))
            }
            "engine-include" if !rest.is_empty() => manifest
                .file_args
                .push((value, vec!["-include".into(), rest])),
            "engine" => manifest.sources.push(Source {
                origin: Origin::Engine,
                path: value,
            }),
            "ours" => manifest.sources.push(Source {
                origin: Origin::Ours,
                path: value,
            }),
            _ => bad(),
        }
    }
    manifest
}

/// Compiles every source on as many threads as there are cores; returns the objects in
/// manifest order.
fn compile_all(
    clang: &str,
    common: &[String],
    manifest: &Manifest,
    tree: &Path,
    assets: &Path,
    obj_dir: &Path,
) -> Vec<PathBuf> {
    let objects: Vec<PathBuf> = manifest
        .sources
        .iter()
        .map(|s| {
            let prefix = if s.origin == Origin::Engine {
                "engine"
            } else {
                "ours"
            };
            obj_dir.join(format!("{prefix}_{}.o", s.path.replace('/', "_")))
        })
        .collect();

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let warnings = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);

    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(source) = manifest.sources.get(i) else {
                    break;
                };
                if !failures.lock().unwrap().is_empty() {
                    break;
                }
                let file = match source.origin {
                    Origin::Engine => tree.join(&source.path),
                    Origin::Ours => assets.join(&source.path),
                };
                println!("cargo:rerun-if-changed={}", file.display());
                let mut cc = Command::new(clang);
                cc.args(common).args(&manifest.cflags);
                cc.args(match source.origin {
                    Origin::Engine => &manifest.engine_cflags,
                    Origin::Ours => &manifest.ours_cflags,
                });
                for (target, args) in &manifest.file_args {
                    if *target == source.path {
                        cc.args(args);
                    }
                }
                for dir in &manifest.includes {
                    cc.arg("-I").arg(dir);
                }
                cc.args(["-isystem", "/usr/include/wasm32-wasi", "-c"])
                    .arg(&file)
                    .arg("-o")
                    .arg(&objects[i]);
                match cc.output() {
                    Ok(output) if output.status.success() => {
                        if !output.stderr.is_empty() {
                            warnings
                                .lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&output.stderr).into_owned());
                        }
                    }
                    Ok(output) => failures.lock().unwrap().push(format!(
                        "{}:\n{}",
                        source.path,
                        String::from_utf8_lossy(&output.stderr)
                    )),
                    Err(e) => failures.lock().unwrap().push(format!(
                        "cannot run {clang} ({e}); scripts/setup installs clang-16"
                    )),
                }
            });
        }
    });

    for warning in warnings.into_inner().unwrap() {
        for line in warning.lines() {
            println!("cargo:warning={line}");
        }
    }
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() {
        panic!("compiling doom.wasm failed:\n{}", failures.join("\n"));
    }
    objects
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Fails the build if the module imports anything outside ALLOWED_IMPORTS.
fn check_imports(wasm: &[u8]) {
    let mut unexpected = Vec::new();
    for (module, name) in wasm_imports(wasm) {
        let allowed = ALLOWED_IMPORTS
            .iter()
            .any(|(m, names)| *m == module && names.contains(&name.as_str()));
        if !allowed {
            unexpected.push(format!("{module}.{name}"));
        }
    }
    if !unexpected.is_empty() {
        panic!(
            "doom.wasm imports what kernel/ABI.md does not provide: {}",
            unexpected.join(", ")
        );
    }
}

/// The (module, name) of every import, read from the module's import section.
fn wasm_imports(wasm: &[u8]) -> Vec<(String, String)> {
    struct Reader<'a> {
        bytes: &'a [u8],
        pos: usize,
    }
    impl Reader<'_> {
        fn byte(&mut self) -> u8 {
            let b = *self
                .bytes
                .get(self.pos)
                .expect("doom.wasm: truncated module");
            self.pos += 1;
            b
        }
        fn leb(&mut self) -> u64 {
            let (mut value, mut shift) = (0u64, 0);
            loop {
                let b = self.byte();
                value |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return value;
                }
                shift += 7;
            }
        }
        fn name(&mut self) -> String {
            let len = self.leb() as usize;
            let text = String::from_utf8_lossy(&self.bytes[self.pos..self.pos + len]).into_owned();
            self.pos += len;
            text
        }
    }

    assert_eq!(
        &wasm[..8],
        b"\0asm\x01\0\0\0",
        "doom.wasm: not a wasm module"
    );
    let mut r = Reader {
        bytes: wasm,
        pos: 8,
    };
    let mut imports = Vec::new();
    while r.pos < wasm.len() {
        let id = r.byte();
        let size = r.leb() as usize;
        let end = r.pos + size;
        if id == 2 {
            for _ in 0..r.leb() {
                let module = r.name();
                let name = r.name();
                match r.byte() {
                    0 => {
                        r.leb(); // function: type index
                    }
                    1 => {
                        r.byte(); // table: element type, then limits
                        if r.byte() & 1 != 0 {
                            r.leb();
                        }
                        r.leb();
                    }
                    2 => {
                        if r.byte() & 1 != 0 {
                            r.leb(); // memory: limits
                        }
                        r.leb();
                    }
                    3 => {
                        r.byte(); // global: value type, mutability
                        r.byte();
                    }
                    kind => panic!("doom.wasm: unknown import kind {kind}"),
                }
                imports.push((module, name));
            }
        }
        r.pos = end;
    }
    imports
}
