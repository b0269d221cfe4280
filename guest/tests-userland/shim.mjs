// A minimal stand-in for the Runner, for testing wasm32 user programs
// (busybox.wasm, the C tests) without the kernel.  It implements the guest
// contract of docs/guest-abi.md on Node's wasm engine (threads + legacy
// exception handling):
//   - process start: dylink placement, the initial stack block, _start;
//   - threads: env.__clone_thread runs __w2n_thread_start in a worker thread
//     on a new instance sharing the memory (own table, own stack pointer);
//   - signals to the process itself, delivered through __w2n_signal;
//   - a handful of syscalls: write/writev/read (stdin/stdout/stderr), exit,
//     exit_group, anonymous mmap, futex, identity, time, uname, fcntl.
// Everything else returns -ENOSYS (there is no fork, pipe or file system).
//
//   node shim.mjs PROGRAM.wasm [--stdin TEXT] -- ARGV...
// prints the program's output and exits with its exit status.
import { readFileSync, writeSync } from "node:fs";
import { Worker, isMainThread, workerData } from "node:worker_threads";

const ENOSYS = 38, ENOTTY = 25, EBADF = 9, ENOMEM = 12, EINVAL = 22, EAGAIN = 11, ETIMEDOUT = 110;
const PAGE = 65536;
const CLONE_PARENT_SETTID = 0x00100000, CLONE_CHILD_CLEARTID = 0x00200000;

class Exit extends Error {
  constructor(code) { super(`exit ${code}`); this.code = code; }
}
class ThreadExit extends Error {}

