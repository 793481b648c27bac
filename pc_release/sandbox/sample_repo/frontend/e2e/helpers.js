// Shared steps of the admin e2e suite.
const { expect } = require('@playwright/test');

async function signIn(page, user) {
  await page.goto('/login');
  await page.getByLabel('User').selectOption(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Signed in as ${user}`)).toBeVisible();
}

// Subjects are unique per test so the two workers never see each other's bindings.
function uniqueSubject(testInfo, label) {
  return `e2e-${label}-${testInfo.workerIndex}-${testInfo.retry}-${Date.now().toString(36)}`;
}

async function bindRole(page, subject, role) {
  await page.getByLabel('Subject').fill(subject);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  await page.getByRole('button', { name: 'Bind role' }).click();
  await expect(page.getByRole('alert')).toHaveText(`Bound ${role} to ${subject}`);
}

function bindingRow(page, subject) {
  return page.getByRole('table', { name: 'Role bindings' }).getByRole('row').filter({ hasText: subject });
}

module.exports = { signIn, uniqueSubject, bindRole, bindingRow };
