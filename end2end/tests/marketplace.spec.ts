// The Marketplace and Approvals in a real browser against a real server and
// the build's signed local catalog (target/catalog): the owner searches and
// filters (the filters live in the URL), opens an extension's page (its
// capabilities with their risk, its README rendered), requests the install,
// unticks one capability in Approvals and approves the rest with a comment;
// the result says the extension is enabled with only the chosen capability.
// An auditor sees the queue but no controls, and the server refuses their
// decision anyway. The request they saw is then approved in part and the
// extension's widget appears on the Dashboard.
import { test, expect, Page } from '@playwright/test';
import { MagFlock } from '../server';
import { OWNER, open, screenshot, signIn, signOut, startWithOwner } from '../console';

const AUDITOR = { email: 'market-auditor@example.com', name: 'Avery Auditor', password: 'Sturdy-Auditor-Pass-2026' };
const NAMING = 'magflock/naming-policy';
const INSIGHTS = 'magflock/query-insights';

test.describe.configure({ mode: 'serial' });

let server: MagFlock;

test.beforeAll(async () => {
  server = await startWithOwner();
});

test.afterAll(async () => {
  await server?.dispose();
});

function card(page: Page, id: string) {
  return page.locator(`[data-testid="listing-card"][data-id="${id}"]`);
}

