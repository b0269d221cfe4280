//! The one kernel instance and its entry points.
//!
//! The kernel is instantiated once and its exports are called from many
//! host threads at the same time (they block inside the kernel on its CPU
//! lock). Two consequences for how we call it:
//!
//! * the exports are called straight through their native function pointers
//!   (`fn(vmctx, args..)`), never through [`crate::Func::call`], which would
//!   rewrite the instance's stack limit for the calling thread;
//! * the instance's stack limit is 0 (no check): one `vmctx` cannot hold the
//!   stack bounds of many threads. A runaway recursion in kernel code hits
//!   the host thread's guard page instead of a named trap.

use std::sync::OnceLock;

use w2native_environ::{ExportKind, FuncType, ImportKind, VMModuleStatic, ValType};

use crate::instance::{Extern, Instance, Module};
use crate::vm::{memory_len, VMContext};

type Fn1 = unsafe extern "C" fn(*mut VMContext, i32);
type Fn2R = unsafe extern "C" fn(*mut VMContext, i32, i32) -> i32;
type Fn7R = unsafe extern "C" fn(*mut VMContext, i32, i32, i32, i32, i32, i32, i32) -> i32;

/// The kernel instance and the native entry points of its exports.
pub struct Kernel {
    instance: Instance,
    vmctx: *mut VMContext,
    boot: Fn1,
    thread_start: Fn1,
    irq: Fn1,
    syscall: Fn7R,
    get_signal: Fn2R,
}

// SAFETY: the instance lives for the whole process; its exports may be
// called from any thread (docs/host-abi.md, "One instance, many host
// threads").
unsafe impl Send for Kernel {}
// SAFETY: see Send.
unsafe impl Sync for Kernel {}

static KERNEL: OnceLock<Kernel> = OnceLock::new();

/// Size of what `kernel_get_signal` writes (docs/host-abi.md): handler,
/// `sa_flags`, the mask to restore after the handler, then the siginfo.
pub const SIGNAL_SIZE: u32 = 16 + 128;

/// Arch-private syscall of the Runner (never a user program's): tell the
/// kernel where a new program's argument and environment strings are.
pub const NR_SET_MM_ARGS: i32 = 0xf0001;

/// The kernel; only valid once [`Kernel::instantiate`] succeeded.
pub fn kernel() -> &'static Kernel {
    KERNEL.get().expect("kernel instantiated")
}

/// The kernel's module with its memory marked `shared`: user programs
/// import that one memory as `env.memory shared` (docs/guest-abi.md), and
/// the import check compares the flag. Nothing else changes: a memory's
/// base never moves and threads already share it; the kernel's code was
/// compiled for an unshared memory, which it may keep assuming, since it
/// runs on one thread at a time.
fn shared_memory_module(record: &'static VMModuleStatic) -> Result<Module, String> {
    let mut desc = Module::decode_desc(record)?;
    if desc.num_imported_memories == 0 {
        if let Some(m) = desc.memories.first_mut() {
            m.shared = true;
        }
    }
    Module::with_desc(record, desc)
}

fn sig(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType {
        params: params.to_vec(),
        results: results.to_vec(),
    }
}

