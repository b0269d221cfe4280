//! Runs the translator and Cranelift over every defined function, in
//! parallel, and collects machine code, relocations and trap sites.

use crate::abi::{trap_from_code, TargetAbi};
use crate::error::{CompileError, Location, Result};
use crate::module_info::ModuleInfo;
use crate::translate::{translate_function, TranslateEnv};
use crate::CompileOptions;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, UserExternalName};
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_module::{FuncId, ModuleReloc};
use rayon::prelude::*;
use w2native_environ::{ModuleDesc, TrapSite, TrapTable};

/// Machine code of one defined function.
pub struct CompiledFunction {
    pub bytes: Vec<u8>,
    pub alignment: u64,
    /// Relocations; calls to defined function `i` target `FuncId` `i`.
    pub relocs: Vec<ModuleReloc>,
}

pub struct CompiledModule {
    /// Descriptor with `func_sizes` and `trap_sites` filled in.
    pub desc: ModuleDesc,
    pub functions: Vec<CompiledFunction>,
    /// Explicit bounds checks removed by `boundscheck-elision`.
    pub elided_checks: usize,
    /// Functions inlined into their own self-calls (`recursive_inline`).
    pub self_inlined: usize,
}

pub fn compile_functions(
    info: ModuleInfo<'_>,
    isa: &dyn TargetIsa,
    opts: &CompileOptions,
) -> Result<CompiledModule> {
    let ModuleInfo {
        mut desc,
        mut functions,
    } = info;
    let mut env = translate_env(&desc, isa, opts);
    env.context_free = find_context_free(&env, &mut functions)?;

    let results: Vec<Result<(CompiledFunction, Vec<TrapSite>, bool)>> = functions
        .into_par_iter()
        .enumerate()
        .map_init(
            || (FunctionBuilderContext::new(), Context::new()),
            |(builder_ctx, ctx), (i, input)| {
                let def_index = i as u32;
                let func = translate_function(&env, def_index, input, builder_ctx)?;
                compile_one(isa, ctx, func, def_index, &env, opts.verify)
            },
        )
        .collect();
    let elided_checks = env.elision.elided.into_inner();

    let mut compiled = Vec::with_capacity(results.len());
    let mut trap_sites = Vec::new();
    let mut self_inlined = 0;
    for r in results {
        let (f, traps, inlined) = r?;
        self_inlined += usize::from(inlined);
        desc.func_sizes.push(f.bytes.len() as u32);
        trap_sites.extend(traps);
        compiled.push(f);
    }
    desc.trap_sites = TrapTable::new(trap_sites);
    Ok(CompiledModule {
        desc,
        functions: compiled,
        elided_checks,
        self_inlined,
    })
}