test('the owner finds an extension, installs it and approves only part of what it asks', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Marketplace' }).click();
  await expect(page.getByRole('heading', { name: 'Marketplace', level: 1 })).toBeVisible();
  await expect(page.locator('[data-testid="listing-card"]')).toHaveCount(3);
  await expect(card(page, NAMING).getByTestId('signature-badge')).toHaveText('First-party');
  await expect(card(page, NAMING).getByTestId('risk-badge')).toHaveText('Critical risk');

  // Search and filter: a GET form, so the filtered view is a link.
  await page.getByLabel('Search', { exact: true }).fill('naming');
  await page.getByLabel('Category').selectOption('governance');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/[?&]q=naming/);
  await expect(page).toHaveURL(/[?&]category=governance/);
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect(page.locator('[data-testid="listing-card"]')).toHaveCount(1);
  await expect(card(page, NAMING)).toBeVisible();
  await expect(page.getByTestId('listing-count')).toHaveText('1 of 3 extensions match');
  const filtered = page.url();
  await page.getByLabel('Requests capability').selectOption('network.outbound');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByTestId('no-listings')).toContainText('No extension matches these filters.');
  await open(page, server, new URL(filtered).pathname + new URL(filtered).search);
  await expect(page.getByLabel('Search', { exact: true })).toHaveValue('naming');
  await expect(page.locator('[data-testid="listing-card"]')).toHaveCount(1);
  await screenshot(page, testInfo, 'marketplace-search');

  // The detail: every capability in plain words, its risk and why; the README.
  await card(page, NAMING).getByRole('link', { name: 'Naming Policy' }).click();
  await expect(page.getByRole('heading', { name: 'Naming Policy', level: 1 })).toBeVisible();
  const admin = page.locator('[data-testid="capability"][data-capability="database.admin"]');
  await expect(admin.getByTestId('risk-badge')).toHaveText('Critical risk');
  await expect(admin).toContainText('Create and drop databases');
  await expect(admin).toContainText('Why it asks:');
  await expect(page.locator('[data-testid="capability"][data-capability="api.register_endpoint"] [data-testid="risk-badge"]')).toHaveText('Medium risk');
  await expect(page.getByTestId('capability-summary')).toContainText('1 critical');
  const readme = page.getByTestId('readme');
  await expect(readme.getByRole('heading', { name: 'Naming Policy (magflock/naming-policy)' })).toBeVisible();
  await expect(readme.getByRole('heading', { name: 'Rules' })).toBeVisible();
  await expect(readme.locator('ol > li').first()).toContainText('a name is required');
  await expect(page.getByTestId('compatibility')).toContainText('Runs on this MagFlock.');
  await screenshot(page, testInfo, 'marketplace-detail');

  // Install asks first, then queues the request and links to it.
  await page.getByTestId('install-button').click();
  await expect(page.getByTestId('install-confirm')).toContainText('Nothing is installed yet');
  await page.getByRole('button', { name: 'Request installation' }).click();
  await expect(page.getByTestId('install-requested')).toContainText('Install request sent (magflock/naming-policy 1.0.0)');
  await expect(page.getByTestId('install-state')).toHaveAttribute('data-state', 'pending');
  await page.getByTestId('install-requested').getByRole('link', { name: 'Open the request' }).click();
  await expect(page).toHaveURL(/\/approvals#request-/);
  await expect(page.getByRole('heading', { name: 'Approvals', level: 1 })).toBeVisible();

  // Approvals: the request with what it asks; untick the critical one.
  const request = page.locator('[data-testid="approval-request"][data-state="pending"]');
  await expect(request).toHaveCount(1);
  await expect(request).toContainText(`Requested by ${OWNER.email}`);
  await expect(request.locator('[data-capability="database.admin"] [data-testid="risk-badge"]')).toHaveText('Critical risk');
  await expect(request.locator('[data-capability="api.register_endpoint"]')).toContainText('Add new HTTP API endpoints');
  // Every capability starts ticked; untick all but the endpoint one.
  const boxes = request.getByRole('checkbox');
  const total = await boxes.count();
  expect(total).toBeGreaterThanOrEqual(2);
  for (let i = 0; i < total; i++) await expect(boxes.nth(i)).toBeChecked();
  const names = await request.locator('[data-testid="capability"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-capability')!));
  for (const name of names.filter((n) => n !== 'api.register_endpoint')) {
    await request.getByLabel(`Grant ${name} to ${NAMING}`).uncheck();
  }
  await expect(request.getByTestId('approve-selected-button')).toHaveText(`Approve selected (1 of ${total})…`);
  await request.getByLabel('Comment (optional)').fill('The endpoint only; no database administration.');
  await request.getByTestId('approve-selected-button').click();
  const confirmation = request.getByTestId('selected-confirmation');
  await expect(confirmation.getByTestId('will-grant')).toHaveText(`${NAMING}: api.register_endpoint, medium risk`);
  await expect(confirmation.getByTestId('will-refuse')).toContainText(`${NAMING}: database.admin, critical risk`);
  await screenshot(page, testInfo, 'approvals-confirm-subset');
  await confirmation.getByRole('button', { name: 'Yes, grant the selected' }).click();

  // Installed and enabled with exactly the one capability.
  const result = page.getByTestId('decision-result');
  await expect(result).toHaveAttribute('data-state', 'completed');
  const outcome = result.locator(`[data-testid="outcome"][data-extension="${NAMING}"]`);
  await expect(outcome).toHaveAttribute('data-state', 'enabled');
  await expect(outcome.getByTestId('outcome-granted')).toHaveText('api.register_endpoint');
  await expect(outcome.getByRole('link', { name: 'Open the extension' })).toHaveAttribute('href', `/extensions/${NAMING}`);
  await expect(page.getByTestId('no-pending')).toBeVisible();
  const done = page.locator('[data-testid="approval-request"][data-state="completed"]');
  await expect(done).toContainText(`Decided by ${OWNER.email}`);
  await expect(done.getByTestId('decision-comment')).toContainText('The endpoint only; no database administration.');
  await expect(done.getByTestId('granted')).toContainText(`${NAMING}: api.register_endpoint`);
  await expect(done.getByTestId('granted')).not.toContainText('database.admin');
  await screenshot(page, testInfo, 'approvals-approved-subset');

  // The Extensions page agrees: enabled, with only the endpoint capability granted.
  await outcome.getByRole('link', { name: 'Open the extension' }).click();
  const extension = page.locator(`[data-testid="extension-detail"][data-extension="${NAMING}"]`);
  await expect(extension).toHaveAttribute('data-state', 'enabled');
  await expect(extension.locator('[data-testid="granted"] [data-testid="capability"]')).toHaveCount(1);
  await expect(extension.locator('[data-testid="granted"] [data-capability="api.register_endpoint"]')).toHaveCount(1);
  await expect(extension.locator('[data-testid="not-granted"] [data-capability="database.admin"]')).toHaveCount(1);

  // The Marketplace now says it is installed, and the detail links to it.
  await open(page, server, '/marketplace');
  await expect(card(page, NAMING).getByTestId('installed-marker')).toHaveText('Installed v1.0.0');
  await open(page, server, `/marketplace/${NAMING}`);
  await expect(page.getByTestId('install-state')).toHaveAttribute('data-state', 'installed');
  await expect(page.getByRole('link', { name: 'Manage it on the Extensions page' })).toHaveAttribute('href', `/extensions/${NAMING}`);
  await signOut(page);
});

