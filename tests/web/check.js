// Drives the Debian chromium (never a downloaded browser) through the gateway's HTML pages:
// a full-page screenshot of each page at 390 px and 1280 px wide in the light and the dark
// theme (prefers-color-scheme), and an axe-core accessibility check of each. Prints one line
// per page and theme; exits 1 when a page fails to load or axe reports a serious or critical
// violation.
//   node check.js BASE_URL OUT_DIR KEY_FILE FPR
// PAGES="home key" limits the run to those pages; WIDTHS="390" and SCHEMES="dark" likewise;
// MAXH=1200 keeps the top 1200 px of each page only (smaller pictures for documentation).
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const [base, out, keyFile, fpr] = process.argv.slice(2);
if (!base || !out || !keyFile || !fpr) {
  console.error('usage: node check.js BASE_URL OUT_DIR KEY_FILE FPR');
  process.exit(2);
}
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const pages = [
  { name: 'home', url: '/' },
  { name: 'search', url: '/pks/lookup?op=index&search=example.org' },
  { name: 'vindex', url: '/pks/lookup?op=vindex&search=0x' + fpr },
  { name: 'key', url: '/pks/lookup?op=get&search=0x' + fpr },
  { name: 'upload', url: '/pks/add' },
  { name: 'upload-result', url: '/pks/add', submit: true },
  { name: 'stats', url: '/pks/lookup?op=stats' },
  { name: 'error', url: '/pks/lookup?op=get&search=0x0000000000000001', status: 404 },
];
const only = (process.env.PAGES || '').split(/\s+/).filter(Boolean);
const todo = only.length ? pages.filter(p => only.includes(p.name)) : pages;
const widths = (process.env.WIDTHS || '390 1280').split(/\s+/).filter(Boolean).map(Number);
const schemes = (process.env.SCHEMES || 'light dark').split(/\s+/).filter(Boolean);

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let failed = 0;
  const report = [];
  for (const scheme of schemes) {
    for (const width of widths) {
      const ctx = await browser.newContext({ viewport: { width, height: 800 }, colorScheme: scheme });
      const page = await ctx.newPage();
      for (const p of todo) {
        const tag = `${p.name}-${width}-${scheme}`;
        let resp = await page.goto(base + p.url);
        if (p.submit) {
          await page.fill('#keytext', fs.readFileSync(keyFile, 'utf8'));
          [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
        }
        const status = resp ? resp.status() : 0;
        if (status !== (p.status || 200)) {
          console.log(`not ok ${tag}: HTTP ${status}`);
          failed++;
          continue;
        }
        const shot = { path: path.join(out, `${tag}.png`), fullPage: true };
        if (process.env.MAXH) {
          const h = await page.evaluate(() => document.documentElement.scrollHeight);
          shot.clip = { x: 0, y: 0, width, height: Math.min(h, Number(process.env.MAXH)) };
        }
        await page.screenshot(shot);
        await page.evaluate(axeSource);
        const res = await page.evaluate(() => axe.run(document, { resultTypes: ['violations'] }));
        const bad = res.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
        const minor = res.violations.filter(v => !bad.includes(v));
        report.push({ page: tag, violations: res.violations.map(v => ({ id: v.id, impact: v.impact,
          nodes: v.nodes.map(n => n.target.join(' ')) })) });
        if (bad.length) {
          failed++;
          console.log(`not ok ${tag}: ${bad.map(v => `${v.impact} ${v.id} (${v.nodes.length}): ${v.help}`).join('; ')}`);
        } else {
          console.log(`ok ${tag}: no serious or critical axe violation` +
                      (minor.length ? ` (minor: ${minor.map(v => v.id).join(', ')})` : ''));
        }
      }
      await ctx.close();
    }
  }
  fs.writeFileSync(path.join(out, 'axe-report.json'), JSON.stringify(report, null, 1));
  await browser.close();
  process.exit(failed ? 1 : 0);
})().catch(e => { console.error(e); process.exit(1); });
