// The admin single-page app: login, home, platform roles (bind/list/revoke) and the admin audit log.
import { decideRoute, navLinks } from './guard.mjs';

const main = document.querySelector('main');
const nav = document.querySelector('nav');
const alertBox = document.querySelector('[role="alert"]');

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

async function call(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(data && data.error ? data.error : `HTTP ${response.status}`);
  return data;
}

async function currentSession() {
  try {
    return await call('GET', '/session');
  } catch {
    return null;
  }
}

function showNotice(text) {
  alertBox.textContent = text || '';
  alertBox.hidden = !text;
}

function navigate(href, notice) {
  history.pushState({ notice }, '', href);
  render();
}

function renderNav(session) {
  nav.replaceChildren(...navLinks(session).map((link) => el('a', { href: link.href, textContent: link.label })));
  if (session) {
    const signOut = el('button', { type: 'button', textContent: 'Sign out' });
    signOut.addEventListener('click', async () => {
      await call('DELETE', '/session');
      navigate('/login');
    });
    nav.append(signOut);
  }
}

function loginPage() {
  const select = el('select', { name: 'user', id: 'user' }, ...['alice', 'oscar', 'victor'].map((u) => el('option', { value: u, textContent: u })));
  const form = el('form', {}, el('label', { htmlFor: 'user', textContent: 'User' }), select, el('button', { type: 'submit', textContent: 'Sign in' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await call('POST', '/session', { user: select.value });
    navigate(new URLSearchParams(location.search).get('next') || '/');
  });
  return [el('h1', { textContent: 'Sign in' }), form];
}

function homePage(session) {
  return [
    el('h1', { textContent: 'Platform Control' }),
    el('p', { textContent: `Signed in as ${session.user} (${session.role})` }),
  ];
}

async function rolesPage() {
  const subject = el('input', { name: 'subject', id: 'subject', required: true });
  const role = el('select', { name: 'role', id: 'role' }, ...['platform-viewer', 'platform-operator', 'platform-admin'].map((r) => el('option', { value: r, textContent: r })));
  const form = el(
    'form',
    { ariaLabel: 'Bind role' },
    el('label', { htmlFor: 'subject', textContent: 'Subject' }),
    subject,
    el('label', { htmlFor: 'role', textContent: 'Role' }),
    role,
    el('button', { type: 'submit', textContent: 'Bind role' }),
  );
  const body = el('tbody');
  const table = el('table', { ariaLabel: 'Role bindings' }, el('thead', {}, el('tr', {}, ...['Subject', 'Role', 'Bound by', ''].map((h) => el('th', { textContent: h })))), body);

  async function refresh() {
    const bindings = await call('GET', '/v1/platform-roles/bindings');
    body.replaceChildren(
      ...bindings.map((binding) => {
        const revoke = el('button', { type: 'button', textContent: 'Revoke' });
        revoke.addEventListener('click', async () => {
          await call('DELETE', `/v1/platform-roles/bindings/${encodeURIComponent(binding.id)}`);
          showNotice(`Revoked ${binding.role} from ${binding.subject}`);
          await refresh();
        });
        return el('tr', {}, el('td', { textContent: binding.subject }), el('td', { textContent: binding.role }), el('td', { textContent: binding.created_by }), el('td', {}, revoke));
      }),
    );
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const binding = await call('POST', '/v1/platform-roles/bindings', { subject: subject.value, role: role.value });
      showNotice(`Bound ${binding.role} to ${binding.subject}`);
      form.reset();
      await refresh();
    } catch (err) {
      showNotice(err.message);
    }
  });
  await refresh();
  return [el('h1', { textContent: 'Platform roles' }), form, table];
}

async function auditPage() {
  const events = await call('GET', '/v1/admin/audit-log');
  const rows = events.map((e) => el('tr', {}, ...[e.at, e.actor, e.action, e.subject, e.role].map((v) => el('td', { textContent: v }))));
  const head = el('thead', {}, el('tr', {}, ...['When', 'Actor', 'Action', 'Subject', 'Role'].map((h) => el('th', { textContent: h }))));
  const empty = el('p', { textContent: 'No admin actions recorded yet.' });
  return [el('h1', { textContent: 'Admin audit log' }), events.length ? el('table', { ariaLabel: 'Audit events' }, head, el('tbody', {}, ...rows)) : empty];
}

const PAGES = { login: loginPage, home: homePage, roles: rolesPage, audit: auditPage, 'not-found': () => [el('h1', { textContent: 'Not found' })] };

async function render() {
  const session = await currentSession();
  const decision = decideRoute(location.pathname, session);
  if (decision.redirect) {
    history.replaceState({ notice: decision.notice }, '', decision.redirect);
    return render();
  }
  renderNav(session);
  showNotice(history.state && history.state.notice);
  main.replaceChildren(...(await PAGES[decision.page](session)));
  document.body.dataset.page = decision.page;
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href^="/"]');
  if (link) {
    event.preventDefault();
    navigate(link.getAttribute('href'));
  }
});
window.addEventListener('popstate', render);
render();
