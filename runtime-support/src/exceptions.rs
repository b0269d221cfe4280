//! Wasm exceptions at run time: the try-call, throw and rethrow builtins of
//! the protocol in `w2native-sjlj`, and the emscripten sjlj imports.
//!
//! A try-call ([`exn_try_call`]) pushes a [`Handler`] on this thread's
//! handler chain and calls the callee inside `w2n_call_protected`, which
//! saved the callee-saved registers and sp in the handler. A throw copies
//! the tag identity and payload into the innermost handler's buffer, pops
//! it and `w2n_unwind`s to it, so `exn_try_call` returns "caught" to the
//! compiled code that called it. The chain is separate from the trap chain
//! of `traphandlers` (a trap is never caught by a wasm `catch`), but each
//! handler remembers the trap landing that was current when it was pushed,
//! and a throw restores it: an exception passes through host frames (and
//! their `catch_traps`) between the thrower and the handler, as the guest
//! ABI wants for a `longjmp` out of a signal handler. An exception with no
//! handler on the thread is the trap "uncaught exception".
//!
//! Unsafe rules of this module: as in `traphandlers`, frames skipped by an
//! unwind are compiled code and host functions that hold nothing needing a
//! destructor. A handler is on the chain only while its `exn_try_call`
//! frame is live: it is popped by the normal return, by the throw that
//! lands on it, and by `catch_traps` for handlers a trap skipped.

use std::cell::Cell;

use w2native_environ::{FuncType, ImportKind, Trap, ValRaw, ValType};
use w2native_sjlj::{emscripten, layout, protocol};

use crate::instance::{Extern, Func, Imports, InstanceInner, Module};
use crate::traphandlers::{self, w2n_call_protected, w2n_unwind, JmpBuf};
use crate::vm::VMContext;

/// A native landing of a try-call.
#[repr(C)]
pub(crate) struct Handler {
    buf: JmpBuf,
    prev: *mut Handler,
    /// The trap landing current when the handler was pushed.
    trap_buf: *mut JmpBuf,
    /// Where a caught exception is copied, with room for `capacity` values.
    buffer: *mut u8,
    capacity: u32,
}

thread_local! {
    static HANDLERS: Cell<*mut Handler> = const { Cell::new(std::ptr::null_mut()) };
    static TEMP_RET0: Cell<i32> = const { Cell::new(0) };
}

/// The innermost handler of this thread (for `catch_traps` to restore).
pub(crate) fn top() -> *mut Handler {
    HANDLERS.with(|h| h.get())
}

pub(crate) fn set_top(h: *mut Handler) {
    HANDLERS.with(|c| c.set(h));
}

/// An exception in flight, read from a buffer or a throw's arguments.
struct Exception<'a> {
    tag: usize,
    payload: &'a [ValRaw],
}

/// Delivers `exn` to the innermost handler, or traps.
///
/// # Safety
/// Every frame up to the handler is skipped without destructors.
unsafe fn throw(exn: Exception<'_>) -> ! {
    let h = top();
    if h.is_null() {
        // SAFETY: the module rules of traphandlers apply.
        unsafe { traphandlers::raise_trap(Trap::UncaughtException) }
    }
    // SAFETY: `h` is live (module rules); its buffer has room for
    // `capacity` values after the header. The tag and count of `exn` are
    // already read when the header is overwritten.
    unsafe {
        let h = &mut *h;
        let count = exn.payload.len() as u32;
        let kept = count.min(h.capacity) as usize;
        // `copy` (memmove) since a rethrow may read from this very buffer.
        std::ptr::copy(
            exn.payload.as_ptr() as *const u8,
            h.buffer.add(layout::PAYLOAD as usize),
            kept * std::mem::size_of::<ValRaw>(),
        );
        (h.buffer.add(layout::TAG as usize) as *mut usize).write_unaligned(exn.tag);
        (h.buffer.add(layout::COUNT as usize) as *mut u32).write_unaligned(count);
        set_top(h.prev);
        traphandlers::set_current(h.trap_buf);
        w2n_unwind(&mut h.buf)
    }
}

struct CallCtx {
    trampoline: unsafe extern "C" fn(*mut VMContext, *const u8, *mut ValRaw),
    vmctx: *mut VMContext,
    callee: *const u8,
    values: *mut ValRaw,
}

unsafe extern "C" fn call_trampoline(ctx: *mut u8) {
    // SAFETY: `ctx` is the CallCtx of `try_call` below.
    unsafe {
        let c = &*(ctx as *const CallCtx);
        (c.trampoline)(c.vmctx, c.callee, c.values)
    }
}

