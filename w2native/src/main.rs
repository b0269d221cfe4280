//! The `w2native` command line.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use w2native::{build_executable, compile_module, link, BoundsMode, CompileOptions, Stats, Target};

const EXAMPLES: &str = "\
Examples:
  w2native build hello.wasm -o hello              native executable for this machine
  w2native build kernel.wasm busybox.wasm -o linux  Linux image: boots to a shell
  w2native build kernel.wasm -o kernel             kernel-only image (./kernel --selftest)
  w2native build --target aarch64 app.wasm -o app  cross-compile (runtime for aarch64 needed)
  w2native compile app.wasm -o app.o               object file only
  w2native build --bounds explicit --stats app.wasm -o app
  w2native targets                                 list targets and whether each is ready";

#[derive(Parser)]
#[command(name = "w2native", version, about = "Ahead-of-time WebAssembly to native compiler", after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct CodegenArgs {
    /// Target architecture: x86_64, aarch64 or riscv64.
    #[arg(long, default_value_t = Target::host())]
    target: Target,
    /// How memory accesses are kept in bounds.
    #[arg(long, value_enum, default_value_t = Bounds::Guard)]
    bounds: Bounds,
    /// Print function count, code size and compile time to stderr.
    #[arg(long)]
    stats: bool,
    /// Keep every explicit bounds check (measures what elision saves).
    #[arg(long)]
    no_elision: bool,
    /// Run the Cranelift IR verifier on every function.
    #[arg(long)]
    verify: bool,
    /// Interrupt checks at function entries and loop headers, so the runtime
    /// can stop busy code (signals into running code). Default: off (Linux
    /// images preempt busy code asynchronously instead); never in a kernel.
    #[arg(long, value_enum, value_name = "on|off")]
    interrupt_checks: Option<OnOff>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a wasm command module (WASI `_start`) into a native executable,
    /// or kernel.wasm [busybox.wasm] into a Linux image.
    Build {
        /// `app.wasm`, or `kernel.wasm [busybox.wasm]` for a Linux image.
        #[arg(required = true, num_args = 1..=2)]
        inputs: Vec<PathBuf>,
        /// Output executable.
        #[arg(short, long)]
        output: PathBuf,
        /// Linux image: copy the files under DIR into the initramfs (repeatable).
        #[arg(long, value_name = "DIR")]
        initramfs_add: Vec<PathBuf>,
        /// `exe` (default) or `obj` (stop after the module object).
        #[arg(long, value_enum, default_value_t = Emit::Exe)]
        emit: Emit,
        #[command(flatten)]
        codegen: CodegenArgs,
    },
    /// Compile a wasm module into a relocatable object only.
    Compile {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Symbol namespace: symbols are named `w2n_<namespace>_...`.
        #[arg(long, default_value = "app")]
        namespace: String,
        #[command(flatten)]
        codegen: CodegenArgs,
    },
    /// List targets and whether their runtime and linker are installed.
    Targets,
}

#[derive(Clone, Copy, ValueEnum)]
enum Bounds {
    /// Guard pages: no checks in code (default on 64-bit hosts).
    Guard,
    /// Compare and trap before every access.
    Explicit,
    /// No checks at all: trusted code only.
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// A native executable.
    Exe,
    /// The module's relocatable object only.
    Obj,
    /// Cranelift IR text of every function (for debugging the compiler).
    Clif,
}

impl From<Bounds> for BoundsMode {
    fn from(b: Bounds) -> Self {
        match b {
            Bounds::Guard => BoundsMode::Guard,
            Bounds::Explicit => BoundsMode::Explicit,
            Bounds::None => BoundsMode::None,
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {}", w2native::error::one_line(&message));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Build {
            inputs,
            output,
            initramfs_add,
            emit,
            codegen,
        } => {
            if let Some(result) = build_image(&inputs, &output, &initramfs_add, emit, &codegen) {
                return result;
            }
            let input = inputs[0].clone();
            if emit == Emit::Obj {
                let object = compile_file(&input, "app", &codegen)?;
                return write_atomically(&output, &object);
            }
            if emit == Emit::Clif {
                let (wasm, opts) = read_input(&input, "app", &codegen)?;
                let text = w2native::emit_clif(&wasm, &opts)
                    .map_err(|e| with_path(e.to_string(), &input, &opts.module_name))?;
                return write_atomically(&output, text.as_bytes());
            }
            let (wasm, opts) = read_input(&input, "app", &codegen)?;
            let start = Instant::now();
            let stats = build_executable(&wasm, &opts, &output)
                .map_err(|e| with_path(e, &input, &opts.module_name))?;
            if codegen.stats {
                print_stats(&input, &stats, start);
            }
            Ok(())
        }
        Command::Compile {
            input,
            output,
            namespace,
            codegen,
        } => {
            if !w2native_environ::symbols::valid_namespace(&namespace) {
                return Err(format!(
                    "invalid namespace `{namespace}`: use letters, digits and `_`"
                ));
            }
            let object = compile_file(&input, &namespace, &codegen)?;
            write_atomically(&output, &object)
        }
        Command::Targets => {
            for target in Target::ALL {
                let r = link::readiness(target);
                let show = |v: &Result<String, String>| match v {
                    Ok(s) => s.clone(),
                    Err(e) => format!("missing: {e}"),
                };
                println!(
                    "{:<8} {}",
                    target.name(),
                    if r.ready() { "ready" } else { "not ready" }
                );
                let runtime = r.runtime.map(|p| p.display().to_string());
                println!("    runtime  {}", show(&runtime));
                println!("    linker   {}", show(&r.linker));
                println!("    run      {}", show(&r.runner));
            }
            Ok(())
        }
    }
}

