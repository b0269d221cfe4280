//! `w2n_main`: what a compiled executable's `main` calls.
//!
//! The compiler emits a tiny C-ABI `main` that passes `argc`, `argv` and the
//! module record here. We instantiate the module against WASI, run `_start`,
//! and turn the outcome into the process exit status: the `proc_exit` code,
//! 0 on a normal return, 134 after printing the one-line trap message, 1
//! after printing an `error: ...` line when the module cannot be
//! instantiated.

use std::ffi::{c_char, CStr};
use std::io::Write;

use w2native_environ::VMModuleStatic;

use crate::instance::{Instance, InstantiationError, Module};
use crate::traphandlers::TrapError;
use crate::wasi;

/// Exit status of a program that trapped (as if it had called `abort`).
pub const TRAP_EXIT_STATUS: i32 = 134;

fn error(msg: impl std::fmt::Display) -> i32 {
    let _ = writeln!(std::io::stderr(), "error: {msg}");
    1
}

pub(crate) fn outcome(e: TrapError) -> i32 {
    match e {
        TrapError::Exit(code) => code,
        TrapError::Trap { .. } => {
            let _ = writeln!(std::io::stderr(), "trap: {e}");
            TRAP_EXIT_STATUS
        }
        TrapError::Host(msg) => error(msg),
    }
}

/// Runs the WASI command `record` with the process arguments.
///
/// # Safety
/// `argv` must hold `argc` valid C strings; `record` must be a module record
/// emitted by the w2native compiler for this target.
#[no_mangle]
pub unsafe extern "C" fn w2n_main(
    argc: i32,
    argv: *const *const c_char,
    record: &'static VMModuleStatic,
) -> i32 {
    let args = (0..argc.max(0) as usize)
        .map(|i| {
            // SAFETY: the caller passes argc valid C strings.
            unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes().to_vec()
        })
        .collect();
    let env = std::env::vars_os()
        .map(|(k, v)| {
            use std::os::unix::ffi::OsStrExt;
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            kv
        })
        .collect();
    wasi::init(wasi::WasiCtx::new(args, env, "."));
    run(record)
}

fn run(record: &'static VMModuleStatic) -> i32 {
    let module = match Module::new(record) {
        Ok(m) => m,
        Err(e) => return error(e),
    };
    let imports = match crate::threads::command_imports(&module, None) {
        Ok(i) => i,
        Err(e) => return error(e),
    };
    let instance = match Instance::new(&module, &imports) {
        Ok(i) => i,
        Err(InstantiationError::Trap(e)) => return outcome(e),
        Err(e) => return error(e),
    };
    let Some(start) = instance.get_func("_start") else {
        return error(format!(
            "module {} has no `_start` export (only WASI commands can be run)",
            module.name()
        ));
    };
    match start.call(&[]) {
        Ok(_) => 0,
        Err(e) => outcome(e),
    }
}