/// Calls `callee` through `trampoline` with a handler on the chain.
/// Returns `protocol::RETURNED` or `protocol::CAUGHT`.
///
/// # Safety
/// The arguments must make a valid array call; `buffer` must have room for
/// `capacity` payload values.
pub(crate) unsafe fn try_call(
    trampoline: *const u8,
    vmctx: *mut VMContext,
    callee: *const u8,
    values: *mut ValRaw,
    buffer: *mut u8,
    capacity: u32,
) -> i32 {
    let mut ctx = CallCtx {
        // SAFETY: trampolines have this signature (VMModuleStatic docs).
        trampoline: unsafe {
            std::mem::transmute::<
                *const u8,
                unsafe extern "C" fn(*mut VMContext, *const u8, *mut ValRaw),
            >(trampoline)
        },
        vmctx,
        callee,
        values,
    };
    // The register save area is written by `w2n_call_protected` before it
    // is ever read: no need to zero its 256 bytes on every call.
    let mut h = std::mem::MaybeUninit::<Handler>::uninit();
    let hp = h.as_mut_ptr();
    let prev = top();
    // SAFETY: writing the plain fields of our own uninitialised handler;
    // `buf` is filled by `w2n_call_protected` below before any unwind reads
    // it. `h` and `ctx` outlive the call; a throw pops `h` before unwinding
    // to it.
    let rc = unsafe {
        std::ptr::addr_of_mut!((*hp).prev).write(prev);
        std::ptr::addr_of_mut!((*hp).trap_buf).write(traphandlers::current());
        std::ptr::addr_of_mut!((*hp).buffer).write(buffer);
        std::ptr::addr_of_mut!((*hp).capacity).write(capacity);
        set_top(hp);
        w2n_call_protected(
            std::ptr::addr_of_mut!((*hp).buf),
            call_trampoline,
            &mut ctx as *mut CallCtx as *mut u8,
        )
    };
    set_top(prev);
    if rc == 0 {
        protocol::RETURNED
    } else {
        protocol::CAUGHT
    }
}

fn instance<'a>(vmctx: *mut VMContext) -> &'a InstanceInner {
    // SAFETY: compiled code passes its own live vmctx.
    unsafe { InstanceInner::from_vmctx(vmctx) }
}

// ----- builtins (see `foreach_builtin!`) -----

pub(crate) unsafe extern "C" fn exn_try_call(
    vmctx: *mut VMContext,
    callee_vmctx: usize,
    callee: usize,
    type_index: i32,
    values: usize,
    buffer: usize,
) -> i32 {
    let inst = instance(vmctx);
    // SAFETY: compiled code passes one of its module's type indices, a
    // callee of that type, its values slot and its exception buffer sized
    // for the module.
    unsafe {
        let trampoline = *inst.trampolines.add(type_index as usize);
        try_call(
            trampoline,
            callee_vmctx as *mut VMContext,
            callee as *const u8,
            values as *mut ValRaw,
            buffer as *mut u8,
            inst.exn_capacity,
        )
    }
}

pub(crate) unsafe extern "C" fn exn_throw(vmctx: *mut VMContext, tag: i32, values: usize) -> i32 {
    let inst = instance(vmctx);
    let tag = &inst.tags[tag as usize];
    let n = tag.ty().params.len();
    // SAFETY: compiled code stored the `n` payload values there.
    let payload = unsafe { std::slice::from_raw_parts(values as *const ValRaw, n) };
    // SAFETY: called by compiled code (module rules).
    unsafe {
        throw(Exception {
            tag: tag.id(),
            payload,
        })
    }
}

/// Reads the exception in a buffer of `vmctx`'s module.
///
/// # Safety
/// `buffer` must be such a buffer, filled by a throw or by compiled code.
unsafe fn read_buffer<'a>(vmctx: *mut VMContext, buffer: usize) -> Exception<'a> {
    let cap = instance(vmctx).module.exn_capacity();
    let p = buffer as *const u8;
    // SAFETY: the caller's guarantee; the count is capped by the capacity.
    unsafe {
        let tag = (p.add(layout::TAG as usize) as *const usize).read_unaligned();
        let count = (p.add(layout::COUNT as usize) as *const u32).read_unaligned();
        let n = count.min(cap) as usize;
        let payload =
            std::slice::from_raw_parts(p.add(layout::PAYLOAD as usize) as *const ValRaw, n);
        Exception { tag, payload }
    }
}

pub(crate) unsafe extern "C" fn exn_rethrow(vmctx: *mut VMContext, buffer: usize) -> i32 {
    // SAFETY: compiled code passes a buffer holding a caught exception.
    unsafe { throw(read_buffer(vmctx, buffer)) }
}

