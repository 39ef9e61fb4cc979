// The first hour of an admin's life with MagFlock, in a real Chromium against a
// real server: first-run setup, sign-in, a hydrated console, users and roles,
// the audit log and its chain, sign-out, and a session that survives a restart.
import { test, expect, Page } from '@playwright/test';
import { MagFlock } from '../server';

const OWNER = { email: 'owner@example.com', name: 'Olivia Owner', password: 'Sturdy-Flock-Pass-2026' };
const AUDITOR = { email: 'audrey@example.com', name: 'Audrey Auditor', password: 'Careful-Audit-Pass-77' };

test.describe.configure({ mode: 'serial' });

let server: MagFlock;

test.beforeAll(async () => {
  server = await MagFlock.start();
});

test.afterAll(async () => {
  await server?.dispose();
});

/** Opens a page and waits until the browser app has taken over from the server HTML. */
async function open(page: Page, path: string) {
  const response = await page.goto(`${server.url}${path}`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  return response;
}

async function signIn(page: Page, who: { email: string; password: string }) {
  await open(page, '/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
}

test('first-run setup, then every page leads nowhere else', async ({ page }) => {
  await open(page, '/audit');
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByRole('heading', { name: 'Welcome to MagFlock' })).toBeVisible();

  await page.getByLabel('Email').fill(OWNER.email);
  await page.getByLabel('Display name').fill(OWNER.name);
  // The strength hint reacts while typing (only once the page is hydrated).
  await page.getByLabel('Password', { exact: true }).fill('short');
  await expect(page.getByTestId('password-strength')).toContainText('at least 12 characters');
  await page.getByLabel('Password', { exact: true }).fill(OWNER.password);
  await expect(page.getByTestId('password-strength')).toHaveText('Strong enough.');
  await page.getByLabel('Confirm password').fill(OWNER.password);
  await page.getByRole('button', { name: 'Create owner account' }).click();

  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('current-user')).toContainText(OWNER.name);
  await signOut(page);

  // Setup is closed now.
  await open(page, '/setup');
  await expect(page).toHaveURL(/\/login$/);
});

test('the owner signs in to a hydrated console and creates an auditor', async ({ page }) => {
  await signIn(page, OWNER);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  // Hydration: the theme switch is client-side only.
  const toggle = page.getByTestId('theme-toggle');
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await toggle.click();
  await expect(page.locator('html')).toHaveClass(/dark/);
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await toggle.click();
  await expect(page.locator('html')).not.toHaveClass(/dark/);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Marketplace' }).click();
  await expect(page.getByRole('heading', { name: 'Marketplace' })).toBeVisible();

  await page.getByRole('link', { name: 'Users' }).click();
  await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible();
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Create user' }) });
  await form.getByLabel('Email').fill(AUDITOR.email);
  await form.getByLabel('Display name').fill(AUDITOR.name);
  await form.getByLabel('Role').selectOption('auditor');
  await form.getByLabel('Initial password').fill(AUDITOR.password);
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.locator('main').getByRole('status')).toContainText(`Created ${AUDITOR.email} as Auditor.`);
  await expect(page.locator(`[data-testid="user-row"][data-email="${AUDITOR.email}"]`)).toBeVisible();
  await signOut(page);
});

test('a wrong password shows an error and reveals nothing', async ({ page }) => {
  await signIn(page, { email: AUDITOR.email, password: 'not-the-password' });
  await expect(page.getByRole('alert')).toHaveText('The email or password is incorrect.');
  await signIn(page, { email: 'nobody@example.com', password: 'not-the-password' });
  await expect(page.getByRole('alert')).toHaveText('The email or password is incorrect.');
});

test('the auditor cannot open Users, and sees the audit trail verify', async ({ page }) => {
  await signIn(page, AUDITOR);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toHaveCount(0);

  const response = await open(page, '/users');
  expect(response?.status()).toBe(403);
  await expect(page.getByRole('heading', { name: "You don't have access to this page" })).toBeVisible();

  await open(page, '/audit');
  const actions = page.getByTestId('audit-row');
  for (const action of ['setup.owner_created', 'auth.login', 'user.created', 'auth.logout', 'auth.permission_denied']) {
    await expect(page.locator(`[data-testid="audit-row"][data-action="${action}"]`).first()).toBeVisible();
  }
  await expect(actions.filter({ hasText: 'failure' }).first()).toBeVisible();

  // Filter by action prefix through the URL-backed form.
  await page.getByLabel('Action').fill('user.');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=user\./);
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect(page.getByTestId('audit-total')).toHaveText('1 matching entry');

  await page.getByTestId('verify-chain').click();
  await expect(page.getByTestId('chain-status')).toHaveAttribute('data-intact', 'true');
  await expect(page.getByTestId('chain-status')).toContainText('Chain intact');
});

test('a session survives a server restart, then signs out', async ({ page }) => {
  await signIn(page, AUDITOR);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await server.restart();
  await open(page, '/settings');
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await expect(page.getByText('Your role can view these settings but not change them.')).toBeVisible();
  await signOut(page);
  await page.goto(`${server.url}/`);
  await expect(page).toHaveURL(/\/login$/);
});