/// The functions that need no vmctx (`crate::context_free`): guessed from
/// the operators, then each candidate translated (which validates its body
/// once, so its validator is taken) and checked, until every candidate
/// passes with the others' calls as they will be translated.
fn find_context_free(
    env: &TranslateEnv<'_>,
    functions: &mut [crate::module_info::FunctionInput<'_>],
) -> Result<Vec<bool>> {
    use crate::context_free::{uses_vmctx, CallGraph};
    if env.interruptible.is_some() {
        // Interrupt checks read the vmctx in every function that calls.
        return Ok(Vec::new());
    }
    let graph = CallGraph::scan(env.desc.num_imported_funcs, functions);
    let mut excluded = vec![false; functions.len()];
    let mut free = graph.solve(&excluded);
    loop {
        let trial = TranslateEnv {
            desc: env.desc,
            offsets: env.offsets,
            abi: env.abi,
            bounds: env.bounds,
            elision: crate::translate::Elision::new(false),
            interruptible: None,
            context_free: free.clone(),
        };
        let failed: Vec<usize> = functions
            .par_iter_mut()
            .enumerate()
            .filter(|(i, _)| free[*i])
            .map_init(FunctionBuilderContext::new, |builder_ctx, (i, input)| {
                let input = crate::module_info::FunctionInput {
                    body: input.body.clone(),
                    validator: input.validator.take(),
                };
                let mut func = translate_function(&trial, i as u32, input, builder_ctx)?;
                stack_check(&mut func, &trial);
                Ok(uses_vmctx(&func).then_some(i))
            })
            .collect::<Result<Vec<Option<usize>>>>()?
            .into_iter()
            .flatten()
            .collect();
        if failed.is_empty() {
            return Ok(free);
        }
        for i in failed {
            excluded[i] = true;
        }
        free = graph.solve(&excluded);
    }
}

fn compile_one(
    isa: &dyn TargetIsa,
    ctx: &mut Context,
    func: ir::Function,
    def_index: u32,
    env: &TranslateEnv<'_>,
    verify: bool,
) -> Result<(CompiledFunction, Vec<TrapSite>, bool)> {
    let func_index = env.desc.num_imported_funcs + def_index;
    let loc = || Location {
        module: String::new(),
        func: Some((
            func_index,
            env.desc.func_names[func_index as usize].to_string(),
        )),
        offset: None,
    };
    ctx.clear();
    ctx.func = func;
    let inlined =
        crate::recursive_inline::inline_self_calls(ctx, def_index).map_err(|message| {
            CompileError::Codegen {
                loc: loc(),
                message,
            }
        })?;
    stack_check(&mut ctx.func, env);
    crate::addressing::rewrite(&mut ctx.func, env.offsets.memory_base() as i32);
    if verify {
        if let Err(errors) = cranelift_codegen::verify_function(&ctx.func, isa) {
            return Err(CompileError::Codegen {
                loc: loc(),
                message: format!("IR verifier: {errors}"),
            });
        }
    }
    ctx.compile(isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Codegen {
            loc: loc(),
            message: format!("{:?}", e.inner),
        })?;
    let code = ctx.compiled_code().expect("compiled above");
    let bytes = code.code_buffer().to_vec();
    let alignment = code.buffer.alignment as u64;
    let traps = code
        .buffer
        .traps()
        .iter()
        .map(|t| {
            let trap = trap_from_code(t.code).ok_or_else(|| CompileError::Codegen {
                loc: loc(),
                message: format!("unknown trap code {:?}", t.code),
            })?;
            Ok(TrapSite {
                func: def_index,
                offset: t.offset,
                code: trap as u8,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let relocs = code
        .buffer
        .relocs()
        .iter()
        // Direct calls name defined function `i` as user name (0, i), which is
        // exactly its FuncId in the object writer.
        .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, FuncId::from_u32(def_index)))
        .collect();
    Ok((
        CompiledFunction {
            bytes,
            alignment,
            relocs,
        },
        traps,
        inlined,
    ))
}

/// Most values a function may have and still skip its stack-limit check.
const SMALL_LEAF_VALUES: usize = 256;

/// Largest frame bound (spill slots at 16 bytes per value, plus explicit
/// stack slots) for which the translator's cheap in-body check is sound.
/// The runtime's margin below `vmctx.stack_limit` is at least a quarter of
/// the thread's stack (256 KiB on usual stacks), so anything the prologue
/// and the entry block's spills write before the check stays inside real
/// stack for any thread stack of 64 KiB or more.
const CHEAP_CHECK_FRAME_BYTES: u64 = 16 << 10;

/// Largest frame bound of a function that finds the end of the stack by
/// faulting on the guard page instead of checking the limit: smaller than
/// the smallest guard page (4 KiB, glibc's default for threads) by what the
/// prologue pushes besides the frame (return address, frame pointer,
/// callee-saved registers), so its first access below the caller's frame
/// cannot jump over the guard.
const GUARD_PAGE_FRAME_BYTES: u64 = 3 << 10;

/// Picks the stack-overflow check of a translated function. The translator
/// set `Function::stack_limit` (Cranelift's check in the prologue, before
/// the frame is allocated: load the limit, add the frame size, compare,
/// branch). A small leaf needs none; nor does a function with a small
/// frame whose calls all go to compiled code (`calls_only_compiled_code`):
/// if it exhausts the stack, it faults on the guard page and the runtime's
/// handler reports the overflow (`traphandlers::is_stack_exhaustion`); a
/// function that calls the host keeps a check, so host code always has the
/// margin below the limit. A function whose frame is far smaller than that
/// margin gets a cheaper check (`cheap_stack_check`); the others keep
/// Cranelift's.
fn stack_check(func: &mut ir::Function, env: &TranslateEnv<'_>) {
    if is_small_leaf(func)
        || (frame_bound(func) <= GUARD_PAGE_FRAME_BYTES && calls_only_compiled_code(func))
    {
        func.stack_limit = None;
    } else if frame_bound(func) <= CHEAP_CHECK_FRAME_BYTES {
        func.stack_limit = None;
        cheap_stack_check(func, env);
    }
}

/// `sp < vmctx.stack_limit` traps, at the top of the entry block: after the
/// prologue, on the stack pointer the frame already lowered, which costs two
/// instructions (`cmp` with a memory operand, and a branch) instead of
/// four. Sound only for frames far smaller than the margin the runtime
/// keeps below the limit, since the prologue (saved registers) and the
/// entry block's spills may write the frame before the check runs; the
/// trap handler runs on its own signal stack.
fn cheap_stack_check(func: &mut ir::Function, env: &TranslateEnv<'_>) {
    use cranelift_codegen::cursor::{Cursor, FuncCursor};
    use cranelift_codegen::ir::{condcodes::IntCC, InstBuilder, MemFlagsData};

    let Some(entry) = func.layout.entry_block() else {
        return;
    };
    let vmctx = func.dfg.block_params(entry)[0];
    let ptr = env.abi.pointer_type;
    let offset = env.offsets.stack_limit() as i32;
    let mut pos = FuncCursor::new(func).at_first_insertion_point(entry);
    let sp = pos.ins().get_stack_pointer(ptr);
    let flags = MemFlagsData::trusted().with_readonly();
    let limit = pos.ins().load(ptr, flags, vmctx, offset);
    let overflow = pos.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
    pos.ins().trapnz(
        overflow,
        crate::abi::trap_code(w2native_environ::Trap::StackOverflow),
    );
}

/// An upper bound of the function's frame before register allocation.
fn frame_bound(func: &ir::Function) -> u64 {
    let slots: u64 = func
        .sized_stack_slots
        .values()
        .map(|s| u64::from(s.size) + (1 << s.align_shift))
        .sum();
    if !func.dynamic_stack_slots.is_empty() {
        return u64::MAX;
    }
    func.dfg.num_values() as u64 * 16 + slots
}

/// A function that calls nothing and is small enough that its frame (spill
/// slots: at most one 16-byte slot per value, no explicit stack slots) stays
/// far inside the margin the runtime keeps below `vmctx.stack_limit` (at
/// least a quarter of the thread's stack, up to 256 KiB). Its caller passed
/// the check, and a leaf cannot recurse, so its own check is redundant;
/// dropping it saves a load, an add, a compare and a branch per call.
fn is_small_leaf(func: &ir::Function) -> bool {
    func.dfg.num_values() <= SMALL_LEAF_VALUES
        && func.sized_stack_slots.is_empty()
        && func.dynamic_stack_slots.is_empty()
        && func.layout.blocks().all(|block| {
            func.layout
                .block_insts(block)
                .all(|inst| !func.dfg.insts[inst].opcode().is_call())
        })
}

/// Every call of the function is a direct call of a defined function of
/// the module (compiled code, `defined_func_name`): no import, no
/// `call_indirect` (a table may hold host functions), no builtin, no
/// exception try-call.
fn calls_only_compiled_code(func: &ir::Function) -> bool {
    use cranelift_codegen::ir::{ExternalName, InstructionData as I};
    func.layout.blocks().all(|block| {
        func.layout.block_insts(block).all(|inst| {
            let data = &func.dfg.insts[inst];
            if !data.opcode().is_call() {
                return true;
            }
            let I::Call { func_ref, .. } = *data else {
                return false;
            };
            match &func.dfg.ext_funcs[func_ref].name {
                ExternalName::User(name) => func.params.user_named_funcs()[*name].namespace == 0,
                _ => false,
            }
        })
    })
}

/// What the translator of every function of `desc` reads.
fn translate_env<'a>(
    desc: &'a ModuleDesc,
    isa: &dyn TargetIsa,
    opts: &CompileOptions,
) -> TranslateEnv<'a> {
    let abi = TargetAbi::new(isa);
    TranslateEnv {
        desc,
        offsets: desc.offsets(abi.pointer_bytes()),
        abi,
        bounds: opts.bounds,
        elision: crate::translate::Elision::new(opts.elide_checks),
        interruptible: opts
            .interruptible
            .unwrap_or(false)
            .then(|| crate::translate::interrupt_call_conv(isa)),
        context_free: Vec::new(),
    }
}

/// The Cranelift IR of every defined function, as text (`--emit clif`),
/// before Cranelift's own optimizations.
pub fn functions_as_clif(
    info: ModuleInfo<'_>,
    isa: &dyn TargetIsa,
    opts: &CompileOptions,
) -> Result<String> {
    let ModuleInfo { desc, functions } = info;
    let env = translate_env(&desc, isa, opts);
    let mut builder_ctx = FunctionBuilderContext::new();
    let mut text = String::new();
    for (i, input) in functions.into_iter().enumerate() {
        let func = translate_function(&env, i as u32, input, &mut builder_ctx)?;
        let index = desc.num_imported_funcs as usize + i;
        text.push_str(&format!(
            "; function {index} `{}`\n{}\n",
            &desc.func_names[index],
            func.display()
        ));
    }
    Ok(text)
}

/// The external name of a direct call to defined function `def_index`.
pub fn defined_func_name(def_index: u32) -> UserExternalName {
    UserExternalName::new(0, def_index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Target;

    /// Per function of `wat`: whether it still checks the stack limit
    /// (Cranelift's prologue check or the cheap one) after `stack_check`.
    fn checked(wat: &str) -> Vec<bool> {
        let wasm = wat::parse_str(wat).expect("test module parses");
        let info = ModuleInfo::parse(&wasm, "test").expect("valid module");
        let isa = Target::X86_64.isa().expect("target ISA");
        let opts = CompileOptions::new(Target::X86_64, "app", "test");
        let env = translate_env(&info.desc, &*isa, &opts);
        let mut ctx = FunctionBuilderContext::new();
        let mut out = Vec::new();
        for (i, input) in info.functions.into_iter().enumerate() {
            let mut func = translate_function(&env, i as u32, input, &mut ctx).unwrap();
            stack_check(&mut func, &env);
            let cheap = func.layout.blocks().any(|b| {
                func.layout
                    .block_insts(b)
                    .any(|inst| func.dfg.insts[inst].opcode() == ir::Opcode::GetStackPointer)
            });
            out.push(func.stack_limit.is_some() || cheap);
        }
        out
    }

    #[test]
    fn only_functions_calling_compiled_code_rely_on_the_guard_page() {
        let flags = checked(
            r#"(module
              (import "env" "host" (func $host))
              (table 1 funcref)
              (type $t (func))
              (func $self (param i32) (result i32)
                (call $self (local.get 0)))
              (func $imports (call $host) (call $imports))
              (func $indirect (call_indirect (type $t) (i32.const 0)) (call $indirect))
              (func $grows (drop (memory.grow (i32.const 1))) (call $grows))
              (memory 1))"#,
        );
        assert_eq!(flags, [false, true, true, true]);
    }

    fn context_free(wat: &str) -> Vec<bool> {
        let wasm = wat::parse_str(wat).expect("test module parses");
        let mut info = ModuleInfo::parse(&wasm, "test").expect("valid module");
        let isa = Target::X86_64.isa().expect("target ISA");
        let opts = CompileOptions::new(Target::X86_64, "app", "test");
        let env = translate_env(&info.desc, &*isa, &opts);
        find_context_free(&env, &mut info.functions).unwrap()
    }

    #[test]
    fn context_free_functions() {
        // A function with a frame too big for the guard page keeps a
        // stack-limit check, which reads the vmctx: found only on its IR.
        let big = big_frame_body();
        let free = context_free(&format!(
            r#"(module
              (import "env" "host" (func $host))
              (memory 1)
              (global $g (mut i32) (i32.const 0))
              (func $fib (param i32) (result i32)
                (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
                  (then (local.get 0))
                  (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                                 (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
              (func $calls_fib (result i32) (call $fib (i32.const 10)))
              (func $load (result i32) (i32.load (i32.const 0)))
              (func $calls_load (result i32) (call $load))
              (func $global (result i32) (global.get $g))
              (func $import (call $host))
              (func $big (param i32) {big})
              (func $calls_big (call $big (i32.const 1))))"#
        ));
        assert_eq!(free, [true, true, false, false, false, false, false, false]);
    }

    #[test]
    fn loop_addresses_are_widened_once() {
        let wasm = wat::parse_str(
            r#"(module (memory 1)
              (func (param i32 i32) (result i32) (local i32)
                (loop $l
                  (local.set 2 (i32.add (local.get 2) (i32.load (local.get 0))))
                  (local.set 0 (i32.add (local.get 0) (i32.const 4)))
                  (br_if $l (i32.lt_u (local.get 0) (local.get 1))))
                (local.get 2)))"#,
        )
        .unwrap();
        let info = ModuleInfo::parse(&wasm, "test").expect("valid module");
        let isa = Target::X86_64.isa().expect("target ISA");
        let opts = CompileOptions::new(Target::X86_64, "app", "test");
        let env = translate_env(&info.desc, &*isa, &opts);
        let mut ctx = FunctionBuilderContext::new();
        for (i, input) in info.functions.into_iter().enumerate() {
            let mut func = translate_function(&env, i as u32, input, &mut ctx).unwrap();
            crate::addressing::widen_address_params(&mut func);
            cranelift_codegen::verify_function(&func, &*isa).unwrap();
            // The loop header's pointer parameter is now 64-bit, and no
            // `uextend` of a block parameter is left.
            let entry = func.layout.entry_block().unwrap();
            let wide = func.layout.blocks().any(|b| {
                b != entry
                    && func
                        .dfg
                        .block_params(b)
                        .iter()
                        .any(|&p| func.dfg.value_type(p) == ir::types::I64)
            });
            assert!(wide, "{}", func.display());
            let param_extends = func.layout.blocks().any(|b| {
                func.layout.block_insts(b).any(|inst| {
                    func.dfg.insts[inst].opcode() == ir::Opcode::Uextend
                        && matches!(
                            func.dfg.value_def(func.dfg.inst_args(inst)[0]),
                            ir::ValueDef::Param(pb, _) if pb != entry
                        )
                })
            });
            assert!(!param_extends, "{}", func.display());
        }
    }

    /// The body of `$big (param i32)`: enough live values across a call to
    /// itself that the frame bound passes a guard page.
    fn big_frame_body() -> String {
        let mut body = String::new();
        for k in 0..300 {
            body.push_str(&format!("(i32.add (local.get 0) (i32.const {k})) "));
        }
        body.push_str("(call $big (local.get 0)) ");
        for _ in 0..300 {
            body.push_str("(drop) ");
        }
        body
    }

    #[test]
    fn big_frames_keep_their_check() {
        let body = big_frame_body();
        let flags = checked(&format!("(module (func $big (param i32) {body}))"));
        assert_eq!(flags, [true]);
    }
}
