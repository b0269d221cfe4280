//! The kernel under w2native (issue 4's acceptance): `kernel.wasm` is
//! compiled into a kernel-only Linux image, booted with `--selftest`, and
//! the Runner's checks call syscalls into it as the init task.
//!
//! Each trial looks at the same boot: the 6.1 banner, the end of boot
//! (`Run /init as init process`), then one trial per syscall check (tmpfs
//! files, procfs, a unix socket pair, `lo` up and an ICMP echo to
//! 127.0.0.1). The boot has a timeout that fails the trials. The same
//! trials run for aarch64 and riscv64 under qemu-user (`ARCH::boot::...`).
//!
//! kernel.wasm comes from `guest/build-kernel.sh` (cached under
//! `~/.cache/w2native`; the script prints the path on its last line), or
//! from `$W2NATIVE_KERNEL_WASM`. If it cannot be built, every trial FAILS
//! with the reason: nothing passes silently.

use libtest_mimic::{Arguments, Failed, Trial};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use w2native::image::{build_linux_image, ImageInput};
use w2native::{CompileOptions, Target};
use w2native_tests::cprog::run_with_timeout;
use w2native_tests::cross;
use w2native_tests::linux::{build_runtime, guest_artifact};

const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// The selftest checks, named as the Runner prints them (`TEST name: ok`).
const SYSCALL_CHECKS: &[(&str, &[&str])] = &[
    ("init", &["getpid", "mmap"]),
    (
        "tmpfs",
        &[
            "mount-tmpfs",
            "mkdir",
            "open-create",
            "write",
            "close",
            "read-back",
        ],
    ),
    ("proc_version", &["mount-proc", "proc-version"]),
    ("socketpair", &["socketpair", "socketpair-bytes"]),
    (
        "ping_loopback",
        &[
            "lo-up",
            "ping-group-range",
            "ping-socket",
            "icmp-echo-send",
            "icmp-echo-reply",
        ],
    ),
    (
        "signals",
        &[
            "sig-deliver",
            "sig-flags",
            "sig-old-mask",
            "sig-info",
            "sig-resethand",
            "sig-nodefer-mask",
            "sig-defer-mask",
            "sig-sigsuspend-mask",
        ],
    ),
];

struct Boot {
    stdout: String,
    stderr: String,
    status: Option<i32>,
    elapsed: Duration,
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (target, prefix) in cross::targets() {
        trials.push(Trial::test(format!("{prefix}boot::banner"), move || {
            expect_log(target, |b| {
                b.stdout
                    .lines()
                    .any(|l| l.starts_with("Linux version 6.1."))
            })
        }));
        trials.push(Trial::test(
            format!("{prefix}boot::end_of_init"),
            move || expect_log(target, |b| b.stdout.contains("Run /init as init process")),
        ));
        trials.push(Trial::test(
            format!("{prefix}boot::selftest_status"),
            move || {
                let b = boot(target)?;
                if b.status != Some(0) {
                    return Err(failure(b, &format!("exit status {:?}", b.status)));
                }
                Ok(())
            },
        ));
        for (name, checks) in SYSCALL_CHECKS {
            trials.push(Trial::test(
                format!("{prefix}syscalls::{name}"),
                move || {
                    let b = boot(target)?;
                    for check in *checks {
                        let ok = format!("TEST {check}: ok");
                        if !b
                            .stdout
                            .lines()
                            .any(|l| l == ok || l.starts_with(&format!("{ok} (")))
                        {
                            let line = b
                                .stdout
                                .lines()
                                .find(|l| l.starts_with(&format!("TEST {check}:")))
                                .unwrap_or("no such line");
                            return Err(failure(b, &format!("check {check}: {line}")));
                        }
                    }
                    Ok(())
                },
            ));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn expect_log(target: Target, pred: impl Fn(&Boot) -> bool) -> Result<(), Failed> {
    let b = boot(target)?;
    if pred(b) {
        Ok(())
    } else {
        Err(failure(b, "expected line missing from the boot log"))
    }
}

/// A failure message with the end of the boot log.
fn failure(b: &Boot, what: &str) -> Failed {
    let tail: Vec<&str> = b.stdout.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "{what}\n(status {:?} after {:.2}s)\n--- end of stdout ---\n{}\n--- stderr ---\n{}",
        b.status,
        b.elapsed.as_secs_f64(),
        tail.join("\n"),
        b.stderr.trim_end()
    )
    .into()
}

/// Boots once per target for all its trials.
fn boot(target: Target) -> Result<&'static Boot, Failed> {
    static BOOTS: [OnceLock<Result<Boot, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = Target::ALL
        .iter()
        .position(|t| *t == target)
        .expect("a known target");
    BOOTS[slot]
        .get_or_init(|| run_boot(target))
        .as_ref()
        .map_err(|e| e.into())
}

fn run_boot(target: Target) -> Result<Boot, String> {
    let kernel = guest_artifact("W2NATIVE_KERNEL_WASM", "build-kernel.sh")?;
    if target == Target::host() {
        build_runtime()?;
    } else {
        cross::runtime(target)?;
    }
    let wasm = std::fs::read(&kernel).map_err(|e| format!("{}: {e}", kernel.display()))?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let image = work.path().join(format!("kernel-{target}"));
    let opts = CompileOptions::new(target, "kernel", "kernel");
    build_linux_image(ImageInput { wasm: &wasm, opts }, None, &[], &[], &image)
        .map_err(|e| format!("building the kernel image failed: {e}"))?;
    let mut cmd = cross::command(target, &image);
    cmd.arg("--selftest");
    let start = Instant::now();
    let out = run_with_timeout(cmd, BOOT_TIMEOUT)
        .map_err(|e| format!("booting {}: {e}", image.display()))?;
    Ok(Boot {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code(),
        elapsed: start.elapsed(),
    })
}
