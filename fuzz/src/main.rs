//! `w2native-fuzz`: the bounded fuzzing runs (`cargo xtask fuzz` runs this).
//!
//!     w2native-fuzz diff --cases N [--seed S] [--batch B] [--out DIR]
//!     w2native-fuzz one SEED [--bounds guard|explicit]    # reproduce a case
//!     w2native-fuzz file M.wasm [--bounds guard|explicit] # compare one module
//!     w2native-fuzz reduce SEED                           # shrink a divergence
//!     w2native-fuzz malformed --cases N [--seed S] [--cli PATH] [FILE.wasm..]
//!
//! `diff` runs cases in worker processes (this binary, `worker` command), a
//! batch of cases per shared object; a worker that dies is a crash of the
//! case it was on, one that is silent for too long a hang. Divergent and
//! crashing modules are written to `--out` (default `target/fuzz`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use w2native::BoundsMode;
use w2native_fuzz::{generate, malformed, native, reference, Verdict};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num =
        |name: &str, default: u64| opt(name).map_or(default, |v| v.parse().unwrap_or(default));
    let result = match args.first().map(String::as_str) {
        Some("diff") => diff(
            num("--cases", 1000),
            num("--seed", 0),
            num("--batch", 40),
            PathBuf::from(opt("--out").unwrap_or_else(|| "target/fuzz".into())),
        ),
        Some("worker") => worker(num("--seed", 0), num("--count", 1)),
        Some("one") => one(
            args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
            opt("--bounds").as_deref(),
        ),
        Some("reduce") => reduce(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0)),
        Some("file") => file(
            Path::new(args.get(1).map(String::as_str).unwrap_or("")),
            opt("--bounds").as_deref(),
        ),
        Some("malformed") => {
            let files: Vec<PathBuf> = args[1..]
                .iter()
                .enumerate()
                .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[*i].starts_with("--")))
                .map(|(_, a)| PathBuf::from(a))
                .collect();
            malformed_run(
                num("--cases", 1000),
                num("--seed", 0),
                opt("--cli").map(PathBuf::from),
                &files,
            )
        }
        _ => Err("usage: w2native-fuzz diff|one|malformed (see the crate docs)".into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Guard-page and explicit bounds checks alternate between cases.
fn bounds_of(seed: u64) -> BoundsMode {
    if seed.is_multiple_of(2) {
        BoundsMode::Guard
    } else {
        BoundsMode::Explicit
    }
}

/// Runs `count` cases from `seed` and prints one line per case:
/// `ok|exhausted|skip|div|compile SEED [message]`, then `done`.
fn worker(seed: u64, count: u64) -> Result<bool, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cases = Vec::new();
    for s in seed..seed + count {
        match generate(s) {
            Ok(wasm) => cases.push(native::Case {
                seed: s,
                wasm,
                bounds: bounds_of(s),
            }),
            Err(_) => println!("skip {s}"),
        }
    }
    let modules = native::load_batch(&cases, dir.path());
    for (case, module) in cases.iter().zip(modules) {
        let arg_seed = w2native_fuzz::argument_seed(case.seed);
        let verdict = match module {
            Err(e) => Verdict::CompileError(e),
            Ok(module) => {
                // Announce the case first: if it kills the process, the
                // driver knows which one did.
                println!("run {}", case.seed);
                let reference = std::panic::catch_unwind(|| reference::run(&case.wasm, arg_seed));
                match reference {
                    Err(p) => Verdict::CompileError(format!(
                        "reference panicked: {}",
                        native::panic_text(&p)
                    )),
                    Ok(Err(e)) => Verdict::CompileError(format!("reference rejected: {e}")),
                    Ok(Ok(reference)) => {
                        let outcome = native::run(&module, arg_seed);
                        match reference.diff(&outcome) {
                            None => Verdict::Agree {
                                exhausted: reference.exhausted || outcome.exhausted,
                            },
                            Some(d) => Verdict::Diverged(d),
                        }
                    }
                }
            }
        };
        match verdict {
            Verdict::Agree { exhausted: false } => println!("ok {}", case.seed),
            Verdict::Agree { exhausted: true } => println!("exhausted {}", case.seed),
            Verdict::Skipped => println!("skip {}", case.seed),
            Verdict::Diverged(m) => println!("div {} {}", case.seed, one_line(&m)),
            Verdict::CompileError(m) => println!("compile {} {}", case.seed, one_line(&m)),
        }
    }
    println!("done");
    Ok(true)
}

fn one_line(s: &str) -> String {
    s.replace('\n', " | ")
}

