//! `cargo xtask telnet-stress`: many telnet sessions at once against a
//! headless Linux image (`--telnet 127.0.0.1:0 --no-console`); not a test.
//!
//! Each round opens `--sessions N` connections at once (default 50), runs
//! `--commands M` commands in each (default 100: shell arithmetic, and every
//! tenth an external command, `expr`), checks every output exactly, then
//! ends every session with `exit`. A control session, open the whole time,
//! lists the guest's user processes with shell builtins before and after
//! (the count must come back to the baseline), and the executable's
//! resident memory (VmRSS of /proc/PID/status) is read when idle, at the
//! end of the busiest moment, right after each round (`--rounds R`,
//! default 2: the first round warms up the guest's caches, later rounds
//! show whether anything grows) and once it stopped falling (the guest
//! gives freed memory back in passes two seconds apart), split into the
//! kernel's linear memory and the rest (smaps). Everything has a timeout.
//!
//! `W2NATIVE_KERNEL_WASM` and `W2NATIVE_BUSYBOX_WASM` (both) name the
//! modules instead of the guest build. `--mem MIB` is passed to the image
//! (default 256: 100 busybox processes at once do not fit the kernel's
//! default 64 MiB, the last ones fail with ENOMEM). The guest's MemFree is
//! printed beside the RSS.

#[allow(dead_code)]
#[path = "../../tests/src/telnet.rs"]
mod telnet_client;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::{build_compiler, guest_or_env, root, step};
use telnet_client::Telnet;

const STEP: Duration = Duration::from_secs(120);

struct Opts {
    sessions: usize,
    commands: usize,
    rounds: usize,
    mem: Option<String>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        sessions: 50,
        commands: 100,
        rounds: 2,
        mem: Some("256".into()),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match a.as_str() {
            "--sessions" => o.sessions = num("--sessions")?,
            "--commands" => o.commands = num("--commands")?,
            "--rounds" => o.rounds = num("--rounds")?,
            "--mem" => o.mem = Some(num("--mem")?.to_string()),
            other => {
                return Err(format!(
                    "unknown argument `{other}` (usage: cargo xtask telnet-stress [--sessions N] [--commands M] [--rounds R] [--mem MIB])"
                ))
            }
        }
    }
    Ok(o)
}

/// Resident and peak resident memory of process `pid`, in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resident memory of process `pid` split into linear memories and
/// everything else (code, host heap, thread stacks), in KiB. A linear
/// memory is a reservation of 8 GiB and a bit, whose committed start is a
/// read-write mapping right before the inaccessible rest.
fn rss_split(pid: u32) -> (u64, u64) {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    // (start, end, readable-writable, Rss KiB) of every mapping
    let mut maps: Vec<(u64, u64, bool, u64)> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let (first, perms) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let range = first.split_once('-').and_then(|(a, b)| {
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        });
        if let Some((a, b)) = range {
            maps.push((a, b, perms.starts_with("rw"), 0));
        } else if let (Some(v), Some(m)) = (line.strip_prefix("Rss:"), maps.last_mut()) {
            m.3 = v
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
    }
    let (mut linear, mut other) = (0, 0);
    for (i, &(a, b, rw, kib)) in maps.iter().enumerate() {
        let reserved = maps
            .get(i + 1)
            .filter(|n| n.0 == b && !n.2)
            .map(|n| n.1 - a);
        if rw && reserved.is_some_and(|r| (8 << 30..(8 << 30) + (1 << 20)).contains(&r)) {
            linear += kib;
        } else {
            other += kib;
        }
    }
    (linear, other)
}

/// Waits until the resident size stops falling: the guest kernel gives
/// free memory back to the host in passes two seconds apart (free page
/// reporting, see docs/telnet.md), and the host heap is trimmed after each.
/// Settled means no drop of more than 256 KiB in 8 s; at most 40 s.
/// Returns the size in KiB and the seconds until the last drop.
fn settled_rss(pid: u32) -> (u64, f64) {
    let t0 = Instant::now();
    let (mut low, mut last_drop) = (rss(pid).0, 0.0);
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_secs(8) && t0.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(250));
        let now = rss(pid).0;
        if now + 256 < low {
            (low, last_drop) = (now, t0.elapsed().as_secs_f64());
            since = Instant::now();
        }
    }
    (rss(pid).0, last_drop)
}

/// The guest kernel's free memory (MemFree of /proc/meminfo), in KiB.
fn guest_free(t: &mut Telnet) -> Result<u64, String> {
    let (out, _) = t.run(
        "{ read -r _; read -r _ free _; } < /proc/meminfo; echo $free",
        STEP,
    )?;
    out.trim().parse().map_err(|_| format!("MemFree: {out:?}"))
}

