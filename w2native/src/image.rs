//! The Linux image: `kernel.wasm` and a user program module (`busybox.wasm`)
//! compiled in their own symbol namespaces (`kernel`, `busybox`) and linked
//! with the runtime's Runner entry (`w2n_linux_main`) into one executable.
//!
//! The compiler still knows nothing about Linux: a module's *role* is read
//! from its interface only (the kernel imports module `"host"` and exports
//! `kernel_boot`; a user program imports `env.__syscall`), and everything
//! else happens in `runtime-support`'s `linux` module at run time.

use std::path::{Path, PathBuf};

use crate::{compile_module, emit, link, CompileOptions, Stats};

/// What a wasm module is for, judged by its imports and exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A Linux kernel for the Runner (docs/host-abi.md).
    Kernel,
    /// A user program for the Linux image (docs/guest-abi.md).
    User,
    /// Anything else: a WASI command or plain module.
    Command,
}

/// Reads only the import and export sections. A module that does not parse
/// is a `Command`, so the normal build reports the parse error.
pub fn classify(wasm: &[u8]) -> Role {
    use wasmparser::{Parser, Payload};
    let (mut host_imports, mut syscall_import, mut boot_export) = (false, false, false);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::ImportSection(reader)) => {
                for imp in reader.into_imports().flatten() {
                    host_imports |= imp.module == "host";
                    syscall_import |= imp.module == "env" && imp.name == "__syscall";
                }
            }
            Ok(Payload::ExportSection(reader)) => {
                for exp in reader.into_iter().flatten() {
                    boot_export |= exp.name == "kernel_boot";
                }
            }
            Ok(Payload::CodeSectionStart { .. }) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if host_imports && boot_export {
        Role::Kernel
    } else if syscall_import {
        Role::User
    } else {
        Role::Command
    }
}

/// Symbol namespace of the kernel module in a Linux image.
pub const KERNEL_NAMESPACE: &str = "kernel";
/// Symbol namespace of the user program module in a Linux image.
pub const USER_NAMESPACE: &str = "busybox";

/// One module of the image: its bytes and its options (namespace set here).
pub struct ImageInput<'a> {
    pub wasm: &'a [u8],
    pub opts: CompileOptions,
}

// ---------------------------------------------------------------------------
// The image blob: what the Runner needs besides the two compiled modules
// ---------------------------------------------------------------------------

/// Symbol of the image blob passed to `w2n_linux_main` after the records.
pub const IMAGE_SYMBOL: &str = "w2n_linux_image";
/// First bytes of the blob; the Runner checks them.
pub const IMAGE_MAGIC: &[u8; 8] = b"w2nimg01";

/// The blob (little endian), read by `runtime-support/src/linux/image.rs`:
///
/// ```text
/// 0   magic "w2nimg01"
/// 8   u32 mem_size     user module's dylink.0 memory size (data+bss+TLS)
/// 12  u32 mem_p2align  its alignment, log2
/// 16  u32 table_size   its table slots
/// 20  u32 reserved (0)
/// 24  u64 initramfs length
/// 32  initramfs (cpio newc, uncompressed)
/// ```
pub fn image_blob(user: &DylinkInfo, initramfs: &[u8]) -> Vec<u8> {
    let mut b = IMAGE_MAGIC.to_vec();
    for v in [user.mem_size, user.mem_p2align, user.table_size, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&(initramfs.len() as u64).to_le_bytes());
    b.extend_from_slice(initramfs);
    b
}

/// What a position-independent module needs from its loader (`dylink.0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DylinkInfo {
    pub mem_size: u32,
    pub mem_p2align: u32,
    pub table_size: u32,
}

/// Reads the `dylink.0` memory info of a PIC module.
pub fn dylink_info(wasm: &[u8]) -> Result<DylinkInfo, String> {
    use wasmparser::{Dylink0Subsection, KnownCustom, Parser, Payload};
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(Payload::CustomSection(c)) = payload else {
            continue;
        };
        if let KnownCustom::Dylink0(reader) = c.as_known() {
            for sub in reader {
                if let Ok(Dylink0Subsection::MemInfo(m)) = sub {
                    return Ok(DylinkInfo {
                        mem_size: m.memory_size,
                        mem_p2align: m.memory_alignment,
                        table_size: m.table_size,
                    });
                }
            }
        }
    }
    Err("the user program has no dylink.0 memory info: link it with `wasm-ld --experimental-pic -shared` (docs/guest-abi.md)".into())
}

