'use strict';
// Admin web frontend of platform-control: serves the single-page app and an in-memory copy of the
// platform-role API (api/openapi.yaml paths), so the UI, its Playwright suite and the role authz smoke
// run without the backend runtimes. No npm dependencies: node's standard library only.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const ROLES = ['platform-admin', 'platform-operator', 'platform-viewer'];
const ADMIN_ROLE = 'platform-admin';
const SEED = [
  ['alice', 'platform-admin'],
  ['oscar', 'platform-operator'],
  ['victor', 'platform-viewer'],
];
const STATIC = {
  '/src/app.mjs': 'text/javascript',
  '/src/guard.mjs': 'text/javascript',
  '/src/style.css': 'text/css',
};

function createState() {
  const state = { nextId: 1, bindings: [], audit: [] };
  for (const [subject, role] of SEED) {
    state.bindings.push({ id: `rb-${state.nextId++}`, subject, role, created_by: 'seed' });
  }
  return state;
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function roleOf(state, user) {
  if (!user) throw new HttpError(401, 'X-Platform-User or a session is required');
  const held = new Set(state.bindings.filter((b) => b.subject === user).map((b) => b.role));
  const role = ROLES.find((r) => held.has(r));
  if (!role) throw new HttpError(401, `unknown user ${user}`);
  return role;
}

function requireAdmin(state, user) {
  if (roleOf(state, user) !== ADMIN_ROLE) throw new HttpError(403, `${user} is not a ${ADMIN_ROLE}`);
}

function record(state, actor, action, binding) {
  state.audit.push({
    id: state.audit.length + 1,
    actor,
    action,
    subject: binding.subject,
    role: binding.role,
    at: new Date().toISOString(),
  });
}

function cookieUser(req) {
  const match = /(?:^|;\s*)pc_user=([^;]+)/.exec(req.headers.cookie || '');
  return match ? decodeURIComponent(match[1]) : null;
}

async function readJson(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  try {
    const body = JSON.parse(raw || '{}');
    if (body && typeof body === 'object' && !Array.isArray(body)) return body;
  } catch {
    // falls through to the 400 below
  }
  throw new HttpError(400, 'body must be a JSON object');
}

async function api(state, req, url) {
  const user = req.headers['x-platform-user'] || cookieUser(req);
  const { pathname } = url;
  if (pathname === '/healthz' && req.method === 'GET') return [200, { status: 'ok' }];
  if (pathname === '/session' && req.method === 'GET') return [200, { user, role: roleOf(state, user) }];
  if (pathname === '/session' && req.method === 'POST') {
    const { user: requested } = await readJson(req);
    const role = roleOf(state, requested);
    return [200, { user: requested, role }, { 'Set-Cookie': `pc_user=${encodeURIComponent(requested)}; Path=/; HttpOnly; SameSite=Lax` }];
  }
  if (pathname === '/session' && req.method === 'DELETE') {
    return [204, null, { 'Set-Cookie': 'pc_user=; Path=/; Max-Age=0' }];
  }
  if (pathname === '/v1/platform-roles/bindings' && req.method === 'GET') {
    requireAdmin(state, user);
    return [200, state.bindings];
  }
  if (pathname === '/v1/platform-roles/bindings' && req.method === 'POST') {
    requireAdmin(state, user);
    const { subject, role } = await readJson(req);
    if (typeof subject !== 'string' || !subject.trim() || !ROLES.includes(role)) {
      throw new HttpError(400, `subject is required and role must be one of ${ROLES.join(', ')}`);
    }
    if (state.bindings.some((b) => b.subject === subject && b.role === role)) {
      throw new HttpError(409, `${subject} already holds ${role}`);
    }
    const binding = { id: `rb-${state.nextId++}`, subject: subject.trim(), role, created_by: user };
    state.bindings.push(binding);
    record(state, user, 'role.bind', binding);
    return [201, binding];
  }
  const revoke = /^\/v1\/platform-roles\/bindings\/([^/]+)$/.exec(pathname);
  if (revoke && req.method === 'DELETE') {
    requireAdmin(state, user);
    const index = state.bindings.findIndex((b) => b.id === decodeURIComponent(revoke[1]));
    if (index < 0) throw new HttpError(404, `no binding ${revoke[1]}`);
    const [binding] = state.bindings.splice(index, 1);
    record(state, user, 'role.revoke', binding);
    return [204, null];
  }
  if (pathname === '/v1/admin/audit-log' && req.method === 'GET') {
    requireAdmin(state, user);
    return [200, [...state.audit].reverse()];
  }
  return null;
}

function send(res, status, body, headers = {}) {
  const payload = body === null ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(payload);
}

function createServer(state = createState()) {
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    try {
      const answer = await api(state, req, url);
      if (answer) return send(res, ...answer);
      if (req.method !== 'GET') return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
      const type = STATIC[url.pathname];
      const file = type ? url.pathname.slice(1) : 'index.html';
      res.writeHead(200, { 'Content-Type': type || 'text/html; charset=utf-8' });
      res.end(fs.readFileSync(path.join(__dirname, file)));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      send(res, err.status, { error: err.message });
    }
  });
}

module.exports = { createServer, createState, ROLES, ADMIN_ROLE };

if (require.main === module) {
  const port = Number(process.env.PORT || 8080);
  const host = process.env.HOST || '127.0.0.1';
  const server = createServer();
  // PORT=0 lets the OS choose; the line names the real port so callers (the authz smoke) can find it.
  server.listen(port, host, () => console.log(`web listening on http://${host}:${server.address().port}`));
}
