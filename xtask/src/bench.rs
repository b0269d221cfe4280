//! `cargo xtask bench`: the benchmark harness (not a test).
//!
//! Builds each workload of `bench/` natively with clang-19 -O2 and for
//! wasm32-wasi, compiles the wasm with w2native (every bounds mode, and
//! explicit without elision), wasm2c + clang-19 -O2 (Debian's wabt, with
//! `bench/wasm2c-main.c` as the WASI shim) and wasmtime when installed, then
//! runs every configuration `--runs` times, round-robin so that noise hits
//! all of them alike. Prints medians and ratios to native, compile time and
//! peak RSS of each compiler, and writes both (markdown + JSON) into
//! `docs/performance.md` between the `bench:begin`/`bench:end` markers.
//!
//! Options:
//!   --runs N              repetitions per configuration (default 5)
//!   --only a,b            run only these workloads
//!   --callgrind           instead of timing, count instructions (native,
//!                         w2native modes and wasm2c, smaller inputs) into their
//!                         own table
//!   --interrupt-checks    add "w2native guard, interrupt checks": guard mode
//!                         compiled with `--interrupt-checks on`, to compare
//!                         with "w2native guard" (the cost of the checks)
//!   --install-wasmtime    `cargo install wasmtime-cli` (pinned) into the cache
//!   --no-write            print only, leave docs/performance.md alone
//!
//! sqlite3 comes from Debian's source package (`apt-get source sqlite3`),
//! its amalgamation made by the package's own `configure && make sqlite3.c`;
//! everything is cached under `target/bench/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{cargo, root, sh, step};

const CLANG: &str = "clang-19";
/// The newest wasmtime-cli whose `rust-version` this toolchain (1.95) meets.
const WASMTIME_VERSION: &str = "48.0.8";
/// Preprocessor options for the sqlite amalgamation, native and wasm alike:
/// no OS layer (the driver registers a memory-only VFS), no threads.
const SQLITE_FLAGS: &[&str] = &[
    "-DSQLITE_OS_OTHER=1",
    "-DSQLITE_THREADSAFE=0",
    "-DSQLITE_OMIT_LOAD_EXTENSION",
    "-DSQLITE_TEMP_STORE=3",
    "-DSQLITE_DEFAULT_MEMSTATUS=0",
    "-DSQLITE_OMIT_SHARED_CACHE",
    "-DSQLITE_OMIT_WAL",
];

struct Workload {
    name: &'static str,
    what: &'static str,
    sources: &'static [&'static str],
    args: &'static [&'static str],
    /// Smaller inputs for `--callgrind` (instruction counting is ~50x slower).
    small_args: &'static [&'static str],
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "sha256",
        what: "SHA-256 of 4 x 64 MiB",
        sources: &["sha256.c"],
        args: &[],
        small_args: &["4"],
    },
    Workload {
        name: "nbody",
        what: "N-body, 10M steps",
        sources: &["nbody.c"],
        args: &[],
        small_args: &["200000"],
    },
    Workload {
        name: "quicksort",
        what: "quicksort of 10M ints",
        sources: &["quicksort.c"],
        args: &[],
        small_args: &["500000"],
    },
    Workload {
        name: "fib",
        what: "recursive fib(40)",
        sources: &["fib.c"],
        args: &["40"],
        small_args: &["30"],
    },
    Workload {
        name: "alloc",
        what: "binary trees + mixed-size churn (own allocator)",
        sources: &["alloc.c"],
        args: &[],
        small_args: &["12"],
    },
    Workload {
        name: "sqlite",
        what: "sqlite3 in-memory: 1M-row insert + queries",
        sources: &["sqlite.c", "@sqlite3.c"],
        args: &[],
        small_args: &["50000"],
    },
];

/// One way of running a workload.
#[derive(Clone)]
struct Config {
    name: String,
    /// Compiler of this configuration, for the compile-cost table.
    compiler: Option<&'static str>,
}

