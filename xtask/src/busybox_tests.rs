//! `cargo xtask busybox-tests [--target T] [APPLET...]`: BusyBox 1.35's own
//! testsuite inside the booted guest, against a native baseline.
//!
//! The testsuite tree and the baseline come from
//! `guest/build-busybox-native.sh` (the Debian source package the guest's
//! busybox.wasm is built from, built natively with the same config list,
//! cached by input hash). For each applet that has tests, `runtest APPLET`
//! runs twice, each time in a fresh world where every command is a BusyBox
//! applet:
//!
//! * native: in a private mount namespace (`unshare -m`) whose /usr/bin and
//!   /usr/sbin (so /bin and /sbin too) hold only links to the native
//!   busybox, with the guest's environment (PATH, HOME, TERM);
//! * guest: `linux -c 'cd /bb/testsuite && ./runtest APPLET'`, in an image
//!   whose initramfs has the tree under /bb (built with `--initramfs-add`),
//!   with the guest's /bin/sh.
//!
//! The testsuite's own result lines (PASS/FAIL/SKIPPED/UNTESTED) are
//! compared per test; a test missing from a run (the applet's run hung and
//! was killed, or crashed) counts as MISSING. Prints the table and closes
//! with `N passed, N failed`: the guest's results on the tests that pass
//! natively. A run of every applet on x86_64 also writes the table into
//! docs/busybox-testsuite.md (between the `busybox-tests` markers).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{root, sh, step};

/// Time one applet's tests may take natively and in the guest; a run that
/// takes longer is killed and its unreported tests are MISSING.
const NATIVE_TIMEOUT: Duration = Duration::from_secs(120);
/// The guest gets more: bc's test driver forks a subshell per case, and a
/// guest fork copies the shell's writable memory (sequential fork), about
/// 100 s for bc's 69 cases where bc itself runs at native speed.
const GUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The guest's environment (what its init shell has), given to the native
/// runs too.
const GUEST_ENV: &[(&str, &str)] = &[
    ("PATH", "/bin:/sbin:/usr/bin:/usr/sbin"),
    ("HOME", "/"),
    ("TERM", "linux"),
];
const DOC: &str = "docs/busybox-testsuite.md";

