/**
 * Summarises a V8 CPU profile (node --cpu-prof; `npm run bench -- --profile` writes one per
 * Cueroom server): self time by function and by file, top entries.
 *
 *   npx tsx bench/profile-summary.ts bench/results/<run>/profile-busynight/*.cpuprofile [top] [--busiest=S]
 *
 * `--busiest=S` counts only the S seconds in which the process was busiest (least idle): the
 * load window, without the consoles connecting before it or the audit check after.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const busiest = Number(args.find((arg) => arg.startsWith('--busiest='))?.slice('--busiest='.length) ?? 0);
const [file, topArg] = args.filter((arg) => !arg.startsWith('--'));
const top = Number(topArg ?? 25);
if (!file) {
  console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [--busiest=S]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

// When each sample was taken (µs since the start), and which whole seconds were least idle.
const at: number[] = [];
let clock = 0;
for (const delta of profile.timeDeltas) at.push((clock += delta));
let from = 0;
let to = Number.POSITIVE_INFINITY;
if (busiest > 0) {
  const busy: number[] = [];
  profile.samples.forEach((id, i) => {
    if (byId.get(id)?.callFrame.functionName === '(idle)') return;
    const second = Math.floor(at[i]! / 1e6);
    busy[second] = (busy[second] ?? 0) + (profile.timeDeltas[i] ?? 0);
  });
  let best = -1;
  for (let start = 0; start + busiest <= busy.length; start++) {
    let sum = 0;
    for (let s = start; s < start + busiest; s++) sum += busy[s] ?? 0;
    if (sum > best) [best, from, to] = [sum, start * 1e6, (start + busiest) * 1e6];
  }
}
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  if (at[i]! < from || at[i]! >= to) return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = Number.isFinite(to) ? to - from : profile.endTime - profile.startTime;

const where = (node: ProfileNode) => {
  const url = node.callFrame.url.replace(/^file:\/\//, '');
  const short = url.includes('node_modules/')
    ? url.slice(url.lastIndexOf('node_modules/') + 13)
    : url
      ? path.relative(process.cwd(), url)
      : '(native)';
  return short;
};

const fns = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  const name = `${node.callFrame.functionName || '(anonymous)'}  ${where(node)}:${node.callFrame.lineNumber + 1}`;
  fns.set(name, (fns.get(name) ?? 0) + us);
  const pkg = where(node)
    .split('/')
    .slice(0, where(node).startsWith('@') ? 2 : 1)
    .join('/');
  files.set(pkg, (files.get(pkg) ?? 0) + us);
}
const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
console.log(
  `${file}: ${(total / 1e6).toFixed(1)} s${busiest > 0 ? ` (the busiest, from ${(from / 1e6).toFixed(0)} s)` : ''} profiled`,
);
console.log('\nself time by function:');
for (const [name, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`);
console.log('\nself time by package or folder:');
for (const [name, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`);
