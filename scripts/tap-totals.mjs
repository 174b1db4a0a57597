// Reads the output of `tap` and prints the closing line CI looks for:
// "N passed, N failed[, N skipped]". The counts are tap's own summary line,
// "# { total: N, pass: N, fail: N, skip: N, todo: N }" (keys absent when 0).
// A run that ended without a summary (crash, build error) counts as failed.
import { readFileSync } from 'node:fs';

const [file, rc] = process.argv.slice(2);
const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
const summaries = [...text.matchAll(/^#\s*\{([^}]*total:[^}]*)\}\s*$/gm)];
const last = summaries.at(-1);
const counts = {};
if (last) for (const m of last[1].matchAll(/(\w+):\s*(\d+)/g)) counts[m[1]] = Number(m[2]);
const pass = counts.pass ?? 0;
let fail = counts.fail ?? 0;
const skip = (counts.skip ?? 0) + (counts.todo ?? 0);
if (!last || (Number(rc) !== 0 && fail === 0)) fail = Math.max(fail, 1);
console.log(`${pass} passed, ${fail} failed${skip > 0 ? `, ${skip} skipped` : ''}`);
process.exit(Number(rc) === 0 && fail === 0 ? 0 : 1);
