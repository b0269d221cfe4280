//! Runs one `.wast` script against modules compiled by w2native.
//!
//! Every module goes through the AOT path ([`crate::loader`]); exports are
//! invoked through the runtime's array-call trampolines. Each assertion is
//! counted as passed or failed; directives this runner does not implement
//! are counted as skipped with the reason.

use crate::loader::{self, LoadError};
use runtime_support::{Imports, Instance, InstantiationError, TrapError, Val};
use std::collections::HashMap;
use std::path::Path;
use w2native::BoundsMode;
use w2native_environ::Trap;
use w2native_spec_driver::spectest_imports;
use wast::core::{AbstractHeapType, HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

#[derive(Default, Debug)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// `line: message` of each failure.
    pub failures: Vec<String>,
    /// Why directives were skipped (deduplicated).
    pub skip_reasons: Vec<String>,
}

impl Report {
    pub fn fail(&mut self, file: &str, line: usize, message: String) {
        self.failed += 1;
        self.failures.push(format!("{file}:{line}: {message}"));
    }

    pub fn skip(&mut self, reason: &str) {
        self.skipped += 1;
        if !self.skip_reasons.iter().any(|r| r == reason) {
            self.skip_reasons.push(reason.to_string());
        }
    }
}

/// The sum of several files' reports, printed the same way by every spec
/// harness: one line per file, then its first failures.
#[derive(Default, Debug)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Skip reasons of all files, deduplicated.
    pub reasons: Vec<String>,
}

impl Totals {
    pub fn add(&mut self, label: &str, r: &Report) {
        println!(
            "spec {label:<40} {:>5} passed {:>4} failed {:>4} skipped",
            r.passed, r.failed, r.skipped
        );
        for f in r.failures.iter().take(20) {
            println!("    FAIL {f}");
        }
        if r.failures.len() > 20 {
            println!("    ... and {} more failures", r.failures.len() - 20);
        }
        self.passed += r.passed;
        self.failed += r.failed;
        self.skipped += r.skipped;
        for reason in &r.skip_reasons {
            if !self.reasons.contains(reason) {
                self.reasons.push(reason.clone());
            }
        }
    }
}

/// Options of a run.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub bounds: BoundsMode,
}

struct Runner<'a> {
    file: &'a str,
    opts: RunOptions,
    dir: &'a Path,
    imports: Imports,
    instances: HashMap<String, Instance>,
    current: Option<Instance>,
    definitions: HashMap<String, Vec<u8>>,
    report: Report,
}

pub fn run_wast(file: &str, src: &str, opts: RunOptions, dir: &Path) -> Report {
    let mut runner = Runner {
        file,
        opts,
        dir,
        imports: spectest_imports(),
        instances: HashMap::new(),
        current: None,
        definitions: HashMap::new(),
        report: Report::default(),
    };
    // The names test deliberately uses bidi control characters in names.
    let mut lexer = wast::lexer::Lexer::new(src);
    lexer.allow_confusing_unicode(true);
    let buf = match wast::parser::ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => {
            runner.fail(0, format!("lexing failed: {e}"));
            return runner.report;
        }
    };
    let wast = match wast::parser::parse::<wast::Wast>(&buf) {
        Ok(w) => w,
        Err(e) => {
            runner.fail(0, format!("parsing failed: {e}"));
            return runner.report;
        }
    };
    let mut directives = wast.directives;
    // `thread` blocks run concurrently on their own OS threads (scoped: they
    // borrow the script), `wait` joins one and adds up its counts.
    std::thread::scope(|scope| {
        let mut threads = HashMap::new();
        for directive in directives.drain(..) {
            match directive {
                WastDirective::Thread(thread) => {
                    let mut sub = runner.fork();
                    if let Some(shared) = thread.shared_module {
                        if let Some(inst) = runner.instances.get(shared.name()) {
                            sub.instances
                                .insert(shared.name().to_string(), inst.clone());
                        }
                    }
                    let body = thread.directives;
                    let handle = std::thread::Builder::new()
                        .stack_size(16 << 20)
                        .spawn_scoped(scope, move || {
                            for d in body {
                                sub.run(d, src);
                            }
                            sub.report
                        })
                        .expect("spawning a wast thread");
                    threads.insert(thread.name.name().to_string(), handle);
                }
                WastDirective::Wait { thread, span } => {
                    let line = span.linecol_in(src).0 + 1;
                    match threads.remove(thread.name()).map(|h| h.join()) {
                        Some(Ok(report)) => runner.merge(report),
                        Some(Err(_)) => runner.fail(line, "wast thread panicked".into()),
                        None => runner.fail(line, format!("unknown thread `{}`", thread.name())),
                    }
                }
                other => runner.run(other, src),
            }
        }
        for (_, handle) in threads.drain() {
            if let Ok(report) = handle.join() {
                runner.merge(report);
            }
        }
    });
    runner.report
}

