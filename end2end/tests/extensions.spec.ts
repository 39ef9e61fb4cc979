// The Extensions pages in a real browser against a real server and the
// test catalog (target/test-catalog: steady 1.0.0, 1.0.1 and 1.1.0, which
// asks for one capability more). Extensions are installed through the admin
// API with a personal access token; every action is then taken in the
// browser, through its confirmation: revoke a capability live (the
// extension's next call is refused, quarantined and in the Audit Log) and
// grant it again; an upgrade with a capability diff that becomes an
// approval request; an upgrade and a rollback; disable and uninstall; an
// auditor who sees everything and can act on nothing.
import { test, expect, Page } from '@playwright/test';
import { MagFlock } from '../server';
import { OWNER, Person, adminApi, createUser, open, screenshot, signIn, signOut, startWithOwner } from '../console';

const STEADY = 'magflock/steady';
const AUDITOR: Person = { email: 'ext-auditor@example.com', name: 'Ada Auditor', password: 'Sturdy-Auditor-Pass-2026' };

let server: MagFlock;

test.beforeEach(async () => {
  server = await startWithOwner({ MAGFLOCK_CATALOG_DIR: 'target/test-catalog', MAGFLOCK_HEALTH_INTERVAL_SECS: '1' });
});

test.afterEach(async () => {
  await server?.dispose();
});

function capability(page: Page, name: string) {
  return page.locator(`[data-testid="capability"][data-capability="${name}"]`);
}

/** Opens the extension's page from the list, as an admin would. */
async function openSteady(page: Page) {
  await open(page, server, '/extensions');
  const row = page.locator(`[data-testid="extension-row"][data-extension="${STEADY}"]`);
  await expect(row.getByTestId('state')).toHaveText('Enabled');
  await row.getByRole('link', { name: 'Steady' }).click();
  await expect(page.getByRole('heading', { name: 'Steady', level: 1 })).toBeVisible();
}

test('revoke a capability live: the next call is refused and audited, then grant it again', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  const api = await adminApi(page, server);
  await api.install(STEADY, '1.0.0');
  const metric = () => api.call('POST', `/v1/extensions/${STEADY}/commands/metric`, {});
  expect((await metric()).status).toBe(200);

  await openSteady(page);
  const metrics = capability(page, 'system.metrics');
  await expect(metrics).toHaveAttribute('data-granted', 'true');
  await expect(metrics).toContainText('Report its own metrics.');
  await expect(metrics).toContainText('low risk');
  await metrics.getByText('Revoke…').click();
  await expect(metrics.getByText(/Its very next call that needs it is refused/)).toBeVisible();
  await metrics.getByRole('button', { name: 'Yes, revoke system.metrics' }).click();
  await expect(page.getByTestId('action-outcome')).toContainText('Revoked system.metrics from magflock/steady');
  await expect(capability(page, 'system.metrics')).toHaveAttribute('data-granted', 'false');

  // The extension's very next call that needs it is refused by the sandbox.
  const refused = await metric();
  expect(refused.status).toBe(502);
  expect(refused.json.message).toContain('quarantined');
  expect(refused.json.message).toContain('system.metrics');

  // …and audited: the Audit Log shows the denial.
  await open(page, server, '/audit?action=extension.quarantined');
  const denial = page.locator('[data-testid="audit-row"][data-action="extension.quarantined"]');
  await expect(denial).toHaveCount(1);
  await expect(denial).toContainText(STEADY);
  await expect(denial).toContainText('system.metrics');
  await expect(denial).toContainText('denied');
  await screenshot(page, testInfo, 'revoke-denied-and-audited');

  // The extension is quarantined with the reason; grant it again and enable.
  await open(page, server, `/extensions/${STEADY}`);
  await expect(page.getByTestId('extension-detail')).toHaveAttribute('data-state', 'quarantined');
  await expect(page.getByTestId('state-reason')).toContainText('system.metrics');
  const again = capability(page, 'system.metrics');
  await again.getByText('Grant…').click();
  await again.getByRole('button', { name: 'Yes, grant system.metrics' }).click();
  await expect(page.getByTestId('action-outcome')).toContainText('Granted system.metrics to magflock/steady again');
  await expect(capability(page, 'system.metrics')).toHaveAttribute('data-granted', 'true');
  await page.getByTestId('confirm-enable').getByText('Enable…').click();
  await page.getByRole('button', { name: 'Yes, enable it' }).click();
  await expect(page.getByTestId('action-outcome')).toContainText('Enabled magflock/steady 1.0.0');
  await expect(page.getByTestId('extension-detail')).toHaveAttribute('data-state', 'enabled');
  expect((await metric()).status).toBe(200);
});