#[derive(Default)]
struct Tally {
    ok: u64,
    exhausted: u64,
    skipped: u64,
    divergences: Vec<(u64, String)>,
    compile_errors: Vec<(u64, String)>,
    crashes: Vec<(u64, String)>,
}

fn diff(cases: u64, seed: u64, batch: u64, out: PathBuf) -> Result<bool, String> {
    // Workers are this very binary: through /proc/self/exe they still are
    // when a rebuild replaces the file during a long run.
    let exe = match Path::new("/proc/self/exe") {
        p if p.exists() => p.to_path_buf(),
        _ => std::env::current_exe().map_err(|e| e.to_string())?,
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let start = Instant::now();
    let mut tally = Tally::default();
    let end = seed + cases;
    let mut next = seed;
    let mut last_report = Instant::now();
    while next < end {
        let count = batch.min(end - next);
        let first = next;
        let mut child = Command::new(&exe)
            .args([
                "worker",
                "--seed",
                &first.to_string(),
                "--count",
                &count.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a worker: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running: Option<u64> = None;
        let mut finished = false;
        loop {
            // A batch compiles up to `batch` modules before its first line.
            match rx.recv_timeout(Duration::from_secs(120 + 3 * count)) {
                Ok(line) => {
                    let mut parts = line.splitn(3, ' ');
                    let kind = parts.next().unwrap_or("");
                    let s: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
                    let msg = parts.next().unwrap_or("").to_string();
                    match kind {
                        "run" => running = Some(s),
                        "ok" => tally.ok += 1,
                        "exhausted" => tally.exhausted += 1,
                        "skip" => tally.skipped += 1,
                        "div" => {
                            save(&out, s, "div", &msg);
                            eprintln!("DIVERGENCE seed {s}: {msg}");
                            tally.divergences.push((s, msg));
                        }
                        "compile" => {
                            save(&out, s, "compile", &msg);
                            eprintln!("COMPILE ERROR seed {s}: {msg}");
                            tally.compile_errors.push((s, msg));
                        }
                        "done" => {
                            finished = true;
                            break;
                        }
                        _ => {}
                    }
                    if kind != "run" {
                        next = next.max(s + 1);
                        running = None;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let s = running.unwrap_or(next);
                    let msg = "hang: no progress in time".to_string();
                    save(&out, s, "crash", &msg);
                    eprintln!("HANG seed {s}");
                    tally.crashes.push((s, msg));
                    next = s + 1;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if !finished && tally.crashes.last().map(|c| c.0) != Some(running.unwrap_or(next)) {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut stderr);
            }
            let s = running.unwrap_or(next);
            let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            let msg = format!("worker died ({status}): {tail}");
            save(&out, s, "crash", &msg);
            eprintln!("CRASH seed {s}: {msg}");
            tally.crashes.push((s, msg));
            next = s + 1;
        } else if finished {
            next = first + count;
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!(
                "  .. {} cases, {} divergences, {} crashes, {:.0}s",
                next - seed,
                tally.divergences.len(),
                tally.crashes.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    let run = tally.ok + tally.exhausted;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz: seeds {seed}..{end}: {run} cases run ({} ended in stack exhaustion), {} skipped by the generator",
        tally.exhausted, tally.skipped
    );
    println!(
        "fuzz: {} divergences, {} compile errors, {} crashes/hangs",
        tally.divergences.len(),
        tally.compile_errors.len(),
        tally.crashes.len()
    );
    println!(
        "fuzz: wall time {secs:.1}s ({:.1}s per 1000 cases)",
        if run > 0 {
            secs * 1000.0 / run as f64
        } else {
            0.0
        }
    );
    Ok(tally.divergences.is_empty() && tally.compile_errors.is_empty() && tally.crashes.is_empty())
}

/// Writes the module of a finding next to a note of what happened.
fn save(out: &Path, seed: u64, kind: &str, msg: &str) {
    if let Ok(wasm) = generate(seed) {
        let _ = std::fs::write(out.join(format!("{kind}-{seed}.wasm")), wasm);
    }
    let _ = std::fs::write(out.join(format!("{kind}-{seed}.txt")), format!("{msg}\n"));
}

fn one(seed: u64, bounds: Option<&str>) -> Result<bool, String> {
    let wasm = generate(seed)?;
    let bounds = match bounds {
        Some("explicit") => BoundsMode::Explicit,
        Some("guard") => BoundsMode::Guard,
        Some(other) => return Err(format!("unknown bounds mode {other}")),
        None => bounds_of(seed),
    };
    let arg_seed = w2native_fuzz::argument_seed(seed);
    println!(
        "reference: {:?}",
        reference::run(&wasm, arg_seed).map(summary)
    );
    let verdict = w2native_fuzz::check_one(&wasm, seed, bounds);
    println!("verdict: {verdict:?}");
    Ok(matches!(verdict, Verdict::Agree { .. }))
}

/// Shrinks diverging case `seed`, writing `reduced-SEED.wasm` here.
fn reduce(seed: u64) -> Result<bool, String> {
    let wasm = w2native_fuzz::reduce(seed, bounds_of(seed))
        .ok_or(format!("seed {seed} does not diverge"))?;
    let path = format!("reduced-{seed}.wasm");
    std::fs::write(&path, &wasm).map_err(|e| e.to_string())?;
    println!("{} bytes: {path}", wasm.len());
    Ok(true)
}

/// Compares a module from a file (a saved divergence, a reduction of one).
fn file(path: &Path, bounds: Option<&str>) -> Result<bool, String> {
    let wasm = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut ok = true;
    for (name, mode) in [
        ("guard", BoundsMode::Guard),
        ("explicit", BoundsMode::Explicit),
    ] {
        if bounds.is_some_and(|b| b != name) {
            continue;
        }
        println!(
            "reference: {:?}",
            reference::run(&wasm, w2native_fuzz::argument_seed(0)).map(summary)
        );
        let verdict = w2native_fuzz::check_one(&wasm, 0, mode);
        println!("{name}: {verdict:?}");
        ok &= matches!(verdict, Verdict::Agree { .. });
    }
    Ok(ok)
}

fn summary(o: w2native_fuzz::Outcome) -> String {
    format!(
        "instantiation trap {:?}, calls {:?}, globals {:?}, {} memories",
        o.instantiation_trap,
        o.calls,
        o.globals,
        o.memories.len()
    )
}

static CASE_START_MS: AtomicU64 = AtomicU64::new(0);

fn malformed_run(
    cases: u64,
    seed: u64,
    cli: Option<PathBuf>,
    files: &[PathBuf],
) -> Result<bool, String> {
    let start = Instant::now();
    let mut sources: Vec<(String, Vec<u8>)> = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        sources.push((f.display().to_string(), bytes));
    }
    // Generated modules are sources too: every section kind appears.
    for s in 0..32 {
        if let Ok(w) = generate(seed.wrapping_add(1_000_000 + s)) {
            sources.push((format!("generated seed {}", seed + 1_000_000 + s), w));
        }
    }
    // Watchdog: a single compile that takes this long is a hang.
    let limit_ms = 60_000;
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        let begun = CASE_START_MS.load(Ordering::Relaxed);
        let now = start_ms();
        if begun != 0 && now.saturating_sub(begun) > limit_ms {
            eprintln!("HANG: one malformed case took over {}s", limit_ms / 1000);
            std::process::exit(3);
        }
    });
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut rng = w2native_fuzz::Rng::new(seed);
    let (mut compiled, mut rejected, mut findings, mut cli_checked) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..cases {
        // Half of the mutants come from the given files (real modules).
        let pick = if !files.is_empty() && rng.below(2) == 0 {
            rng.below(files.len() as u64)
        } else {
            rng.below(sources.len() as u64)
        };
        let (name, src) = &sources[pick as usize];
        let mutant = malformed::mutate(src, &mut rng);
        CASE_START_MS.store(start_ms(), Ordering::Relaxed);
        match malformed::check(&mutant) {
            malformed::Reaction::Compiled => compiled += 1,
            malformed::Reaction::Rejected => rejected += 1,
            malformed::Reaction::Finding(m) => {
                findings += 1;
                eprintln!("FINDING case {i} (mutant of {name}): {m}");
                let _ = std::fs::create_dir_all("target/fuzz");
                let _ = std::fs::write(format!("target/fuzz/malformed-{seed}-{i}.wasm"), &mutant);
            }
        }
        if let Some(cli) = &cli {
            if i % 20 == 0 {
                cli_checked += 1;
                if let Err(m) = malformed::check_cli(cli, &mutant, dir.path()) {
                    findings += 1;
                    eprintln!("FINDING (cli) case {i} (mutant of {name}): {m}");
                }
            }
        }
        CASE_START_MS.store(0, Ordering::Relaxed);
    }
    println!(
        "malformed: {cases} mutants of {} modules: {rejected} rejected, {compiled} still valid, {findings} findings; {cli_checked} through the CLI; {:.1}s",
        sources.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(findings == 0)
}

fn start_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
