//! Writes a compiled module as a relocatable object.
//!
//! Symbols (prefix `w2n_<namespace>_`, see `environ::symbols`):
//!
//! ```text
//! <p>f<i>_<name>   local   code of defined function i
//! <p>tramp<t>      local   array-call trampoline for type t
//! <p>funcs         local   [*fn; num_defined_funcs]
//! <p>tramps        local   [*fn; num_types]
//! <p>desc          local   postcard-encoded ModuleDesc
//! <p>module        global  VMModuleStatic pointing at the three above
//! ```
//!
//! Defined functions are declared first so that FuncId `i` is defined
//! function `i`, the name the translator uses for direct calls.

use crate::abi::TargetAbi;
use crate::codegen::CompiledModule;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, MemFlagsData, Signature};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};
use w2native_environ::{symbols, FuncType, DESC_VERSION};

pub fn emit_module(
    isa: OwnedTargetIsa,
    compiled: &CompiledModule,
    namespace: &str,
) -> Result<Vec<u8>, String> {
    let err = |e: cranelift_module::ModuleError| format!("object emission: {e}");
    let prefix = symbols::prefix(namespace);
    let abi = TargetAbi::new(&*isa);
    let desc = &compiled.desc;
    let mut module = new_object_module(isa.clone(), &format!("{prefix}object"))?;

    let mut func_ids = Vec::with_capacity(compiled.functions.len());
    for (i, f) in compiled.functions.iter().enumerate() {
        let index = desc.num_imported_funcs as usize + i;
        let sig = abi.wasm_signature(desc.func_type(index as u32));
        let name = format!("{prefix}f{i}_{}", sanitize(&desc.func_names[index]));
        let id = module
            .declare_function(&name, Linkage::Local, &sig)
            .map_err(err)?;
        assert_eq!(
            id.as_u32() as usize,
            i,
            "defined functions must be declared first"
        );
        func_ids.push((id, f));
    }
    for (id, f) in &func_ids {
        module
            .define_function_bytes(*id, f.alignment, &f.bytes, &f.relocs)
            .map_err(err)?;
    }

    let mut tramp_ids = Vec::with_capacity(desc.types.len());
    let mut ctx = Context::new();
    let mut builder_ctx = FunctionBuilderContext::new();
    for (t, ty) in desc.types.iter().enumerate() {
        let id = module
            .declare_function(
                &format!("{prefix}tramp{t}"),
                Linkage::Local,
                &abi.trampoline_signature(),
            )
            .map_err(err)?;
        ctx.clear();
        ctx.func = trampoline(&abi, ty, &mut builder_ctx);
        ctx.compile(&*isa, &mut ControlPlane::default())
            .map_err(|e| format!("trampoline for type {t}: {:?}", e.inner))?;
        let code = ctx.compiled_code().expect("compiled above");
        let relocs: Vec<_> = code
            .buffer
            .relocs()
            .iter()
            .map(|r| cranelift_module::ModuleReloc::from_mach_reloc(r, &ctx.func, id))
            .collect();
        let (bytes, align) = (code.code_buffer().to_vec(), code.buffer.alignment as u64);
        module
            .define_function_bytes(id, align, &bytes, &relocs)
            .map_err(err)?;
        tramp_ids.push(id);
    }

    let ptr = abi.pointer_bytes() as usize;
    let funcs = define_pointer_table(
        &mut module,
        &format!("{prefix}funcs"),
        func_ids.iter().map(|(id, _)| *id),
        ptr,
    )?;
    let tramps = define_pointer_table(
        &mut module,
        &format!("{prefix}tramps"),
        tramp_ids.iter().copied(),
        ptr,
    )?;

    let blob = desc.encode();
    let desc_id = module
        .declare_data(&format!("{prefix}desc"), Linkage::Local, false, false)
        .map_err(err)?;
    let mut data = DataDescription::new();
    data.define(blob.clone().into_boxed_slice());
    module.define_data(desc_id, &data).map_err(err)?;

    // VMModuleStatic: version u32, pointer_size u32, then five pointer-sized fields.
    let record_id = module
        .declare_data(
            &symbols::module_record(namespace),
            Linkage::Export,
            false,
            false,
        )
        .map_err(err)?;
    let mut record = vec![0u8; 8 + 6 * ptr];
    let put = |buf: &mut [u8], at: usize, v: u64| {
        buf[at..at + ptr].copy_from_slice(&v.to_le_bytes()[..ptr])
    };
    record[0..4].copy_from_slice(&DESC_VERSION.to_le_bytes());
    record[4..8].copy_from_slice(&(ptr as u32).to_le_bytes());
    put(&mut record, 8 + ptr, blob.len() as u64);
    put(&mut record, 8 + 3 * ptr, func_ids.len() as u64);
    put(&mut record, 8 + 5 * ptr, tramp_ids.len() as u64);
    let mut data = DataDescription::new();
    data.define(record.into_boxed_slice());
    data.set_align(8);
    for (field, target) in [(0, desc_id), (2, funcs), (4, tramps)] {
        let gv = module.declare_data_in_data(target, &mut data);
        data.write_data_addr((8 + field * ptr) as u32, gv, 0);
    }
    module.define_data(record_id, &data).map_err(err)?;

    module
        .finish()
        .emit()
        .map_err(|e| format!("object emission: {e}"))
}