test('an upgrade that asks for a new capability becomes an approval request with the diff', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  const api = await adminApi(page, server);
  await api.install(STEADY, '1.0.0');
  await openSteady(page);

  await page.getByTestId('confirm-upgrade').getByText('Upgrade…').click();
  const diff = page.locator('[data-testid="upgrade-diff"][data-version="1.1.0"]');
  await expect(diff).toContainText('+ system.background_jobs');
  await expect(diff).toContainText('medium risk');
  await expect(page.getByTestId('confirm-upgrade')).toContainText('it goes to Approvals');
  await page.getByLabel('Version').selectOption('1.1.0');
  await page.getByRole('button', { name: 'Upgrade to this version' }).click();
  const outcome = page.getByTestId('action-outcome');
  await expect(outcome).toContainText('Version 1.1.0 of magflock/steady asks for a capability not granted today (system.background_jobs)');
  await expect(outcome).toContainText('waits for an approval');
  await expect(page.getByTestId('version')).toHaveText('version 1.0.0');
  await screenshot(page, testInfo, 'upgrade-needs-approval');

  // The approval shows the new capability.
  await page.getByTestId('approval-link').click();
  await expect(page).toHaveURL(/\/approvals/);
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect(page.getByText('system.background_jobs').first()).toBeVisible();
  await screenshot(page, testInfo, 'upgrade-approval-request');

  // Approved, the upgrade is carried out and the new capability is held.
  const pending = await api.call('GET', '/v1/approvals?status=pending');
  const request = pending.json.requests.find((r: any) => r.kind === 'upgrade' && r.extension === STEADY);
  expect(request.plan.items[0].capabilities.filter((c: any) => c.new).map((c: any) => c.name)).toEqual(['system.background_jobs']);
  const decided = await api.call('POST', `/v1/approvals/${request.id}`, { decision: 'approve' });
  expect(decided.json.request.status).toBe('completed');
  await open(page, server, `/extensions/${STEADY}`);
  await expect(page.getByTestId('version')).toHaveText('version 1.1.0');
  await expect(capability(page, 'system.background_jobs')).toHaveAttribute('data-granted', 'true');
});

test('upgrade without new capabilities, then roll back to the kept version', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  const api = await adminApi(page, server);
  await api.install(STEADY, '1.0.0');
  await openSteady(page);

  await page.getByTestId('confirm-upgrade').getByText('Upgrade…').click();
  await page.getByLabel('Version').selectOption('1.0.1');
  await page.getByRole('button', { name: 'Upgrade to this version' }).click();
  await expect(page.getByTestId('action-outcome')).toContainText('Upgraded magflock/steady from 1.0.0 to 1.0.1');
  await expect(page.getByTestId('version')).toHaveText('version 1.0.1');
  await expect(page.getByTestId('previous-version')).toContainText('1.0.0, kept for a rollback until');

  const rollback = page.getByTestId('confirm-rollback');
  await rollback.getByText('Roll back to 1.0.0…').click();
  await expect(rollback).toContainText('newer version\'s migrations are reverted');
  await page.getByRole('button', { name: 'Yes, roll back' }).click();
  await expect(page.getByTestId('action-outcome')).toContainText('Rolled magflock/steady back from 1.0.1 to 1.0.0');
  await expect(page.getByTestId('version')).toHaveText('version 1.0.0');
  await expect(page.getByTestId('previous-version')).toHaveText('none kept');
  await expect(page.getByTestId('confirm-rollback')).toHaveCount(0);
  await expect(page.getByTestId('extension-detail')).toHaveAttribute('data-state', 'enabled');
  await screenshot(page, testInfo, 'rollback');
});