/// A Linux image build when the inputs are a kernel (and a user program);
/// `None` for a single ordinary module, which is built as a command.
fn build_image(
    inputs: &[PathBuf],
    output: &Path,
    initramfs_add: &[PathBuf],
    emit: Emit,
    codegen: &CodegenArgs,
) -> Option<Result<(), String>> {
    use w2native::image::{applets, build_linux_image, classify, ImageInput, Role};
    let mut loaded = Vec::new();
    for input in inputs {
        match read_input(input, "app", codegen) {
            Ok((wasm, opts)) => loaded.push((input, classify(&wasm), wasm, opts)),
            Err(e) => return Some(Err(e)),
        }
    }
    let usage = "a Linux image is built with `w2native build kernel.wasm busybox.wasm -o linux`";
    let roles: Vec<Role> = loaded.iter().map(|l| l.1).collect();
    match roles.as_slice() {
        [Role::Command] if initramfs_add.is_empty() => return None,
        [Role::Command] => {
            return Some(Err(format!(
                "--initramfs-add is for Linux images, and {} is not a kernel; {usage}",
                inputs[0].display()
            )))
        }
        [Role::User] => {
            return Some(Err(format!(
                "{} is a user program for the Linux image (it imports env.__syscall), not a command; {usage}",
                inputs[0].display()
            )))
        }
        [Role::Kernel] | [Role::Kernel, Role::User] => {}
        [_, _] => {
            let describe = |(i, r): (&PathBuf, &Role)| match r {
                Role::Kernel => format!("{} is a kernel", i.display()),
                Role::User => format!("{} is a user program", i.display()),
                Role::Command => format!("{} is neither a kernel nor a user program", i.display()),
            };
            let what: Vec<String> = inputs.iter().zip(&roles).map(describe).collect();
            return Some(Err(format!(
                "two inputs must be a kernel then a user program: {}; {usage}",
                what.join(", ")
            )));
        }
        _ => return None,
    }
    if emit == Emit::Obj {
        return Some(Err(
            "--emit obj is for single modules; use `w2native compile --namespace NS` per module"
                .into(),
        ));
    }
    let start = Instant::now();
    let mut modules = loaded.into_iter();
    let image_input = |l: Option<(&PathBuf, Role, Vec<u8>, CompileOptions)>| {
        l.map(|(path, _, wasm, opts)| (path.clone(), wasm, opts))
    };
    let (kpath, kwasm, kopts) = image_input(modules.next())?;
    let user = image_input(modules.next());
    let applet_names = user
        .as_ref()
        .map(|(path, wasm, _)| applets(path, wasm))
        .unwrap_or_default();
    let result = build_linux_image(
        ImageInput {
            wasm: &kwasm,
            opts: kopts.clone(),
        },
        user.as_ref().map(|(_, wasm, opts)| ImageInput {
            wasm,
            opts: opts.clone(),
        }),
        &applet_names,
        initramfs_add,
        output,
    );
    Some(match result {
        Ok(stats) => {
            if codegen.stats {
                let paths = std::iter::once(&kpath).chain(user.as_ref().map(|u| &u.0));
                for (path, s) in paths.zip(&stats) {
                    print_stats(path, s, start);
                }
            }
            Ok(())
        }
        Err(e) => {
            let e = with_path(e, &kpath, &kopts.module_name);
            Err(match &user {
                Some((upath, _, uopts)) => with_path(e, upath, &uopts.module_name),
                None => e,
            })
        }
    })
}

fn read_input(
    input: &Path,
    namespace: &str,
    codegen: &CodegenArgs,
) -> Result<(Vec<u8>, CompileOptions), String> {
    let wasm = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let name = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module".into());
    let mut opts = CompileOptions::new(codegen.target, namespace, &name);
    opts.bounds = codegen.bounds.into();
    opts.elide_checks = !codegen.no_elision;
    opts.verify = codegen.verify;
    opts.interruptible = codegen.interrupt_checks.map(|c| c == OnOff::On);
    Ok((wasm, opts))
}

fn compile_file(input: &Path, namespace: &str, codegen: &CodegenArgs) -> Result<Vec<u8>, String> {
    let (wasm, opts) = read_input(input, namespace, codegen)?;
    let start = Instant::now();
    let (object, stats) = compile_module(&wasm, &opts)
        .map_err(|e| with_path(e.to_string(), input, &opts.module_name))?;
    if codegen.stats {
        print_stats(input, &stats, start);
    }
    Ok(object)
}

/// Errors carry the module name; show the path the user gave instead.
fn with_path(e: String, input: &Path, name: &str) -> String {
    match e.strip_prefix(name) {
        Some(rest) => format!("{}{rest}", input.display()),
        None => e,
    }
}

fn print_stats(input: &Path, stats: &Stats, start: Instant) {
    eprintln!(
        "{}: {} functions, {} bytes of code, {} trap sites, {} bounds checks elided, {} functions inlined into their self-calls, built in {:.3}s",
        input.display(),
        stats.functions,
        stats.code_bytes,
        stats.trap_sites,
        stats.elided_checks,
        stats.self_inlined,
        start.elapsed().as_secs_f64()
    );
}

/// Writes via a temporary file and rename: never a partial output.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    link::check_output_path(path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".w2native-")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tmp.write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}