enum Outcome {
    /// An assertion held.
    Pass,
    /// A command that is not an assertion (module, register, invoke) worked.
    Quiet,
    Skip(String),
}

type Step = Result<Outcome, String>;

impl Runner<'_> {
    /// A runner for a `thread` block: same file and options, fresh state.
    fn fork(&self) -> Self {
        Runner {
            file: self.file,
            opts: self.opts,
            dir: self.dir,
            imports: spectest_imports(),
            instances: HashMap::new(),
            current: None,
            definitions: HashMap::new(),
            report: Report::default(),
        }
    }

    fn merge(&mut self, other: Report) {
        self.report.passed += other.passed;
        self.report.failed += other.failed;
        self.report.skipped += other.skipped;
        self.report.failures.extend(other.failures);
        for r in other.skip_reasons {
            if !self.report.skip_reasons.contains(&r) {
                self.report.skip_reasons.push(r);
            }
        }
    }

    /// Runs one directive and counts its outcome.
    fn run(&mut self, directive: WastDirective<'_>, src: &str) {
        let line = directive.span().linecol_in(src).0 + 1;
        // A panic in the compiler is a failure of that assertion, not of the run.
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.directive(directive)));
        match outcome {
            Ok(Ok(Outcome::Pass)) => self.report.passed += 1,
            Ok(Ok(Outcome::Quiet)) => {}
            Ok(Ok(Outcome::Skip(reason))) => self.report.skip(&reason),
            Ok(Err(message)) => self.fail(line, message),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.fail(line, format!("panic: {msg}"));
            }
        }
    }

    fn fail(&mut self, line: usize, message: String) {
        self.report.fail(self.file, line, message);
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Step {
        match d {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let wasm = module
                    .encode()
                    .map_err(|e| format!("encoding module: {e}"))?;
                let instance = self
                    .instantiate(&wasm)
                    .map_err(|e| format!("module failed to instantiate: {e}"))?;
                self.set_current(name, instance);
                Ok(Outcome::Quiet)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module
                    .name()
                    .map(|id| id.name().to_string())
                    .unwrap_or_default();
                let wasm = module
                    .encode()
                    .map_err(|e| format!("encoding module: {e}"))?;
                self.definitions.insert(name, wasm);
                Ok(Outcome::Quiet)
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = module.map(|m| m.name().to_string()).unwrap_or_default();
                let wasm = self
                    .definitions
                    .get(&def)
                    .cloned()
                    .ok_or(format!("no module definition `{def}`"))?;
                let inst = self
                    .instantiate(&wasm)
                    .map_err(|e| format!("module failed to instantiate: {e}"))?;
                self.set_current(instance.map(|i| i.name().to_string()), inst);
                Ok(Outcome::Quiet)
            }
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module.map(|m| m.name()))?;
                self.imports.define_instance(name, &instance);
                Ok(Outcome::Quiet)
            }
            WastDirective::Invoke(invoke) => {
                self.invoke(&invoke)
                    .map_err(|e| format!("invoke {} trapped: {}", invoke.name, trap_text(&e)))?;
                Ok(Outcome::Quiet)
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let got = match self.execute(exec)? {
                    Ok(values) => values,
                    Err(e) => return Err(format!("expected return, got trap: {}", trap_text(&e))),
                };
                if got.len() != results.len() {
                    return Err(format!("expected {} results, got {got:?}", results.len()));
                }
                for (i, (v, expected)) in got.iter().zip(&results).enumerate() {
                    if !matches_ret(v, expected) {
                        return Err(format!("result {i}: expected {expected:?}, got {v:?}"));
                    }
                }
                Ok(Outcome::Pass)
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec)? {
                Ok(values) => Err(format!("expected trap `{message}`, got {values:?}")),
                Err(e) => check_trap(&e, message),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(values) => Err(format!("expected `{message}`, got {values:?}")),
                Err(e) => check_trap(&e, message),
            },
            WastDirective::AssertInvalid {
                module, message, ..
            }
            | WastDirective::AssertMalformed {
                module, message, ..
            } => self.expect_rejected(module, message),
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let wasm = module
                    .encode()
                    .map_err(|e| format!("encoding module: {e}"))?;
                match self.instantiate(&wasm) {
                    Ok(_) => Err(format!("expected unlinkable `{message}`, but it linked")),
                    Err(InstError::Link(_)) => Ok(Outcome::Pass),
                    Err(e) => Err(format!("expected unlinkable `{message}`, got {e}")),
                }
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => Ok(Outcome::Skip(
                "custom-section assertions (annotations proposal)".into(),
            )),
            WastDirective::AssertException { exec, .. } => match self.execute(exec)? {
                Ok(values) => Err(format!("expected an exception, got {values:?}")),
                Err(e) if e.trap() == Some(Trap::UncaughtException) => Ok(Outcome::Pass),
                Err(e) => Err(format!("expected an exception, got {}", trap_text(&e))),
            },
            WastDirective::AssertSuspension { .. } => Ok(Outcome::Skip("stack switching".into())),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Err("`thread`/`wait` are handled by run_wast".into())
            }
        }
    }

    fn set_current(&mut self, name: Option<String>, instance: Instance) {
        if let Some(name) = name {
            self.instances.insert(name, instance.clone());
        }
        self.current = Some(instance);
    }

    fn instance(&self, name: Option<&str>) -> Result<Instance, String> {
        match name {
            Some(n) => self
                .instances
                .get(n)
                .cloned()
                .ok_or(format!("unknown module `{n}`")),
            None => self.current.clone().ok_or("no current module".to_string()),
        }
    }

    fn expect_rejected(&mut self, mut module: QuoteWat<'_>, message: &str) -> Step {
        let wasm = match module.encode() {
            Ok(w) => w,
            // The text did not even parse: malformed, as expected.
            Err(_) => return Ok(Outcome::Pass),
        };
        let opts = w2native::CompileOptions::new(w2native::Target::host(), "check", "check");
        match w2native::compile_module(&wasm, &opts) {
            Ok(_) if RELAXED_IN_WASM3.contains(&message) => Ok(Outcome::Skip(format!(
                "`{message}`: wasm 2.0 binary-format rule relaxed by the 3.0 format that wasmparser implements"
            ))),
            Ok(_) if message == "multiple tables" => Ok(Outcome::Skip(
                "`multiple tables`: the threads proposal's files predate reference types, which made them valid".into(),
            )),
            Ok(_) => Err(format!("expected rejection `{message}`, but it compiled")),
            Err(_) => Ok(Outcome::Pass),
        }
    }

    fn instantiate(&self, wasm: &[u8]) -> Result<Instance, InstError> {
        let module =
            loader::load(wasm, self.file, self.opts.bounds, self.dir).map_err(InstError::Load)?;
        Instance::new(&module, &self.imports).map_err(|e| match e {
            InstantiationError::Link(m) => InstError::Link(m),
            InstantiationError::Trap(t) => InstError::Trap(t),
            InstantiationError::Resource(m) => InstError::Resource(m),
        })
    }

    fn invoke(&self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>, TrapError> {
        let instance = self
            .instance(invoke.module.map(|m| m.name()))
            .map_err(TrapError::Host)?;
        let func = instance
            .get_func(invoke.name)
            .ok_or_else(|| TrapError::Host(format!("no exported function `{}`", invoke.name)))?;
        let args = invoke
            .args
            .iter()
            .map(arg_val)
            .collect::<Result<Vec<_>, _>>()
            .map_err(TrapError::Host)?;
        func.call(&args)
    }

    /// Outer error: the harness could not run it; inner: wasm result or trap.
    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Result<Vec<Val>, TrapError>, String> {
        match exec {
            WastExecute::Invoke(invoke) => Ok(self.invoke(&invoke)),
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module.map(|m| m.name()))?;
                let g = instance
                    .get_global(global)
                    .ok_or(format!("no exported global `{global}`"))?;
                Ok(Ok(vec![g.get()]))
            }
            WastExecute::Wat(mut wat) => {
                let wasm = wat.encode().map_err(|e| format!("encoding module: {e}"))?;
                match self.instantiate(&wasm) {
                    Ok(_) => Ok(Ok(vec![])),
                    Err(InstError::Trap(t)) => Ok(Err(t)),
                    Err(e) => Err(format!("module failed to instantiate: {e}")),
                }
            }
        }
    }
}