test('disable, then uninstall', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  const api = await adminApi(page, server);
  await api.install(STEADY, '1.0.0');
  await openSteady(page);

  // An enabled extension cannot be uninstalled: the page says what to do first.
  await expect(page.getByTestId('uninstall-hint')).toHaveText('To uninstall it, disable it first.');
  await expect(page.getByTestId('confirm-uninstall')).toHaveCount(0);
  await page.getByTestId('confirm-disable').getByText('Disable…').click();
  await expect(page.getByTestId('confirm-disable')).toContainText('none of its code runs until it is enabled again');
  await page.getByRole('button', { name: 'Yes, disable it' }).click();
  await expect(page.getByTestId('action-outcome')).toContainText('Disabled magflock/steady');
  await expect(page.getByTestId('extension-detail')).toHaveAttribute('data-state', 'disabled');

  const uninstall = page.getByTestId('confirm-uninstall');
  await uninstall.getByText('Uninstall…').click();
  await expect(uninstall).toContainText('This cannot be undone');
  await page.getByRole('button', { name: 'Yes, uninstall it' }).click();
  await expect(page.getByRole('heading', { name: 'Extension uninstalled' })).toBeVisible();
  await expect(page.getByTestId('action-outcome')).toContainText('Uninstalled magflock/steady');
  await screenshot(page, testInfo, 'uninstall');

  await page.getByRole('link', { name: 'Back to the installed extensions' }).click();
  await expect(page.getByTestId('no-extensions')).toBeVisible();
  const gone = await api.call('GET', `/v1/extensions/${STEADY}`);
  expect(gone.status).toBe(404);
});

test('an auditor sees every extension page but no controls, and the server refuses them', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  const api = await adminApi(page, server);
  await api.install(STEADY, '1.0.0');
  await createUser(page, server, AUDITOR, 'auditor');
  await signOut(page);
  await signIn(page, server, AUDITOR);

  await openSteady(page);
  await expect(page.getByTestId('read-only')).toContainText('Your role can see this extension but not change it');
  await expect(capability(page, 'system.metrics')).toContainText('Report its own metrics.');
  await expect(page.getByTestId('actions')).toHaveCount(0);
  await expect(page.getByText('Revoke…')).toHaveCount(0);
  await expect(page.getByText('Enable…')).toHaveCount(0);
  await expect(page.getByTestId('stats')).toBeVisible();
  await screenshot(page, testInfo, 'auditor-read-only');

  // The server refuses the auditor anyway, and records the attempt.
  const tried = await page.request.post(`${server.url}/api/disable_extension`, {
    form: { id: STEADY },
    headers: { origin: server.url },
  });
  expect(tried.status()).toBe(403);
  await open(page, server, `/extensions/${STEADY}`);
  await expect(page.getByTestId('extension-detail')).toHaveAttribute('data-state', 'enabled');
  await open(page, server, '/audit?action=auth.permission_denied');
  await expect(page.locator('[data-testid="audit-row"][data-action="auth.permission_denied"]').first()).toContainText('/api/disable_extension');

  // Health and Events are open to them too, without controls.
  await open(page, server, '/health');
  await expect(page.locator(`[data-testid="extension-health"][data-extension="${STEADY}"]`)).toBeVisible();
  await open(page, server, '/events');
  await expect(page.locator('[data-testid="count"][data-name="extension"]')).toBeVisible();
  await expect(page.getByText(/Replay all of/)).toHaveCount(0);
});
