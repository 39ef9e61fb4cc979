// The trust store in MagUI: the build's first-party key is trusted at first
// start; an admin adds a publisher's key by pasting its .public.json, a forged
// one is refused with the reason, the key is removed again, and the owner
// switches the clearly flagged development setting on and off. All audited.
import { test, expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MagFlock } from '../server';

const OWNER = { email: 'keys-owner@example.com', name: 'Kim Owner', password: 'Sturdy-Flock-Pass-2026' };
const root = resolve(__dirname, '..', '..');

test.describe.configure({ mode: 'serial' });

let server: MagFlock;
let keysDir: string;

test.beforeAll(async () => {
  server = await MagFlock.start({
    MAGFLOCK_ADMIN_EMAIL: OWNER.email,
    MAGFLOCK_ADMIN_NAME: OWNER.name,
    MAGFLOCK_ADMIN_PASSWORD: OWNER.password,
  });
  keysDir = mkdtempSync(join(tmpdir(), 'magflock-keys-'));
});

test.afterAll(async () => {
  await server?.dispose();
  rmSync(keysDir, { recursive: true, force: true });
});

async function open(page: Page, path: string) {
  await page.goto(`${server.url}${path}`);
  await page.locator('body[data-hydrated="true"]').waitFor();
}

/** A publisher key made with the real `mag keys:generate`. */
function publisherKey(name: string): string {
  const mag = process.env.MAG_BIN ?? join(root, 'target', 'debug', 'mag');
  execFileSync(mag, ['keys:generate', '--publisher', name, '--out', keysDir]);
  return readFileSync(join(keysDir, `${name}.public.json`), 'utf8');
}

test('trusted keys: add a publisher, refuse a forgery, remove, development setting', async ({ page }) => {
  await open(page, '/login');
  await page.getByLabel('Email').fill(OWNER.email);
  await page.getByLabel('Password').fill(OWNER.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  await open(page, '/settings');
  await page.getByRole('link', { name: /Manage trusted keys/ }).click();
  await expect(page.getByRole('heading', { name: 'Trusted keys' })).toBeVisible();
  // The first start trusted the build's first-party key (target/catalog/first-party.pub).
  await expect(page.getByTestId('keys-table')).toContainText('First-party');
  await expect(page.getByTestId('allow-unsigned')).toHaveAttribute('data-state', 'off');

  const acme = publisherKey('acme');
  const keyId = JSON.parse(acme).key_id as string;
  const forged = JSON.stringify({ ...JSON.parse(acme), key_id: '00'.repeat(16) });
  await page.getByLabel("Publisher's public key file (.public.json)").fill(forged);
  await page.getByRole('button', { name: 'Trust this key' }).click();
  await expect(page.getByText('key_id does not match the key')).toBeVisible();

  await page.getByLabel("Publisher's public key file (.public.json)").fill(acme);
  await page.getByRole('button', { name: 'Trust this key' }).click();
  await expect(page.locator('main').getByRole('status')).toContainText(`Trusted acme's key ${keyId} as Verified publisher`);
  const row = page.locator(`[data-testid="key-row"][data-key-id="${keyId}"]`);
  await expect(row).toContainText('Verified publisher');

  await row.getByText('Remove', { exact: true }).click();
  await row.getByRole('button', { name: `Remove key ${keyId} of acme` }).click();
  await expect(row).toHaveCount(0);

  await page.getByText('Allow unsigned packages…').click();
  await page.getByRole('button', { name: 'Yes, allow unsigned packages' }).click();
  await expect(page.getByTestId('allow-unsigned')).toHaveAttribute('data-state', 'on');
  await page.getByRole('button', { name: 'Require signatures again' }).click();
  await expect(page.getByTestId('allow-unsigned')).toHaveAttribute('data-state', 'off');

  await open(page, '/audit?action=trust.');
  await expect(page.getByText('trust.key_added').first()).toBeVisible();
  await expect(page.getByText('trust.key_removed').first()).toBeVisible();
  await page.screenshot({ path: 'end2end/test-results/trusted-keys.png', fullPage: true });
});
