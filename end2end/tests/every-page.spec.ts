// Every console page opened directly (typed into the address bar, a bookmark,
// a reload), with data on it: the server renders it, the browser hydrates it
// in place, without a hydration error or a panic. The pages loaded on demand
// (app/src/pages/on_demand.rs) hydrate only once their wasm chunks have
// arrived (the others hydrate in one go), so this is where a chunk that fails
// to load, or a page that renders differently in the browser than on the
// server, shows. Each page is then
// checked to be live: a link in the navigation leads to the Dashboard without
// a reload.
import { test, expect, Page } from '@playwright/test';
import { MagFlock } from '../server';
import { OWNER, open, signIn, startWithOwner } from '../console';

test.describe.configure({ mode: 'serial' });

let server: MagFlock;

test.beforeAll(async () => {
  server = await startWithOwner();
});

test.afterAll(async () => {
  await server?.dispose();
});

/** Each page's address and the heading it shows. */
const PAGES: [string, RegExp][] = [
  ['/', /^Dashboard$/],
  ['/marketplace', /^Marketplace$/],
  ['/marketplace/magflock/naming-policy', /Naming/],
  ['/approvals', /^Approvals$/],
  ['/extensions', /^Extensions$/],
  ['/health', /^Health$/],
  ['/events', /^Events$/],
  ['/projects', /^Projects$/],
  ['/audit', /^Audit Log$/],
  ['/users', /^Users$/],
  ['/settings', /^Settings$/],
  ['/settings/keys', /^Trusted keys$/],
  ['/settings/sign-in', /^Sign-in providers$/],
  ['/account', /^Your account$/],
];

/** Errors the page reports: uncaught exceptions (a wasm panic is one) and console errors
 * other than a failed request's own line. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(`console: ${message.text()}`);
    }
  });
  return errors;
}

for (const [path, heading] of PAGES) {
  test(`${path} hydrates when opened directly`, async ({ page }) => {
    const errors = collectErrors(page);
    await signIn(page, server, OWNER);
    await open(page, server, path);
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    expect(errors).toEqual([]);

    // Live: the navigation is handled by the app, not by a page load.
    await page.evaluate(() => ((window as any).__notReloaded = true));
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
    expect(await page.evaluate(() => (window as any).__notReloaded)).toBe(true);
    expect(errors).toEqual([]);
  });
}

test('the schema explorer hydrates when opened directly', async ({ page }) => {
  const errors = collectErrors(page);
  await signIn(page, server, OWNER);
  await open(page, server, '/projects');
  await page.getByLabel('Name', { exact: true }).fill('every_page');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByTestId('project-created')).toContainText('Created project every_page');
  await open(page, server, '/projects/every_page/schema');
  await expect(page.getByRole('heading', { level: 1, name: 'Schema Explorer' })).toBeVisible();
  expect(errors).toEqual([]);
});

test('the server preloads the files of a page loaded on demand', async ({ page }) => {
  await signIn(page, server, OWNER);
  const html = await (await page.request.get(`${server.url}/audit`)).text();
  // Marked for asynchronous hydration; a page of the main wasm is not.
  const asyncMark = /<meta [^>]*name="magflock-hydration"[^>]*content="async"|<meta [^>]*content="async"[^>]*name="magflock-hydration"/;
  expect(html).toMatch(asyncMark);
  expect(await (await page.request.get(`${server.url}/`)).text()).not.toMatch(asyncMark);
  const preloads = [...html.matchAll(/<link [^>]*rel="preload"[^>]*>/g)]
    .map((link) => /href="([^"]+\.wasm)"/.exec(link[0])?.[1])
    .filter((href): href is string => !!href && href !== '/pkg/magflock.wasm');
  // The Audit Log's own file, and every file it needs is there to fetch.
  expect(preloads.some((href) => /^\/pkg\/split___audit_view_\d+\.wasm$/.test(href)), preloads.join(' ')).toBe(true);
  for (const href of preloads) {
    expect((await page.request.get(`${server.url}${href}`)).status(), href).toBe(200);
  }
  // The page still hydrates, with those files fetched once.
  const fetched: string[] = [];
  page.on('request', (request) => fetched.push(new URL(request.url()).pathname));
  await open(page, server, '/audit');
  for (const href of preloads) {
    expect(fetched.filter((path) => path === href), href).toHaveLength(1);
  }
});
