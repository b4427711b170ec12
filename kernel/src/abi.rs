//! The guest's imports as tables: one list per import module (`wasi`, `sockabi`) gives both the
//! wasmtime linker's typed functions (`runner`) and the by-name calls of a host that runs the
//! guest on another WebAssembly engine ([`crate::Process::call`]), so both run the same
//! syscalls with the same argument types and the same return conventions.

use crate::process::{SysError, SysResult};

/// Why a call did not return a value to the guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// `proc_exit` (or `proc_raise`): the process ends with this status.
    #[error("exited with status {0}")]
    Exit(i32),
    /// The host stopped the process.
    #[error("killed by the host")]
    Killed,
    #[error("the kernel provides no import {0}")]
    UnknownImport(String),
    #[error("{name} takes {want} arguments, not {got}")]
    Arity {
        name: &'static str,
        want: usize,
        got: usize,
    },
}

/// A syscall's result as the guest gets it: `ok` maps a success and `errno` an error code
/// (preview1 returns 0 or the errno; the socket calls the value or `-errno`); an end of the
/// process is not a value.
pub(crate) fn returned<T>(
    r: SysResult<T>,
    ok: impl FnOnce(T) -> i32,
    errno: impl FnOnce(i32) -> i32,
) -> Result<i32, CallError> {
    match r {
        Ok(v) => Ok(ok(v)),
        Err(SysError::Errno(e)) => Ok(errno(e.code() as i32)),
        Err(SysError::Exit(code)) => Err(CallError::Exit(code)),
        Err(SysError::Killed) => Err(CallError::Killed),
    }
}

/// Defines, for the import module `$module`, `register` (its functions into a wasmtime linker)
/// and `call` (one of them by name, its arguments as i64), from one list of
/// `name(arg: type, …)`; each `name` is a syscall body `fn(&mut dyn GuestMemory, &mut ProcCtx,
/// args…) -> SysResult<T>` whose result `$ok` and `$errno` map to the guest's i32.
macro_rules! imports {
    ($module:expr, ok = $ok:expr, errno = $errno:expr;
     $( $name:ident ( $($arg:ident : $ty:ty),* ) ),* $(,)?) => {
        #[cfg(feature = "wasmtime")]
        pub(crate) fn register(
            linker: &mut wasmtime::Linker<crate::runner::StoreData>,
        ) -> wasmtime::Result<()> {
            $(
                linker.func_wrap($module, stringify!($name),
                    |mut caller: wasmtime::Caller<'_, crate::runner::StoreData>, $($arg: $ty),*|
                        -> wasmtime::Result<i32> {
                        let r = crate::runner::with_cx(&mut caller, |m, p| $name(m, p, $($arg),*));
                        Ok(crate::abi::returned(r, $ok, $errno)?)
                    })?;
            )*
            Ok(())
        }

        /// Calls this module's function `name` with `args` (i32 and i64 values alike as i64);
        /// `None` if it has none of that name.
        pub(crate) fn call(
            name: &str,
            m: &mut dyn crate::mem::GuestMemory,
            p: &mut crate::process::ProcCtx,
            args: &[i64],
        ) -> Option<Result<i32, crate::abi::CallError>> {
            match name {
                $(
                    stringify!($name) => Some('call: {
                        const ARGS: &[&str] = &[$(stringify!($arg)),*];
                        if args.len() != ARGS.len() {
                            break 'call Err(crate::abi::CallError::Arity {
                                name: stringify!($name),
                                want: ARGS.len(),
                                got: args.len(),
                            });
                        }
                        #[allow(unused_mut, unused_variables)]
                        let mut next = args.iter().copied();
                        $( let $arg = next.next().unwrap_or_default() as $ty; )*
                        crate::abi::returned($name(m, p, $($arg),*), $ok, $errno)
                    }),
                )*
                _ => None,
            }
        }
    };
}
