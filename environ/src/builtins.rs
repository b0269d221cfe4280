//! Runtime functions called by compiled code.
//!
//! Compiled code never references runtime symbols directly: it loads the
//! function pointer from the builtins table whose address is stored in the
//! `vmctx` (see [`crate::VMOffsets::builtins`]). That keeps module objects free
//! of undefined symbols other than the C library's `memmove` and `memset`
//! (`memory.copy` and `memory.fill` call them directly), so they link into
//! executables, shared objects for the spec runner, and multi-module binaries
//! alike.
//!
//! The list is written once, in [`foreach_builtin!`]; the compiler derives
//! Cranelift signatures from it and the runtime derives its typed table of
//! `extern "C"` function pointers from it, so the two cannot disagree.
//!
//! Types: `vmctx` and `pointer` are pointer-sized, `reference` is a
//! pointer-sized funcref/externref. Functions that can fail with a trap return
//! an `i32` that is 0 on success and non-zero when compiled code must trap
//! (out-of-bounds memory for memory ops, out-of-bounds table for table ops).

/// Invokes `$mac! { name(param: type, ...) -> result; ... }` with every builtin.
#[macro_export]
macro_rules! foreach_builtin {
    ($mac:ident) => {
        $mac! {
            memory_grow(vmctx: vmctx, delta: i32) -> i32;
            memory_init(vmctx: vmctx, seg: i32, dst: i32, src: i32, len: i32) -> i32;
            data_drop(vmctx: vmctx, seg: i32) -> i32;
            table_grow(vmctx: vmctx, table: i32, init: reference, delta: i32) -> i32;
            table_fill(vmctx: vmctx, table: i32, dst: i32, val: reference, len: i32) -> i32;
            table_copy(vmctx: vmctx, dst_table: i32, src_table: i32, dst: i32, src: i32, len: i32) -> i32;
            table_init(vmctx: vmctx, table: i32, seg: i32, dst: i32, src: i32, len: i32) -> i32;
            elem_drop(vmctx: vmctx, seg: i32) -> i32;
            // Returns 0 "ok", 1 "not-equal", 2 "timed-out", or a negative
            // status on which compiled code traps: -1 memory not shared
            // (AtomicWaitNonShared), -2 address out of bounds
            // (MemoryOutOfBounds), -3 address misaligned (HeapMisaligned).
            memory_atomic_wait32(vmctx: vmctx, addr: i32, expected: i32, timeout_ns: i64) -> i32;
            memory_atomic_wait64(vmctx: vmctx, addr: i32, expected: i64, timeout_ns: i64) -> i32;
            // Returns the number of waiters woken (0 on unshared memory), or
            // -2 / -3 as for wait.
            memory_atomic_notify(vmctx: vmctx, addr: i32, count: i32) -> i32;
            // Legacy exception handling (protocol and buffer layout in the
            // `w2native-sjlj` crate). `exn_try_call` returns 0 "returned" or
            // 1 "caught" (the exception is then in `buffer`); `exn_throw` and
            // `exn_rethrow` never return; `exn_tag` is the identity of the
            // caller's tag `tag` (the exporter's for an imported tag);
            // `exn_invoke_caught` classifies what an emscripten `invoke_*`
            // caught in `buffer`: 0 a longjmp (swallowed), 1 another
            // exception (compiled code passes it on).
            exn_try_call(vmctx: vmctx, callee_vmctx: pointer, callee: pointer, type_index: i32, values: pointer, buffer: pointer) -> i32;
            exn_throw(vmctx: vmctx, tag: i32, values: pointer) -> i32;
            exn_rethrow(vmctx: vmctx, buffer: pointer) -> i32;
            exn_tag(vmctx: vmctx, tag: i32) -> pointer;
            exn_invoke_caught(vmctx: vmctx, buffer: pointer) -> i32;
            // Called by code compiled with interrupt checks when
            // `vmctx.interrupt` is non-zero; clears it and lets the runtime
            // act (the Linux Runner delivers signals and lets the kernel
            // schedule). Returns 0.
            interrupt(vmctx: vmctx) -> i32;
        }
    };
}

macro_rules! define_builtin_enum {
    ($($name:ident($($pname:ident: $pty:ident),*) -> $rty:ident;)*) => {
        /// Index of a builtin in the table pointed to by `vmctx.builtins`.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum Builtin {
            $($name,)*
        }

        impl Builtin {
            pub const ALL: &'static [Builtin] = &[$(Builtin::$name,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Builtin::$name => stringify!($name),)*
                }
            }

            /// Parameter and result types as the abstract names used in
            /// [`foreach_builtin!`].
            pub fn signature(self) -> (&'static [&'static str], &'static str) {
                match self {
                    $(Builtin::$name => (&[$(stringify!($pty)),*], stringify!($rty)),)*
                }
            }
        }
    };
}

foreach_builtin!(define_builtin_enum);

impl Builtin {
    pub fn index(self) -> u32 {
        self as u32
    }
}
