//! Translation of one function body from wasm operators to Cranelift IR.
//!
//! One pass over the operators with a value stack and a control stack; the
//! few things that depend on the module environment (memory base, globals,
//! tables, calls, builtins) are the hooks in `env`.
//!
//! Conventions (see environ's `VMOffsets` for the vmctx layout):
//! - the function's first parameter is the vmctx (pointer-sized);
//! - a direct call to defined function `i` uses
//!   `UserExternalName::new(0, i)` (the object writer declares defined
//!   functions first, so `i` is also their `FuncId`); calls to imported
//!   functions load `{func_ptr, vmctx}` from the vmctx;
//! - traps use the codes of `crate::abi::trap_code`.

use crate::error::Result;
use crate::module_info::FunctionInput;
use crate::{abi::TargetAbi, BoundsMode};
use cranelift_codegen::ir;
use cranelift_frontend::FunctionBuilderContext;
use w2native_environ::{ModuleDesc, VMOffsets};

/// Everything a function translation reads about its module and target.
pub struct TranslateEnv<'a> {
    pub desc: &'a ModuleDesc,
    pub offsets: VMOffsets,
    pub abi: TargetAbi,
    pub bounds: BoundsMode,
}

/// Translates defined function `def_index` (index among defined functions),
/// validating its body on the way.
pub fn translate_function(
    env: &TranslateEnv<'_>,
    def_index: u32,
    input: FunctionInput<'_>,
    builder_ctx: &mut FunctionBuilderContext,
) -> Result<ir::Function> {
    let _ = (env, def_index, input, builder_ctx);
    todo!("translator")
}
