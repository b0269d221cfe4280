//! First pass over a module: validate the module-level sections, collect
//! everything the translator and the runtime need into a [`ModuleInfo`].
//!
//! Function bodies are only located here; they are validated operator by
//! operator during translation (in parallel), with the `FuncToValidate`
//! handles collected below.

use crate::error::{invalid, unsupported, Result};
use w2native_environ as env;
use wasmparser::{
    CompositeInnerType, ElementItems, ElementKind, FuncToValidate, FunctionBody, KnownCustom, Name,
    Operator, Parser, Payload, RefType, TypeRef, ValidPayload, Validator, ValidatorResources,
    WasmFeatures,
};

/// The wasm features w2native compiles. Anything else is rejected by the
/// validator with a message naming the missing feature.
pub fn supported_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::THREADS
        | WasmFeatures::FLOATS
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::LEGACY_EXCEPTIONS
        // The tag section belongs to the exceptions proposal; its new
        // instructions (`try_table`, `throw_ref`) are rejected by the
        // translator.
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::GC_TYPES
}

/// A defined function waiting for translation.
pub struct FunctionInput<'a> {
    pub body: FunctionBody<'a>,
    /// Taken (`None`) once the body has been validated, by a first
    /// translation (`context_free`).
    pub validator: Option<FuncToValidate<ValidatorResources>>,
}

pub struct ModuleInfo<'a> {
    /// The descriptor; `func_sizes` and `trap_sites` are filled after codegen.
    pub desc: env::ModuleDesc,
    /// Defined functions, in index order (function index = imported + i).
    pub functions: Vec<FunctionInput<'a>>,
}

