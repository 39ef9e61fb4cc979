// Single sign-on with OpenID Connect, for real: a certified provider
// (`oidc-provider`, see ../oidc-provider.mjs) started by the test, MagFlock
// configured for it by the admin's MAGFLOCK_OIDC_* settings, and Chromium
// clicking through: "Sign in with ...", the provider's sign-in and consent
// pages, and back into MagUI as a new user with the default role. And
// refused, back on the sign-in page with its error and no session, when the
// provider's ID token is for another audience or badly signed (the provider
// started with OIDC_TAMPER spoils its own answer).
import { test, expect, Page } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { MagFlock, freePort } from '../server';

const OWNER = { email: 'owner@example.com', name: 'Olivia Owner', password: 'Sturdy-Flock-Pass-2026' };
const CLIENT = { id: 'magflock-e2e', secret: 'e2e-client-secret-not-for-production' };

test.describe.configure({ mode: 'serial' });

let server: MagFlock;
let provider: ChildProcess;

async function startProvider(port: number, redirectUri: string, tamper = ''): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(resolve(__dirname, '..'), 'oidc-provider.mjs')], {
    env: {
      ...process.env,
      OIDC_PORT: String(port),
      OIDC_REDIRECT_URI: redirectUri,
      OIDC_CLIENT_ID: CLIENT.id,
      OIDC_CLIENT_SECRET: CLIENT.secret,
      OIDC_TAMPER: tamper,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`oidc-provider did not start:\n${output}`)), 30_000);
    const watch = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('oidc-provider ready')) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout!.on('data', watch);
    child.stderr!.on('data', watch);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`oidc-provider exited with ${code}:\n${output}`));
    });
  });
  return child;
}

/** MagFlock signing in with a provider (tampering as `tamper` says) started for it. */
async function startBoth(tamper = ''): Promise<{ server: MagFlock; provider: ChildProcess }> {
  const providerPort = await freePort();
  // Discovery happens at the first sign-in, so MagFlock can start first (its
  // port is the provider's redirect URI).
  const server = await MagFlock.start({
    MAGFLOCK_ADMIN_EMAIL: OWNER.email,
    MAGFLOCK_ADMIN_NAME: OWNER.name,
    MAGFLOCK_ADMIN_PASSWORD: OWNER.password,
    MAGFLOCK_OIDC_ISSUER: `http://127.0.0.1:${providerPort}`,
    MAGFLOCK_OIDC_CLIENT_ID: CLIENT.id,
    MAGFLOCK_OIDC_CLIENT_SECRET: CLIENT.secret,
    MAGFLOCK_OIDC_NAME: 'Flock ID',
  });
  const provider = await startProvider(providerPort, `${server.url}/auth/oidc/callback`, tamper);
  return { server, provider };
}

async function stopBoth(server?: MagFlock, provider?: ChildProcess) {
  if (provider && provider.exitCode === null) {
    await new Promise<void>((ok) => {
      provider.once('exit', () => ok());
      provider.kill('SIGTERM');
    });
  }
  await server?.dispose();
}

test.beforeAll(async () => {
  ({ server, provider } = await startBoth());
});

test.afterAll(async () => {
  await stopBoth(server, provider);
});

async function open(page: Page, path: string) {
  await page.goto(`${server.url}${path}`);
  await page.locator('body[data-hydrated="true"]').waitFor();
}

async function signInAtProvider(page: Page) {
  await page.getByRole('link', { name: 'Sign in with Flock ID' }).click();
  // The provider's own pages.
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/interaction\//);
  await page.locator('input[name="login"]').fill('sam');
  await page.locator('input[name="password"]').fill('anything');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

test('first sign-in with the provider creates an auditor and lands on the dashboard', async ({ page }) => {
  await open(page, '/login');
  await signInAtProvider(page);

  await expect(page).toHaveURL(`${server.url}/`);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('current-user')).toContainText('Sam Single-Sign-On');

  // The default role: an auditor reads the audit log, and finds its sign-in there.
  await open(page, '/audit');
  await expect(page.getByText('sam.sso@example.com').first()).toBeVisible();
  await expect(page.getByText('auth.login').first()).toBeVisible();

  // ...but may not manage users.
  const session = await page.request.post(`${server.url}/api/current_session`, {
    headers: { origin: server.url },
  });
  const state = await session.json();
  expect(state.user.email).toBe('sam.sso@example.com');
  expect(state.user.role).toBe('auditor');
});

test('signing in again finds the same user by the linked identity', async ({ page }) => {
  await open(page, '/login');
  await signInAtProvider(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('current-user')).toContainText('Sam Single-Sign-On');

  // The owner sees one SSO account, with the auditor role.
  const owner = await page.context().browser()!.newContext();
  const ownerPage = await owner.newPage();
  await ownerPage.goto(`${server.url}/login`);
  await ownerPage.locator('body[data-hydrated="true"]').waitFor();
  await ownerPage.getByLabel('Email').fill(OWNER.email);
  await ownerPage.getByLabel('Password').fill(OWNER.password);
  await ownerPage.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(ownerPage.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await ownerPage.goto(`${server.url}/users`);
  await ownerPage.locator('body[data-hydrated="true"]').waitFor();
  const samRole = ownerPage.getByRole('combobox', { name: 'Role of sam.sso@example.com' });
  await expect(samRole).toHaveCount(1);
  await expect(samRole).toHaveValue('auditor');
  await owner.close();
});

for (const tamper of ['wrong-audience', 'bad-signature']) {
  test(`an ID token with ${tamper.replace('-', ' ')} is refused on the sign-in page`, async ({ page }) => {
    const both = await startBoth(tamper);
    try {
      await page.goto(`${both.server.url}/login`);
      await page.locator('body[data-hydrated="true"]').waitFor();
      await signInAtProvider(page);

      await expect(page).toHaveURL(`${both.server.url}/login?sso=failed`);
      await expect(page.getByRole('alert')).toHaveText('Single sign-on did not complete. Try again.');
      const session = await page.request.post(`${both.server.url}/api/current_session`, {
        headers: { origin: both.server.url },
      });
      expect((await session.json()).user).toBeNull();
    } finally {
      await stopBoth(both.server, both.provider);
    }
  });
}
