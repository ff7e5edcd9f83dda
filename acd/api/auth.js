// The pages' one way to call the API (acd/api/access.py): every request carries the
// session's CSRF token (the acd_csrf cookie) in X-CSRF-Token, and a 401 (the session
// ended) takes the browser to the login page, back here afterwards.
function csrfToken() {
  const found = document.cookie.split('; ').find((c) => c.startsWith('acd_csrf='));
  return found ? decodeURIComponent(found.slice('acd_csrf='.length)) : '';
}

function toLogin() {
  location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
}

async function api(url, options = {}) {
  const headers = Object.assign({ 'X-CSRF-Token': csrfToken() }, options.headers || {});
  const r = await fetch(url, Object.assign({}, options, { headers, credentials: 'same-origin' }));
  if (r.status === 401) { toLogin(); throw new Error('not logged in'); }
  return r;
}

async function logOut() {
  await fetch('/api/logout', { method: 'POST', headers: { 'X-CSRF-Token': csrfToken() }, credentials: 'same-origin' });
  toLogin();
}