pub fn busybox_tests_command(args: &[String]) -> Result<(), String> {
    let mut target = crate::cross::parse_target("x86_64")?;
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => {
                let t = it.next().ok_or("--target needs a value")?;
                target = crate::cross::parse_target(t)?;
            }
            s if s.starts_with('-') => {
                return Err(format!(
                "unknown option `{s}` (usage: cargo xtask busybox-tests [--target T] [APPLET...])"
            ))
            }
            s => only.push(s.to_string()),
        }
    }

    let (kernel, busybox_wasm) = crate::guest()?;
    crate::build_compiler()?;
    if target.gnu_prefix.is_some() {
        crate::cross::build_runtime(target)?;
    }
    let native_bin = crate::guest_script("build-busybox-native.sh")?;
    let baseline = native_bin.parent().ok_or("baseline path has no parent")?;
    let guest_config = busybox_wasm.with_file_name("busybox.config");
    same_config(&baseline.join(".config"), &guest_config)?;

    let work = root().join("target/busybox-tests");
    let _ = std::fs::remove_dir_all(&work);
    let native_bb = work.join("native/bb");
    let guest_root = work.join("guest-root");
    let guest_bb = guest_root.join("bb");
    std::fs::create_dir_all(&native_bb).map_err(|e| format!("{}: {e}", native_bb.display()))?;
    std::fs::create_dir_all(&guest_bb).map_err(|e| format!("{}: {e}", guest_bb.display()))?;
    for (dir, config) in [
        (&native_bb, baseline.join(".config")),
        (&guest_bb, guest_config),
    ] {
        sh(Command::new("cp")
            .arg("-a")
            .arg(baseline.join("testsuite"))
            .arg(dir.join("testsuite")))?;
        std::fs::copy(&config, dir.join(".config"))
            .map_err(|e| format!("{}: {e}", config.display()))?;
    }
    std::fs::copy(&native_bin, native_bb.join("busybox"))
        .map_err(|e| format!("{}: {e}", native_bin.display()))?;
    // runtest finds busybox as $bindir/busybox, one level above the tree.
    std::os::unix::fs::symlink("/bin/busybox", guest_bb.join("busybox"))
        .map_err(|e| e.to_string())?;

    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "the native baseline runs in a private mount namespace, and `unshare -m` failed (it needs root): {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    let applets = applets_with_tests(&native_bb, &only)?;
    let links = work.join("native/links");
    std::fs::create_dir_all(&links).map_err(|e| e.to_string())?;
    for a in applets_of(&native_bb.join("busybox"))? {
        std::os::unix::fs::symlink(native_bb.join("busybox"), links.join(&a))
            .map_err(|e| format!("link {a}: {e}"))?;
    }

    let image = work.join(format!("linux-{}", target.name));
    step(&format!(
        "building {} with the testsuite in /bb",
        image.display()
    ));
    let mut build = Command::new(root().join("target/release/w2native"));
    build.arg("build");
    if target.gnu_prefix.is_some() {
        build.args(["--target", target.name]);
    }
    sh(build
        .arg(&kernel)
        .arg(&busybox_wasm)
        .arg("--initramfs-add")
        .arg(&guest_root)
        .arg("-o")
        .arg(&image))?;

    let mut results = Vec::new();
    for applet in &applets {
        let t = Instant::now();
        let native = run_native(&native_bb, &links, applet, &work)?;
        let mut guest = run_guest(target, &image, applet, &work)?;
        if guest
            .trouble
            .as_deref()
            .is_some_and(|t| t.starts_with("timeout"))
        {
            // A hang can be the sequential fork's (it then hangs again) or
            // an intermittent one under load: one more try tells them
            // apart, and the table says it happened.
            let first = guest.summary();
            guest = run_guest(target, &image, applet, &work)?;
            let again = guest.trouble.take().unwrap_or_else(|| "ended".into());
            guest.trouble = Some(format!("first try: {first}; second try: {again}"));
        }
        eprintln!(
            "  {applet}: native {}, guest {} ({:.1} s)",
            native.summary(),
            guest.summary(),
            t.elapsed().as_secs_f64()
        );
        results.push((applet.clone(), native, guest));
    }

    let table = Table::new(&results);
    print!("{}", table.markdown());
    let (passed, failed) = table.guest_on_native_passes();
    println!("{passed} passed, {failed} failed");
    if only.is_empty() {
        write_doc(&table, target.name)?;
        eprintln!("(table written to {DOC})");
    }
    Ok(())
}

/// The guest's config and the baseline's must be the same option list
/// (the baseline is only a baseline if it is the same BusyBox).
fn same_config(native: &Path, guest: &Path) -> Result<(), String> {
    let options = |p: &Path| -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with("CONFIG_") || l.starts_with("# CONFIG_"))
            .map(str::to_string)
            .collect())
    };
    if options(native)? != options(guest)? {
        return Err(format!(
            "the native baseline's config ({}) differs from the guest's ({})",
            native.display(),
            guest.display()
        ));
    }
    Ok(())
}