function uleb(bytes, pos) {
  let result = 0, shift = 0, b;
  do {
    b = bytes[pos.p++];
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return result;
}

// dylink.0 MEM_INFO: memory size/alignment and table size the module needs.
function dylinkInfo(module) {
  const sec = WebAssembly.Module.customSections(module, "dylink.0");
  if (sec.length !== 1) throw new Error("not a dylink module (no dylink.0 section)");
  const bytes = new Uint8Array(sec[0]);
  const pos = { p: 0 };
  while (pos.p < bytes.length) {
    const type = bytes[pos.p++];
    const len = uleb(bytes, pos);
    const end = pos.p + len;
    if (type === 1) {
      const memSize = uleb(bytes, pos), memAlign = uleb(bytes, pos);
      const tableSize = uleb(bytes, pos), tableAlign = uleb(bytes, pos);
      return { memSize, memAlign, tableSize, tableAlign };
    }
    pos.p = end;
  }
  throw new Error("dylink.0 has no MEM_INFO");
}

const align = (x, a) => Math.ceil(x / a) * a;

// State shared by every thread of the one process: the memory, and an
// Int32Array over a SharedArrayBuffer: [0] next mmap address, [1] next tid.
function sharedState(shared) {
  return {
    memory: shared.memory,
    module: shared.module,
    info: shared.info,
    memoryBase: shared.memoryBase,
    tableBase: shared.tableBase,
    counters: new Int32Array(shared.counters),
    shared,
  };
}

// The syscalls of one thread.  `hooks` lets the main thread add signals and
// output capture.
function makeSyscall(st, self, hooks) {
  const { memory, counters } = st;
  const u8 = () => new Uint8Array(memory.buffer);
  const dv = () => new DataView(memory.buffer);
  const i32 = () => new Int32Array(memory.buffer);
  const write = (fd, p, n) => {
    if (fd !== 1 && fd !== 2) return -EBADF;
    hooks.write(fd, Buffer.from(memory.buffer, p, n).toString("latin1"));
    return n;
  };

  return function syscall(nr, a, b, c, d, e, f) {
    switch (nr) {
      case 64: return write(a, b, c);                       // write
      case 66: {                                            // writev
        let total = 0;
        for (let i = 0; i < c; i++) {
          const base = dv().getUint32(b + i * 8, true), len = dv().getUint32(b + i * 8 + 4, true);
          const r = write(a, base, len);
          if (r < 0) return r;
          total += r;
        }
        return total;
      }
      case 63: return hooks.read ? hooks.read(a, b, c) : -EBADF;   // read
      case 93:                                              // exit (this thread)
        if (self.ctid) { Atomics.store(i32(), self.ctid >> 2, 0); Atomics.notify(i32(), self.ctid >> 2); }
        if (self.main) throw new Exit(a);
        throw new ThreadExit();
      case 94: throw new Exit(a);                           // exit_group
      case 222: {                                           // mmap2 (anonymous only)
        if (e !== -1) return -ENOSYS;
        const len = align(b, 4096);
        const at = Atomics.add(counters, 0, len);
        if (at + len > memory.buffer.byteLength) {
          const need = Math.ceil((at + len - memory.buffer.byteLength) / PAGE);
          try { memory.grow(need); } catch { return -ENOMEM; }
        }
        u8().fill(0, at, at + len);
        return at;
      }
      case 215: case 226: case 233: return 0;               // munmap, mprotect, madvise
      case 214: return -ENOMEM;                             // brk: use mmap
      case 29: return -ENOTTY;                              // ioctl
      case 25:                                              // fcntl64
        if (a > 2) return -EBADF;
        if (b === 3) return a === 0 ? 0 : 1;                // F_GETFL: O_RDONLY / O_WRONLY
        return b === 1 || b === 2 ? 0 : -EINVAL;            // F_GETFD, F_SETFD
      case 96: self.clearTid = a; return self.tid;          // set_tid_address
      case 172: return 1;                                   // getpid
      case 178: return self.tid;                            // gettid
      case 173: return 0;                                   // getppid
      case 174: case 175: case 176: case 177: return 0;     // getuid, geteuid, getgid, getegid
      case 124: return 0;                                   // sched_yield
      case 422: {                                           // futex_time64
        const op = b & 0x7f;
        if (op === 0 || op === 9) {                         // FUTEX_WAIT, FUTEX_WAIT_BITSET
          let timeout = Infinity;
          if (d) {
            const sec = Number(dv().getBigInt64(d, true)), nsec = dv().getInt32(d + 8, true);
            timeout = sec * 1000 + nsec / 1e6;
            if (op === 9) timeout -= Date.now();            // absolute (approximation)
          }
          const r = Atomics.wait(i32(), a >> 2, c, Math.max(0, timeout));
          return r === "not-equal" ? -EAGAIN : r === "timed-out" ? -ETIMEDOUT : 0;
        }
        if (op === 1 || op === 10) return Atomics.notify(i32(), a >> 2, c);   // FUTEX_WAKE(_BITSET)
        return -ENOSYS;
      }
      case 403: {                                           // clock_gettime64
        const ns = process.hrtime.bigint();
        dv().setBigInt64(b, ns / 1000000000n, true);
        dv().setInt32(b + 8, Number(ns % 1000000000n), true);
        dv().setInt32(b + 12, 0, true);
        return 0;
      }
      case 160: {                                           // uname
        ["Linux", "w2native", "6.1.0", "#1", "wasm32", "(none)"].forEach((s, i) => {
          const p = a + i * 65;
          u8().fill(0, p, p + 65);
          u8().set(Buffer.from(s), p);
        });
        return 0;
      }
      default:
        return hooks.extra ? hooks.extra(nr, a, b, c, d, e, f) : -ENOSYS;
    }
  };
}

function instantiate(st, stackPointer, syscall, cloneThread) {
  const table = new WebAssembly.Table({ initial: st.tableBase + st.info.tableSize, element: "anyfunc" });
  const imports = {
    env: {
      memory: st.memory,
      __indirect_function_table: table,
      __stack_pointer: new WebAssembly.Global({ value: "i32", mutable: true }, stackPointer),
      __memory_base: new WebAssembly.Global({ value: "i32", mutable: false }, st.memoryBase),
      __table_base: new WebAssembly.Global({ value: "i32", mutable: false }, st.tableBase),
      __syscall: (nr, a, b, c, d, e, f) => {
        const r = syscall(nr, a, b, c, d, e, f) | 0;
        if (process.env.W2N_SHIM_TRACE) console.error(`syscall ${nr}(${[a, b, c, d, e, f].join(", ")}) = ${r}`);
        return r;
      },
      __vfork: () => -ENOSYS,
      __clone_thread: cloneThread,
    },
  };
  return { imports, instance: new WebAssembly.Instance(st.module, imports) };
}

// env.__clone_thread: a worker thread runs the new instance.
function makeCloneThread(st) {
  return (fn, stack, flags, arg, ptid, tls, ctid) => {
    const tid = Atomics.add(st.counters, 1, 1);
    const i32 = new Int32Array(st.memory.buffer);
    if (flags & CLONE_PARENT_SETTID) Atomics.store(i32, ptid >> 2, tid);
    new Worker(new URL(import.meta.url), {
      workerData: {
        w2nThread: true, shared: st.shared, tid, fn, stack, arg, tls,
        ctid: flags & CLONE_CHILD_CLEARTID ? ctid : 0,
      },
    });
    return tid;
  };
}

function threadMain(data) {
  const st = sharedState(data.shared);
  const self = { tid: data.tid, ctid: data.ctid, main: false };
  const syscall = makeSyscall(st, self, { write: (fd, text) => writeSync(fd, text, null, "latin1") });
  const { instance } = instantiate(st, data.stack, syscall, makeCloneThread(st));
  try {
    instance.exports.__w2n_thread_start(data.fn, data.arg, data.tls);
  } catch (err) {
    if (!(err instanceof ThreadExit)) {
      if (err instanceof Exit) process.exit(err.code);
      throw err;
    }
  }
}

export function run(wasmPath, argv, stdinText = "") {
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const info = dylinkInfo(module);

  // Memory map of this one-process "machine": data at 64 KiB
  // (__memory_base), then 1 MiB of main stack (grows down), then mmap space.
  const memoryBase = PAGE;
  const stackTop = align(memoryBase + info.memSize, PAGE) + (1 << 20);
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 16384, shared: true });
  const counters = new SharedArrayBuffer(8);
  new Int32Array(counters).set([stackTop, 2]);
  const st = sharedState({ memory, module, info, memoryBase, tableBase: 1, counters });
  const u8 = () => new Uint8Array(memory.buffer);
  const dv = () => new DataView(memory.buffer);

  // Initial stack block: argc, argv..., 0, envp..., 0, auxv..., AT_NULL.
  const env = ["PATH=/bin", "HOME=/"];
  let strp = stackTop - 4096;
  const putStr = (s) => {
    const b = Buffer.from(s + "\0");
    u8().set(b, strp);
    const at = strp;
    strp += b.length;
    return at;
  };
  const argvPtrs = argv.map(putStr), envPtrs = env.map(putStr);
  const AT_PAGESZ = 6, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_SECURE = 23;
  const aux = [AT_PAGESZ, 4096, AT_UID, 0, AT_EUID, 0, AT_GID, 0, AT_EGID, 0, AT_SECURE, 0, 0, 0];
  const words = [argv.length, ...argvPtrs, 0, ...envPtrs, 0, ...aux];
  const sp = (stackTop - 8192 - words.length * 4) & ~15;
  words.forEach((w, i) => dv().setUint32(sp + i * 4, w, true));

  const out = [];
  const stdin = Buffer.from(stdinText);
  let stdinPos = 0;

  // Signals (docs/guest-abi.md section 8): dispositions from rt_sigaction,
  // a blocked mask, delivery on return from a syscall of the main thread.
  const actions = new Map();            // sig -> { handler, flags, mask: [lo, hi] }
  let blocked = [0, 0];
  const pending = [];
  const bit = (sig) => [(sig - 1) < 32 ? 1 << (sig - 1) : 0, (sig - 1) >= 32 ? 1 << (sig - 33) : 0];
  const isBlocked = (sig) => { const [lo, hi] = bit(sig); return (blocked[0] & lo) || (blocked[1] & hi); };
  let inst;

  function deliver() {
    for (let i = 0; i < pending.length; i++) {
      const sig = pending[i];
      if (isBlocked(sig)) continue;
      pending.splice(i--, 1);
      const act = actions.get(sig) ?? { handler: 0, flags: 0, mask: [0, 0] };
      if (act.handler === 1) continue;                    // SIG_IGN
      if (act.handler === 0) {                            // SIG_DFL
        if ([17, 18, 23, 28].includes(sig)) continue;     // CHLD CONT URG WINCH: ignore
        throw new Exit(128 + sig);
      }
      const spg = inst.imports.env.__stack_pointer;
      const saved = spg.value;
      const uc = (saved - 180) & ~15, info = (uc - 128) & ~15;
      u8().fill(0, info, uc + 180);
      dv().setInt32(info, sig, true);                     // si_signo (si_code 0 = SI_USER)
      dv().setUint32(uc + 52, blocked[0], true);          // uc_sigmask
      dv().setUint32(uc + 56, blocked[1], true);
      dv().setUint32(uc + 24, saved, true);               // uc_mcontext.__sp
      const [lo, hi] = (act.flags & 0x40000000) ? [0, 0] : bit(sig);
      blocked = [blocked[0] | act.mask[0] | lo, blocked[1] | act.mask[1] | hi];
      spg.value = info;
      inst.instance.exports.__w2n_signal(sig, info, uc, act.handler, act.flags);
      blocked = [dv().getUint32(uc + 52, true), dv().getUint32(uc + 56, true)];
      spg.value = saved;
    }
  }

  const self = { tid: 1, ctid: 0, main: true };
  const base = makeSyscall(st, self, {
    write: (fd, text) => out.push({ fd, text }),
    read: (fd, p, n) => {
      if (fd !== 0) return -EBADF;
      const k = Math.min(n, stdin.length - stdinPos);
      u8().set(stdin.subarray(stdinPos, stdinPos + k), p);
      stdinPos += k;
      return k;
    },
    extra: (nr, a, b, c) => {
      switch (nr) {
        case 134: {                                         // rt_sigaction
          if (a < 1 || a > 64 || a === 9 || a === 19) return -EINVAL;
          const old = actions.get(a) ?? { handler: 0, flags: 0, mask: [0, 0] };
          if (b) actions.set(a, { handler: dv().getUint32(b, true), flags: dv().getUint32(b + 4, true),
                                  mask: [dv().getUint32(b + 8, true), dv().getUint32(b + 12, true)] });
          if (c) {
            dv().setUint32(c, old.handler, true); dv().setUint32(c + 4, old.flags, true);
            dv().setUint32(c + 8, old.mask[0], true); dv().setUint32(c + 12, old.mask[1], true);
          }
          return 0;
        }
        case 135: {                                         // rt_sigprocmask
          if (c) { dv().setUint32(c, blocked[0], true); dv().setUint32(c + 4, blocked[1], true); }
          if (b) {
            const set = [dv().getUint32(b, true), dv().getUint32(b + 4, true)];
            if (a === 0) blocked = [blocked[0] | set[0], blocked[1] | set[1]];          // SIG_BLOCK
            else if (a === 1) blocked = [blocked[0] & ~set[0], blocked[1] & ~set[1]];   // SIG_UNBLOCK
            else if (a === 2) blocked = set;                                            // SIG_SETMASK
            else return -EINVAL;
          }
          return 0;
        }
        case 129: case 130: case 131: {                     // kill, tkill, tgkill
          const sig = nr === 131 ? c : b;
          if (sig < 0 || sig > 64) return -EINVAL;
          if (sig) pending.push(sig);
          return 0;
        }
        default: return -ENOSYS;
      }
    },
  });
  const syscall = (...args) => {
    const r = base(...args);
    if (pending.length) deliver();
    return r;
  };

  inst = instantiate(st, sp, syscall, makeCloneThread(st));
  let code;
  try {
    inst.instance.exports._start(sp);
    code = 0;
  } catch (err) {
    if (!(err instanceof Exit)) throw err;
    code = err.code;
  }
  return { code, out };
}

if (!isMainThread && workerData && workerData.w2nThread) {
  threadMain(workerData);
} else if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const args = process.argv.slice(2);
  const wasm = args.shift();
  let stdinText = "";
  if (args[0] === "--stdin") { args.shift(); stdinText = args.shift(); }
  if (args[0] === "--") args.shift();
  if (!wasm || args.length === 0) {
    console.error("usage: node shim.mjs PROGRAM.wasm [--stdin TEXT] -- ARGV...");
    process.exit(2);
  }
  const { code, out } = run(wasm, args, stdinText);
  for (const o of out) writeSync(o.fd, o.text, null, "latin1");
  process.exit(code);
}