struct Opts {
    runs: usize,
    only: Option<Vec<String>>,
    callgrind: bool,
    install_wasmtime: bool,
    write: bool,
    interrupt_checks: bool,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        runs: 5,
        only: None,
        callgrind: false,
        install_wasmtime: false,
        write: true,
        interrupt_checks: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                o.runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--runs takes a positive number")?
            }
            "--only" => {
                let list = it.next().ok_or("--only takes a list")?;
                o.only = Some(list.split(',').map(str::to_string).collect());
            }
            "--callgrind" => o.callgrind = true,
            "--install-wasmtime" => o.install_wasmtime = true,
            "--no-write" => o.write = false,
            "--interrupt-checks" => o.interrupt_checks = true,
            other => return Err(format!("bench: unknown option {other}")),
        }
    }
    Ok(o)
}

/// Wall time and peak RSS of one command (through GNU time).
struct Measured {
    secs: f64,
    rss_kib: u64,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn measure(cmd: &mut Command) -> Result<Measured, String> {
    let rss_file = tempfile_path("rss");
    let program = cmd.get_program().to_os_string();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(&program)
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let start = Instant::now();
    let out = timed
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string(&rss_file).unwrap_or_default();
    let _ = std::fs::remove_file(&rss_file);
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let rss_kib = rss
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or(0);
    Ok(Measured {
        secs,
        rss_kib,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

fn tempfile_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("w2n-bench-{}-{tag}", std::process::id()))
}

/// Compile cost of one step or a sequence of steps: times add up, the peak
/// is the largest of the steps.
#[derive(Clone, Copy, Default)]
struct Cost {
    secs: f64,
    rss_kib: u64,
}

impl Cost {
    fn add(&mut self, m: &Measured) {
        self.secs += m.secs;
        self.rss_kib = self.rss_kib.max(m.rss_kib);
    }
}

fn run_cost(cmd: &mut Command, cost: &mut Cost) -> Result<(), String> {
    let m = measure(cmd)?;
    cost.add(&m);
    Ok(())
}

fn nice(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("nice");
    c.arg(program);
    c
}

pub fn bench_command(args: &[String]) -> Result<(), String> {
    let opts = parse(args)?;
    crate::deps::install(&[
        "clang-19",
        "lld-19",
        "wasi-libc",
        "libclang-rt-19-dev-wasm32",
        "wabt",
        "time",
        "valgrind",
        "dpkg-dev",
        "tcl",
    ])?;
    let work = root().join("target/bench");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let wasmtime = wasmtime_path(&opts)?;

    step("building w2native (release)");
    sh(cargo().args([
        "build",
        "--release",
        "-p",
        "w2native",
        "-p",
        "runtime-support",
    ]))?;
    let w2native = root().join("target/release/w2native");
    let wasm2c_dir = wasm2c_runtime_dir()?;

    let workloads: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| {
            opts.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|n| n == w.name))
        })
        .collect();
    if workloads.iter().any(|w| w.name == "sqlite") {
        sqlite_amalgamation(&work)?;
    }

    let mut configs = vec![
        Config {
            name: "native".into(),
            compiler: None,
        },
        Config {
            name: "w2native guard".into(),
            compiler: Some("w2native"),
        },
        Config {
            name: "w2native explicit".into(),
            compiler: Some("w2native"),
        },
        Config {
            name: "w2native explicit, no elision".into(),
            compiler: Some("w2native"),
        },
        Config {
            name: "w2native none".into(),
            compiler: Some("w2native"),
        },
        Config {
            name: "wasm2c + clang -O2".into(),
            compiler: Some("wasm2c + clang-19 -O2"),
        },
    ];
    if opts.interrupt_checks {
        configs.insert(
            2,
            Config {
                name: "w2native guard, interrupt checks".into(),
                compiler: Some("w2native"),
            },
        );
    }
    if wasmtime.is_some() {
        configs.push(Config {
            name: "wasmtime".into(),
            compiler: Some("wasmtime compile"),
        });
    }

    let mut results = Vec::new();
    for w in &workloads {
        results.push(bench_one(
            w,
            &work,
            &configs,
            &w2native,
            &wasm2c_dir,
            wasmtime.as_deref(),
            &opts,
        )?);
    }

    let report = Report {
        date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: machine(),
        runs: opts.runs,
        callgrind: opts.callgrind,
        configs,
        results,
    };
    let (markdown, json) = report.render();
    println!("\n{markdown}");
    if opts.write {
        let markers = if opts.callgrind {
            CALLGRIND_MARKERS
        } else {
            TIMING_MARKERS
        };
        write_docs(markers, &markdown, &json)?;
        step("wrote docs/performance.md");
    }
    Ok(())
}

