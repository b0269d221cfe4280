//! wasi-threads: every wasm thread is a real OS thread running its own
//! instance of the module.
//!
//! A wasi-threads module imports a shared memory and `wasi.thread-spawn
//! (start_arg) -> tid`, and exports `wasi_thread_start(tid, start_arg)`.
//! `thread-spawn` instantiates the caller's module again on a new OS thread
//! with the same memory (and the same WASI and sjlj imports): the new
//! instance has its own globals (`__stack_pointer`, `__tls_base`) and its
//! own table, filled with the same function indices, so function pointers
//! mean the same in every thread. Passive data segments are applied once by
//! the module's start function (`__wasm_init_memory` guards itself with an
//! atomic flag in the shared memory).
//!
//! A trap or `proc_exit` in any thread ends the whole process, as in
//! wasi-threads; a finished `wasi_thread_start` just ends its OS thread.

use std::sync::atomic::{AtomicI32, Ordering};

use w2native_environ::{FuncType, ImportKind, ValType};

use crate::instance::{Extern, Func, Imports, Instance, InstanceInner, Memory, Module, Val};
use crate::traphandlers::TrapError;
use crate::vm::VMContext;

pub const MODULE: &str = "wasi";
pub const SPAWN: &str = "thread-spawn";
pub const START: &str = "wasi_thread_start";

/// Native stack of a wasm thread (compiled frames live on it).
const THREAD_STACK: usize = 8 << 20;

static NEXT_TID: AtomicI32 = AtomicI32::new(1);

fn spawn_type() -> FuncType {
    FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    }
}

/// Defines what a threaded module imports besides WASI: its memory (made
/// here from the declared type, or `memory` when a thread instance shares
/// an existing one) and `wasi.thread-spawn`.
pub fn add_to_imports(
    imports: &mut Imports,
    module: &Module,
    memory: Option<Memory>,
) -> Result<(), String> {
    for imp in &module.desc().imports {
        match &imp.kind {
            ImportKind::Memory(mt) => {
                let m = match &memory {
                    Some(m) => m.clone(),
                    None => Memory::new(*mt)?,
                };
                imports.define(&imp.module, &imp.field, Extern::Memory(m));
            }
            ImportKind::Func(t)
                if imp.module == MODULE
                    && imp.field == SPAWN
                    && module.desc().types[*t as usize] == spawn_type() =>
            {
                // SAFETY: `thread_spawn` has the native signature of (i32) -> i32.
                let f = unsafe { Func::host(thread_spawn as *const u8, spawn_type()) };
                imports.define(MODULE, SPAWN, Extern::Func(f));
            }
            _ => {}
        }
    }
    Ok(())
}

/// All imports of a command or thread instance: WASI, sjlj, threads.
pub fn command_imports(module: &Module, memory: Option<Memory>) -> Result<Imports, String> {
    let mut imports = Imports::new();
    crate::wasi::add_to_imports(&mut imports);
    crate::exceptions::add_to_imports(&mut imports, module);
    add_to_imports(&mut imports, module, memory)?;
    Ok(imports)
}

/// `wasi.thread-spawn(start_arg)`: a positive thread id, or -1.
unsafe extern "C" fn thread_spawn(vmctx: *mut VMContext, start_arg: i32) -> i32 {
    // SAFETY: compiled code passes its own live vmctx.
    let inst = unsafe { InstanceInner::from_vmctx(vmctx) };
    let module = inst.module.clone();
    let Some(memory) = inst.memories.first().cloned() else {
        return -1;
    };
    if !memory.ty().shared {
        return -1;
    }
    let tid = NEXT_TID.fetch_add(1, Ordering::Relaxed);
    if tid <= 0 || tid >= 1 << 29 {
        return -1;
    }
    let spawned = std::thread::Builder::new()
        .name(format!("wasm-thread-{tid}"))
        .stack_size(THREAD_STACK)
        .spawn(move || run_thread(module, memory, tid, start_arg));
    match spawned {
        Ok(_) => tid,
        Err(_) => -1,
    }
}

fn run_thread(module: Module, memory: Memory, tid: i32, start_arg: i32) {
    let fail = |msg: String| -> ! {
        eprintln!("error: thread {tid}: {msg}");
        std::process::exit(1)
    };
    let imports = command_imports(&module, Some(memory)).unwrap_or_else(|e| fail(e));
    let instance = Instance::new(&module, &imports).unwrap_or_else(|e| fail(e.to_string()));
    let Some(start) = instance.get_func(START) else {
        fail(format!("module {} exports no `{START}`", module.name()))
    };
    match start.call(&[Val::I32(tid), Val::I32(start_arg)]) {
        Ok(_) => {}
        Err(TrapError::Exit(code)) => std::process::exit(code),
        Err(e) => std::process::exit(crate::entry::outcome(e)),
    }
}
