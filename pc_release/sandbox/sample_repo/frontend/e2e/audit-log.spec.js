// Admin audit log read path: role changes show up, newest first; non-admins cannot read it.
const { test, expect } = require('@playwright/test');
const { signIn, uniqueSubject, bindRole, bindingRow } = require('./helpers');

test('audit log shows the bind and the revoke, newest first', async ({ page }, testInfo) => {
  const subject = uniqueSubject(testInfo, 'audit');
  await signIn(page, 'alice');
  await page.goto('/admin/roles');
  await bindRole(page, subject, 'platform-operator');
  await bindingRow(page, subject).getByRole('button', { name: 'Revoke' }).click();
  await expect(bindingRow(page, subject)).toHaveCount(0);

  await page.getByRole('link', { name: 'Audit log' }).click();
  const rows = page.getByRole('table', { name: 'Audit events' }).getByRole('row').filter({ hasText: subject });
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText('role.revoke');
  await expect(rows.nth(1)).toContainText('role.bind');
  await expect(rows.nth(0)).toContainText('alice');
});

test('viewer cannot read the audit log', async ({ page }) => {
  await signIn(page, 'victor');
  const response = await page.request.get('/v1/admin/audit-log');
  expect(response.status()).toBe(403);
});