/// Everything measured for one workload.
struct WorkloadResult {
    name: &'static str,
    what: &'static str,
    /// Median seconds per configuration (same order as the configs).
    medians: Vec<f64>,
    /// Compile cost per compiler configuration (by config name).
    compile: BTreeMap<String, Cost>,
    elided_checks: Option<u64>,
    wasm_bytes: u64,
    /// Instructions per configuration (all but wasmtime).
    callgrind: Option<Vec<(String, u64)>>,
}

fn bench_one(
    w: &Workload,
    work: &Path,
    configs: &[Config],
    w2native: &Path,
    wasm2c_dir: &Path,
    wasmtime: Option<&Path>,
    opts: &Opts,
) -> Result<WorkloadResult, String> {
    step(&format!("{}: building", w.name));
    let dir = work.join(w.name);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sources: Vec<PathBuf> = w
        .sources
        .iter()
        .map(|s| match s.strip_prefix('@') {
            Some(generated) => work.join("sqlite").join(generated),
            None => root().join("bench").join(s),
        })
        .collect();
    let mut cflags: Vec<String> = vec!["-O2".into()];
    if w.name == "sqlite" {
        cflags.extend(SQLITE_FLAGS.iter().map(|s| s.to_string()));
        cflags.push(format!("-I{}", work.join("sqlite").display()));
    }

    // Native and wasm32-wasi builds of the same sources (compile, then link:
    // linking wasm with -O would run wasm-opt).
    let native = dir.join("native");
    let wasm = dir.join("bench.wasm");
    let mut native_objs = Vec::new();
    let mut wasm_objs = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let n = dir.join(format!("{i}.native.o"));
        let o = dir.join(format!("{i}.wasm.o"));
        if is_stale(&n, src) {
            sh(nice(CLANG)
                .args(&cflags)
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(&n))?;
        }
        if is_stale(&o, src) {
            sh(nice(CLANG)
                .arg("--target=wasm32-wasi")
                .args(&cflags)
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(&o))?;
        }
        native_objs.push(n);
        wasm_objs.push(o);
    }
    sh(Command::new(CLANG)
        .args(&native_objs)
        .arg("-lm")
        .arg("-o")
        .arg(&native))?;
    sh(Command::new(CLANG)
        .arg("--target=wasm32-wasi")
        .args(&wasm_objs)
        .arg("-lm")
        .arg("-o")
        .arg(&wasm))?;
    let wasm_bytes = std::fs::metadata(&wasm).map_err(|e| e.to_string())?.len();

    // The compilers, timed.
    let mut compile = BTreeMap::new();
    let mut exes: Vec<Vec<String>> = Vec::new();
    let mut elided_checks = None;
    for c in configs {
        let exe = dir.join(c.name.replace([' ', ',', '+'], "_"));
        let mut cost = Cost::default();
        let cmd: Vec<String> = match c.name.as_str() {
            "native" => vec![native.display().to_string()],
            name if name.starts_with("w2native") => {
                let mode = name
                    .split(' ')
                    .nth(1)
                    .unwrap_or("guard")
                    .trim_end_matches(',');
                let mut cmd = nice(w2native);
                cmd.args(["build", "--stats", "--bounds", mode]);
                if name.ends_with("no elision") {
                    cmd.arg("--no-elision");
                }
                if name.ends_with("interrupt checks") {
                    cmd.args(["--interrupt-checks", "on"]);
                }
                cmd.arg(&wasm).arg("-o").arg(&exe);
                let m = measure(&mut cmd)?;
                cost.add(&m);
                if mode == "explicit" && !name.ends_with("no elision") {
                    elided_checks = stats_elided(&m.stderr);
                }
                vec![exe.display().to_string()]
            }
            "wasm2c + clang -O2" => {
                let c_file = dir.join("module.c");
                run_cost(
                    nice("wasm2c")
                        .args(["-n", "bench"])
                        .arg(&wasm)
                        .arg("-o")
                        .arg(&c_file),
                    &mut cost,
                )?;
                let obj = dir.join("module.o");
                run_cost(
                    nice(CLANG)
                        .args(["-O2", "-c"])
                        .arg(format!("-I{}", wasm2c_dir.display()))
                        .arg(&c_file)
                        .arg("-o")
                        .arg(&obj),
                    &mut cost,
                )?;
                let shim = dir.join("wasm2c-main.o");
                sh(nice(CLANG)
                    .args(["-O2", "-c"])
                    .arg(format!("-I{}", dir.display()))
                    .arg(format!("-I{}", wasm2c_dir.display()))
                    .arg(root().join("bench/wasm2c-main.c"))
                    .arg("-o")
                    .arg(&shim))?;
                let rt = dir.join("wasm-rt-impl.o");
                sh(nice(CLANG)
                    .args(["-O2", "-c"])
                    .arg(format!("-I{}", wasm2c_dir.display()))
                    .arg(wasm2c_dir.join("wasm-rt-impl.c"))
                    .arg("-o")
                    .arg(&rt))?;
                sh(Command::new(CLANG)
                    .arg(&obj)
                    .arg(&shim)
                    .arg(&rt)
                    .arg("-lm")
                    .arg("-o")
                    .arg(&exe))?;
                vec![exe.display().to_string()]
            }
            "wasmtime" => {
                let wt = wasmtime.expect("config only present with wasmtime");
                let cwasm = dir.join("bench.cwasm");
                run_cost(
                    nice(wt).arg("compile").arg(&wasm).arg("-o").arg(&cwasm),
                    &mut cost,
                )?;
                vec![
                    wt.display().to_string(),
                    "run".into(),
                    "--allow-precompiled".into(),
                    cwasm.display().to_string(),
                ]
            }
            other => return Err(format!("unknown configuration {other}")),
        };
        if c.compiler.is_some() {
            compile.insert(c.name.clone(), cost);
        }
        exes.push(cmd);
    }

    // Runs, round-robin over the configurations.
    step(&format!(
        "{}: {} runs of {} configurations",
        w.name,
        opts.runs,
        configs.len()
    ));
    let mut times = vec![Vec::new(); configs.len()];
    let mut expected: Option<Vec<u8>> = None;
    let runs = if opts.callgrind { 0 } else { opts.runs };
    for _ in 0..runs {
        for (i, cmd) in exes.iter().enumerate() {
            let mut c = Command::new(&cmd[0]);
            c.args(&cmd[1..]).args(w.args);
            let m =
                measure(&mut c).map_err(|e| format!("{} / {}: {e}", w.name, configs[i].name))?;
            match &expected {
                None => expected = Some(m.stdout.clone()),
                Some(e) if *e != m.stdout => {
                    return Err(format!(
                        "{} / {}: output differs from native",
                        w.name, configs[i].name
                    ))
                }
                _ => {}
            }
            times[i].push(m.secs);
        }
    }
    let medians: Vec<f64> = if opts.callgrind {
        Vec::new()
    } else {
        times.into_iter().map(median).collect()
    };
    for (c, m) in configs.iter().zip(&medians) {
        eprintln!("    {:32} {:8.3}s  {:.2}x", c.name, m, m / medians[0]);
    }

    let callgrind = if opts.callgrind {
        step(&format!("{}: callgrind", w.name));
        let mut counts = Vec::new();
        for (c, cmd) in configs.iter().zip(&exes) {
            // wasmtime is left out: its count would include compiling.
            if c.name != "wasmtime" {
                let n = instructions(cmd, w.small_args)?;
                eprintln!("    {:32} {n} instructions", c.name);
                counts.push((c.name.clone(), n));
            }
        }
        Some(counts)
    } else {
        None
    };

    Ok(WorkloadResult {
        name: w.name,
        what: w.what,
        medians,
        compile,
        elided_checks,
        wasm_bytes,
        callgrind,
    })
}