impl Kernel {
    /// Instantiates `record` with the host ops and finds its entry points.
    pub fn instantiate(record: &'static VMModuleStatic) -> Result<&'static Kernel, String> {
        let module = shared_memory_module(record)?;
        for imp in module.imports() {
            let ok = imp.module == "host"
                && matches!(imp.kind, ImportKind::Func(_))
                && super::hostops::lookup(&imp.field).is_some();
            if !ok {
                return Err(format!(
                    "kernel module imports `{}`::`{}`, which the Runner does not provide (see docs/host-abi.md)",
                    imp.module, imp.field
                ));
            }
        }
        let instance = Instance::new_with_resolver(&module, &mut |imp| {
            super::hostops::lookup(&imp.field).map(Extern::Func)
        })
        .map_err(|e| format!("cannot instantiate the kernel: {e}"))?;
        instance.set_stack_limit(0);
        let vmctx = instance.vmctx();
        let desc = module.desc();
        let entry = |name: &str, want: FuncType| -> Result<*const u8, String> {
            let e = desc
                .exports
                .iter()
                .find(|e| e.name == name && e.kind == ExportKind::Func)
                .ok_or_else(|| format!("kernel module has no `{name}` export"))?;
            let ty = &desc.types[desc.funcs[e.index as usize] as usize];
            if *ty != want {
                return Err(format!(
                    "kernel export `{name}` has type {ty:?}, expected {want:?}"
                ));
            }
            // SAFETY: funcrefs has one entry per function of the module.
            let f = unsafe { *(*vmctx).funcrefs.add(e.index as usize) };
            if f.vmctx != vmctx {
                return Err(format!("kernel export `{name}` is an import"));
            }
            Ok(f.func_ptr)
        };
        use ValType::I32;
        let boot = entry("kernel_boot", sig(&[I32], &[]))?;
        let thread_start = entry("kernel_thread_start", sig(&[I32], &[]))?;
        let irq = entry("kernel_irq", sig(&[I32], &[]))?;
        let syscall = entry("kernel_syscall", sig(&[I32; 7], &[I32]))?;
        let get_signal = entry("kernel_get_signal", sig(&[I32; 2], &[I32]))?;
        // SAFETY: each pointer is a defined function whose wasm type was
        // checked above; its native signature is `fn(vmctx, params..)`.
        let k = unsafe {
            Kernel {
                instance,
                vmctx,
                boot: std::mem::transmute::<*const u8, Fn1>(boot),
                thread_start: std::mem::transmute::<*const u8, Fn1>(thread_start),
                irq: std::mem::transmute::<*const u8, Fn1>(irq),
                syscall: std::mem::transmute::<*const u8, Fn7R>(syscall),
                get_signal: std::mem::transmute::<*const u8, Fn2R>(get_signal),
            }
        };
        KERNEL
            .set(k)
            .map_err(|_| "the kernel was instantiated twice".to_string())?;
        Ok(kernel())
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The kernel's memory, which every user program imports.
    pub fn memory(&self) -> Option<crate::Memory> {
        self.instance.get_memory("memory")
    }

    /// `kernel_boot(mem_bytes)`: never returns normally.
    pub fn boot(&self, mem_bytes: i32) {
        // SAFETY: entry point checked at instantiation; the context is alive.
        unsafe { (self.boot)(self.vmctx, mem_bytes) }
    }

    /// `kernel_thread_start(arg)`, the body of a thread made by `thread_create`.
    pub fn thread_start(&self, arg: i32) {
        // SAFETY: as in `boot`.
        unsafe { (self.thread_start)(self.vmctx, arg) }
    }

    /// `kernel_irq(irq)` from a thread that carries no task.
    pub fn irq(&self, irq: i32) {
        // SAFETY: as in `boot`.
        unsafe { (self.irq)(self.vmctx, irq) }
    }

    /// `kernel_syscall(nr, args..)` on the calling task's own thread.
    pub fn syscall(&self, nr: i32, a: [i32; 6]) -> i32 {
        // SAFETY: as in `boot`.
        unsafe { (self.syscall)(self.vmctx, nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
    }

    /// `kernel_get_signal(out, size)`: the signal whose handler must run
    /// (0: none) and, at `out`, its [`SIGNAL_SIZE`]-byte description.
    pub fn get_signal(&self, out: u32) -> i32 {
        // SAFETY: as in `boot`.
        unsafe { (self.get_signal)(self.vmctx, out as i32, SIGNAL_SIZE as i32) }
    }

    /// Committed size of the kernel's memory in bytes.
    pub fn mem_len(&self) -> usize {
        // SAFETY: the context is alive for the whole process.
        unsafe { memory_len(self.vmctx) }
    }

    /// Host pointer to `len` bytes of kernel memory at `addr`, or `None`
    /// if the range is not committed.
    pub fn mem(&self, addr: u32, len: usize) -> Option<*mut u8> {
        let end = (addr as usize).checked_add(len)?;
        if end > self.mem_len() {
            return None;
        }
        // SAFETY: inside the committed memory, whose base never moves.
        Some(unsafe { (*self.vmctx).memory_base.add(addr as usize) })
    }

    /// Copies bytes out of kernel memory (empty if out of range).
    pub fn read(&self, addr: u32, len: usize) -> Vec<u8> {
        match self.mem(addr, len) {
            // SAFETY: `mem` checked the range.
            Some(p) => unsafe { std::slice::from_raw_parts(p, len) }.to_vec(),
            None => Vec::new(),
        }
    }

    /// Copies bytes into kernel memory; false if out of range.
    pub fn write(&self, addr: u32, bytes: &[u8]) -> bool {
        match self.mem(addr, bytes.len()) {
            Some(p) => {
                // SAFETY: `mem` checked the range; the source is host memory.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
                true
            }
            None => false,
        }
    }
}
