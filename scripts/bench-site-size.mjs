// What a browser transfers to load MagUI, measured in Debian's Chromium
// (through Playwright) against a running release server: a fresh browser
// (empty cache) opens the sign-in page, waits until the app has hydrated,
// signs in and waits for the Dashboard. Every response is recorded with its
// type, its Content-Encoding and its body size on the wire
// (`request.sizes().responseBodySize`) beside its decoded size; the total of
// JS + WASM + CSS is compared with the goal.
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
const GOAL_BYTES = 600 * 1024;

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
await browser.close();

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const assetKind = (r) => (r.url.endsWith('.wasm') ? 'wasm' : r.url.endsWith('.js') ? 'js' : r.url.endsWith('.css') ? 'css' : null);
console.log(`Accept-Encoding sent by the browser: ${responses.find((r) => assetKind(r))?.acceptEncoding ?? '?'}`);
console.log('| response | type | encoding | on the wire | decoded |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of responses) {
  console.log(`| ${r.url} | ${r.kind} | ${r.encoding} | ${kib(r.wire)} | ${kib(r.decoded)} |`);
}
const assets = responses.filter(assetKind);
const wire = assets.reduce((sum, r) => sum + r.wire, 0);
const decoded = assets.reduce((sum, r) => sum + r.decoded, 0);
const all = responses.reduce((sum, r) => sum + r.wire, 0);
console.log(`\nJS + WASM + CSS transferred: ${kib(wire)} (decoded ${kib(decoded)}); every response together: ${kib(all)}`);
console.log(`Goal ≤ ${kib(GOAL_BYTES)} compressed: ${wire <= GOAL_BYTES ? 'met' : 'MISSED'}`);

if (siteRoot) {
  const pkg = join(siteRoot, 'pkg');
  console.log(`\nFiles in ${pkg} (raw, and the precompressed copies the server sends to browsers that accept them):`);
  console.log('| file | raw | gzip | brotli |');
  console.log('| --- | --- | --- | --- |');
  let brotli = 0;
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
    console.log(`| ${name} | ${kib(raw)} | ${gz === null ? '—' : kib(gz)} | ${br === null ? '—' : kib(br)} |`);
  }
  console.log(`Brotli total (what an HTTPS browser, which also accepts br, is sent): ${kib(brotli)}`);
}
if (wire > GOAL_BYTES) process.exitCode = 1;
