//! The reference side: the module run by the `wasmi` interpreter.

use crate::{arguments, CallResult, Outcome, Rng, TableState, TrapKind, Ty, Value};
use wasmi::errors::{ErrorKind, MemoryError, TableError};
use wasmi::{Config, Engine, Extern, ExternType, Linker, Module, Store, Val, ValType};

fn engine() -> Engine {
    let mut config = Config::default();
    config
        .wasm_mutable_global(true)
        .wasm_sign_extension(true)
        .wasm_saturating_float_to_int(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_extended_const(true)
        .wasm_tail_call(false)
        .wasm_multi_memory(false)
        .set_max_recursion_depth(100_000)
        .set_max_stack_height(16 << 20);
    Engine::new(&config)
}

pub(crate) fn ty(t: &ValType) -> Ty {
    match t {
        ValType::I32 => Ty::I32,
        ValType::I64 => Ty::I64,
        ValType::F32 => Ty::F32,
        ValType::F64 => Ty::F64,
        ValType::FuncRef => Ty::FuncRef,
        _ => Ty::ExternRef,
    }
}

fn to_val(v: &Value, t: &ValType) -> Val {
    match *v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(wasmi::F32::from_bits(x)),
        Value::F64(x) => Val::F64(wasmi::F64::from_bits(x)),
        Value::Ref { .. } => Val::default(*t),
    }
}

fn from_val(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(x.to_bits()),
        Val::F64(x) => Value::F64(x.to_bits()),
        Val::FuncRef(r) => Value::Ref { null: r.is_null() },
        Val::ExternRef(r) => Value::Ref { null: r.is_null() },
        Val::V128(_) => Value::I64(0),
    }
}

fn trap_kind(e: &wasmi::Error) -> TrapKind {
    use wasmi::TrapCode as T;
    match e.as_trap_code() {
        Some(T::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(T::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(T::TableOutOfBounds) => TrapKind::TableOutOfBounds,
        Some(T::IndirectCallToNull) => TrapKind::IndirectCallToNull,
        Some(T::IntegerDivisionByZero) => TrapKind::IntegerDivisionByZero,
        Some(T::IntegerOverflow) => TrapKind::IntegerOverflow,
        Some(T::BadConversionToInteger) => TrapKind::BadConversionToInteger,
        Some(T::StackOverflow) => TrapKind::StackOverflow,
        Some(T::BadSignature) => TrapKind::BadSignature,
        Some(_) => TrapKind::Other,
        // Bulk table and memory operations report their bounds failures as
        // table/memory errors rather than trap codes.
        None => match e.kind() {
            ErrorKind::Table(
                TableError::CopyOutOfBounds
                | TableError::InitOutOfBounds
                | TableError::FillOutOfBounds
                | TableError::SetOutOfBounds,
            ) => TrapKind::TableOutOfBounds,
            ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => TrapKind::MemoryOutOfBounds,
            _ => TrapKind::Other,
        },
    }
}

/// Runs the module: instantiate, call every exported function once in
/// export order with arguments from `arg_seed`, then read the exports.
/// `Err` if wasmi rejects the module.
pub fn run(wasm: &[u8], arg_seed: u64) -> Result<Outcome, String> {
    let engine = engine();
    let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
    let mut store = Store::new(&engine, ());
    let linker = Linker::<()>::new(&engine);
    let mut outcome = Outcome::default();
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            // wasmi reports segments that do not fit as errors, not trap
            // codes; the spec makes them traps of instantiation.
            let text = e.to_string();
            outcome.instantiation_trap = Some(match e.as_trap_code() {
                Some(_) => trap_kind(&e),
                None if text.contains("out of bounds table") => TrapKind::TableOutOfBounds,
                None if text.contains("out of bounds memory") => TrapKind::MemoryOutOfBounds,
                None => return Err(format!("instantiation failed: {text}")),
            });
            return Ok(outcome);
        }
    };
    let mut rng = Rng::new(arg_seed);
    // Exports in name order: both sides call and read them the same way.
    let mut exports: Vec<(String, ExternType)> = module
        .exports()
        .map(|e| (e.name().to_string(), e.ty().clone()))
        .collect();
    exports.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, ty) in &exports {
        let ExternType::Func(fty) = ty else { continue };
        let params: Vec<Ty> = fty.params().iter().map(ty_of).collect();
        let args = arguments(&params, &mut rng);
        let args: Vec<Val> = args
            .iter()
            .zip(fty.params())
            .map(|(v, t)| to_val(v, t))
            .collect();
        let mut results: Vec<Val> = fty.results().iter().map(|t| Val::default(*t)).collect();
        let func = instance
            .get_func(&store, name)
            .ok_or_else(|| format!("export `{name}` missing"))?;
        let result = match func.call(&mut store, &args, &mut results) {
            Ok(()) => CallResult::Returned(results.iter().map(from_val).collect()),
            Err(e) => CallResult::Trapped(trap_kind(&e)),
        };
        let exhausted = result == CallResult::Trapped(TrapKind::StackOverflow);
        outcome.calls.push((name.clone(), result));
        if exhausted {
            outcome.exhausted = true;
            return Ok(outcome);
        }
    }
    for (name, _) in &exports {
        match instance.get_export(&store, name) {
            Some(Extern::Global(g)) => outcome
                .globals
                .push((name.clone(), from_val(&g.get(&store)))),
            Some(Extern::Table(t)) => {
                let size = t.size(&store);
                let nulls = (0..size)
                    .map(|i| {
                        t.get(&store, i)
                            .is_none_or(|r| from_val(&r) == Value::Ref { null: true })
                    })
                    .collect();
                outcome
                    .tables
                    .push((name.clone(), TableState { size, nulls }));
            }
            Some(Extern::Memory(m)) => {
                let data = m.data(&store).to_vec();
                outcome.memories.push((name.clone(), m.size(&store), data));
            }
            _ => {}
        }
    }
    Ok(outcome)
}

fn ty_of(t: &ValType) -> Ty {
    ty(t)
}
