// node webhook-server.js  (no dependencies)
const crypto = require('crypto');
const http = require('http');

const WEBHOOK_SECRET = '{{webhook_secret}}';
const TOLERANCE_SECONDS = 5 * 60; // older (or future) timestamps are replays: refuse them
const handled = new Map(); // webhook-id -> when you handled it, kept 10 minutes

// webhook-signature is "v1," + base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`, keyed
// with the base64 part of your secret after "whsec_". For 24 hours after you regenerate
// your secret it lists one signature per secret, space-separated: accept any match.
function signatureIsValid(rawBody, headers) {
  const id = headers['webhook-id'] || '';
  const timestamp = headers['webhook-timestamp'] || '';
  const key = Buffer.from(
    WEBHOOK_SECRET.replace(/^whsec_/, '').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  const expected = Buffer.from('v1,' + crypto.createHmac('sha256', key)
    .update(`${id}.${timestamp}.`).update(rawBody).digest('base64'));
  return Boolean(id && timestamp) &&
    String(headers['webhook-signature'] || '').split(' ').some((signature) => {
      const received = Buffer.from(signature);
      return received.length === expected.length &&
        crypto.timingSafeEqual(received, expected);
    });
}

function isFresh(headers) {
  const age = Date.now() / 1000 - Number(headers['webhook-timestamp']);
  return Math.abs(age) <= TOLERANCE_SECONDS;
}

function alreadyHandled(id) {
  for (const [seen, at] of handled) { // oldest first; their replays are stale anyway
    if (Date.now() - at <= 2 * TOLERANCE_SECONDS * 1000) break;
    handled.delete(seen);
  }
  return handled.has(id);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    // Verify the bytes exactly as received, before parsing them.
    const rawBody = Buffer.concat(chunks);
    if (!signatureIsValid(rawBody, req.headers)) {
      res.writeHead(401).end('invalid signature');
      return;
    }
    if (!isFresh(req.headers)) {
      res.writeHead(400).end('stale timestamp');
      return;
    }
    const id = req.headers['webhook-id'];
    if (alreadyHandled(id)) {
      res.writeHead(200).end('duplicate'); // a retry or replay of an event you handled
      return;
    }
    const event = JSON.parse(rawBody);
    console.log('Received', event.event, event.data);
    handled.set(id, Date.now()); // only once handled: a failure is retried by the gateway
    res.writeHead(200).end('ok');
  });
}).listen(5000, () => console.log('Listening on http://localhost:5000/webhook'));
