// Layout checks of the browser tests: the page never scrolls sideways, and every visible
// button can be reached (inside the viewport and not clipped by a scrolling container),
// at phone and desktop widths. Also the screenshot helper.

import assert from 'node:assert/strict';
import path from 'node:path';
import { SHOTS } from './support.mjs';

export const WIDTHS = [390, 1280];

// What is wrong with the layout of the page (or of its open modal dialog), as sentences.
export async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const vw = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > vw) {
      problems.push(`the page scrolls sideways: scrollWidth ${document.documentElement.scrollWidth} > ${vw}`);
    }
    const modal = Array.from(document.querySelectorAll('dialog')).find((d) => d.open && d.matches(':modal'));
    const root = modal ?? document;
    const describe = (b) => (b.getAttribute('aria-label') || b.textContent || b.id || b.className).trim().replace(/\s+/g, ' ');
    for (const b of root.querySelectorAll('button, a.button')) {
      if (!b.checkVisibility({ checkOpacity: false, checkVisibilityCSS: true })) continue;
      if (!modal && b.closest('dialog')) continue;
      // Scroll vertically only: a sideways scroll would hide the very fault looked for.
      // (getBoundingClientRect lays out again, so no frame needs to pass.)
      const r0 = b.getBoundingClientRect();
      if (modal) b.scrollIntoView({ block: 'center', inline: 'nearest' });
      else window.scrollTo(window.scrollX, window.scrollY + r0.top - window.innerHeight / 2);
      const r = b.getBoundingClientRect();
      const name = describe(b);
      if (r.width === 0 || r.height === 0) continue;
      if (r.left < 0 || r.right > vw + 0.5) {
        problems.push(`button "${name}" is outside the viewport (${Math.round(r.left)}..${Math.round(r.right)} of ${vw})`);
        continue;
      }
      for (let el = b.parentElement; el && el !== document.documentElement; el = el.parentElement) {
        const s = getComputedStyle(el);
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
        const box = el.getBoundingClientRect();
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
          problems.push(`button "${name}" is clipped by a scrolling ${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`);
          break;
        }
      }
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      if (hit && !b.contains(hit) && !hit.closest('.toasts')) {
        problems.push(`button "${name}" is covered by ${hit.tagName.toLowerCase()}${hit.id ? '#' + hit.id : ''}`);
      }
    }
    window.scrollTo(0, 0);
    return problems;
  });
}

export async function assertFits(page, what) {
  assert.deepEqual(await layoutProblems(page), [], `${what} at ${page.viewportSize().width} px`);
}

// A screenshot in test-artifacts/screenshots: the whole page, or the viewport when a
// dialog is open (a modal sits in the viewport).
export async function shot(page, name, { full = true } = {}) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: full });
}

// The document's text in one line (for "1 permission", not "1 permission(s)").
export async function bodyText(page) {
  return (await page.locator('body').innerText()).replace(/\s+/g, ' ');
}
