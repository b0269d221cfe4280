//! The runtime linked into every w2native output, and used in-process by the
//! spec test runner.
//!
//! It instantiates compiled modules from the `VMModuleStatic` record the
//! compiler emits ([`Module`], [`Instance`]), owns linear memories and tables,
//! implements the builtins compiled code calls through its `vmctx`, turns
//! hardware faults in compiled code into named wasm traps, and provides WASI
//! preview1 plus the `w2n_main` entry point of compiled executables, and
//! the Linux Runner ([`linux`]: `w2n_linux_main`, the kernel's host ops).
//!
//! The layout of everything compiled code touches is defined in
//! `w2native-environ`; this crate only implements it. It knows the vmctx
//! layout and the host ABI, nothing about the compiler.

pub mod atomics;
pub mod builtins;
pub mod entry;
pub mod exceptions;
pub mod instance;
pub mod linux;
pub mod memory;
pub mod table;
pub mod threads;
pub mod traphandlers;
pub mod vm;
pub mod wasi;

pub use instance::{
    intern_type, type_of_id, Extern, Func, Global, Imports, Instance, InstantiationError, Memory,
    Module, Table, Tag, Val,
};
pub use traphandlers::{catch_traps, raise_exit, raise_trap, TrapError};
pub use w2native_environ as environ;