test('an auditor sees the queue and the risks but cannot decide', async ({ page }, testInfo) => {
  // The owner creates the auditor and leaves a request waiting.
  await signIn(page, server, OWNER);
  await open(page, server, '/users');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Create user' }) });
  await form.getByLabel('Email').fill(AUDITOR.email);
  await form.getByLabel('Display name').fill(AUDITOR.name);
  await form.getByLabel('Role').selectOption('auditor');
  await form.getByLabel('Initial password').fill(AUDITOR.password);
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByText(`Created ${AUDITOR.email} as Auditor.`)).toBeVisible();
  await open(page, server, `/marketplace/${INSIGHTS}`);
  await page.getByTestId('install-button').click();
  await page.getByRole('button', { name: 'Request installation' }).click();
  await expect(page.getByTestId('install-requested')).toBeVisible();
  await signOut(page);

  await signIn(page, server, AUDITOR);
  await open(page, server, '/approvals');
  await expect(page.getByTestId('read-only-note')).toBeVisible();
  const request = page.locator('[data-testid="approval-request"][data-state="pending"]');
  await expect(request).toHaveCount(1);
  await expect(request.locator('[data-capability="database.read"] [data-testid="risk-badge"]')).toHaveText('Medium risk');
  await expect(request.getByRole('checkbox')).toHaveCount(0);
  await expect(page.getByText('Approve all…')).toHaveCount(0);
  await expect(page.getByTestId('decision-form')).toHaveCount(0);
  // The decided request of the first flow is in the history for them too.
  await expect(page.locator('[data-testid="approval-request"][data-state="completed"]')).toContainText(NAMING);
  await screenshot(page, testInfo, 'approvals-auditor-read-only');

  // The server refuses the auditor's decision even without the controls.
  const id = await request.getAttribute('data-request');
  const refused = await page.request.post(`${server.url}/api/decide_approval`, {
    form: { request_id: id!, decision: 'approve' },
    headers: { origin: server.url },
  });
  expect(refused.status()).toBe(403);
  await page.reload();
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect(page.locator('[data-testid="approval-request"][data-state="pending"]')).toHaveCount(1);

  // On the extension's page, Install is disabled with the reason.
  await open(page, server, '/marketplace/magflock/webhook-relay');
  await expect(page.getByTestId('install-button')).toBeDisabled();
  await expect(page.getByText('Only owners and admins can install extensions')).toBeVisible();
  await expect(page.locator('[data-capability="network.outbound"] [data-testid="capability-hosts"]')).toContainText('hooks.example.com');
  await signOut(page);
});

test('an extension approved in part shows its widget on the Dashboard', async ({ page }, testInfo) => {
  // The Query Insights request left waiting above: grant all but realtime.subscribe_events.
  await signIn(page, server, OWNER);
  await open(page, server, '/approvals');
  const request = page.locator('[data-testid="approval-request"][data-state="pending"]');
  await expect(request).toHaveCount(1);
  await expect(request).toContainText(INSIGHTS);
  await request.getByLabel(`Grant realtime.subscribe_events to ${INSIGHTS}`).uncheck();
  await request.getByTestId('approve-selected-button').click();
  const confirmation = request.getByTestId('selected-confirmation');
  await expect(confirmation.getByTestId('will-refuse')).toContainText(`${INSIGHTS}: realtime.subscribe_events`);
  await confirmation.getByRole('button', { name: 'Yes, grant the selected' }).click();
  const outcome = page.getByTestId('decision-result').locator(`[data-testid="outcome"][data-extension="${INSIGHTS}"]`);
  await expect(outcome).toHaveAttribute('data-state', 'enabled');
  await expect(outcome.getByTestId('outcome-granted')).toContainText('ui.register_widget');
  await expect(outcome.getByTestId('outcome-granted')).not.toContainText('realtime.subscribe_events');

  // The Dashboard now carries its widget, drawn by MagUI from the extension's view.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  const widget = page.locator(`[data-testid="widget"][data-key="${INSIGHTS}#slowest-queries"]`);
  await expect(widget.getByRole('heading', { name: 'Slowest queries' })).toBeVisible();
  await expect(widget).toContainText('No query has taken 100 ms or more yet.');
  await screenshot(page, testInfo, 'dashboard-widget-after-approval');
  await signOut(page);
});