// ---------------------------------------------------------------------------
// The initramfs
// ---------------------------------------------------------------------------

/// A cpio "newc" archive being written (what the kernel unpacks as rootfs).
#[derive(Default)]
pub struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.ino += 1;
        let name = name.trim_start_matches('/');
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            if mode & S_IFDIR != 0 { 2 } else { 1 },
            0, // mtime
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    pub fn dir(&mut self, name: &str, perm: u32) {
        self.entry(name, S_IFDIR | perm, &[]);
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, S_IFREG | perm, data);
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, S_IFLNK | 0o777, target.as_bytes());
    }

    /// Adds the files under `dir` (recursively) at `prefix` in the archive.
    pub fn add_tree(&mut self, dir: &Path, prefix: &str) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
            let meta =
                std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let perm = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target =
                    std::fs::read_link(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                self.symlink(&name, &target.to_string_lossy());
            } else if meta.is_dir() {
                self.dir(&name, perm);
                self.add_tree(&path, &name)?;
            } else {
                let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                self.file(&name, perm, &data);
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.out
    }
}

/// The file that stands for the user program in the initramfs: the wasm
/// magic (so the kernel's binfmt accepts it) and nothing else; the Runner
/// runs the compiled module when the kernel execs it.
pub const PROGRAM_STUB: &[u8] = b"\0asm\x01\0\0\0";

const INITTAB: &str = "\
::sysinit:/etc/init.d/rcS
::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
";

const RCS: &str = "\
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
hostname w2native
ifconfig lo up
";

const PROFILE: &str = "\
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
export PS1='\\w # '
";

/// The root filesystem: BusyBox (`/bin/busybox` and a link per applet in
/// /bin, plus /init and /sbin/init), /etc (inittab, rcS, passwd, group,
/// hosts, profile), empty mount points, then the files of `extra` (the
/// `--initramfs-add DIR` trees) over it.
pub fn initramfs(applets: &[String], extra: &[&Path]) -> Result<Vec<u8>, String> {
    let mut c = Cpio::default();
    for d in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "etc",
        "etc/init.d",
        "proc",
        "sys",
        "dev",
        "root",
        "home",
        "mnt",
        "var",
        "var/run",
        "var/log",
    ] {
        c.dir(d, 0o755);
    }
    c.dir("tmp", 0o1777);
    c.file("bin/busybox", 0o755, PROGRAM_STUB);
    for a in applets {
        if a != "busybox" && !a.is_empty() && !a.contains('/') {
            c.symlink(&format!("bin/{a}"), "busybox");
        }
    }
    c.symlink("sbin/init", "../bin/busybox");
    c.symlink("init", "bin/busybox");
    c.file("etc/inittab", 0o644, INITTAB.as_bytes());
    c.file("etc/init.d/rcS", 0o755, RCS.as_bytes());
    c.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n");
    c.file("etc/group", 0o644, b"root:x:0:\n");
    // The host name (rcS's, and the Runner's for -c) resolves like on a
    // Debian install; without it `hostname -f` asks DNS, which has no
    // server here, and fails after a 10 s timeout.
    c.file(
        "etc/hosts",
        0o644,
        b"127.0.0.1 localhost\n127.0.1.1 w2native\n",
    );
    c.file("etc/profile", 0o644, PROFILE.as_bytes());
    for dir in extra {
        c.add_tree(dir, "")?;
    }
    Ok(c.finish())
}

