// Describes the page for the agent: its text, HTTP status, signs of a CAPTCHA or sign-in wall, and
// the visible controls, each marked with a data-eg attribute so the agent can act on it. page.rs
// puts `const fingerprint = …` before this script, read before anything else.
const visible = (el) => {
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && s.opacity !== '0';
};
const clean = (t) => (t || '').replace(/\s+/g, ' ').trim().slice(0, 200);
const labelOf = (el) => {
  let text = clean(el.innerText || '');
  if (!text && el.value && ['submit', 'button', 'reset'].includes((el.type || '').toLowerCase())) text = clean(el.value);
  if (el.id) {
    const label = document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    if (label) text = text || clean(label.innerText);
  }
  const around = el.closest('label');
  if (around) text = text || clean(around.innerText);
  return text || clean(el.getAttribute('aria-label') || el.getAttribute('title') || el.getAttribute('placeholder') || el.getAttribute('alt') || '');
};
document.querySelectorAll('[data-eg]').forEach((el) => el.removeAttribute('data-eg'));
const banner = '[id*=cookie i],[class*=cookie i],[id*=consent i],[class*=consent i],[aria-label*=cookie i],[id*=gdpr i],[class*=gdpr i]';
const elements = [];
let n = 0;
for (const el of document.querySelectorAll('a[href],button,input,select,textarea,[role=button],[role=checkbox]')) {
  const tag = el.tagName.toLowerCase();
  const type = (el.getAttribute('type') || '').toLowerCase();
  if (type === 'hidden') continue;
  const isToggle = type === 'checkbox' || type === 'radio';
  // Styled toggles hide the input itself behind their label.
  if (!visible(el) && !(isToggle && el.closest('label') && visible(el.closest('label')))) continue;
  let kind = 'field';
  if (tag === 'a') kind = 'link';
  else if (tag === 'button' || ['submit', 'button', 'image', 'reset'].includes(type) || el.getAttribute('role') === 'button') kind = 'button';
  else if (type === 'checkbox' || el.getAttribute('role') === 'checkbox') kind = 'checkbox';
  else if (type === 'radio') kind = 'radio';
  else if (tag === 'select') kind = 'select';
  else if (type === 'password') kind = 'password';
  const id = 'eg' + (n++);
  el.setAttribute('data-eg', id);
  elements.push({
    id, kind, type,
    label: labelOf(el),
    name: clean([el.getAttribute('name'), el.id, el.getAttribute('placeholder'), el.getAttribute('aria-label')].filter(Boolean).join(' ')),
    autocomplete: (el.getAttribute('autocomplete') || '').toLowerCase(),
    checked: !!(el.checked || el.getAttribute('aria-checked') === 'true'),
    filled: !!(el.value && el.value.length),
    disabled: !!el.disabled,
    in_banner: !!el.closest(banner),
    href: tag === 'a' ? el.href : '',
  });
  if (elements.length >= 200) break;
}
const nav = performance.getEntriesByType('navigation')[0];
const captcha = !!document.querySelector(
  'iframe[src*="recaptcha"],iframe[src*="hcaptcha"],iframe[src*="turnstile"],iframe[src*="captcha"],.g-recaptcha,.h-captcha,.cf-turnstile,[class*=captcha i],[id*=captcha i]');
return {
  fingerprint,
  url: location.href,
  title: document.title || '',
  text: document.body ? (document.body.innerText || '').slice(0, 20000) : '',
  status: nav && nav.responseStatus ? nav.responseStatus : 0,
  captcha,
  elements,
};
