// Drives Debian's chromium (headless) through the viewer page with playwright-core, for
// tests/web/test_viewer_browser.py. Usage: node viewer_check.js CONFIG.json
// CONFIG: {chromium, userDataDir, out, pages: [{url, size, screenshots: [{t, sample, path}],
//          vertices: [{t, sample}], play: bool}]}
// Writes {pages: [{info, consoleErrors, vertices: [[x0, y0, z0, ...]], play}]} to CONFIG.out.
const fs = require('fs');
const { chromium } = require('playwright-core');

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // the page starts the audio from a script here; a user starts it with the Play button
  '--autoplay-policy=no-user-gesture-required',
];

async function checkPage(context, spec) {
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) {
      consoleErrors.push(`HTTP ${response.status()}: ${response.url()}`);
    }
  });
  // A fetch whose body three.js's FileLoader has read to the end through a stream reader is at
  // times reported as net::ERR_ABORTED although every byte arrived (the file loads and the
  // vertices match); other network failures count as errors.
  page.on('requestfailed', (request) => {
    const reason = request.failure() ? request.failure().errorText : 'unknown';
    if (reason !== 'net::ERR_ABORTED') {
      consoleErrors.push(`request failed: ${request.url()} (${reason})`);
    }
  });
  await page.goto(`${spec.url}?size=${spec.size}`, { waitUntil: 'load' });
  const info = await page.evaluate(() => window.lsfViewer.ready);
  for (const shot of spec.screenshots || []) {
    await page.evaluate(([t, k]) => {
      window.lsfViewer.selectSample(k);
      window.lsfViewer.seek(t);
      window.lsfViewer.renderNow();
    }, [shot.t, shot.sample || 0]);
    await page.locator('#view').screenshot({ path: shot.path });
  }
  const vertices = [];
  for (const v of spec.vertices || []) {
    vertices.push(await page.evaluate(([t, k]) => window.lsfViewer.vertexPositions(t, k), [v.t, v.sample || 0]));
  }
  let play = null;
  if (spec.play) {
    await page.evaluate(() => window.lsfViewer.seek(0));
    await page.click('#play'); // a real click: the user gesture path
    const start = Date.now();
    await page.waitForTimeout(1200);
    const state = await page.evaluate(() => ({
      time: window.lsfViewer.time(),
      playing: window.lsfViewer.isPlaying(),
      button: document.getElementById('play').textContent,
      scrub: Number(document.getElementById('scrub').value),
    }));
    state.wallSeconds = (Date.now() - start) / 1000;
    await page.click('#play');
    state.pausedAt = await page.evaluate(() => window.lsfViewer.time());
    await page.waitForTimeout(300);
    state.stillAt = await page.evaluate(() => window.lsfViewer.time());
    state.playingAfterPause = await page.evaluate(() => window.lsfViewer.isPlaying());
    play = state;
  }
  if (spec.pagePng) {
    await page.screenshot({ path: spec.pagePng });
  }
  await page.close();
  return { info, consoleErrors, vertices, play };
}

(async () => {
  const config = JSON.parse(fs.readFileSync(process.argv[process.argv.length - 1], 'utf8'));
  const context = await chromium.launchPersistentContext(config.userDataDir, {
    executablePath: config.chromium,
    headless: true,
    args: FLAGS,
    viewport: { width: 800, height: 760 },
  });
  try {
    const pages = [];
    for (const spec of config.pages) {
      pages.push(await checkPage(context, spec));
    }
    fs.writeFileSync(config.out, JSON.stringify({ pages }));
  } finally {
    await context.close();
  }
  console.log(JSON.stringify({ ok: true }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
