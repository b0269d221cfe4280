//! The native side: modules compiled by w2native, linked many to a shared
//! object, loaded into this process and run through `runtime-support`'s
//! embedding API.
//!
//! Linking costs a `cc -shared` (tens of milliseconds of CPU), so a batch of
//! cases shares one: every module has its own symbol namespace, and each
//! `w2n_<ns>_module` record is looked up with `dlsym`. Libraries are never
//! unloaded (the records must live as long as the process).

use crate::{arguments, CallResult, Outcome, Rng, TableState, TrapKind, Ty, Value};
use runtime_support::{Extern, Imports, Instance, InstantiationError, Module, TrapError, Val};
use std::ffi::CString;
use std::path::Path;
use std::process::Command;
use w2native::{BoundsMode, CompileOptions, Target};
use w2native_environ::{symbols, ExportKind, Trap, VMModuleStatic, ValType};

/// One case to compile.
pub struct Case {
    pub seed: u64,
    pub wasm: Vec<u8>,
    pub bounds: BoundsMode,
}

fn namespace(seed: u64) -> String {
    format!("f{seed:x}")
}

/// Compiles one module; a panic in the compiler becomes an error that says so.
pub fn compile(wasm: &[u8], ns: &str, bounds: BoundsMode) -> Result<Vec<u8>, String> {
    let mut opts = CompileOptions::new(Target::host(), ns, "fuzz");
    opts.bounds = bounds;
    opts.verify = false;
    match std::panic::catch_unwind(|| w2native::compile_module(wasm, &opts)) {
        Ok(Ok((object, _))) => Ok(object),
        Ok(Err(e)) => Err(format!("compile error: {e}")),
        Err(p) => Err(format!("compiler panic: {}", panic_text(&p))),
    }
}

pub fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Compiles every case, links the objects into one shared object in `dir`
/// and loads it. One result per case, in order.
pub fn load_batch(cases: &[Case], dir: &Path) -> Vec<Result<Module, String>> {
    let mut results: Vec<Result<Option<std::path::PathBuf>, String>> = Vec::new();
    for case in cases {
        let ns = namespace(case.seed);
        results.push(compile(&case.wasm, &ns, case.bounds).and_then(|object| {
            let path = dir.join(format!("{ns}.o"));
            std::fs::write(&path, object).map_err(|e| format!("write object: {e}"))?;
            Ok(Some(path))
        }));
    }
    let objects: Vec<&std::path::PathBuf> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().and_then(|p| p.as_ref()))
        .collect();
    if objects.is_empty() {
        return results
            .into_iter()
            .map(|r| r.map(|_| unreachable!()))
            .collect();
    }
    let first = cases.first().map_or(0, |c| c.seed);
    let so = dir.join(format!("batch{first:x}.so"));
    let linked = Command::new("cc")
        .arg("-shared")
        .arg("-o")
        .arg(&so)
        .args(&objects)
        .arg("-lm")
        .output();
    let link_error = match linked {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "cc -shared failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run cc: {e}")),
    };
    let handle = match link_error {
        None => dlopen(&so),
        Some(e) => Err(e),
    };
    cases
        .iter()
        .zip(results)
        .map(|(case, r)| {
            r?;
            let handle = handle.clone()?;
            let record = dlsym_record(handle, &symbols::module_record(&namespace(case.seed)))?;
            Module::new(record)
        })
        .collect()
}

#[derive(Clone, Copy)]
struct Handle(*mut libc::c_void);

fn dlopen(path: &Path) -> Result<Handle, String> {
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: the library is ours (objects w2native just wrote), has no
    // initializers and is never unloaded.
    unsafe {
        let handle = libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            let err = std::ffi::CStr::from_ptr(libc::dlerror());
            return Err(format!("dlopen: {}", err.to_string_lossy()));
        }
        Ok(Handle(handle))
    }
}

fn dlsym_record(handle: Handle, symbol: &str) -> Result<&'static VMModuleStatic, String> {
    let csym = CString::new(symbol).map_err(|e| e.to_string())?;
    // SAFETY: the symbol is the module record w2native emits; the library
    // is never unloaded, so the reference lives forever.
    unsafe {
        let sym = libc::dlsym(handle.0, csym.as_ptr());
        if sym.is_null() {
            return Err(format!("symbol {symbol} missing"));
        }
        Ok(&*(sym as *const VMModuleStatic))
    }
}

