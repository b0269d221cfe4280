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

mod code;
mod env;
#[cfg(test)]
mod exec_tests;
mod interrupt;
pub use interrupt::{call_conv as interrupt_call_conv, funcs_with_try};
#[cfg(test)]
pub(crate) mod tests;

use crate::error::{CompileError, Location, Result};
use crate::module_info::{val_type, FunctionInput};
use crate::{abi::TargetAbi, BoundsMode};
use cranelift_codegen::ir::{self, types, InstBuilder, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use w2native_environ::{ModuleDesc, VMOffsets};
use wasmparser::{BinaryReaderError, OperatorsReader};

/// Everything a function translation reads about its module and target.
pub struct TranslateEnv<'a> {
    pub desc: &'a ModuleDesc,
    pub offsets: VMOffsets,
    pub abi: TargetAbi,
    pub bounds: BoundsMode,
    /// Explicit bounds checks removed by `boundscheck-elision`.
    pub elision: Elision,
    /// Interrupt checks at function entries and loop headers
    /// (`interrupt.rs`), with the calling convention of their builtin call
    /// ([`interrupt_call_conv`]); `None`: no checks.
    pub interruptible: Option<cranelift_codegen::isa::CallConv>,
    /// Per defined function: it needs no vmctx (`crate::context_free`), so
    /// direct calls pass it 0 instead of keeping the caller's alive. Empty:
    /// none is.
    pub context_free: Vec<bool>,
}

impl TranslateEnv<'_> {
    /// Defined function `def_index` ignores its vmctx parameter.
    pub fn is_context_free(&self, def_index: u32) -> bool {
        self.context_free
            .get(def_index as usize)
            .copied()
            .unwrap_or(false)
    }
}

/// Whether `boundscheck-elision` runs, and how many checks it removed (all
/// functions; the counter is shared by the parallel workers).
#[derive(Debug)]
pub struct Elision {
    pub enabled: bool,
    pub elided: std::sync::atomic::AtomicUsize,
}

impl Elision {
    pub fn new(enabled: bool) -> Self {
        Elision {
            enabled,
            elided: Default::default(),
        }
    }
}

impl Default for Elision {
    fn default() -> Self {
        Elision::new(true)
    }
}

/// Translates defined function `def_index` (index among defined functions),
/// validating its body on the way.
pub fn translate_function(
    env: &TranslateEnv<'_>,
    def_index: u32,
    input: FunctionInput<'_>,
    builder_ctx: &mut FunctionBuilderContext,
) -> Result<ir::Function> {
    translate(env, def_index, input, builder_ctx).map_err(|e| {
        // The builder stopped half way: leave the context clean for the
        // worker's next function.
        *builder_ctx = FunctionBuilderContext::new();
        let func_index = env.desc.num_imported_funcs + def_index;
        let name = env.desc.func_names.get(func_index as usize);
        with_function(e, func_index, name.unwrap_or_default().to_string())
    })
}

/// Adds the function to an error's location (inner code only knows offsets).
fn with_function(mut e: CompileError, index: u32, name: String) -> CompileError {
    let loc: &mut Location = match &mut e {
        CompileError::Invalid { loc, .. }
        | CompileError::Unsupported { loc, .. }
        | CompileError::Codegen { loc, .. } => loc,
    };
    loc.func.get_or_insert((index, name));
    e
}

fn invalid(e: BinaryReaderError) -> CompileError {
    crate::error::invalid(e)
}

fn translate(
    env: &TranslateEnv<'_>,
    def_index: u32,
    input: FunctionInput<'_>,
    builder_ctx: &mut FunctionBuilderContext,
) -> Result<ir::Function> {
    let func_index = env.desc.num_imported_funcs + def_index;
    let ty = env.desc.func_type(func_index);
    let sig = env.abi.wasm_signature(ty);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, def_index), sig);
    let mut validator = input
        .validator
        .map(|v| v.into_validator(Default::default()));

    env::install_stack_limit(env, &mut func);

    let mut b = FunctionBuilder::new(&mut func, builder_ctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let vmctx = params[0];

    // Parameters, then declared locals (zero-initialized), as variables.
    let mut locals = Vec::new();
    for (&p, &t) in params[1..].iter().zip(&ty.params) {
        let var = b.declare_var(env.abi.ir_type(t));
        b.def_var(var, p);
        locals.push(var);
    }
    let mut reader = input.body.get_binary_reader();
    let decls = reader.read_var_u32().map_err(invalid)?;
    for _ in 0..decls {
        let offset = reader.original_position();
        let count = reader.read_var_u32().map_err(invalid)?;
        let wty: wasmparser::ValType = reader.read().map_err(invalid)?;
        if let Some(v) = validator.as_mut() {
            v.define_locals(offset, count, wty).map_err(invalid)?;
        }
        let ty = env.abi.ir_type(val_type(wty, offset)?);
        let zero = match ty {
            types::F32 => b.ins().f32const(0.0),
            types::F64 => b.ins().f64const(0.0),
            t if t.is_int() => b.ins().iconst(t, 0),
            _ => {
                return Err(crate::error::unsupported(
                    offset,
                    format!("locals of type {wty}"),
                ))
            }
        };
        for _ in 0..count {
            let var = b.declare_var(ty);
            b.def_var(var, zero);
            locals.push(var);
        }
    }

    let mut fenv = env::FuncEnv::new(env, vmctx);
    fenv.init_entry(&mut b);
    if env.interruptible.is_some()
        && interrupt::entry_needs_check(OperatorsReader::new(reader.clone()))
    {
        interrupt::emit_check(&mut b, &mut fenv);
    }
    let results: Vec<ir::Type> = ty.results.iter().map(|&t| env.abi.ir_type(t)).collect();
    let mut t = code::CodeTranslator::new(b, fenv, locals, &results);

    let mut ops = OperatorsReader::new(reader);
    while !ops.eof() {
        let offset = ops.original_position();
        let op = ops.read().map_err(invalid)?;
        if let Some(v) = validator.as_mut() {
            v.op(offset, &op).map_err(invalid)?;
        }
        t.op(&op, offset)?;
    }
    ops.finish().map_err(invalid)?;
    debug_assert!(t.done(), "validated: the body ends with its final `end`");

    let frontend = cranelift_codegen::isa::TargetFrontendConfig {
        default_call_conv: env.abi.call_conv,
        pointer_width: match env.abi.pointer_bytes() {
            4 => target_lexicon::PointerWidth::U32,
            _ => target_lexicon::PointerWidth::U64,
        },
        page_size_align_log2: 12,
    };
    t.b.finalize(frontend);
    if env.bounds == BoundsMode::Explicit && env.elision.enabled {
        let n = env::elide_checks(env, &mut func);
        env.elision
            .elided
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(func)
}