pub(crate) unsafe extern "C" fn exn_tag(vmctx: *mut VMContext, tag: i32) -> usize {
    instance(vmctx).tags[tag as usize].id()
}

/// The identity of the native exception `emscripten_longjmp` throws (tag
/// identities of instances start at 1 and count up, so they never reach it).
const EMSCRIPTEN_LONGJMP: usize = usize::MAX;

pub(crate) unsafe extern "C" fn exn_invoke_caught(vmctx: *mut VMContext, buffer: usize) -> i32 {
    // SAFETY: compiled code passes the buffer its try-call filled.
    let exn = unsafe { read_buffer(vmctx, buffer) };
    i32::from(exn.tag != EMSCRIPTEN_LONGJMP)
}

// ----- emscripten sjlj host functions -----

/// `env.emscripten_longjmp(env, val)`: records the jump through the
/// module's `setThrew` export, then unwinds to the innermost `invoke_*`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
pub(crate) unsafe extern "C" fn emscripten_longjmp(vmctx: *mut VMContext, env: i32, val: i32) {
    let inst = instance(vmctx);
    let ty = FuncType {
        params: vec![ValType::I32, ValType::I32],
        results: vec![],
    };
    let Some(set_threw) = inst.export_func_of_type(emscripten::SET_THREW, &ty) else {
        eprintln!(
            "trap: emscripten_longjmp needs the module to export `{}`",
            emscripten::SET_THREW
        );
        // SAFETY: module rules.
        unsafe { traphandlers::raise_trap(Trap::UnreachableCodeReached) }
    };
    // SAFETY: `setThrew` has type (i32, i32) -> () (checked) and its
    // context is alive.
    unsafe {
        let f: unsafe extern "C" fn(*mut VMContext, i32, i32) = std::mem::transmute(set_threw.0);
        // longjmp(env, 0) makes setjmp return 1.
        f(set_threw.1, env, if val == 0 { 1 } else { val });
        throw(Exception {
            tag: EMSCRIPTEN_LONGJMP,
            payload: &[],
        })
    }
}

/// `env.setTempRet0(v)`.
pub(crate) unsafe extern "C" fn set_temp_ret0(_vmctx: *mut VMContext, v: i32) {
    TEMP_RET0.with(|c| c.set(v));
}

/// `env.getTempRet0()`.
pub(crate) unsafe extern "C" fn get_temp_ret0(_vmctx: *mut VMContext) -> i32 {
    TEMP_RET0.with(|c| c.get())
}

/// A host function standing for an `invoke_*` import: the compiler lowers
/// calls to them inline, so this only runs if one is reached another way
/// (through a table).
pub(crate) unsafe extern "C" fn invoke_not_inlined(_vmctx: *mut VMContext) {
    // SAFETY: module rules.
    unsafe { traphandlers::raise_trap(Trap::UnreachableCodeReached) }
}

/// Defines the emscripten sjlj imports `module` has (`env.invoke_*`,
/// `env.emscripten_longjmp`, `env.setTempRet0`, `env.getTempRet0`) in
/// `imports`, with the types the module declares for them; a declared type
/// that does not fit leaves the import undefined (a link error names it).
pub fn add_to_imports(imports: &mut Imports, module: &Module) {
    let desc = module.desc();
    for imp in &desc.imports {
        let ImportKind::Func(t) = imp.kind else {
            continue;
        };
        if imp.module != emscripten::MODULE {
            continue;
        }
        let ty = desc.types[t as usize].clone();
        let i32s = |n| vec![ValType::I32; n];
        let (ptr, want): (*const u8, Option<FuncType>) = match imp.field.as_str() {
            emscripten::LONGJMP => (
                emscripten_longjmp as *const u8,
                Some(FuncType {
                    params: i32s(2),
                    results: vec![],
                }),
            ),
            emscripten::SET_TEMP_RET0 => (
                set_temp_ret0 as *const u8,
                Some(FuncType {
                    params: i32s(1),
                    results: vec![],
                }),
            ),
            emscripten::GET_TEMP_RET0 => (
                get_temp_ret0 as *const u8,
                Some(FuncType {
                    params: vec![],
                    results: i32s(1),
                }),
            ),
            f if emscripten::is_invoke(&imp.module, f) => (invoke_not_inlined as *const u8, None),
            _ => continue,
        };
        if want.as_ref().is_some_and(|w| *w != ty) {
            continue;
        }
        // SAFETY: each function above has the native signature of `ty`
        // (`invoke_not_inlined` never reads its arguments).
        let func = unsafe { Func::host(ptr, ty) };
        imports.define(&imp.module, &imp.field, Extern::Func(func));
    }
}