fn ty(t: ValType) -> Ty {
    match t {
        ValType::I32 => Ty::I32,
        ValType::I64 => Ty::I64,
        ValType::F32 => Ty::F32,
        ValType::F64 => Ty::F64,
        ValType::FuncRef => Ty::FuncRef,
        _ => Ty::ExternRef,
    }
}

fn to_val(v: &Value, t: ValType) -> Val {
    match *v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(x),
        Value::F64(x) => Val::F64(x),
        Value::Ref { .. } if t == ValType::FuncRef => Val::FuncRef(0),
        Value::Ref { .. } => Val::ExternRef(0),
    }
}

fn from_val(v: &Val) -> Value {
    match *v {
        Val::I32(x) => Value::I32(x),
        Val::I64(x) => Value::I64(x),
        Val::F32(x) => Value::F32(x),
        Val::F64(x) => Value::F64(x),
        Val::FuncRef(r) | Val::ExternRef(r) => Value::Ref { null: r == 0 },
        Val::V128(_) => Value::I64(0),
    }
}

fn trap_kind(e: &TrapError) -> TrapKind {
    match e.trap() {
        Some(Trap::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(Trap::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(Trap::TableOutOfBounds | Trap::UndefinedElement) => TrapKind::TableOutOfBounds,
        Some(Trap::IndirectCallToNull) => TrapKind::IndirectCallToNull,
        Some(Trap::BadSignature) => TrapKind::BadSignature,
        Some(Trap::IntegerOverflow) => TrapKind::IntegerOverflow,
        Some(Trap::IntegerDivisionByZero) => TrapKind::IntegerDivisionByZero,
        Some(Trap::BadConversionToInteger) => TrapKind::BadConversionToInteger,
        Some(Trap::NullReference) => TrapKind::NullReference,
        Some(Trap::StackOverflow) => TrapKind::StackOverflow,
        _ => TrapKind::Other,
    }
}

/// The same protocol as [`crate::reference::run`], natively.
pub fn run(module: &Module, arg_seed: u64) -> Outcome {
    let mut outcome = Outcome::default();
    let instance = match Instance::new(module, &Imports::new()) {
        Ok(i) => i,
        Err(InstantiationError::Trap(t)) => {
            outcome.instantiation_trap = Some(trap_kind(&t));
            return outcome;
        }
        Err(_) => {
            outcome.instantiation_trap = Some(TrapKind::Other);
            return outcome;
        }
    };
    let mut rng = Rng::new(arg_seed);
    // Exports in name order, as the reference does.
    let mut exports = module.desc().exports.clone();
    exports.sort_by(|a, b| a.name.cmp(&b.name));
    for export in &exports {
        if export.kind != ExportKind::Func {
            continue;
        }
        let Some(func) = instance.get_func(&export.name) else {
            continue;
        };
        let fty = func.ty().clone();
        let params: Vec<Ty> = fty.params.iter().copied().map(ty).collect();
        let args: Vec<Val> = arguments(&params, &mut rng)
            .iter()
            .zip(&fty.params)
            .map(|(v, t)| to_val(v, *t))
            .collect();
        let result = match func.call(&args) {
            Ok(values) => CallResult::Returned(values.iter().map(from_val).collect()),
            Err(e) => CallResult::Trapped(trap_kind(&e)),
        };
        let exhausted = result == CallResult::Trapped(TrapKind::StackOverflow);
        outcome.calls.push((export.name.clone(), result));
        if exhausted {
            outcome.exhausted = true;
            return outcome;
        }
    }
    for export in &exports {
        match instance.get_export(&export.name) {
            Some(Extern::Global(g)) => outcome
                .globals
                .push((export.name.clone(), from_val(&g.get()))),
            Some(Extern::Table(t)) => {
                let size = t.size() as u64;
                let nulls = (0..t.size())
                    .map(|i| {
                        t.get(i)
                            .is_none_or(|v| from_val(&v) == Value::Ref { null: true })
                    })
                    .collect();
                outcome
                    .tables
                    .push((export.name.clone(), TableState { size, nulls }));
            }
            Some(Extern::Memory(m)) => {
                let pages = m.pages();
                let data = m.read(0, (pages as usize) << 16).unwrap_or_default();
                outcome.memories.push((export.name.clone(), pages, data));
            }
            _ => {}
        }
    }
    outcome
}
