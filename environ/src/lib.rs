//! The contract between compiled code and the runtime, defined exactly once.
//!
//! Both the compiler (`w2native`) and the runtime (`runtime-support`) depend on
//! this crate; it knows nothing about Cranelift, Linux or the host OS. It holds:
//!
//! - [`VMOffsets`]: the layout of the per-instance `VMContext` that every
//!   compiled function receives as its first argument;
//! - [`Trap`]: the trap codes compiled code can raise, with their messages;
//! - [`Builtin`]: the runtime functions compiled code calls through the
//!   `vmctx` builtins table (no symbol references, so objects link anywhere);
//! - [`ModuleDesc`]: everything about a module that is not machine code
//!   (types, imports, exports, segments, names, trap sites), serialized into
//!   the object and read back by the runtime at instantiation;
//! - [`symbols`]: how symbols of a module are named inside a shared binary.
//!
//! If you are writing a wasm embedder, this crate is not for you: use wasmtime.

mod builtins;
mod module;
pub mod symbols;
mod trap;
mod vmoffsets;

pub use builtins::Builtin;
pub use module::*;
pub use trap::Trap;
pub use vmoffsets::*;