/// An object defining `main(argc, argv)` that calls
/// `entry(argc, argv, &record0, &record1, ..)` in the runtime.
pub fn emit_entry(isa: OwnedTargetIsa, entry: &str, records: &[String]) -> Result<Vec<u8>, String> {
    let err = |e: cranelift_module::ModuleError| format!("entry object: {e}");
    let abi = TargetAbi::new(&*isa);
    let ptr = abi.pointer_type;
    let mut module = new_object_module(isa.clone(), "w2n_entry")?;

    let mut main_sig = Signature::new(abi.call_conv);
    main_sig
        .params
        .extend([AbiParam::new(types::I32), AbiParam::new(ptr)]);
    main_sig.returns.push(AbiParam::new(types::I32));
    let mut entry_sig = main_sig.clone();
    entry_sig
        .params
        .extend(records.iter().map(|_| AbiParam::new(ptr)));

    let main_id = module
        .declare_function("main", Linkage::Export, &main_sig)
        .map_err(err)?;
    let entry_id = module
        .declare_function(entry, Linkage::Import, &entry_sig)
        .map_err(err)?;
    let record_ids: Vec<DataId> = records
        .iter()
        .map(|r| {
            module
                .declare_data(r, Linkage::Import, false, false)
                .map_err(err)
        })
        .collect::<Result<_, _>>()?;

    let mut ctx = Context::new();
    ctx.func.signature = main_sig;
    let mut builder_ctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let mut args = b.block_params(block).to_vec();
        for id in &record_ids {
            let gv = module.declare_data_in_func(*id, b.func);
            args.push(b.ins().symbol_value(ptr, gv));
        }
        let callee = module.declare_func_in_func(entry_id, b.func);
        let call = b.ins().call(callee, &args);
        let status = b.inst_results(call)[0];
        b.ins().return_(&[status]);
        b.finalize(isa.frontend_config());
    }
    module.define_function(main_id, &mut ctx).map_err(err)?;
    module
        .finish()
        .emit()
        .map_err(|e| format!("entry object: {e}"))
}

fn new_object_module(isa: OwnedTargetIsa, name: &str) -> Result<ObjectModule, String> {
    let builder = ObjectBuilder::new(isa, name, cranelift_module::default_libcall_names())
        .map_err(|e| format!("object emission: {e}"))?;
    Ok(ObjectModule::new(builder))
}

fn define_pointer_table(
    module: &mut ObjectModule,
    name: &str,
    targets: impl Iterator<Item = FuncId>,
    ptr: usize,
) -> Result<DataId, String> {
    let err = |e: cranelift_module::ModuleError| format!("object emission: {e}");
    let targets: Vec<FuncId> = targets.collect();
    let id = module
        .declare_data(name, Linkage::Local, false, false)
        .map_err(err)?;
    let mut data = DataDescription::new();
    // Not `define_zeroinit`: a .bss object cannot carry relocations.
    data.define(vec![0u8; targets.len().max(1) * ptr].into_boxed_slice());
    data.set_align(ptr as u64);
    for (i, target) in targets.into_iter().enumerate() {
        let fref = module.declare_func_in_data(target, &mut data);
        data.write_function_addr((i * ptr) as u32, fref);
    }
    module.define_data(id, &data).map_err(err)?;
    Ok(id)
}

/// `fn(vmctx, callee, values)`: loads the params from 16-byte slots, calls,
/// stores the results back into the slots.
fn trampoline(
    abi: &TargetAbi,
    ty: &FuncType,
    builder_ctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let mut func =
        ir::Function::with_name_signature(ir::UserFuncName::default(), abi.trampoline_signature());
    let mut b = FunctionBuilder::new(&mut func, builder_ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let [vmctx, callee, values] = b.block_params(block) else {
        unreachable!("trampoline signature has three params")
    };
    let (vmctx, callee, values) = (*vmctx, *callee, *values);
    let flags = MemFlagsData::trusted();
    let mut args = vec![vmctx];
    for (i, &t) in ty.params.iter().enumerate() {
        args.push(b.ins().load(abi.ir_type(t), flags, values, (i * 16) as i32));
    }
    let sig = b.import_signature(abi.wasm_signature(ty));
    let call = b.ins().call_indirect(sig, callee, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins().store(flags, r, values, (i * 16) as i32);
    }
    b.ins().return_(&[]);
    b.finalize(abi.frontend_config);
    func
}

/// Keeps symbol names to characters every assembler and debugger accepts.
fn sanitize(name: &str) -> String {
    name.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
