// Admin route guard: only platform-admins may open /admin pages.
const { test, expect } = require('@playwright/test');
const { signIn } = require('./helpers');

test('anonymous visitor is sent to sign in, then back to the admin page', async ({ page }) => {
  await page.goto('/admin/roles');
  await expect(page).toHaveURL(/\/login\?next=%2Fadmin%2Froles$/);
  await page.getByLabel('User').selectOption('alice');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin\/roles$/);
  await expect(page.getByRole('heading', { name: 'Platform roles' })).toBeVisible();
});

for (const user of ['victor', 'oscar']) {
  test(`non-admin ${user} is redirected away from /admin`, async ({ page }) => {
    await signIn(page, user);
    for (const path of ['/admin/roles', '/admin/audit']) {
      await page.goto(path);
      await expect(page).toHaveURL(/\/$/);
      await expect(page.getByRole('alert')).toHaveText('Admin access required');
    }
    await expect(page.getByRole('link', { name: 'Roles' })).toHaveCount(0);
    await expect(page.getByRole('link', { name: 'Audit log' })).toHaveCount(0);
  });
}

test('admin sees the admin navigation and reaches both admin pages', async ({ page }) => {
  await signIn(page, 'alice');
  await page.getByRole('link', { name: 'Roles' }).click();
  await expect(page.getByRole('heading', { name: 'Platform roles' })).toBeVisible();
  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByRole('heading', { name: 'Admin audit log' })).toBeVisible();
});
