// Container health probe for the web runtime: exit 0 only when the server answers /healthz with 200.
const http = require('node:http');

const port = process.env.PORT || 8080;
const request = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (response) => {
  process.exit(response.statusCode === 200 ? 0 : 1);
});
request.on('error', () => process.exit(1));
request.on('timeout', () => {
  request.destroy();
  process.exit(1);
});
