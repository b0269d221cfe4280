//! w2native: an ahead-of-time WebAssembly to native compiler on Cranelift.
//!
//! Input: a wasm module. Output: a relocatable object whose functions take a
//! `vmctx` pointer (layout in `w2native-environ`), plus a serialized module
//! descriptor; [`link`] turns objects into an executable with the
//! `runtime-support` library. The compiler knows nothing about Linux or the
//! guest: the Linux image is just two modules linked with a different entry.
//!
//! Pipeline: [`module_info`] (parse + validate module sections) ->
//! [`translate`] (per function, in parallel) -> [`codegen`] (Cranelift) ->
//! [`emit`] (object file) -> [`link`] (system linker).
//!
//! If you want a JIT or an embedding API, use wasmtime instead.

pub mod abi;
pub mod addressing;
pub mod codegen;
pub mod context_free;
pub mod emit;
pub mod error;
pub mod image;
pub mod link;
pub mod module_info;
pub mod recursive_inline;
pub mod target;
pub mod translate;
pub mod value_ranges;

pub use error::{CompileError, Location};
pub use target::Target;

/// How linear-memory accesses are kept in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoundsMode {
    /// No checks in code; the runtime reserves the whole 32-bit space plus a
    /// guard region, so an out-of-bounds access faults and becomes a trap.
    #[default]
    Guard,
    /// Compare against the current memory length before every access.
    Explicit,
    /// No checks and no trap metadata: only for trusted code.
    None,
}

/// What to compile and how.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub target: Target,
    pub bounds: BoundsMode,
    /// Symbol namespace (`w2n_<namespace>_...`); see `environ::symbols`.
    pub namespace: String,
    /// Module name used in trap messages and errors.
    pub module_name: String,
    /// Run Cranelift's IR verifier (slow; on in debug builds).
    pub verify: bool,
    /// Let `boundscheck-elision` remove redundant explicit checks.
    pub elide_checks: bool,
    /// Interrupt checks at function entries and loop headers, so a runtime
    /// can stop running code from another thread (`translate/interrupt.rs`).
    /// `None`: off (`image::build_linux_image`: Linux images preempt their
    /// user module asynchronously); a kernel never has them.
    pub interruptible: Option<bool>,
}

impl CompileOptions {
    pub fn new(target: Target, namespace: &str, module_name: &str) -> Self {
        CompileOptions {
            target,
            bounds: BoundsMode::default(),
            namespace: namespace.to_string(),
            module_name: module_name.to_string(),
            verify: cfg!(debug_assertions),
            elide_checks: true,
            interruptible: None,
        }
    }
}

/// Statistics reported by `--stats`.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub functions: usize,
    pub code_bytes: usize,
    pub trap_sites: usize,
    /// Explicit bounds checks removed by `boundscheck-elision`.
    pub elided_checks: usize,
    /// Functions inlined into their own self-calls (`recursive_inline`).
    pub self_inlined: usize,
}

/// Parses and validates the module sections, and sets up the target ISA.
fn parse_for_target<'a>(
    wasm: &'a [u8],
    opts: &CompileOptions,
) -> Result<
    (
        module_info::ModuleInfo<'a>,
        cranelift_codegen::isa::OwnedTargetIsa,
    ),
    CompileError,
> {
    let info = module_info::ModuleInfo::parse(wasm, &opts.module_name)
        .map_err(|e| e.in_module(&opts.module_name))?;
    let isa = opts.target.isa().map_err(|message| CompileError::Codegen {
        loc: Location::default(),
        message,
    })?;
    Ok((info, isa))
}

/// Compiles one module to a relocatable object (bytes of an ELF file).
pub fn compile_module(
    wasm: &[u8],
    opts: &CompileOptions,
) -> Result<(Vec<u8>, Stats), CompileError> {
    let (info, isa) = parse_for_target(wasm, opts)?;
    let mut compiled = codegen::compile_functions(info, &*isa, opts)
        .map_err(|e| e.in_module(&opts.module_name))?;
    compiled.desc.interrupt_checks = opts.interruptible.unwrap_or(false);
    compiled.desc.funcs_with_try = translate::funcs_with_try(wasm);
    let stats = Stats {
        functions: compiled.functions.len(),
        code_bytes: compiled.functions.iter().map(|f| f.bytes.len()).sum(),
        trap_sites: compiled.desc.trap_sites.len(),
        elided_checks: compiled.elided_checks,
        self_inlined: compiled.self_inlined,
    };
    let object = emit::emit_module(isa, &compiled, &opts.namespace).map_err(|message| {
        CompileError::Codegen {
            loc: Location {
                module: opts.module_name.clone(),
                ..Location::default()
            },
            message,
        }
    })?;
    Ok((object, stats))
}

/// The translated Cranelift IR of every function, as text.
pub fn emit_clif(wasm: &[u8], opts: &CompileOptions) -> Result<String, CompileError> {
    let (info, isa) = parse_for_target(wasm, opts)?;
    codegen::functions_as_clif(info, &*isa, opts).map_err(|e| e.in_module(&opts.module_name))
}

/// Compiles a WASI command module and links it with the runtime into the
/// executable `output` (written atomically: no partial file on failure).
pub fn build_executable(
    wasm: &[u8],
    opts: &CompileOptions,
    output: &std::path::Path,
) -> Result<Stats, String> {
    let (object, stats) = compile_module(wasm, opts).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let module_o = dir.path().join("module.o");
    let entry_o = dir.path().join("entry.o");
    std::fs::write(&module_o, &object).map_err(|e| format!("{}: {e}", module_o.display()))?;
    let isa = opts.target.isa()?;
    let record = w2native_environ::symbols::module_record(&opts.namespace);
    let entry = emit::emit_entry(isa, "w2n_main", &[record])?;
    std::fs::write(&entry_o, entry).map_err(|e| format!("{}: {e}", entry_o.display()))?;
    link::link_executable(&[module_o, entry_o], opts.target, output)?;
    Ok(stats)
}