/// Malformed-module messages of the 2.0 testsuite for encodings that the
/// WebAssembly 3.0 binary format made valid (a memory index where 2.0 had a
/// reserved zero byte; limits read as u64 LEB128).
const RELAXED_IN_WASM3: &[&str] = &["zero byte expected", "integer representation too long"];

enum InstError {
    Load(LoadError),
    Link(String),
    Trap(TrapError),
    Resource(String),
}

impl std::fmt::Display for InstError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstError::Load(e) => write!(f, "{e}"),
            InstError::Link(m) => write!(f, "link error: {m}"),
            InstError::Trap(t) => write!(f, "trap: {}", trap_text(t)),
            InstError::Resource(m) => write!(f, "resource error: {m}"),
        }
    }
}

fn trap_text(e: &TrapError) -> String {
    match e {
        TrapError::Trap { trap, .. } => trap.message().to_string(),
        TrapError::Exit(code) => format!("exit({code})"),
        TrapError::Host(m) => m.clone(),
    }
}

fn check_trap(e: &TrapError, expected: &str) -> Step {
    let Some(trap) = e.trap() else {
        return Err(format!("expected trap `{expected}`, got {}", trap_text(e)));
    };
    if expected.starts_with(trap.message()) {
        Ok(Outcome::Pass)
    } else {
        Err(format!(
            "expected trap `{expected}`, got `{}`",
            trap.message()
        ))
    }
}

