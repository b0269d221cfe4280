//! `cargo xtask boot-bench`: how fast the Linux image starts (not a test).
//!
//! Builds the guest (cached) and the compiler, then measures on this
//! machine:
//!
//! - `w2native build kernel.wasm busybox.wasm` (wall time, median);
//! - `./linux-x64 -c true` from exec to exit (median);
//! - exec to the first shell prompt on a pseudo-terminal (median; the
//!   issue's target is 100 ms on x86_64, the ratio to it is printed), and
//!   the CPU time the image used to get there (which, unlike the wall time,
//!   does not grow with the load of a shared machine);
//! - the CPU an idle booted shell uses, from the utime and stime of
//!   /proc/PID/stat over a few seconds after the prompt.
//!
//! Options: `--runs N` (default 10), `--idle-secs S` (default 5).
//! `W2NATIVE_KERNEL_WASM` and `W2NATIVE_BUSYBOX_WASM` (both) name the
//! modules instead of the guest build.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::pty::Pty;
use crate::{build_compiler, guest_or_env, root, step};

/// The goal for exec to first prompt on x86_64.
const PROMPT_TARGET: Duration = Duration::from_millis(100);
const PROMPT: &str = "# ";

pub fn boot_bench_command(args: &[String]) -> Result<(), String> {
    let mut runs = 10usize;
    let mut idle_secs = 5u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match a.as_str() {
            "--runs" => runs = num("--runs")? as usize,
            "--idle-secs" => idle_secs = num("--idle-secs")?,
            other => {
                return Err(format!(
                    "unknown argument `{other}` (usage: cargo xtask boot-bench [--runs N] [--idle-secs S])"
                ))
            }
        }
    }

    let (kernel, busybox) = guest_or_env()?;
    build_compiler()?;
    let dir = root().join("target/boot-bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let image = dir.join("linux-x64");
    let w2native = root().join("target/release/w2native");

    step("timing `w2native build kernel.wasm busybox.wasm`");
    let builds = runs.clamp(1, 3);
    let mut build = Vec::new();
    for _ in 0..builds {
        let t = Instant::now();
        let status = Command::new(&w2native)
            .arg("build")
            .arg(&kernel)
            .arg(&busybox)
            .arg("-o")
            .arg(&image)
            .status()
            .map_err(|e| format!("cannot run w2native: {e}"))?;
        if !status.success() {
            return Err(format!("w2native build failed ({status})"));
        }
        build.push(t.elapsed());
    }

    step(&format!("timing `linux-x64 -c true` ({runs} runs)"));
    let mut run_true = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let status = Command::new(&image)
            .args(["-c", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run {}: {e}", image.display()))?;
        if !status.success() {
            return Err(format!("linux-x64 -c true failed ({status})"));
        }
        run_true.push(t.elapsed());
    }

    step(&format!(
        "timing exec to the first prompt on a pty ({runs} runs)"
    ));
    let (mut prompt, mut prompt_cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let mut boot = Pty::spawn(&image, &[])?;
        boot.expect(0, PROMPT, Duration::from_secs(20))?;
        prompt.push(t.elapsed());
        // The CPU time to the prompt does not depend on the machine's
        // load as the wall time does: power off at once and take the
        // image's rusage (the poweroff itself is a few syscalls).
        boot.send(b"poweroff -f\n")?;
        prompt_cpu.push(boot.wait_cpu()?);
    }

    step(&format!("idle CPU of a booted shell over {idle_secs} s"));
    let mut boot = Pty::spawn(&image, &[])?;
    boot.expect(0, PROMPT, Duration::from_secs(20))?;
    std::thread::sleep(Duration::from_millis(500));
    let pid = boot.pid();
    let before = cpu_ticks(pid)?;
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(idle_secs));
    let ticks = cpu_ticks(pid)? - before;
    let wall = t.elapsed().as_secs_f64();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let idle_cpu = ticks as f64 / hz / wall * 100.0;
    drop(boot);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let first_prompt = median(&mut prompt);
    println!();
    println!("| measure | median | runs |");
    println!("|---|---|---|");
    println!(
        "| `w2native build kernel.wasm busybox.wasm` | {:.0} ms | {builds} |",
        ms(median(&mut build))
    );
    println!(
        "| `linux-x64 -c true` (exec to exit) | {:.1} ms | {runs} |",
        ms(median(&mut run_true))
    );
    println!(
        "| exec to first prompt (pty) | {:.1} ms ({:.2}x the {} ms target) | {runs} |",
        ms(first_prompt),
        first_prompt.as_secs_f64() / PROMPT_TARGET.as_secs_f64(),
        PROMPT_TARGET.as_millis()
    );
    println!(
        "| CPU time to first prompt (user + sys, then `poweroff -f`) | {:.1} ms | {runs} |",
        ms(median(&mut prompt_cpu))
    );
    println!("| idle shell CPU | {idle_cpu:.2} % ({ticks} ticks in {wall:.1} s) | 1 |");
    println!("\nimage: {}", image.display());
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14
/// and 15, counted after the parenthesised command name).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("unexpected /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) is index 11.
    let num = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| "unexpected /proc/PID/stat".to_string())
    };
    Ok(num(11)? + num(12)?)
}