/// One session: connect, run `commands` checked commands, exit. Returns
/// the number of wrong outputs.
fn session(addr: &str, id: usize, commands: usize, start: &Barrier) -> Result<usize, String> {
    let setup = Telnet::connect(addr).and_then(|mut t| t.quiet(STEP).map(|()| t));
    // Everybody starts together, even a session that could not connect.
    start.wait();
    let mut t = setup?;
    let mut wrong = 0;
    for i in 0..commands {
        let (cmd, want) = if i % 10 == 9 {
            (format!("expr {i} + {id}"), format!("{}\n", i + id))
        } else {
            (
                format!("echo s{id}c{i} $(({i} * {id}))"),
                format!("s{id}c{i} {}\n", i * id),
            )
        };
        let (got, status) = t.run(&cmd, STEP)?;
        if got != want || status != 0 {
            wrong += 1;
            eprintln!("session {id}: {cmd:?} gave {got:?} (status {status}), expected {want:?}");
        }
    }
    t.send_line("exit")?;
    t.expect_closed(STEP)?;
    Ok(wrong)
}

pub fn telnet_stress_command(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let (kernel, busybox) = guest_or_env()?;
    build_compiler()?;
    let dir = root().join("target/telnet-stress");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let image = dir.join("linux-x64");
    step("building linux-x64");
    let status = Command::new(root().join("target/release/w2native"))
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

    let mut cmd = Command::new(&image);
    cmd.args(["--no-console", "--telnet", "127.0.0.1:0"]);
    if let Some(m) = &o.mem {
        cmd.args(["--mem", m]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", image.display()))?;
    let pid = child.id();
    let result = (|| -> Result<(), String> {
        let mut stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
        let mut first = String::new();
        stderr
            .read_line(&mut first)
            .map_err(|e| format!("reading the image's stderr: {e}"))?;
        let addr = first
            .trim()
            .strip_prefix("telnet: listening on ")
            .ok_or_else(|| format!("unexpected first stderr line {first:?}"))?
            .to_string();
        // Keep draining stderr (a full pipe would stop the image).
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                eprint!("image: {line}");
                line.clear();
            }
        });

        let mut control = Telnet::connect(&addr)?;
        control.quiet(STEP)?;
        let baseline = control.user_processes(STEP)?;
        std::thread::sleep(Duration::from_millis(500));
        let (idle, _) = settled_rss(pid);
        let (linear, other) = rss_split(pid);
        println!(
            "idle: {} guest user processes (control session included), RSS {} KiB (linear memory {linear}, other {other}), guest MemFree {} KiB",
            baseline.len(),
            idle,
            guest_free(&mut control)?
        );
        for round in 1..=o.rounds {
            step(&format!(
                "round {round}: {} sessions x {} commands",
                o.sessions, o.commands
            ));
            let start = Arc::new(Barrier::new(o.sessions + 1));
            let t0 = Instant::now();
            let workers: Vec<_> = (0..o.sessions)
                .map(|id| {
                    let (addr, start) = (addr.clone(), start.clone());
                    let n = o.commands;
                    std::thread::spawn(move || session(&addr, id + 1, n, &start))
                })
                .collect();
            start.wait();
            let connected = t0.elapsed();
            let t1 = Instant::now();
            let mut wrong = 0;
            let mut failed = Vec::new();
            for (id, w) in workers.into_iter().enumerate() {
                match w.join() {
                    Ok(Ok(n)) => wrong += n,
                    Ok(Err(e)) => failed.push(format!("session {}: {e}", id + 1)),
                    Err(_) => failed.push(format!("session {}: panicked", id + 1)),
                }
            }
            let ran = t1.elapsed();
            let (_, peak) = rss(pid);
            // Every command process and session has to go away again.
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut after = control.user_processes(STEP)?;
            while after != baseline && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
                after = control.user_processes(STEP)?;
            }
            std::thread::sleep(Duration::from_millis(500));
            let (now, _) = rss(pid);
            let (settled, waited) = settled_rss(pid);
            let (linear, other) = rss_split(pid);
            let total = o.sessions * o.commands;
            println!(
                "round {round}: {} sessions connected and quiet in {:.2} s; {total} commands in {:.2} s ({:.0}/s), {wrong} wrong outputs, {} sessions failed",
                o.sessions,
                connected.as_secs_f64(),
                ran.as_secs_f64(),
                total as f64 / ran.as_secs_f64(),
                failed.len()
            );
            println!(
                "round {round}: guest user processes {} -> {} (baseline {}); RSS peak {} KiB, after {} KiB = {:.2}x idle, settled at {settled} KiB (last drop after {waited:.1} s) = {:.2}x idle (linear memory {linear}, other {other}); guest MemFree {} KiB",
                baseline.len(),
                after.len(),
                baseline.len(),
                peak,
                now,
                now as f64 / idle.max(1) as f64,
                settled as f64 / idle.max(1) as f64,
                guest_free(&mut control)?
            );
            for f in &failed {
                eprintln!("{f}");
            }
            if wrong > 0 || !failed.is_empty() {
                return Err(format!(
                    "round {round}: {wrong} wrong outputs, {} sessions failed",
                    failed.len()
                ));
            }
            if after != baseline {
                return Err(format!(
                    "round {round}: processes left behind:\nbefore:\n{}\nafter:\n{}",
                    baseline.join("\n"),
                    after.join("\n")
                ));
            }
        }
        Ok(())
    })();
    let result = match (result, child.try_wait()) {
        (Err(e), Ok(Some(status))) => Err(format!("{e}\n(the image ended: {status})")),
        (r, _) => r,
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}