pub fn arg_val(arg: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(core) = arg else {
        return Err("component-model argument".into());
    };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: AbstractHeapType::Func,
            ..
        }) => Val::FuncRef(0),
        WastArgCore::RefNull(_) => Val::ExternRef(0),
        // Host references are small integers; +1 keeps them distinct from null.
        WastArgCore::RefExtern(n) | WastArgCore::RefHost(n) => Val::ExternRef(*n as usize + 1),
    })
}

pub fn matches_ret(v: &Val, expected: &WastRet<'_>) -> bool {
    let WastRet::Core(core) = expected else {
        return false;
    };
    matches_core(v, core)
}

pub fn matches_core(v: &Val, expected: &WastRetCore<'_>) -> bool {
    match (v, expected) {
        (Val::I32(a), WastRetCore::I32(b)) => a == b,
        (Val::I64(a), WastRetCore::I64(b)) => a == b,
        (Val::F32(a), WastRetCore::F32(p)) => match p {
            NanPattern::CanonicalNan => a & 0x7fff_ffff == 0x7fc0_0000,
            NanPattern::ArithmeticNan => a & 0x7fc0_0000 == 0x7fc0_0000,
            NanPattern::Value(b) => *a == b.bits,
        },
        (Val::F64(a), WastRetCore::F64(p)) => match p {
            NanPattern::CanonicalNan => a & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            NanPattern::ArithmeticNan => a & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
            NanPattern::Value(b) => *a == b.bits,
        },
        (Val::FuncRef(r) | Val::ExternRef(r), WastRetCore::RefNull(_)) => *r == 0,
        (Val::ExternRef(r), WastRetCore::RefExtern(Some(n))) => *r == *n as usize + 1,
        (Val::ExternRef(r), WastRetCore::RefExtern(None)) => *r != 0,
        (Val::ExternRef(r), WastRetCore::RefHost(n)) => *r == *n as usize + 1,
        (Val::FuncRef(r), WastRetCore::RefFunc(_)) => *r != 0,
        (v, WastRetCore::Either(options)) => options.iter().any(|o| matches_core(v, o)),
        _ => false,
    }
}