impl<'a> ModuleInfo<'a> {
    /// Parses and validates everything except function bodies.
    pub fn parse(wasm: &'a [u8], name: &str) -> Result<Self> {
        let mut validator = Validator::new_with_features(supported_features());
        let mut desc = env::ModuleDesc {
            name: name.to_string(),
            ..Default::default()
        };
        let mut functions = Vec::new();
        let mut names: Vec<(u32, String)> = Vec::new();

        for payload in Parser::new(0).parse_all(wasm) {
            let payload = payload.map_err(invalid)?;
            match validator.payload(&payload).map_err(invalid)? {
                ValidPayload::Func(validator, body) => {
                    functions.push(FunctionInput {
                        body,
                        validator: Some(validator),
                    });
                    continue;
                }
                ValidPayload::End(_) => break,
                _ => {}
            }
            match payload {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        let group = group.map_err(invalid)?;
                        for sub in group.into_types() {
                            match sub.composite_type.inner {
                                CompositeInnerType::Func(ft) => desc.types.push(func_type(&ft, 0)?),
                                _ => return Err(unsupported(0, "GC types are not supported")),
                            }
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    let offset = reader.range().start;
                    for import in reader.into_imports() {
                        let import = import.map_err(invalid)?;
                        let kind = match import.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                                desc.funcs.push(t);
                                desc.num_imported_funcs += 1;
                                env::ImportKind::Func(t)
                            }
                            TypeRef::Table(t) => {
                                let t = table_type(&t, offset)?;
                                desc.tables.push(t);
                                desc.num_imported_tables += 1;
                                env::ImportKind::Table(t)
                            }
                            TypeRef::Memory(m) => {
                                let m = memory_type(&m, offset)?;
                                desc.memories.push(m);
                                desc.num_imported_memories += 1;
                                env::ImportKind::Memory(m)
                            }
                            TypeRef::Global(g) => {
                                let g = global_type(&g, offset)?;
                                desc.global_types.push(g);
                                desc.num_imported_globals += 1;
                                env::ImportKind::Global(g)
                            }
                            TypeRef::Tag(t) => {
                                desc.tags.push(t.func_type_idx);
                                desc.num_imported_tags += 1;
                                env::ImportKind::Tag(t.func_type_idx)
                            }
                        };
                        desc.imports.push(env::Import {
                            module: import.module.to_string(),
                            field: import.name.to_string(),
                            kind,
                        });
                    }
                }
                Payload::FunctionSection(reader) => {
                    for t in reader {
                        desc.funcs.push(t.map_err(invalid)?);
                    }
                }
                Payload::TableSection(reader) => {
                    let offset = reader.range().start;
                    for table in reader {
                        let table = table.map_err(invalid)?;
                        desc.tables.push(table_type(&table.ty, offset)?);
                        desc.table_inits.push(match table.init {
                            wasmparser::TableInit::RefNull => None,
                            wasmparser::TableInit::Expr(e) => Some(const_expr(&e)?),
                        });
                    }
                }
                Payload::MemorySection(reader) => {
                    let offset = reader.range().start;
                    for m in reader {
                        desc.memories
                            .push(memory_type(&m.map_err(invalid)?, offset)?);
                    }
                }
                Payload::TagSection(reader) => {
                    for t in reader {
                        desc.tags.push(t.map_err(invalid)?.func_type_idx);
                    }
                }
                Payload::GlobalSection(reader) => {
                    let offset = reader.range().start;
                    for g in reader {
                        let g = g.map_err(invalid)?;
                        desc.global_types.push(global_type(&g.ty, offset)?);
                        desc.global_inits.push(const_expr(&g.init_expr)?);
                    }
                }
                Payload::ExportSection(reader) => {
                    for e in reader {
                        let e = e.map_err(invalid)?;
                        let kind = match e.kind {
                            wasmparser::ExternalKind::Func
                            | wasmparser::ExternalKind::FuncExact => env::ExportKind::Func,
                            wasmparser::ExternalKind::Table => env::ExportKind::Table,
                            wasmparser::ExternalKind::Memory => env::ExportKind::Memory,
                            wasmparser::ExternalKind::Global => env::ExportKind::Global,
                            wasmparser::ExternalKind::Tag => env::ExportKind::Tag,
                        };
                        desc.exports.push(env::Export {
                            name: e.name.to_string(),
                            kind,
                            index: e.index,
                        });
                    }
                }
                Payload::StartSection { func, .. } => desc.start = Some(func),
                Payload::ElementSection(reader) => {
                    for e in reader {
                        let e = e.map_err(invalid)?;
                        let mode = match e.kind {
                            ElementKind::Passive => env::SegmentMode::Passive,
                            ElementKind::Declared => env::SegmentMode::Declared,
                            ElementKind::Active {
                                table_index,
                                offset_expr,
                            } => env::SegmentMode::Active {
                                index: table_index.unwrap_or(0),
                                offset: const_expr(&offset_expr)?,
                            },
                        };
                        let (elem, items) = match e.items {
                            ElementItems::Functions(r) => {
                                let mut items = Vec::new();
                                for f in r {
                                    let f = f.map_err(invalid)?;
                                    items.push(env::ConstExpr(vec![env::ConstOp::RefFunc(f)]));
                                }
                                (env::ValType::FuncRef, items)
                            }
                            ElementItems::Expressions(ty, r) => {
                                let mut items = Vec::new();
                                for expr in r {
                                    items.push(const_expr(&expr.map_err(invalid)?)?);
                                }
                                (ref_type(ty, 0)?, items)
                            }
                        };
                        desc.elements.push(env::ElemSegment { mode, elem, items });
                    }
                }
                Payload::DataSection(reader) => {
                    for d in reader {
                        let d = d.map_err(invalid)?;
                        let mode = match d.kind {
                            wasmparser::DataKind::Passive => env::SegmentMode::Passive,
                            wasmparser::DataKind::Active {
                                memory_index,
                                offset_expr,
                            } => env::SegmentMode::Active {
                                index: memory_index,
                                offset: const_expr(&offset_expr)?,
                            },
                        };
                        desc.data.push(env::DataSegment {
                            mode,
                            bytes: d.data.to_vec(),
                        });
                    }
                }
                Payload::CustomSection(reader) => {
                    // A malformed name section is not an error: names are only for messages.
                    if let KnownCustom::Name(names_reader) = reader.as_known() {
                        for sub in names_reader.flatten() {
                            if let Name::Function(map) = sub {
                                names.extend(
                                    map.into_iter()
                                        .flatten()
                                        .map(|n| (n.index, n.name.to_string())),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }

        if desc.memories.len() > 1 {
            return Err(unsupported(0, "multiple memories are not supported"));
        }
        add_invoke_types(&mut desc);
        desc.func_names = function_names(&desc, names);
        Ok(ModuleInfo { desc, functions })
    }
}

/// Emscripten-style sjlj: a call to an `env.invoke_*` import becomes a
/// try-call of a table element whose type is the import's minus the leading
/// table index (see `w2native_sjlj::emscripten`). That type gets a type
/// index here (appended if the module lacks it), so it has a canonical id
/// and a trampoline like every other type.
fn add_invoke_types(desc: &mut env::ModuleDesc) {
    let mut wanted = Vec::new();
    for imp in &desc.imports {
        if let env::ImportKind::Func(t) = imp.kind {
            let ty = &desc.types[t as usize];
            if w2native_sjlj::emscripten::is_invoke(&imp.module, &imp.field)
                && ty.params.first() == Some(&env::ValType::I32)
            {
                wanted.push(invoke_callee_type(ty));
            }
        }
    }
    for ty in wanted {
        if !desc.types.contains(&ty) {
            desc.types.push(ty);
        }
    }
}

/// The type of the function an `invoke_*` import of type `ty` calls.
pub fn invoke_callee_type(ty: &env::FuncType) -> env::FuncType {
    env::FuncType {
        params: ty.params[1..].to_vec(),
        results: ty.results.clone(),
    }
}

/// Name of every function: name section first, then export name, then `f<index>`.
fn function_names(desc: &env::ModuleDesc, from_section: Vec<(u32, String)>) -> env::Names {
    let mut names: Vec<Option<String>> = vec![None; desc.funcs.len()];
    for (i, import) in desc
        .imports
        .iter()
        .filter(|i| matches!(i.kind, env::ImportKind::Func(_)))
        .enumerate()
    {
        names[i] = Some(format!("{}.{}", import.module, import.field));
    }
    for e in desc
        .exports
        .iter()
        .filter(|e| e.kind == env::ExportKind::Func)
    {
        if let Some(slot) = names.get_mut(e.index as usize) {
            slot.get_or_insert_with(|| e.name.clone());
        }
    }
    for (index, name) in from_section {
        if let Some(slot) = names.get_mut(index as usize) {
            *slot = Some(name);
        }
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| n.unwrap_or_else(|| format!("f{i}")))
        .collect()
}

pub fn val_type(t: wasmparser::ValType, offset: u64) -> Result<env::ValType> {
    Ok(match t {
        wasmparser::ValType::I32 => env::ValType::I32,
        wasmparser::ValType::I64 => env::ValType::I64,
        wasmparser::ValType::F32 => env::ValType::F32,
        wasmparser::ValType::F64 => env::ValType::F64,
        wasmparser::ValType::V128 => env::ValType::V128,
        wasmparser::ValType::Ref(r) => ref_type(r, offset)?,
    })
}

pub fn ref_type(r: RefType, offset: u64) -> Result<env::ValType> {
    if r.is_func_ref() {
        Ok(env::ValType::FuncRef)
    } else if r.is_extern_ref() {
        Ok(env::ValType::ExternRef)
    } else if matches!(
        r.heap_type(),
        wasmparser::HeapType::Abstract {
            ty: wasmparser::AbstractHeapType::Exn,
            ..
        }
    ) {
        Ok(env::ValType::ExnRef)
    } else {
        Err(unsupported(
            offset,
            format!("reference type {r} is not supported"),
        ))
    }
}

pub fn func_type(ft: &wasmparser::FuncType, offset: u64) -> Result<env::FuncType> {
    Ok(env::FuncType {
        params: ft
            .params()
            .iter()
            .map(|&t| val_type(t, offset))
            .collect::<Result<_>>()?,
        results: ft
            .results()
            .iter()
            .map(|&t| val_type(t, offset))
            .collect::<Result<_>>()?,
    })
}

fn table_type(t: &wasmparser::TableType, offset: u64) -> Result<env::TableType> {
    if t.table64 {
        return Err(unsupported(
            offset,
            "64-bit tables (memory64 proposal) are not supported",
        ));
    }
    Ok(env::TableType {
        elem: ref_type(t.element_type, offset)?,
        limits: env::Limits {
            min: t.initial,
            max: t.maximum,
        },
    })
}

fn memory_type(m: &wasmparser::MemoryType, offset: u64) -> Result<env::MemoryType> {
    if m.memory64 {
        return Err(unsupported(
            offset,
            "64-bit memories (memory64 proposal) are not supported",
        ));
    }
    if m.page_size_log2.is_some() {
        return Err(unsupported(offset, "custom page sizes are not supported"));
    }
    Ok(env::MemoryType {
        limits: env::Limits {
            min: m.initial,
            max: m.maximum,
        },
        shared: m.shared,
    })
}

fn global_type(g: &wasmparser::GlobalType, offset: u64) -> Result<env::GlobalType> {
    Ok(env::GlobalType {
        ty: val_type(g.content_type, offset)?,
        mutable: g.mutable,
    })
}

fn const_expr(e: &wasmparser::ConstExpr<'_>) -> Result<env::ConstExpr> {
    let mut ops = Vec::new();
    let mut reader = e.get_operators_reader();
    while !reader.eof() {
        let offset = reader.original_position();
        let op = reader.read().map_err(invalid)?;
        ops.push(match op {
            Operator::I32Const { value } => env::ConstOp::I32Const(value),
            Operator::I64Const { value } => env::ConstOp::I64Const(value),
            Operator::F32Const { value } => env::ConstOp::F32Const(value.bits()),
            Operator::F64Const { value } => env::ConstOp::F64Const(value.bits()),
            Operator::V128Const { value } => {
                env::ConstOp::V128Const(u128::from_le_bytes(*value.bytes()))
            }
            Operator::GlobalGet { global_index } => env::ConstOp::GlobalGet(global_index),
            Operator::RefNull { .. } => env::ConstOp::RefNull,
            Operator::RefFunc { function_index } => env::ConstOp::RefFunc(function_index),
            Operator::I32Add => env::ConstOp::I32Add,
            Operator::I32Sub => env::ConstOp::I32Sub,
            Operator::I32Mul => env::ConstOp::I32Mul,
            Operator::I64Add => env::ConstOp::I64Add,
            Operator::I64Sub => env::ConstOp::I64Sub,
            Operator::I64Mul => env::ConstOp::I64Mul,
            Operator::End => break,
            other => {
                return Err(unsupported(
                    offset,
                    format!("constant expression operator {other:?}"),
                ))
            }
        });
    }
    Ok(env::ConstExpr(ops))
}
