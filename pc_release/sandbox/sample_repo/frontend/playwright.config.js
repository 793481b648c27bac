// Playwright e2e config of the admin web app: server.js on a free local port, the OS's chromium.
const { execFileSync } = require('node:child_process');
const { defineConfig } = require('@playwright/test');

// The config is evaluated again in every worker process; the port chosen first is passed down through
// the environment so all of them talk to the one server Playwright started.
if (!process.env.PC_E2E_PORT) {
  const probe = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})";
  process.env.PC_E2E_PORT = execFileSync(process.execPath, ['-e', probe]).toString().trim();
}
const port = process.env.PC_E2E_PORT;

module.exports = defineConfig({
  testDir: 'e2e',
  outputDir: process.env.PLAYWRIGHT_OUTPUT_DIR || 'test-results',
  timeout: 15000,
  expect: { timeout: 5000 },
  retries: Number(process.env.PLAYWRIGHT_RETRIES ?? 1),
  workers: 2,
  reporter: [['list'], ['json', { outputFile: process.env.PLAYWRIGHT_JSON_OUTPUT_NAME || 'playwright-report.json' }]],
  webServer: {
    command: 'node server.js',
    cwd: __dirname,
    url: `http://127.0.0.1:${port}/healthz`,
    env: { PORT: port, HOST: '127.0.0.1' },
    reuseExistingServer: false,
    timeout: 20000,
  },
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: process.env.PLAYWRIGHT_CHROMIUM_EXECUTABLE || '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        },
      },
    },
  ],
});
