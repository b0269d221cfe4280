//! Loads a module compiled by w2native into the running process.
//!
//! This is the AOT path, not a JIT: the module is compiled to a relocatable
//! object exactly as `w2native compile` does, linked into a shared object by
//! the system linker, and `dlopen`ed; its `VMModuleStatic` record is then
//! handed to `runtime-support`, which is linked into this process.

use runtime_support::Module;
use std::ffi::CString;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use w2native::{BoundsMode, CompileError, CompileOptions, Target};
use w2native_environ::{symbols, VMModuleStatic};

#[derive(Debug)]
pub enum LoadError {
    /// w2native rejected the module (invalid, malformed or unsupported).
    Compile(CompileError),
    /// The system linker or the dynamic loader failed: a harness problem.
    Harness(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Compile(e) => write!(f, "{e}"),
            LoadError::Harness(m) => f.write_str(m),
        }
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
static INTERRUPT_CHECKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Compile every module loaded from now on with interrupt checks (the spec
/// suite's `--interrupt-checks`: the checks must not change any result).
pub fn set_interrupt_checks(on: bool) {
    INTERRUPT_CHECKS.store(on, Ordering::Relaxed);
}

/// Compiles `wasm` and loads it; `dir` holds the intermediate files.
pub fn load(wasm: &[u8], name: &str, bounds: BoundsMode, dir: &Path) -> Result<Module, LoadError> {
    let namespace = format!("m{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let mut opts = CompileOptions::new(Target::host(), &namespace, name);
    opts.bounds = bounds;
    opts.interruptible = Some(INTERRUPT_CHECKS.load(Ordering::Relaxed));
    let (object, _) = w2native::compile_module(wasm, &opts).map_err(LoadError::Compile)?;
    let obj_path = dir.join(format!("{namespace}.o"));
    let so_path = dir.join(format!("{namespace}.so"));
    std::fs::write(&obj_path, object)
        .map_err(|e| LoadError::Harness(format!("write object: {e}")))?;
    let out = Command::new("cc")
        .arg("-shared")
        .arg("-o")
        .arg(&so_path)
        .arg(&obj_path)
        .arg("-lm")
        .output()
        .map_err(|e| LoadError::Harness(format!("cannot run cc: {e} ({:?})", e.raw_os_error())))?;
    if !out.status.success() {
        return Err(LoadError::Harness(format!(
            "cc -shared failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let record = dlopen_record(&so_path, &symbols::module_record(&namespace))?;
    Module::new(record).map_err(LoadError::Harness)
}

fn dlopen_record(path: &Path, symbol: &str) -> Result<&'static VMModuleStatic, LoadError> {
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).expect("temp paths have no NUL");
    let csym = CString::new(symbol).expect("symbol names have no NUL");
    // SAFETY: the library is ours, has no initializers, and is never
    // unloaded, so the record and the code it points to live forever.
    unsafe {
        let handle = libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            let err = std::ffi::CStr::from_ptr(libc::dlerror());
            return Err(LoadError::Harness(format!(
                "dlopen: {}",
                err.to_string_lossy()
            )));
        }
        let sym = libc::dlsym(handle, csym.as_ptr());
        if sym.is_null() {
            return Err(LoadError::Harness(format!("symbol {symbol} missing")));
        }
        Ok(&*(sym as *const VMModuleStatic))
    }
}
