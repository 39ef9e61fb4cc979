// The Health page in a real browser against a real server (test catalog,
// health monitor every second): the figures and charts of a running
// extension update live without a reload, and when the hostile test
// extension's request filter overruns its deadline the kernel stops it and
// the alert appears as a notification, in the history and in its card, all
// on the open page, without a reload.
import { test, expect } from '@playwright/test';
import { MagFlock } from '../server';
import { OWNER, adminApi, open, screenshot, signIn, startWithOwner } from '../console';

const STEADY = 'magflock/steady';
const HOSTILE = 'test/hostile';

let server: MagFlock;

test.beforeEach(async () => {
  server = await startWithOwner({ MAGFLOCK_CATALOG_DIR: 'target/test-catalog', MAGFLOCK_HEALTH_INTERVAL_SECS: '1' });
});

test.afterEach(async () => {
  await server?.dispose();
});

test('live charts, and a hostile extension stopped with the alert shown without a reload', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  const api = await adminApi(page, server);
  await api.install(STEADY, '1.0.0');

  await open(page, server, '/health');
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('no-incidents')).toBeVisible();
  // Marks this document: a reload would lose it.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const steady = page.locator(`[data-testid="extension-health"][data-extension="${STEADY}"]`);
  await expect(steady).toHaveAttribute('data-state', 'enabled');

  // Calls made now show up in the numbers and the charts, live.
  for (let i = 0; i < 6; i++) {
    const ping = await api.call('POST', `/v1/extensions/${STEADY}/commands/ping`, {});
    expect(ping.status).toBe(200);
  }
  await expect(steady.getByTestId('calls')).toContainText(/Calls\s*[6-9]|Calls\s*\d\d/);
  await expect(steady.getByTestId('chart-calls').locator('polyline').first()).toBeVisible();
  await expect(steady.getByTestId('last-check')).toContainText('Healthy');
  const stamp = await page.getByTestId('updated-at').textContent();
  await expect(page.getByTestId('updated-at')).not.toHaveText(stamp ?? '');
  await screenshot(page, testInfo, 'health-live');

  // The hostile extension: enabled, then any API request runs its request
  // filter, which overruns its 50 ms deadline; the kernel stops it.
  await api.install(HOSTILE, undefined, true);
  const hostile = page.locator(`[data-testid="extension-health"][data-extension="${HOSTILE}"]`);
  await expect(hostile).toHaveAttribute('data-state', 'enabled');
  const health = await api.call('GET', '/v1/health');
  expect(health.status).toBe(200);

  const toast = page.locator(`[data-testid="notification"][data-extension="${HOSTILE}"]`);
  await expect(toast).toBeVisible({ timeout: 30_000 });
  await expect(toast).toContainText('Quarantined: test/hostile');
  await expect(toast).toContainText('stopped by the kernel');
  await expect(page.getByRole('region', { name: 'Notifications' }).getByRole('status')).toContainText('Quarantined: test/hostile');
  await expect(hostile).toHaveAttribute('data-state', 'quarantined');
  await expect(hostile).toContainText('deadline');
  await expect(page.locator(`[data-testid="incident"][data-extension="${HOSTILE}"]`)).toHaveAttribute('data-kind', 'quarantined');
  await expect(page.getByTestId('alert-badge')).toHaveAttribute('data-count', '1');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await screenshot(page, testInfo, 'hostile-stopped-alert');

  // The notification can be dismissed; the history keeps it.
  await toast.getByRole('button', { name: `Dismiss the notification about ${HOSTILE}` }).click();
  await expect(toast).toHaveCount(0);
  await expect(page.locator(`[data-testid="incident"][data-extension="${HOSTILE}"]`)).toHaveCount(1);
});
