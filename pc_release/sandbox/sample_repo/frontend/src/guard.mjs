// Route guard of the admin web app: which page a path shows for a session, or where it redirects.
// Pure, so the unit tests (frontend/unit) and the browser share one rule.

export const ADMIN_ROLE = 'platform-admin';
export const ADMIN_REQUIRED = 'Admin access required';

const ADMIN_PAGES = { '/admin/roles': 'roles', '/admin/audit': 'audit' };

export function isAdminPath(pathname) {
  return pathname === '/admin' || pathname.startsWith('/admin/');
}

export function decideRoute(pathname, session) {
  if (pathname === '/login') return { page: 'login' };
  if (!session) return { redirect: `/login?next=${encodeURIComponent(pathname)}` };
  if (isAdminPath(pathname)) {
    if (session.role !== ADMIN_ROLE) return { redirect: '/', notice: ADMIN_REQUIRED };
    return ADMIN_PAGES[pathname] ? { page: ADMIN_PAGES[pathname] } : { redirect: '/admin/roles' };
  }
  if (pathname === '/') return { page: 'home' };
  return { page: 'not-found' };
}

export function navLinks(session) {
  const links = [{ href: '/', label: 'Home' }];
  if (session && session.role === ADMIN_ROLE) {
    links.push({ href: '/admin/roles', label: 'Roles' }, { href: '/admin/audit', label: 'Audit log' });
  }
  return links;
}
