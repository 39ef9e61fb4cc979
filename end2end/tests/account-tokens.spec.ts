// Personal access tokens, role templates and sign-in providers in a real
// Chromium against a real server: the owner creates a token on the Account
// page and sees it once, uses it against the gateway's admin API (works),
// revokes it in the UI through its confirmation, and the next request is
// refused. With the warden test extension (packed, signed with the build's
// first-party key and listed in a catalog of this spec's own, then
// installed through the admin API): its role templates on the Users page
// and its sign-in providers on /settings/sign-in, reached from Settings,
// without any secret.
import { test, expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MagFlock } from '../server';
import { OWNER, adminApi, open, screenshot, signIn, startWithOwner } from '../console';

const root = resolve(__dirname, '..', '..');
const WARDEN = 'test/warden';

test.describe.configure({ mode: 'serial' });

let server: MagFlock;
let page: Page;
let catalog: string;

/** A catalog holding only the warden, signed like the build's local catalog. */
function wardenCatalog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'magflock-warden-catalog-'));
  const mag = process.env.MAG_BIN ?? join(root, 'target', 'debug', 'mag');
  const key = join(root, 'target', 'first-party-key', 'magflock.secret.json');
  const mfx = join(dir, 'warden-1.0.0.mfx');
  const wasm = join(root, 'target', 'wasm32-wasip2', 'guest', 'magflock_ext_warden.wasm');
  execFileSync(mag, ['extension:pack', join(root, 'extensions', 'warden'), '--wasm', wasm, '--out', mfx]);
  execFileSync(mag, ['extension:sign', mfx, '--key', key]);
  copyFileSync(join(root, 'target', 'first-party-key', 'magflock.public.json'), join(dir, 'first-party.pub'));
  execFileSync(mag, ['catalog:build', dir, '--key', key, '--name', 'Warden (tests)']);
  return dir;
}

test.beforeAll(async ({ browser }) => {
  catalog = wardenCatalog();
  server = await startWithOwner({ MAGFLOCK_CATALOG_DIR: catalog });
  page = await browser.newPage();
  await signIn(page, server, OWNER);
});

test.afterAll(async () => {
  await page?.close();
  await server?.dispose();
  if (catalog) rmSync(catalog, { recursive: true, force: true });
});

/** `GET /gateway<path>` with the token, as a script would. */
async function withToken(token: string, path: string) {
  return page.request.get(`${server.url}/gateway${path}`, { headers: { authorization: `Bearer ${token}` } });
}

test('a token made on the Account page is shown once, works, and stops working once revoked', async ({}, testInfo) => {
  await open(page, server, '/account');
  const card = page.getByTestId('personal-tokens');
  await expect(card.getByTestId('no-tokens')).toBeVisible();

  // Refused on its field: the lifetime is 1 to 365 days.
  await page.getByLabel('Token name').fill('laptop');
  await page.getByLabel('Lifetime (days)').fill('400');
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect(card.getByRole('alert')).toContainText('1 to 365 days');
  await expect(page.getByLabel('Lifetime (days)')).toHaveAttribute('aria-invalid', 'true');

  await page.getByLabel('Lifetime (days)').fill('7');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByTestId('new-token');
  await expect(shown).toContainText('You will not see this token again');
  const secret = await page.getByLabel('New token laptop').inputValue();
  expect(secret).toMatch(/^mf_[A-Za-z0-9_-]{40,}$/);
  const row = card.locator('[data-testid="token-row"][data-name="laptop"]');
  await expect(row).toHaveAttribute('data-state', 'active');
  await expect(row).toContainText(secret.slice(0, 8));
  await shown.getByRole('button', { name: 'Copy' }).click();
  await expect(shown).toContainText(/Copied to the clipboard|did not allow copying/);
  await screenshot(page, testInfo, 'token-created-shown-once');

  // The token works at the gateway's admin API, as the owner.
  const me = await withToken(secret, '/v1/whoami');
  expect(me.status(), await me.text()).toBe(200);
  expect((await me.json()).role).toBe('owner');
  expect((await withToken(secret, '/v1/extensions')).status()).toBe(200);

  // Shown once: a reload lists it, without the secret.
  await open(page, server, '/account');
  await expect(row).toHaveAttribute('data-state', 'active');
  await expect(page.getByTestId('new-token')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret.slice(8));

  // Revoke, through the confirmation step.
  await row.getByText('Revoke', { exact: true }).click();
  await expect(row.getByText(/stop working at once/)).toBeVisible();
  await row.getByRole('button', { name: 'Yes, revoke laptop' }).click();
  await expect(card.getByRole('status').filter({ hasText: 'Revoked laptop' })).toBeVisible();
  await expect(row).toHaveAttribute('data-state', 'revoked');
  await screenshot(page, testInfo, 'token-revoked');

  // The very next request with it is refused.
  const refused = await withToken(secret, '/v1/whoami');
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error).toBe('revoked_api_key');
});

test("the Users page shows the warden's role templates and everyone's tokens", async ({}, testInfo) => {
  const api = await adminApi(page, server);
  await api.install(WARDEN);
  const defined = await api.call('POST', `/v1/extensions/${WARDEN}/commands/define-role`, {
    args: ['reviewer', 'audit.read', 'dashboard.read'],
  });
  expect(defined.status, JSON.stringify(defined.json)).toBe(200);

  await open(page, server, '/users');
  const templates = page.getByTestId('role-templates');
  await expect(templates).toContainText('A template grants nothing');
  const reviewer = templates.locator('[data-testid="role-template-row"][data-name="reviewer"]');
  await expect(reviewer).toContainText(WARDEN);
  await expect(reviewer).toContainText('audit.read');
  await expect(reviewer).toContainText('dashboard.read');

  // Owners see every user's tokens (here: the owner's two).
  const all = page.getByTestId('all-tokens');
  await expect(all.locator('[data-testid="token-row"][data-name="playwright"]')).toHaveAttribute('data-state', 'active');
  await expect(all.locator('[data-testid="token-row"][data-name="laptop"]')).toHaveAttribute('data-state', 'revoked');
  await expect(all).toContainText(OWNER.email);
  await screenshot(page, testInfo, 'users-role-templates');
});

test("Settings leads to the sign-in providers, the warden's among them, without secrets", async ({}, testInfo) => {
  await open(page, server, '/settings');
  await page.getByRole('link', { name: /View sign-in providers/ }).click();
  await expect(page).toHaveURL(/\/settings\/sign-in$/);
  await expect(page.getByRole('heading', { name: 'Sign-in providers', level: 1 })).toBeVisible();
  await expect(page.getByTestId('no-builtin-provider')).toContainText('No OpenID Connect provider is configured');

  const providers = page.getByTestId('extension-providers');
  const oidc = providers.locator('[data-testid="provider-row"][data-id="corp-oidc"]');
  await expect(oidc).toContainText('Corp OIDC');
  await expect(oidc).toContainText('https://id.corp.example');
  await expect(oidc).toHaveAttribute('data-valid', 'true');
  await expect(providers.locator('[data-testid="provider-row"][data-id="corp-saml"]')).toContainText('SAML sign-in is not available in this build');
  const broken = providers.locator('[data-testid="provider-row"][data-id="broken"]');
  await expect(broken).toHaveAttribute('data-valid', 'false');
  await expect(broken).toContainText('Invalid');
  expect(await page.content()).not.toContain('warden-secret');
  await screenshot(page, testInfo, 'sign-in-providers');
});
