// Platform roles page: bind, list and revoke, and the API's authz behind it.
const { test, expect } = require('@playwright/test');
const { signIn, uniqueSubject, bindRole, bindingRow } = require('./helpers');

test('admin lists the seeded bindings', async ({ page }) => {
  await signIn(page, 'alice');
  await page.goto('/admin/roles');
  await expect(bindingRow(page, 'victor')).toContainText('platform-viewer');
  await expect(bindingRow(page, 'oscar')).toContainText('platform-operator');
});

test('admin binds a role and sees it listed', async ({ page }, testInfo) => {
  const subject = uniqueSubject(testInfo, 'bind');
  await signIn(page, 'alice');
  await page.goto('/admin/roles');
  await bindRole(page, subject, 'platform-operator');
  await expect(bindingRow(page, subject)).toContainText('platform-operator');
  await expect(bindingRow(page, subject)).toContainText('alice');
  await page.reload();
  await expect(bindingRow(page, subject)).toHaveCount(1);
});

test('admin revokes a role and it disappears', async ({ page }, testInfo) => {
  const subject = uniqueSubject(testInfo, 'revoke');
  await signIn(page, 'alice');
  await page.goto('/admin/roles');
  await bindRole(page, subject, 'platform-viewer');
  await bindingRow(page, subject).getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('alert')).toHaveText(`Revoked platform-viewer from ${subject}`);
  await expect(bindingRow(page, subject)).toHaveCount(0);
});

test('viewer session cannot bind, list or revoke through the API', async ({ page }) => {
  await signIn(page, 'victor');
  const list = await page.request.get('/v1/platform-roles/bindings');
  expect(list.status()).toBe(403);
  const bind = await page.request.post('/v1/platform-roles/bindings', { data: { subject: 'victor', role: 'platform-admin' } });
  expect(bind.status()).toBe(403);
  const revoke = await page.request.delete('/v1/platform-roles/bindings/rb-1');
  expect(revoke.status()).toBe(403);
});
