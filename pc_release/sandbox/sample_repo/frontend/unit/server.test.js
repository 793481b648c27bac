// Unit tests of the frontend server's in-memory platform-role API and session handling.
const test = require('node:test');
const assert = require('node:assert/strict');
const { createServer } = require('../server.js');

async function withServer(fn) {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await fn((path, { user, ...init } = {}) =>
      fetch(base + path, { ...init, headers: { 'Content-Type': 'application/json', ...(user ? { 'X-Platform-User': user } : {}) } }),
    );
  } finally {
    server.close();
  }
}

test('admin binds and revokes; both land in the audit log', async () => {
  await withServer(async (call) => {
    const bound = await call('/v1/platform-roles/bindings', { method: 'POST', user: 'alice', body: JSON.stringify({ subject: 'dana', role: 'platform-operator' }) });
    assert.equal(bound.status, 201);
    const { id } = await bound.json();
    assert.equal((await call(`/v1/platform-roles/bindings/${id}`, { method: 'DELETE', user: 'alice' })).status, 204);
    const audit = await (await call('/v1/admin/audit-log', { user: 'alice' })).json();
    assert.deepEqual(audit.map((e) => e.action), ['role.revoke', 'role.bind']);
  });
});

test('viewer is forbidden and strangers are unauthenticated', async () => {
  await withServer(async (call) => {
    assert.equal((await call('/v1/platform-roles/bindings', { user: 'victor' })).status, 403);
    assert.equal((await call('/v1/admin/audit-log', { user: 'victor' })).status, 403);
    assert.equal((await call('/v1/platform-roles/bindings', { user: 'mallory' })).status, 401);
    assert.equal((await call('/v1/platform-roles/bindings')).status, 401);
  });
});

test('invalid role and duplicate binding are refused', async () => {
  await withServer(async (call) => {
    const post = (body) => call('/v1/platform-roles/bindings', { method: 'POST', user: 'alice', body: JSON.stringify(body) });
    assert.equal((await post({ subject: 'dana', role: 'root' })).status, 400);
    assert.equal((await post({ subject: 'victor', role: 'platform-viewer' })).status, 409);
  });
});

test('the app shell is served for client-side routes', async () => {
  await withServer(async (call) => {
    const page = await call('/admin/roles');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/src\/app.mjs">/);
  });
});
