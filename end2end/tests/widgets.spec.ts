// Extension widgets and panels, and the Audit Log's search and export, in a
// real Chromium against a real server with real extensions from the local
// catalog: Query Insights' widget on the Dashboard (hidden and shown again,
// the choice kept across reloads), Webhook Relay's panel in the navigation
// with a button that runs its command (admins only), the panel gone after a
// live revoke of ui.register_panel, and the audit entries of all that found
// by search and exported as CSV and JSON.
import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { MagFlock } from '../server';
import { AdminApi, OWNER, adminApi, createUser, open, screenshot, signIn, signOut, startWithOwner } from '../console';

const AUDITOR = { email: 'avery@example.com', name: 'Avery Auditor', password: 'Careful-Audit-Pass-77' };
const WIDGET = 'magflock/query-insights#slowest-queries';

test.describe.configure({ mode: 'serial' });

let server: MagFlock;
let page: Page;
let api: AdminApi;

test.beforeAll(async ({ browser }) => {
  server = await startWithOwner();
  page = await browser.newPage();
  await signIn(page, server, OWNER);
  api = await adminApi(page, server);
  await api.install('magflock/query-insights');
  await api.install('magflock/webhook-relay');
  await createUser(page, server, AUDITOR, 'auditor');
});

test.afterAll(async () => {
  await page?.close();
  await server?.dispose();
});

test('an extension widget is on the Dashboard and stays hidden once hidden', async ({}, testInfo) => {
  await open(page, server, '/');
  const widget = page.locator(`[data-testid="widget"][data-key="${WIDGET}"]`);
  await expect(widget.getByRole('heading', { name: 'Slowest queries' })).toBeVisible();
  // The extension's declarative view, drawn by MagUI (no slow query yet: its empty state).
  await expect(widget).toContainText('No query has taken 100 ms or more yet.');
  await screenshot(page, testInfo, 'dashboard-widget');

  await widget.getByRole('button', { name: 'Hide Slowest queries' }).click();
  await expect(widget).toHaveCount(0);
  await expect(page.getByTestId('hidden-widgets')).toContainText('Slowest queries');

  // Kept for this user across a reload (saved on the server).
  await open(page, server, '/');
  await expect(page.getByTestId('hidden-widgets')).toContainText('Slowest queries');
  await expect(page.locator(`[data-testid="widget"][data-key="${WIDGET}"]`)).toHaveCount(0);

  await page.getByRole('button', { name: 'Show widget Slowest queries' }).click();
  await expect(page.locator(`[data-testid="widget"][data-key="${WIDGET}"]`)).toBeVisible();
  await expect(page.getByTestId('hidden-widgets')).toHaveCount(0);
});

test('an extension panel joins the navigation and its button runs the command', async ({}, testInfo) => {
  await open(page, server, '/');
  const link = page.getByTestId('panel-links').getByRole('link', { name: 'Webhook deliveries' });
  await link.click();
  await expect(page).toHaveURL(/\/panels\/magflock\/webhook-relay\/deliveries$/);
  const panel = page.getByTestId('panel');
  await expect(panel.getByRole('heading', { name: 'Webhook deliveries' }).first()).toBeVisible();
  await expect(panel.getByTestId('view-stat').filter({ hasText: 'Routes' })).toContainText('0');

  const retry = panel.getByRole('button', { name: /retry/i });
  await expect(retry).toBeEnabled();
  await retry.click();
  await expect(page.getByTestId('command-output')).toBeVisible();
  await screenshot(page, testInfo, 'extension-panel');
});

test('an auditor sees widgets and panels but cannot run their commands', async ({ browser }, testInfo) => {
  const auditorPage = await browser.newPage();
  await signIn(auditorPage, server, AUDITOR);
  await open(auditorPage, server, '/panels/magflock/webhook-relay/deliveries');
  const retry = auditorPage.getByTestId('panel').getByRole('button', { name: /retry/i });
  await expect(retry).toBeDisabled();
  // The server refuses the command too, whatever the page shows.
  const refused = await auditorPage.request.post(`${server.url}/api/run_view_command`, {
    form: { extension: 'magflock/webhook-relay', command: 'retry', args: '[]' },
    headers: { origin: server.url },
  });
  expect(refused.status()).toBe(403);
  await screenshot(auditorPage, testInfo, 'auditor-panel');
  await signOut(auditorPage);
  await auditorPage.close();
});

test('revoking ui.register_panel live takes the panel away', async () => {
  const revoked = await api.call('DELETE', '/v1/extensions/magflock/webhook-relay/grants/ui.register_panel');
  expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
  await open(page, server, '/');
  await expect(page.getByTestId('panel-links')).toHaveCount(0);
  await open(page, server, '/panels/magflock/webhook-relay/deliveries');
  await expect(page.getByTestId('error-page')).toContainText('ui.register_panel');
});

test('the audit log finds the command by search and exports what it shows', async ({}, testInfo) => {
  await open(page, server, '/audit?q=command_run&extension=magflock/webhook-relay');
  const rows = page.getByTestId('audit-row');
  await expect(rows.first()).toHaveAttribute('data-action', 'extension.command_run');
  await expect(page.getByTestId('audit-total')).toContainText('matching');
  await screenshot(page, testInfo, 'audit-search');

  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  expect(csv.suggestedFilename()).toMatch(/^magflock-audit-\d{4}-\d{2}-\d{2}\.csv$/);
  const lines = readFileSync(await csv.path(), 'utf8').trim().split('\r\n');
  expect(lines[0]).toBe('seq,at,actor_kind,actor_id,actor,action,target,outcome,ip,detail,hash');
  expect(lines.length).toBeGreaterThan(1);
  for (const line of lines.slice(1)) expect(line).toContain('extension.command_run');

  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  const entries = JSON.parse(readFileSync(await json.path(), 'utf8'));
  expect(entries.length).toBe(lines.length - 1);
  for (const entry of entries) {
    expect(entry.action).toBe('extension.command_run');
    expect(entry.target).toBe('magflock/webhook-relay');
    expect(entry.actor_label).toBe(OWNER.email);
  }

  // The export itself is on the record.
  await open(page, server, '/audit?action=audit.exported');
  await expect(page.getByTestId('audit-row').first()).toHaveAttribute('data-action', 'audit.exported');
});