/// The applet names of a BusyBox build: `applets.txt` beside `busybox.wasm`
/// (what guest/build-userland.sh writes), else the `applet_names` table
/// found in the module's data.
pub fn applets(wasm_path: &Path, wasm: &[u8]) -> Vec<String> {
    if let Ok(text) = std::fs::read_to_string(wasm_path.with_file_name("applets.txt")) {
        return text
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
    }
    // BusyBox's generated table: "[\0[[\0ash\0..." (sorted, NUL separated,
    // ends with an empty name).
    let Some(start) = wasm.windows(5).position(|w| w == b"[\0[[\0") else {
        return Vec::new();
    };
    wasm[start..]
        .split(|b| *b == 0)
        .take_while(|n| !n.is_empty() && n.iter().all(|b| b.is_ascii_graphic()))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

/// Compiles the kernel (and the user program, if any) and links the Linux
/// image `output`. Without a user program the image boots the kernel alone
/// (entry `w2n_linux_kernel_main`: its `--selftest` checks the kernel).
/// `extra` are directories copied into the initramfs (`--initramfs-add`);
/// `applets` the BusyBox applet names (see [`applets`]).
/// Returns the statistics of each compiled module, kernel first.
pub fn build_linux_image(
    kernel: ImageInput<'_>,
    user: Option<ImageInput<'_>>,
    applets: &[String],
    extra: &[PathBuf],
    output: &Path,
) -> Result<Vec<Stats>, String> {
    let target = kernel.opts.target;
    let extra: Vec<&Path> = extra.iter().map(PathBuf::as_path).collect();
    let (dylink, initramfs) = match &user {
        Some(u) => (dylink_info(u.wasm)?, initramfs(applets, &extra)?),
        None if extra.is_empty() => (DylinkInfo::default(), Vec::new()),
        None => {
            let mut c = Cpio::default();
            for dir in &extra {
                c.add_tree(dir, "")?;
            }
            (DylinkInfo::default(), c.finish())
        }
    };
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut objects = Vec::new();
    let mut records = Vec::new();
    let mut stats = Vec::new();
    let has_user = user.is_some();
    for (input, namespace) in [(Some(kernel), KERNEL_NAMESPACE), (user, USER_NAMESPACE)] {
        let Some(mut input) = input else { continue };
        input.opts.namespace = namespace.to_string();
        // Busy user code must stay interruptible (signals, scheduling; see
        // runtime-support/src/linux/interrupt.rs). The Runner preempts it
        // asynchronously on every target (linux/preempt.rs), so by default
        // it carries no checks (they cost 18% of instructions, geomean of
        // the benchmarks). The kernel runs under its CPU lock and is never
        // interrupted that way.
        input.opts.interruptible = if namespace == USER_NAMESPACE {
            Some(input.opts.interruptible.unwrap_or(false))
        } else {
            Some(false)
        };
        let (object, s) = compile_module(input.wasm, &input.opts).map_err(|e| e.to_string())?;
        let path = dir.path().join(format!("{namespace}.o"));
        std::fs::write(&path, &object).map_err(|e| format!("{}: {e}", path.display()))?;
        objects.push(path);
        records.push(w2native_environ::symbols::module_record(namespace));
        stats.push(s);
    }
    let blob_o = dir.path().join("image.o");
    let blob = emit_data(target, IMAGE_SYMBOL, &image_blob(&dylink, &initramfs))?;
    std::fs::write(&blob_o, blob).map_err(|e| format!("{}: {e}", blob_o.display()))?;
    objects.push(blob_o);
    records.push(IMAGE_SYMBOL.to_string());
    let entry = if has_user {
        "w2n_linux_main"
    } else {
        "w2n_linux_kernel_main"
    };
    let entry_o = dir.path().join("entry.o");
    let object = emit::emit_entry(target.isa()?, entry, &records)?;
    std::fs::write(&entry_o, object).map_err(|e| format!("{}: {e}", entry_o.display()))?;
    objects.push(entry_o);
    link::link_executable(&objects, target, output)?;
    Ok(stats)
}

/// An object file holding `bytes` as the exported, 16-byte aligned data
/// symbol `symbol`.
fn emit_data(target: crate::Target, symbol: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    use cranelift_module::{DataDescription, Linkage, Module};
    let err = |e: cranelift_module::ModuleError| format!("image object: {e}");
    let builder = cranelift_object::ObjectBuilder::new(
        target.isa()?,
        "w2n_image",
        cranelift_module::default_libcall_names(),
    )
    .map_err(err)?;
    let mut module = cranelift_object::ObjectModule::new(builder);
    let id = module
        .declare_data(symbol, Linkage::Export, false, false)
        .map_err(err)?;
    let mut data = DataDescription::new();
    data.define(bytes.to_vec().into_boxed_slice());
    data.set_align(16);
    module.define_data(id, &data).map_err(err)?;
    module
        .finish()
        .emit()
        .map_err(|e| format!("image object: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wasm(imports: &[(&str, &str)], exports: &[&str]) -> Vec<u8> {
        let mut text = String::from("(module\n");
        for (m, n) in imports {
            text += &format!("(import \"{m}\" \"{n}\" (func))\n");
        }
        for (i, e) in exports.iter().enumerate() {
            text += &format!("(func $f{i}) (export \"{e}\" (func $f{i}))\n");
        }
        text += ")";
        wat::parse_str(&text).unwrap()
    }

    /// (name, mode, data) of every entry of a newc archive.
    fn read_cpio(mut a: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let field = |h: &[u8], i: usize| {
            u32::from_str_radix(std::str::from_utf8(&h[6 + 8 * i..14 + 8 * i]).unwrap(), 16)
                .unwrap()
        };
        let pad = |n: usize| (n + 3) & !3;
        loop {
            assert_eq!(&a[..6], b"070701");
            let (mode, size, namesize) = (field(a, 1), field(a, 6) as usize, field(a, 11) as usize);
            let name = String::from_utf8(a[110..110 + namesize - 1].to_vec()).unwrap();
            let data_at = pad(110 + namesize);
            let data = a[data_at..data_at + size].to_vec();
            a = &a[pad(data_at + size)..];
            if name == "TRAILER!!!" {
                assert!(a.is_empty());
                return out;
            }
            out.push((name, mode, data));
        }
    }

    #[test]
    fn initramfs_has_busybox_links_and_etc() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("opt")).unwrap();
        std::fs::write(dir.path().join("opt/x.sh"), "echo hi\n").unwrap();
        let applets = ["ls".to_string(), "sh".to_string()];
        let a = initramfs(&applets, &[dir.path()]).unwrap();
        let entries = read_cpio(&a);
        let get = |n: &str| entries.iter().find(|e| e.0 == n).cloned();
        assert_eq!(get("bin/busybox").unwrap().2, PROGRAM_STUB);
        assert_eq!(
            get("bin/ls").unwrap(),
            ("bin/ls".into(), S_IFLNK | 0o777, b"busybox".to_vec())
        );
        assert_eq!(get("init").unwrap().2, b"bin/busybox");
        assert_eq!(get("tmp").unwrap().1, S_IFDIR | 0o1777);
        assert!(get("etc/inittab").unwrap().2.starts_with(b"::sysinit:"));
        assert_eq!(get("opt/x.sh").unwrap().2, b"echo hi\n");
    }

    #[test]
    fn image_blob_layout() {
        let info = DylinkInfo {
            mem_size: 0x1234,
            mem_p2align: 4,
            table_size: 99,
        };
        let b = image_blob(&info, b"abc");
        assert_eq!(&b[..8], IMAGE_MAGIC);
        assert_eq!(&b[8..12], &0x1234u32.to_le_bytes());
        assert_eq!(&b[16..20], &99u32.to_le_bytes());
        assert_eq!(&b[24..32], &3u64.to_le_bytes());
        assert_eq!(&b[32..], b"abc");
    }

    #[test]
    fn applets_from_the_busybox_table() {
        let wasm = b"xx\0[\0[[\0ash\0ls\0\0rest";
        let names = applets(Path::new("/nonexistent/busybox.wasm"), wasm);
        assert_eq!(names, ["[", "[[", "ash", "ls"]);
    }

    #[test]
    fn roles_from_the_interface() {
        let kernel = wasm(&[("host", "print")], &["kernel_boot"]);
        assert_eq!(classify(&kernel), Role::Kernel);
        let user = wasm(&[("env", "__syscall")], &["_start"]);
        assert_eq!(classify(&user), Role::User);
        let wasi = wasm(&[("wasi_snapshot_preview1", "fd_write")], &["_start"]);
        assert_eq!(classify(&wasi), Role::Command);
        assert_eq!(classify(b"\0asm\x01\0\0\0garbage"), Role::Command);
        // Importing host ops without the boot entry is not a kernel.
        assert_eq!(classify(&wasm(&[("host", "print")], &[])), Role::Command);
    }
}
