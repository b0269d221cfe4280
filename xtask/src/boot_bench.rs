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

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{build_compiler, guest, root, step};

/// The goal for exec to first prompt on x86_64.
const PROMPT_TARGET: Duration = Duration::from_millis(100);
const PROMPT: &[u8] = b"# ";

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

    // The tests' variables pick prebuilt modules (e.g. while a guest
    // rebuild is running); else build or take them from the cache.
    let (kernel, busybox) = match (
        std::env::var_os("W2NATIVE_KERNEL_WASM"),
        std::env::var_os("W2NATIVE_BUSYBOX_WASM"),
    ) {
        (Some(k), Some(b)) => (k.into(), b.into()),
        _ => guest()?,
    };
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
        let mut boot = PtyBoot::spawn(&image)?;
        boot.wait_for(PROMPT, Duration::from_secs(20))?;
        prompt.push(t.elapsed());
        // The CPU time to the prompt does not depend on the machine's
        // load as the wall time does: power off at once and take the
        // image's rusage (the poweroff itself is a few syscalls).
        prompt_cpu.push(boot.poweroff_cpu()?);
    }

    step(&format!("idle CPU of a booted shell over {idle_secs} s"));
    let mut boot = PtyBoot::spawn(&image)?;
    boot.wait_for(PROMPT, Duration::from_secs(20))?;
    std::thread::sleep(Duration::from_millis(500));
    let pid = boot.child.id();
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

/// The image started on the slave side of a new pseudo-terminal (its
/// controlling terminal), read through the master side.
struct PtyBoot {
    master: std::fs::File,
    child: Child,
    seen: Vec<u8>,
    /// Reaped by `poweroff_cpu` (std's `Child` does not know).
    reaped: bool,
}

impl PtyBoot {
    fn spawn(image: &Path) -> Result<PtyBoot, String> {
        let (mut master, mut slave) = (-1, -1);
        let ws = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills two descriptors we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &ws,
            )
        };
        if rc != 0 {
            return Err(format!("openpty: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fresh descriptors from openpty.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let dup = |fd: &OwnedFd| fd.try_clone().map(Stdio::from).map_err(|e| e.to_string());
        let mut cmd = Command::new(image);
        cmd.stdin(dup(&slave)?)
            .stdout(dup(&slave)?)
            .stderr(dup(&slave)?);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", image.display()))?;
        drop(slave);
        Ok(PtyBoot {
            master: std::fs::File::from(master),
            child,
            seen: Vec::new(),
            reaped: false,
        })
    }

    /// Reads until `what` shows up (blocking reads; poll for the timeout).
    fn wait_for(&mut self, what: &[u8], timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !self.seen.windows(what.len()).any(|w| w == what) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no {:?} from the image within {timeout:?}; it printed:\n{}",
                    String::from_utf8_lossy(what),
                    String::from_utf8_lossy(&self.seen)
                ));
            }
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polling one descriptor we own.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) } <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(0) | Err(_) => {
                    return Err(format!(
                        "the image ended before the prompt; it printed:\n{}",
                        String::from_utf8_lossy(&self.seen)
                    ))
                }
                Ok(n) => self.seen.extend_from_slice(&buf[..n]),
            }
        }
        Ok(())
    }
}

impl PtyBoot {
    /// Types `poweroff -f` and waits for the image to end; returns the CPU
    /// time (user + system) it used in all.
    fn poweroff_cpu(&mut self) -> Result<Duration, String> {
        use std::io::Write;
        self.master
            .write_all(b"poweroff -f\n")
            .map_err(|e| format!("writing to the pty: {e}"))?;
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for our own child, which nothing else reaps.
        let r = unsafe { libc::wait4(self.child.id() as i32, &mut status, 0, &mut ru) };
        if r <= 0 {
            return Err(format!("wait4: {}", std::io::Error::last_os_error()));
        }
        self.reaped = true;
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
    }
}

impl Drop for PtyBoot {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
