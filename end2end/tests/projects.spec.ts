// Projects and the Schema Explorer in real Chromium, with the Naming Policy
// extension installed from the local catalog: a name the policy refuses is
// shown next to the name field and nothing is created; a valid project is
// created; a migration run from the explorer shows its table with columns
// and indexes, and the extension's Naming tab (fed by after_schema_change);
// an auditor sees everything but cannot act; the project is deleted after
// typing its name. One screenshot per flow.
import { test, expect, Page } from '@playwright/test';
import { OWNER, adminApi, createUser, open, screenshot, signIn, signOut, startWithOwner } from '../console';
import { MagFlock } from '../server';

test.describe.configure({ mode: 'serial' });

const AUDITOR = { email: 'projects-auditor@example.com', name: 'Ada Auditor', password: 'Sturdy-Audit-Pass-2026' };
const PROJECT = 'sales_eu';
const MIGRATION =
  "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, note TEXT DEFAULT 'none');\n" +
  'CREATE INDEX orders_customer ON orders (customer);';

let server: MagFlock;

test.beforeAll(async () => {
  server = await startWithOwner();
});

test.afterAll(async () => {
  await server?.dispose();
});

const nameField = (page: Page) => page.getByLabel('Name', { exact: true });

test('a name the naming policy refuses is shown in the form, and nothing is created', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  await (await adminApi(page, server)).install('magflock/naming-policy');

  await open(page, server, '/');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
  await expect(page.getByRole('heading', { name: 'Projects', exact: true })).toBeVisible();
  await expect(page.getByTestId('no-projects')).toBeVisible();

  await nameField(page).fill('magflock_stats');
  await page.getByRole('button', { name: 'Create project' }).click();
  const error = page.getByTestId('name-error');
  await expect(error).toContainText('Naming Policy refused this name');
  await expect(error).toContainText("names starting with 'magflock_' are reserved");
  await expect(nameField(page)).toHaveAttribute('aria-invalid', 'true');
  await expect(nameField(page)).toHaveValue('magflock_stats');
  await expect(page.getByTestId('no-projects')).toBeVisible();
  await screenshot(page, testInfo, 'project-name-refused');
});

test('a valid project is created and opened', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  await open(page, server, '/projects');
  await nameField(page).fill(PROJECT);
  await page.getByLabel('Region (optional)').fill('eu-west-1');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByTestId('project-created')).toContainText(`Created project ${PROJECT}`);
  await expect(page.getByTestId('name-error')).toHaveCount(0);
  await expect(nameField(page)).toHaveValue('');
  const row = page.getByTestId('project-row');
  await expect(row).toHaveAttribute('data-project', PROJECT);
  await expect(row).toContainText(OWNER.email);
  await screenshot(page, testInfo, 'project-created');

  await page.getByRole('link', { name: `Open project ${PROJECT}` }).click();
  await expect(page.getByTestId('project-detail')).toHaveAttribute('data-project', PROJECT);
  await expect(page.getByTestId('no-migrations')).toBeVisible();
  await screenshot(page, testInfo, 'project-detail');
});

test('a migration from the explorer shows the table, its columns and the extension tab', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  await open(page, server, `/projects/${PROJECT}`);
  await page.getByRole('link', { name: 'Open the Schema Explorer' }).click();
  await expect(page.getByTestId('no-tables')).toBeVisible();

  await page.getByLabel('Migration name').fill('001_orders');
  await page.getByLabel('SQL', { exact: true }).fill(MIGRATION);
  await page.getByRole('button', { name: 'Run migration' }).click();
  await expect(page.getByTestId('migration-applied')).toContainText('Applied migration 001_orders');
  await expect(page.getByTestId('migration-applied')).toContainText('created main.orders');
  await expect(page.getByLabel('Migration name')).toHaveValue('');

  const panel = page.getByTestId('table-panel');
  await expect(panel).toHaveAttribute('data-table', 'main.orders');
  const columns = panel.getByTestId('column');
  await expect(columns).toHaveCount(3);
  await expect(columns.nth(0)).toHaveAttribute('data-column', 'id');
  await expect(columns.nth(0)).toContainText('primary key');
  await expect(columns.nth(1)).toContainText('TEXT');
  await expect(columns.nth(2)).toContainText("'none'");
  await screenshot(page, testInfo, 'schema-explorer-columns');

  await panel.getByRole('tab', { name: 'Indexes' }).click();
  await expect(panel.getByTestId('index')).toHaveAttribute('data-index', 'orders_customer');
  await panel.getByRole('tab', { name: 'Row-level security' }).click();
  await expect(panel.getByTestId('rls-unavailable')).toContainText('not available on this engine');

  // The extension's tab: its verdicts, and the change it was told of.
  await panel.getByRole('tab', { name: 'Naming Policy' }).click();
  const view = panel.getByTestId('extension-view');
  await expect(view).toContainText('Naming: orders');
  await expect(view).toContainText("Table 'orders' follows the rule.");
  await expect(view).toContainText('Recent schema changes checked');
  await expect(view.getByRole('cell', { name: 'created' })).toBeVisible();
  await expect(page).toHaveURL(/tab=ext%3Amagflock\/naming-policy$/);
  await screenshot(page, testInfo, 'schema-explorer-extension-tab');

  // The same migration name again is refused on its field.
  await page.getByLabel('Migration name').fill('001_orders');
  await page.getByLabel('SQL', { exact: true }).fill('CREATE TABLE other (x INTEGER);');
  await page.getByRole('button', { name: 'Run migration' }).click();
  await expect(page.getByTestId('migration-error')).toContainText('already applied');
});

test('an auditor sees projects and the schema but no controls', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  await createUser(page, server, AUDITOR, 'auditor');
  await signOut(page);
  await signIn(page, server, AUDITOR);
  await open(page, server, '/projects');
  await expect(page.getByTestId('project-row')).toHaveAttribute('data-project', PROJECT);
  await expect(page.getByTestId('read-only')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Create project' })).toHaveCount(0);
  await open(page, server, `/projects/${PROJECT}/schema`);
  await expect(page.getByTestId('column')).toHaveCount(3);
  await expect(page.getByRole('button', { name: 'Run migration' })).toHaveCount(0);
  await open(page, server, `/projects/${PROJECT}`);
  await expect(page.getByTestId('delete-project')).toHaveCount(0);
  await screenshot(page, testInfo, 'project-auditor');
});

test('the project is deleted after typing its name', async ({ page }, testInfo) => {
  await signIn(page, server, OWNER);
  await open(page, server, `/projects/${PROJECT}`);
  const danger = page.getByTestId('delete-project');
  await danger.getByText(`Delete ${PROJECT}…`).click();
  await expect(danger).toContainText(`Deleting project ${PROJECT} drops its database with all its data`);
  await danger.getByLabel(`Type ${PROJECT} to confirm`).fill('sales');
  await danger.getByRole('button', { name: `Yes, delete ${PROJECT} and its database` }).click();
  await expect(danger.getByRole('alert')).toContainText(`Type the project's name, ${PROJECT}, to confirm.`);
  await danger.getByLabel(`Type ${PROJECT} to confirm`).fill(PROJECT);
  await danger.getByRole('button', { name: `Yes, delete ${PROJECT} and its database` }).click();
  await expect(page).toHaveURL(/\/projects\?deleted=sales_eu$/);
  await expect(page.getByTestId('project-deleted')).toContainText(`Deleted project ${PROJECT}`);
  await expect(page.getByTestId('no-projects')).toBeVisible();
  await screenshot(page, testInfo, 'project-deleted');
});
