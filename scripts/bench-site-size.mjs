// What a browser transfers to load MagUI, measured in Debian's Chromium
// (through Playwright) against a running release server: a fresh browser
// (empty cache) opens the sign-in page, waits until the app has hydrated,
// signs in and waits for the Dashboard. Every response is recorded with its
// type, its Content-Encoding and its body size on the wire
// (`request.sizes().responseBodySize`) beside its decoded size; the total of
// JS + WASM + CSS is compared with the goal (600 KB = 600 000 bytes). Then it
// opens every other console page once and records what each first visit adds
// (the wasm chunks `cargo leptos build --split` made for the pages loaded on
// demand), so the cost moved out of the first visit is on record too.
//
// Usage: node scripts/bench-site-size.mjs <base-url> <email> <password> [site-root]
// (scripts/bench-site-size.sh starts the server and calls this.) With a site
// root, it also lists the precompressed files (.br, .gz) served to browsers
// that accept them.
import { chromium } from '@playwright/test';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [base, email, password, siteRoot] = process.argv.slice(2);
if (!base || !email || !password) {
  console.error('usage: node scripts/bench-site-size.mjs <base-url> <email> <password> [site-root]');
  process.exit(2);
}
const GOAL_BYTES = 600_000;
// Every page besides sign-in and the Dashboard; the ones with a parameter are
// opened with a name that does not exist: the page (and its chunks) loads and
// shows its not-found message.
const OTHER_PAGES = [
  '/marketplace', '/marketplace/nobody/nothing', '/approvals', '/extensions', '/extensions/nobody/nothing',
  '/health', '/events', '/projects', '/projects/nothing', '/projects/nothing/schema',
  '/panels/nobody/nothing/none', '/audit', '/users', '/settings', '/settings/keys', '/settings/sign-in', '/account',
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const context = await browser.newContext();
const page = await context.newPage();
const responses = [];
const pending = [];
page.on('requestfinished', (request) => pending.push(record(request)));
async function record(request) {
  const response = await request.response();
  if (!response) return;
  const sizes = await request.sizes();
  const body = await response.body().catch(() => Buffer.alloc(0));
  responses.push({
    url: new URL(request.url()).pathname,
    kind: request.resourceType(),
    encoding: (await response.headerValue('content-encoding')) ?? 'identity',
    wire: sizes.responseBodySize,
    decoded: body.length,
    acceptEncoding: (await request.headerValue('accept-encoding')) ?? '',
  });
}

await page.goto(`${base}/login`);
await page.locator('body[data-hydrated="true"]').waitFor();
await page.getByLabel('Email').fill(email);
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('button', { name: 'Sign out' }).waitFor();
await page.waitForLoadState('networkidle');
await Promise.all(pending);
const firstVisit = responses.splice(0);

const visits = [];
for (const path of OTHER_PAGES) {
  await page.goto(`${base}${path}`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  await page.waitForLoadState('networkidle');
  await Promise.all(pending);
  visits.push({ path, responses: responses.splice(0) });
}
await browser.close();

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const assetKind = (r) => (r.url.endsWith('.wasm') ? 'wasm' : r.url.endsWith('.js') ? 'js' : r.url.endsWith('.css') ? 'css' : null);
console.log(`Accept-Encoding sent by the browser: ${firstVisit.find((r) => assetKind(r))?.acceptEncoding ?? '?'}`);
console.log('| response | type | encoding | on the wire | decoded |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of firstVisit) {
  console.log(`| ${r.url} | ${r.kind} | ${r.encoding} | ${kib(r.wire)} | ${kib(r.decoded)} |`);
}
const assets = firstVisit.filter(assetKind);
const wire = assets.reduce((sum, r) => sum + r.wire, 0);
const decoded = assets.reduce((sum, r) => sum + r.decoded, 0);
const all = firstVisit.reduce((sum, r) => sum + r.wire, 0);
console.log(`\nFirst visit (sign-in, then the Dashboard): JS + WASM + CSS transferred: ${wire} bytes = ${kib(wire)} (decoded ${kib(decoded)}); every response together: ${kib(all)}`);
console.log(`Goal ≤ ${GOAL_BYTES} bytes compressed: ${wire <= GOAL_BYTES ? 'met' : 'MISSED'}`);

const seen = new Set(firstVisit.map((r) => r.url));
console.log('\nWhat opening each other page adds, the first time (JS + WASM files not fetched before):');
console.log('| page | new files | on the wire | decoded |');
console.log('| --- | --- | --- | --- |');
let later = 0;
for (const { path, responses: rs } of visits) {
  const fresh = rs.filter((r) => assetKind(r) && !seen.has(r.url) && r.wire > 0);
  fresh.forEach((r) => seen.add(r.url));
  const sum = (key) => fresh.reduce((total, r) => total + r[key], 0);
  later += sum('wire');
  console.log(`| ${path} | ${fresh.length} | ${kib(sum('wire'))} | ${kib(sum('decoded'))} |`);
}
console.log(`Every page visited once: ${kib(wire + later)} of JS + WASM + CSS in all`);

if (siteRoot) {
  const pkg = join(siteRoot, 'pkg');
  console.log(`\nFiles in ${pkg} (raw, and the precompressed copies the server sends to browsers that accept them; the wasm chunks summed):`);
  console.log('| file | raw | gzip | brotli |');
  console.log('| --- | --- | --- | --- |');
  let brotli = 0;
  const chunks = { count: 0, raw: 0, gz: 0, br: 0 };
  const isChunk = (name) => name.endsWith('.wasm') && name !== 'magflock.wasm';
  for (const name of readdirSync(pkg).filter((n) => !n.endsWith('.gz') && !n.endsWith('.br')).sort()) {
    const size = (suffix) => {
      try {
        return statSync(join(pkg, name + suffix)).size;
      } catch {
        return null;
      }
    };
    const [raw, gz, br] = [size(''), size('.gz'), size('.br')];
    if (br !== null) brotli += br;
    if (isChunk(name)) {
      chunks.count += 1;
      chunks.raw += raw;
      chunks.gz += gz ?? 0;
      chunks.br += br ?? 0;
      continue;
    }
    console.log(`| ${name} | ${kib(raw)} | ${gz === null ? '—' : kib(gz)} | ${br === null ? '—' : kib(br)} |`);
  }
  if (chunks.count > 0) {
    console.log(`| ${chunks.count} wasm chunks of the pages loaded on demand | ${kib(chunks.raw)} | ${kib(chunks.gz)} | ${kib(chunks.br)} |`);
  }
  console.log(`Brotli total of every file (a browser that visits every page and accepts br is sent the JS, WASM and CSS among them): ${kib(brotli)}`);
}
if (wire > GOAL_BYTES) process.exitCode = 1;