/// Applet names of a busybox binary (`busybox --list`).
fn applets_of(busybox: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("{}: {e}", busybox.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// The applets runtest would test (built, and with an old-style test
/// directory or a `.tests` script), in runtest's order, or those of
/// `only` (which must have tests).
fn applets_with_tests(bb: &Path, only: &[String]) -> Result<Vec<String>, String> {
    let suite = bb.join("testsuite");
    let mut all = vec!["busybox".to_string()];
    all.extend(applets_of(&bb.join("busybox"))?);
    let has_tests = |a: &str| suite.join(a).is_dir() || suite.join(format!("{a}.tests")).is_file();
    let with: Vec<String> = all.into_iter().filter(|a| has_tests(a)).collect();
    if only.is_empty() {
        return Ok(with);
    }
    for a in only {
        if !with.contains(a) {
            return Err(format!(
                "no tests for `{a}` in this BusyBox (built applets with tests: {})",
                with.join(" ")
            ));
        }
    }
    Ok(only.to_vec())
}

/// One run's results: test name -> status, in the order reported.
#[derive(Default)]
struct Run {
    tests: Vec<(String, String)>,
    /// "timeout" or "exit N" when the run did not end normally.
    trouble: Option<String>,
}

impl Run {
    fn parse(output: &str, trouble: Option<String>) -> Run {
        let mut tests: Vec<(String, String)> = Vec::new();
        for line in output.lines() {
            let line = line.trim_end_matches('\r');
            let Some((status, name)) = line.split_once(": ") else {
                continue;
            };
            if !["PASS", "FAIL", "SKIPPED", "UNTESTED"].contains(&status) {
                continue;
            }
            // The same description twice in one applet: keep both.
            let mut name = name.to_string();
            let mut n = 1;
            while tests.iter().any(|(t, _)| *t == name) {
                n += 1;
                name = format!("{} #{n}", line.split_once(": ").unwrap().1);
            }
            tests.push((name, status.to_string()));
        }
        Run { tests, trouble }
    }

    fn summary(&self) -> String {
        let count = |s: &str| self.tests.iter().filter(|(_, st)| st == s).count();
        let mut out = format!("{} PASS {} FAIL", count("PASS"), count("FAIL"));
        if let Some(t) = &self.trouble {
            let _ = write!(out, " ({t})");
        }
        out
    }
}

fn run_native(bb: &Path, links: &Path, applet: &str, work: &Path) -> Result<Run, String> {
    // Everything on /usr/bin and /usr/sbin (/bin and /sbin are links to
    // them) is a BusyBox applet, as in the guest; the bind mounts live in a
    // private mount namespace that ends with the run.
    let script = format!(
        "mount --make-rprivate / && mount --bind '{l}' /usr/bin && mount --bind '{l}' /usr/sbin && cd '{t}' && exec ./runtest \"$1\"",
        l = links.display(),
        t = bb.join("testsuite").display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", &script, "sh", applet])
        .env_clear();
    cmd.envs(GUEST_ENV.iter().copied());
    run_logged(
        cmd,
        NATIVE_TIMEOUT,
        &work.join(format!("native-{applet}.log")),
    )
}

fn run_guest(
    target: crate::cross::Target,
    image: &Path,
    applet: &str,
    work: &Path,
) -> Result<Run, String> {
    let mut cmd = if target.gnu_prefix.is_some() {
        let mut c = Command::new(format!("qemu-{}", target.name));
        c.arg(image);
        c
    } else {
        Command::new(image)
    };
    cmd.arg("-c")
        .arg(format!("cd /bb/testsuite && ./runtest {applet}"));
    // qemu-user runs the image several times slower (md5sum's 2000
    // processes take half a minute natively).
    let timeout = if target.gnu_prefix.is_some() {
        GUEST_TIMEOUT * 4
    } else {
        GUEST_TIMEOUT
    };
    run_logged(cmd, timeout, &work.join(format!("guest-{applet}.log")))
}

/// Runs `cmd` in its own process group with stdout and stderr in `log`,
/// killing the group after `timeout`.
fn run_logged(mut cmd: Command, timeout: Duration, log: &Path) -> Result<Run, String> {
    let file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let start = Instant::now();
    let trouble = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => {
                // runtest exits 1 when a test failed: that is in the lines.
                break match status.code() {
                    Some(0 | 1) => None,
                    Some(c) => Some(format!("exit {c}")),
                    None => Some(format!("{status}")),
                };
            }
            None if start.elapsed() > timeout => {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                break Some(format!("timeout after {} s", timeout.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let output = std::fs::read(log).map_err(|e| format!("{}: {e}", log.display()))?;
    Ok(Run::parse(&String::from_utf8_lossy(&output), trouble))
}

/// Every test seen in either run, with both statuses.
struct Table {
    rows: Vec<(String, String, String, String)>,
    trouble: Vec<String>,
}

impl Table {
    fn new(results: &[(String, Run, Run)]) -> Table {
        let mut rows = Vec::new();
        let mut trouble = Vec::new();
        for (applet, native, guest) in results {
            let g: BTreeMap<&str, &str> = guest
                .tests
                .iter()
                .map(|(t, s)| (t.as_str(), s.as_str()))
                .collect();
            let n: BTreeMap<&str, &str> = native
                .tests
                .iter()
                .map(|(t, s)| (t.as_str(), s.as_str()))
                .collect();
            for (test, status) in &native.tests {
                let gs = g.get(test.as_str()).copied().unwrap_or("MISSING");
                rows.push((applet.clone(), test.clone(), status.clone(), gs.to_string()));
            }
            for (test, status) in &guest.tests {
                if !n.contains_key(test.as_str()) {
                    rows.push((
                        applet.clone(),
                        test.clone(),
                        "MISSING".into(),
                        status.clone(),
                    ));
                }
            }
            for (side, run) in [("native", native), ("guest", guest)] {
                if let Some(t) = &run.trouble {
                    trouble.push(format!("{applet} ({side}): {t}"));
                }
            }
        }
        Table { rows, trouble }
    }

    /// (guest PASS, guest not PASS) over the tests that pass natively.
    fn guest_on_native_passes(&self) -> (usize, usize) {
        let native: Vec<_> = self.rows.iter().filter(|r| r.2 == "PASS").collect();
        let passed = native.iter().filter(|r| r.3 == "PASS").count();
        (passed, native.len() - passed)
    }

    /// The summary and the rows whose two statuses differ.
    fn differences(&self) -> String {
        let differing = Table {
            rows: self.rows.iter().filter(|r| r.2 != r.3).cloned().collect(),
            trouble: self.trouble.clone(),
        };
        let full = self.markdown();
        let summary = full.split("\n| applet |").next().unwrap_or_default();
        let rows = differing.markdown();
        let table = rows.find("| applet |").map_or("", |i| &rows[i..]);
        format!("{summary}\n{table}")
    }

    fn markdown(&self) -> String {
        let count = |col: fn(&(String, String, String, String)) -> &str| {
            let mut c: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &self.rows {
                *c.entry(col(r)).or_default() += 1;
            }
            c.iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (passed, failed) = self.guest_on_native_passes();
        let ratio = if passed + failed == 0 {
            0.0
        } else {
            100.0 * passed as f64 / (passed + failed) as f64
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Guest on the {} tests that pass natively: **{passed} pass, {failed} do not ({ratio:.1}%)**.",
            passed + failed
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "- native: {}", count(|r| &r.2));
        let _ = writeln!(s, "- guest: {}", count(|r| &r.3));
        for t in &self.trouble {
            let _ = writeln!(s, "- run ended early: {t}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "| applet | test | native | guest |");
        let _ = writeln!(s, "| --- | --- | --- | --- |");
        for (applet, test, native, guest) in &self.rows {
            let mark = if native == "PASS" && guest != "PASS" {
                " **"
            } else {
                ""
            };
            let test = test.replace('|', "\\|");
            let _ = writeln!(s, "| {applet} | {test} | {native} | {guest}{mark} |");
        }
        s
    }
}

/// x86_64 fills the `busybox-tests` block with the whole table; a cross
/// target fills `busybox-tests:TARGET` with the summary and the tests whose
/// guest result differs from the native one.
fn write_doc(table: &Table, target: &str) -> Result<(), String> {
    let (begin, end, body) = if target == "x86_64" {
        (
            "<!-- busybox-tests:begin -->".to_string(),
            "<!-- busybox-tests:end -->".to_string(),
            table.markdown(),
        )
    } else {
        (
            format!("<!-- busybox-tests:{target}:begin -->"),
            format!("<!-- busybox-tests:{target}:end -->"),
            table.differences(),
        )
    };
    let path = root().join(DOC);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{DOC}: {e}"))?;
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        return Err(format!("{DOC} has no {begin} ... {end} block"));
    };
    let new = format!("{}{begin}\n{body}{}", &text[..b], &text[e..]);
    std::fs::write(&path, new).map_err(|e| format!("{DOC}: {e}"))
}
