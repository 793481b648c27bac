// Unit tests of the route guard shared by the browser app (src/guard.mjs).
const test = require('node:test');
const assert = require('node:assert/strict');

const load = () => import('../src/guard.mjs');

test('anonymous visitors are sent to login, keeping where they were going', async () => {
  const { decideRoute } = await load();
  assert.deepEqual(decideRoute('/admin/roles', null), { redirect: '/login?next=%2Fadmin%2Froles' });
  assert.deepEqual(decideRoute('/login', null), { page: 'login' });
});

test('non-admins are redirected away from every /admin path', async () => {
  const { decideRoute, ADMIN_REQUIRED } = await load();
  for (const role of ['platform-viewer', 'platform-operator']) {
    for (const path of ['/admin', '/admin/roles', '/admin/audit', '/admin/anything']) {
      assert.deepEqual(decideRoute(path, { user: 'x', role }), { redirect: '/', notice: ADMIN_REQUIRED });
    }
  }
});

test('admins reach the admin pages; /admin lands on roles', async () => {
  const { decideRoute } = await load();
  const admin = { user: 'alice', role: 'platform-admin' };
  assert.deepEqual(decideRoute('/admin/roles', admin), { page: 'roles' });
  assert.deepEqual(decideRoute('/admin/audit', admin), { page: 'audit' });
  assert.deepEqual(decideRoute('/admin', admin), { redirect: '/admin/roles' });
});

test('only admins see the admin navigation', async () => {
  const { navLinks } = await load();
  assert.deepEqual(navLinks({ role: 'platform-viewer' }).map((l) => l.href), ['/']);
  assert.deepEqual(navLinks({ role: 'platform-admin' }).map((l) => l.href), ['/', '/admin/roles', '/admin/audit']);
});
