//! setjmp/longjmp and wasm exceptions, lowered to native code.
//!
//! clang has two ways of compiling C `setjmp`/`longjmp` to wasm, and
//! w2native runs both natively, with no C compiler at build time:
//!
//! (a) `-mllvm -wasm-enable-sjlj`: each function calling `setjmp` gets
//!     `__wasm_setjmp` calls plus legacy `try`/`catch`/`delegate` blocks;
//!     `longjmp` becomes `__wasm_longjmp`, which `throw`s the tag
//!     `__c_longjmp` with one `i32` payload. The helpers are ordinary wasm
//!     code (libc); the engine only needs legacy exception handling, which
//!     this crate describes for any tag, not just `__c_longjmp`.
//! (b) `-mllvm -enable-emscripten-sjlj`: calls that may longjmp become calls
//!     to imports `env.invoke_<sig>(table_index, args..)`, `longjmp` becomes
//!     `env.emscripten_longjmp(env, val)`, and the caller reads the module's
//!     `__THREW__`/`__threwValue` (set through its exported `setThrew`) and
//!     `getTempRet0`. See [`emscripten`].
//!
//! Both share one native mechanism, the *try-call* ([`protocol`]): a call
//! inside a `try` goes through the runtime, which records a native landing
//! (callee-saved registers and sp) on a per-thread handler chain, calls the
//! callee through its array-call trampoline and reports "returned" or
//! "caught" with the exception copied into the caller's buffer
//! ([`layout`]). `throw` stores the tag and payload and unwinds to the
//! innermost landing; a `throw` inside the same function's `try` body is a
//! local branch. The handler chain is separate from the trap chain: a trap
//! is never caught by a wasm `catch`.
//!
//! Who uses it: the translator (`w2native/src/translate/exceptions.rs`)
//! for the buffer layout and the recognition of imports, the runtime
//! (`runtime-support/src/exceptions.rs`) for the same layout and the
//! emscripten imports. Neither Cranelift nor the OS is known here.

pub mod emscripten;

/// Layout of an exception buffer: where a caught exception is copied.
///
/// ```text
/// +0   tag identity   pointer-sized, 0 never names a tag
/// +8   payload count  u32 (values in the payload)
/// +16  payload        16-byte slots, one per value, as `ValRaw`
/// ```
///
/// A buffer has room for the largest payload of the module's tags; an
/// exception with a larger payload (a foreign tag caught by `catch_all`)
/// keeps only what fits, so its `rethrow` is truncated.
pub mod layout {
    pub const TAG: u32 = 0;
    pub const COUNT: u32 = 8;
    pub const PAYLOAD: u32 = 16;
    pub const SLOT: u32 = 16;

    /// Bytes of a buffer holding payloads of up to `max_values` values.
    pub fn buffer_size(max_values: u32) -> u32 {
        PAYLOAD + SLOT * max_values
    }

    /// Offset of payload value `i`.
    pub fn payload(i: u32) -> u32 {
        PAYLOAD + SLOT * i
    }
}

/// The try-call protocol between compiled code and the runtime.
///
/// `exn_try_call(vmctx, callee_vmctx, callee, type_index, values, buffer)`
/// calls `callee(callee_vmctx, params..)` through the array-call trampoline
/// of `type_index` (a type of the caller's module), with the params in
/// `values` (16-byte slots) and the results written back there. It returns
/// [`RETURNED`] or [`CAUGHT`]; on `CAUGHT` the exception is in `buffer`
/// (see [`layout`]) and `values` is garbage.
pub mod protocol {
    pub const RETURNED: i32 = 0;
    pub const CAUGHT: i32 = 1;
}

/// The import and export names of the clang shape (a), for recognition.
pub mod wasm_sjlj {
    pub const SETJMP: &str = "__wasm_setjmp";
    pub const SETJMP_TEST: &str = "__wasm_setjmp_test";
    pub const LONGJMP: &str = "__wasm_longjmp";
    pub const TAG: &str = "__c_longjmp";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_slot_aligned() {
        assert_eq!(layout::buffer_size(0), 16);
        assert_eq!(layout::payload(2), 48);
        assert_eq!(layout::buffer_size(3), layout::payload(3));
    }
}