/// Rebuild when the object is missing or older than its source.
fn is_stale(out: &Path, src: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(out), modified(src)) {
        (Some(o), Some(s)) => o < s,
        _ => true,
    }
}

/// The "N bounds checks elided" of `w2native build --stats`.
fn stats_elided(stderr: &[u8]) -> Option<u64> {
    String::from_utf8_lossy(stderr)
        .split(", ")
        .find_map(|part| {
            part.strip_suffix(" bounds checks elided")
                .and_then(|n| n.trim().parse().ok())
        })
}

fn instructions(cmd: &[String], args: &[&str]) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .args(cmd)
        .args(args)
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .and_then(|(_, n)| n.trim().parse().ok())
        })
        .ok_or_else(|| format!("no callgrind count for {cmd:?}: {text}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn geomean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0), |(s, n), x| (s + x.ln(), n + 1));
    (sum / n as f64).exp()
}

/// Where Debian's wabt keeps wasm2c's runtime (`wasm-rt-impl.c`).
fn wasm2c_runtime_dir() -> Result<PathBuf, String> {
    let out = Command::new("dpkg")
        .args(["-L", "wabt"])
        .output()
        .map_err(|e| format!("dpkg -L wabt: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with("/wasm2c/wasm-rt-impl.c"))
        .and_then(|l| Path::new(l).parent().map(Path::to_path_buf))
        .ok_or_else(|| "wabt ships no wasm2c runtime (wasm-rt-impl.c)".into())
}

/// Debian's sqlite3 source package, its amalgamation made once.
fn sqlite_amalgamation(work: &Path) -> Result<(), String> {
    let out = work.join("sqlite");
    if out.join("sqlite3.c").is_file() && out.join("sqlite3.h").is_file() {
        return Ok(());
    }
    step("sqlite3: apt-get source + amalgamation (once)");
    let src = work.join("sqlite-src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).map_err(|e| e.to_string())?;
    sh_in(
        Command::new("apt-get").args(["source", "-qq", "sqlite3"]),
        &src,
    )?;
    let tree = std::fs::read_dir(&src)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.join("configure").is_file())
        .ok_or("apt-get source sqlite3 gave no source tree")?;
    let build = src.join("build");
    std::fs::create_dir_all(&build).map_err(|e| e.to_string())?;
    sh_in(&mut nice(tree.join("configure")), &build)?;
    sh_in(nice("make").arg("sqlite3.c"), &build)?;
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    for f in ["sqlite3.c", "sqlite3.h"] {
        std::fs::copy(build.join(f), out.join(f)).map_err(|e| format!("{f}: {e}"))?;
    }
    Ok(())
}

/// `sh` in another directory than the workspace root.
fn sh_in(cmd: &mut Command, dir: &Path) -> Result<(), String> {
    let status = cmd
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

fn wasmtime_cache() -> PathBuf {
    let base = std::env::var_os("W2NATIVE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/w2native")))
        .unwrap_or_else(|| root().join("target"));
    base.join(format!("wasmtime-{WASMTIME_VERSION}"))
}

/// wasmtime from PATH or the cache; installed there on request.
fn wasmtime_path(opts: &Opts) -> Result<Option<PathBuf>, String> {
    let cached = wasmtime_cache().join("bin/wasmtime");
    if opts.install_wasmtime && !cached.is_file() {
        step(&format!(
            "installing wasmtime-cli {WASMTIME_VERSION} (long: compiles on this machine)"
        ));
        sh(nice("cargo")
            .args(["install", "--locked", "wasmtime-cli", "--version"])
            .arg(WASMTIME_VERSION)
            .arg("--root")
            .arg(wasmtime_cache()))?;
    }
    if cached.is_file() {
        return Ok(Some(cached));
    }
    let on_path = Command::new("wasmtime")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    Ok(on_path.then(|| PathBuf::from("wasmtime")))
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!(
        "{cpu}, nproc {}, load average {load} (shared machine)",
        command_line("nproc", &[])
    )
}

struct Report {
    date: String,
    machine: String,
    runs: usize,
    callgrind: bool,
    configs: Vec<Config>,
    results: Vec<WorkloadResult>,
}

impl Report {
    fn render(&self) -> (String, String) {
        let mut md = String::new();
        if self.callgrind {
            let _ = writeln!(
                md,
                "Counted {} on {} (instructions are deterministic; smaller inputs: {}).",
                self.date,
                self.machine,
                WORKLOADS
                    .iter()
                    .map(|w| format!("{} {}", w.name, w.small_args.join(" ")))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        } else {
            let _ = writeln!(
                md,
                "Measured {} on {}; median of {} runs, run round-robin.\n",
                self.date, self.machine, self.runs
            );
            // Run time: medians and ratios.
            let _ = write!(md, "| workload |");
            for c in &self.configs {
                let _ = write!(md, " {} |", c.name);
            }
            let _ = write!(md, "\n| --- |");
            for _ in &self.configs {
                let _ = write!(md, " ---: |");
            }
            md.push('\n');
            for r in &self.results {
                let _ = write!(md, "| {} ({}) |", r.name, r.what);
                for (i, m) in r.medians.iter().enumerate() {
                    if i == 0 {
                        let _ = write!(md, " {m:.3}s |");
                    } else {
                        let _ = write!(md, " {:.2}x ({m:.3}s) |", m / r.medians[0]);
                    }
                }
                md.push('\n');
            }
            let _ = write!(md, "| **geomean ratio** | 1.00x |");
            for i in 1..self.configs.len() {
                let g = geomean(self.results.iter().map(|r| r.medians[i] / r.medians[0]));
                let _ = write!(md, " **{g:.2}x** |");
            }
            md.push_str("\n\n");

            // Compile cost.
            let compilers: Vec<&Config> = self
                .configs
                .iter()
                .filter(|c| c.compiler.is_some() && !c.name.contains("no elision"))
                .collect();
            let _ = write!(md, "Compile time and peak RSS (wasm -> executable or loadable code):\n\n| workload | wasm size |");
            for c in &compilers {
                let _ = write!(md, " {} |", c.name);
            }
            let _ = write!(md, "\n| --- | ---: |");
            for _ in &compilers {
                let _ = write!(md, " ---: |");
            }
            md.push('\n');
            for r in &self.results {
                let _ = write!(md, "| {} | {} KiB |", r.name, r.wasm_bytes / 1024);
                for c in &compilers {
                    let cost = r.compile.get(&c.name).copied().unwrap_or_default();
                    let _ = write!(md, " {:.2}s, {} MiB |", cost.secs, cost.rss_kib / 1024);
                }
                md.push('\n');
            }
            md.push('\n');
            for r in &self.results {
                let (Some(ours), Some(theirs)) = (
                    r.compile.get("w2native guard"),
                    r.compile.get("wasm2c + clang -O2"),
                ) else {
                    continue;
                };
                let _ = writeln!(
                md,
                "- {}: w2native compiles {:.1}x faster than wasm2c + clang -O2; explicit mode elides {} checks.",
                r.name,
                theirs.secs / ours.secs,
                r.elided_checks.map_or("?".to_string(), |n| n.to_string())
            );
            }
        }
        let counted: Vec<&WorkloadResult> = self
            .results
            .iter()
            .filter(|r| r.callgrind.is_some())
            .collect();
        if let Some(first) = counted.first().and_then(|r| r.callgrind.as_ref()) {
            let _ = write!(
                md,
                "\nInstruction counts (callgrind), ratio to native:\n\n| workload |"
            );
            for (name, _) in first {
                let _ = write!(md, " {name} |");
            }
            let _ = write!(md, "\n| --- |");
            for _ in first {
                let _ = write!(md, " ---: |");
            }
            md.push('\n');
            for r in counted {
                let counts = r.callgrind.as_ref().expect("filtered");
                let _ = write!(md, "| {} |", r.name);
                for (i, (_, n)) in counts.iter().enumerate() {
                    if i == 0 {
                        let _ = write!(md, " {n} |");
                    } else {
                        let _ = write!(md, " {:.3}x |", *n as f64 / counts[0].1 as f64);
                    }
                }
                md.push('\n');
            }
            let _ = write!(md, "| **geomean** | |");
            for k in 1..first.len() {
                let g = geomean(self.results.iter().filter_map(|r| {
                    let c = r.callgrind.as_ref()?;
                    Some(c[k].1 as f64 / c[0].1 as f64)
                }));
                let _ = write!(md, " **{g:.3}x** |");
            }
            md.push('\n');
        }

        // JSON by hand (xtask has no dependencies).
        let mut js = String::new();
        let _ = write!(
            js,
            "{{\n  \"date\": {},\n  \"machine\": {},\n  \"runs\": {},\n  \"workloads\": [",
            json_str(&self.date),
            json_str(&self.machine),
            self.runs
        );
        for (k, r) in self.results.iter().enumerate() {
            let _ = write!(
                js,
                "{}\n    {{\"name\": {}, \"median_secs\": {{",
                if k > 0 { "," } else { "" },
                json_str(r.name)
            );
            for (i, (c, m)) in self.configs.iter().zip(&r.medians).enumerate() {
                let _ = write!(
                    js,
                    "{}{}: {m:.4}",
                    if i > 0 { ", " } else { "" },
                    json_str(&c.name)
                );
            }
            let _ = write!(js, "}}, \"compile\": {{");
            for (i, (c, cost)) in r.compile.iter().enumerate() {
                let _ = write!(
                    js,
                    "{}{}: {{\"secs\": {:.3}, \"peak_rss_kib\": {}}}",
                    if i > 0 { ", " } else { "" },
                    json_str(c),
                    cost.secs,
                    cost.rss_kib
                );
            }
            let _ = write!(js, "}}, \"wasm_bytes\": {}", r.wasm_bytes);
            if let Some(n) = r.elided_checks {
                let _ = write!(js, ", \"elided_checks\": {n}");
            }
            if let Some(counts) = &r.callgrind {
                let _ = write!(js, ", \"instructions\": {{");
                for (i, (name, n)) in counts.iter().enumerate() {
                    let _ = write!(
                        js,
                        "{}{}: {n}",
                        if i > 0 { ", " } else { "" },
                        json_str(name)
                    );
                }
                js.push('}');
            }
            js.push('}');
        }
        js.push_str("\n  ]\n}\n");
        (md, js)
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The generated blocks of docs/performance.md: (begin, end) markers.
const TIMING_MARKERS: (&str, &str) = (
    "<!-- bench:begin (written by `cargo xtask bench`) -->",
    "<!-- bench:end -->",
);
const CALLGRIND_MARKERS: (&str, &str) = (
    "<!-- callgrind:begin (written by `cargo xtask bench --callgrind`) -->",
    "<!-- callgrind:end -->",
);

/// Replaces one generated block of docs/performance.md, keeping the notes.
fn write_docs((begin, end): (&str, &str), markdown: &str, json: &str) -> Result<(), String> {
    let path = root().join("docs/performance.md");
    let old = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| format!("# Performance\n\n{begin}\n{end}\n"));
    let generated = format!("{begin}\n{markdown}\n```json\n{json}```\n{end}");
    let new = match (old.find(begin), old.find(end)) {
        (Some(b), Some(e)) if b < e => format!("{}{generated}{}", &old[..b], &old[e + end.len()..]),
        _ => format!("{old}\n{generated}\n"),
    };
    std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}
