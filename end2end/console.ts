// What every console spec does: open a page and wait for hydration, sign in
// and out, save a screenshot of a flow as a test artifact, and start a server
// whose owner exists from the first start (MAGFLOCK_ADMIN_*).
import { expect, Page, TestInfo } from '@playwright/test';
import { MagFlock } from './server';

export type Person = { email: string; name: string; password: string };

export const OWNER: Person = { email: 'owner@example.com', name: 'Olivia Owner', password: 'Sturdy-Flock-Pass-2026' };

/** A server whose owner account is created at its first start. */
export async function startWithOwner(env: Record<string, string> = {}): Promise<MagFlock> {
  return MagFlock.start({
    MAGFLOCK_ADMIN_EMAIL: OWNER.email,
    MAGFLOCK_ADMIN_NAME: OWNER.name,
    MAGFLOCK_ADMIN_PASSWORD: OWNER.password,
    ...env,
  });
}

/** Opens a page and waits until the browser app has taken over from the server HTML. */
export async function open(page: Page, server: MagFlock, path: string) {
  const response = await page.goto(`${server.url}${path}`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  return response;
}

export async function signIn(page: Page, server: MagFlock, who: { email: string; password: string }) {
  await open(page, server, '/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

export async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
}

/** Saves the page as `<name>.png` among the test's artifacts (end2end/test-results). */
export async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

/** The admin API (`/gateway/v1/...`) as a script uses it, with a personal access token. */
export class AdminApi {
  constructor(readonly server: MagFlock, readonly token: string) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const response = await fetch(`${this.server.url}/gateway${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json: any = text;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, json };
  }

  /** Installs `id` (at exactly `version` when given) from the catalogs,
   * approving every capability it asks for; enabled unless told otherwise. */
  async install(id: string, version?: string, enable = true): Promise<void> {
    const asked = await this.call('POST', '/v1/extensions', { id, enable, ...(version ? { version: `=${version}` } : {}) });
    expect(asked.status, JSON.stringify(asked.json)).toBe(202);
    const decided = await this.call('POST', `/v1/approvals/${asked.json.request.id}`, { decision: 'approve' });
    expect(decided.status, JSON.stringify(decided.json)).toBe(200);
    expect(decided.json.request.status).toBe('completed');
  }
}

/** A personal access token for the user signed in on `page` (made from the browser session). */
export async function adminApi(page: Page, server: MagFlock): Promise<AdminApi> {
  const made = await page.request.post(`${server.url}/gateway/v1/tokens`, {
    data: { name: 'playwright' },
    headers: { origin: server.url },
  });
  expect([200, 201], await made.text()).toContain(made.status());
  return new AdminApi(server, (await made.json()).token);
}

/** Creates an account through the Users server function, as the signed-in owner or admin on `page`. */
export async function createUser(page: Page, server: MagFlock, who: Person, role: 'owner' | 'admin' | 'auditor') {
  const made = await page.request.post(`${server.url}/api/create_user`, {
    form: { email: who.email, display_name: who.name, role, password: who.password },
    headers: { origin: server.url },
  });
  expect(made.status(), await made.text()).toBe(200);
}
