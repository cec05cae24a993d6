// Drives the wallboard in headless Chromium (puppeteer-core, Debian's /usr/bin/chromium) while a
// workload runs: the figures on the page must move and agree with /api/status, the per-table
// chart and the consumers' rows must be there, and a screenshot is saved.
//   node wallboard_check.js <base-url> <screenshot-dir> [expect-dead-letter-table]
// Exits 0 when every check passes; otherwise prints what failed and exits 1.
'use strict';
const http = require('http');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [base, outDir, deadLetterTable] = process.argv.slice(2);
if (!base || !outDir) {
  console.error('usage: node wallboard_check.js <base-url> <screenshot-dir> [dead-letter-table]');
  process.exit(2);
}
const kLimitMs = 120000;  // generous: a loaded 2-core machine

function getJson(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(url + ': HTTP ' + res.statusCode));
        try { resolve(JSON.parse(body)); } catch (e) { reject(e); }
      });
    }).on('error', reject);
  });
}

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
}

async function waitFor(what, fn) {
  const deadline = Date.now() + kLimitMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// What the page shows, read from the DOM (not from its script's state).
async function pageFigures(page) {
  return page.evaluate(() => {
    const num = (text) => Number(String(text).replace(/[^0-9.]/g, ''));
    const out = {polls: window.wallboard.polls, published: num(document.getElementById('published').textContent),
                 deadLettered: num(document.getElementById('dead-lettered').textContent),
                 rate: num(document.getElementById('rate').textContent), tables: {}, targets: {},
                 shards: document.querySelectorAll('#shards .shard').length,
                 deadLetters: [...document.querySelectorAll('#dead-letters li')].map((li) => li.textContent),
                 snapshotWidth: document.getElementById('snapshot-bar').style.width,
                 snapshotHidden: document.getElementById('snapshot-panel').hidden,
                 sparklines: document.querySelectorAll('#tables svg.spark polyline').length,
                 history: window.wallboard.history.length};
    for (const row of document.querySelectorAll('#tables tr[data-table]')) {
      out.tables[row.dataset.table] = num(row.querySelector('.published').textContent);
    }
    for (const row of document.querySelectorAll('#targets tr[data-target]')) {
      out.targets[row.dataset.target] = {delivered: num(row.querySelector('.delivered').textContent),
                                         deadLettered: num(row.querySelector('.dead').textContent)};
    }
    return out;
  });
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1600,1200'],
    defaultViewport: {width: 1600, height: 1200},
    timeout: kLimitMs,
    protocolTimeout: kLimitMs,
  });
  const pageErrors = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    await page.goto(base + '/?interval=500', {waitUntil: 'load', timeout: kLimitMs});
    check((await page.title()) === 'cdc-pipeline wallboard', 'the page at / is the wallboard');
    await waitFor('two polls', () => page.evaluate(() => window.wallboard.polls >= 2));

    // The figures move while the workload runs.
    const first = await pageFigures(page);
    const moved = await waitFor('the published count to move', async () => {
      const now = await pageFigures(page);
      return now.published > first.published && now.rate > 0 ? now : null;
    });
    check(moved.published > first.published,
          'published moves on the page: ' + first.published + ' -> ' + moved.published);
    check(moved.rate > 0, 'the events/s tile shows a rate: ' + moved.rate);

    // The page agrees with /api/status read just before and just after one of its polls.
    const before = await getJson(base + '/api/status');
    const polls = (await pageFigures(page)).polls;
    await waitFor('two more polls', async () => (await pageFigures(page)).polls >= polls + 2);
    const shown = await pageFigures(page);
    const after = await getJson(base + '/api/status');
    const between = (a, v, b) => a <= v && v <= b;
    check(between(before.published, shown.published, after.published),
          'published ' + shown.published + ' within /api/status ' + before.published + '..' + after.published);
    check(between(before.deadLettered, shown.deadLettered, after.deadLettered),
          'dead letters ' + shown.deadLettered + ' within ' + before.deadLettered + '..' + after.deadLettered);
    check(JSON.stringify(Object.keys(shown.targets).sort()) === JSON.stringify(Object.keys(after.targets).sort()),
          'one consumer row per target of /api/status (' + Object.keys(after.targets).length + ')');
    for (const [name, t] of Object.entries(after.targets)) {
      const s = shown.targets[name] || {delivered: -1, deadLettered: -1};
      const b = before.targets[name] || {delivered: 0, deadLettered: 0};
      check(between(b.delivered, s.delivered, t.delivered),
            'consumer ' + name + ' delivered ' + s.delivered + ' within ' + b.delivered + '..' + t.delivered);
    }
    const tables = after.tables || {};
    check(Object.keys(tables).length > 0, '/api/status has per-table counts');
    check(JSON.stringify(Object.keys(shown.tables).sort()) === JSON.stringify(Object.keys(tables).sort()),
          'one table row per table of /api/status (' + Object.keys(tables).length + ')');
    let tableSum = 0;
    for (const [name, t] of Object.entries(tables)) {
      const b = (before.tables || {})[name] || {published: 0};
      tableSum += shown.tables[name];
      check(between(b.published, shown.tables[name], t.published),
            'table ' + name + ' published ' + shown.tables[name] + ' within ' + b.published + '..' + t.published);
    }
    check(tableSum <= shown.published, 'the tables add up to at most the total (' + tableSum + ' <= ' + shown.published + ')');
    check(shown.shards === after.shards.length, 'one backlog bar per shard (' + shown.shards + ')');
    check(shown.sparklines === Object.keys(tables).length, 'a sparkline per table');
    check(shown.history >= 2, 'the rate chart has points (' + shown.history + ')');
    if (after.snapshot) {
      check(!shown.snapshotHidden && shown.snapshotWidth !== '',
            'the snapshot progress bar is shown (' + shown.snapshotWidth + ')');
      if (after.snapshot.done) check(shown.snapshotWidth === '100%', 'a finished snapshot fills the bar');
    }
    if (deadLetterTable) {
      const dl = await waitFor('a dead letter of ' + deadLetterTable + ' on the page', async () => {
        const f = await pageFigures(page);
        return f.deadLetters.some((t) => t.includes(deadLetterTable)) ? f : null;
      });
      const status = await getJson(base + '/api/status');
      check((status.recentDeadLetters || []).some((d) => d.table && d.table.includes(deadLetterTable)),
            '/api/status lists the dead letter of ' + deadLetterTable);
      check(dl.deadLetters.length === (status.recentDeadLetters || []).length || dl.deadLetters.length > 0,
            'recent dead letters on the page: ' + JSON.stringify(dl.deadLetters[0]));
    }
    check(pageErrors.length === 0, 'no script or console errors' +
          (pageErrors.length ? ': ' + pageErrors.join('; ') : ''));

    const file = path.join(outDir, 'wallboard.png');
    await page.screenshot({path: file, fullPage: true});
    console.log('screenshot: ' + file);
  } catch (e) {
    failures.push(String(e && e.stack || e));
    console.log('FAIL ' + e);
  } finally {
    await browser.close();
  }
  if (failures.length) {
    console.log(failures.length + ' check(s) failed');
    process.exit(1);
  }
  console.log('all checks passed');
})();
