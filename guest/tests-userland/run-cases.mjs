// Runs every case of cases.jsonl on busybox.wasm through shim.mjs and compares
// stdout and the exit status.  node run-cases.mjs busybox.wasm [cases.jsonl]
import { readFileSync } from "node:fs";
import { run } from "./shim.mjs";

const [wasm, casesPath = new URL("./cases.jsonl", import.meta.url)] = process.argv.slice(2);
if (!wasm) {
  console.error("usage: node run-cases.mjs busybox.wasm [cases.jsonl]");
  process.exit(2);
}
const cases = readFileSync(casesPath, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
let passed = 0, failed = 0;
for (const c of cases) {
  let got;
  try {
    const r = run(wasm, c.argv, c.stdin ?? "");
    got = { code: r.code, stdout: r.out.filter((o) => o.fd === 1).map((o) => o.text).join(""),
            stderr: r.out.filter((o) => o.fd === 2).map((o) => o.text).join("") };
  } catch (err) {
    got = { code: "trap", stdout: "", stderr: String(err && err.stack || err) };
  }
  if (got.code === c.exit && got.stdout === c.stdout) {
    passed++;
    console.log(`ok   ${c.name}`);
  } else {
    failed++;
    console.log(`FAIL ${c.name}`);
    console.log(`     expected exit ${c.exit}, stdout ${JSON.stringify(c.stdout)}`);
    console.log(`     got      exit ${got.code}, stdout ${JSON.stringify(got.stdout)}`);
    if (got.stderr) console.log(`     stderr ${JSON.stringify(got.stderr.slice(0, 400))}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
