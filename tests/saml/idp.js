#!/usr/bin/env node
// The SAML identity provider of the HTTP tests: the real saml-idp (mcguinness, pinned in
// package.json) on 127.0.0.1, a free port, its own RSA key and self-signed certificate.
//
//   node tests/saml/idp.js --acs <ACS URL> --audience <SP entity id> --dir <writable dir>
//        [--issuer <entity id>] [--user <name>] [--groups g1,g2] [--mail <addr>] [--name <display>]
//        [--encrypt-cert <PEM file>] [--clock-offset <seconds>]
//
// When it listens it prints exactly one JSON line on stdout (port, base, metadata_url, entity_id,
// sso_url and the SAML attribute names of the user's principal, groups, name and mail); everything
// saml-idp itself logs goes to stderr. It runs until killed, until its stdin closes or until its
// parent dies, so that a test never leaks it.
//
// The key and certificate are made with the openssl CLI in --dir, and reused when already there:
// two launchers given the same --dir sign with the same key, two given different dirs with
// different keys (a test's "right issuer, wrong key").
//
// saml-idp is driven as a browser drives it: GET /saml/sso with an HTTP-Redirect AuthnRequest
// shows a login form carrying the request (ID -> InResponseTo, RelayState) in a hidden field;
// POSTing that form to /signin answers the auto-POST form for the SP. Nothing in node_modules is
// edited; what the tests need beyond saml-idp's options is done here:
//   * port 0 and the real port learnt by wrapping http.createServer (saml-idp does not say it);
//   * --clock-offset shifts this process's clock, so that the assertions it signs are already
//     expired (negative) or not yet valid (positive) by the server's clock.
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');
const { execFileSync } = require('child_process');

function usage(message) {
  process.stderr.write(`idp.js: ${message}\n` +
    'usage: node idp.js --acs URL --audience ID --dir DIR [--issuer ID] [--user NAME] ' +
    '[--groups g1,g2] [--mail ADDR] [--name DISPLAY] [--encrypt-cert PEM] [--clock-offset SECONDS]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const known = ['acs', 'audience', 'dir', 'issuer', 'user', 'groups', 'mail', 'name',
    'encrypt-cert', 'clock-offset'];
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = (argv[i] || '').replace(/^--/, '');
    if (!known.includes(key) || argv[i + 1] === undefined) usage(`bad argument ${argv[i]}`);
    out[key] = argv[i + 1];
  }
  for (const required of ['acs', 'audience', 'dir']) {
    if (!out[required]) usage(`--${required} is required`);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const dir = path.resolve(args.dir);
fs.mkdirSync(dir, { recursive: true });

// Everything but our one JSON line goes to stderr: saml-idp logs its banner, each request
// (morgan writes to process.stdout) and every response it mints.
const writeStdout = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => process.stderr.write(chunk, ...rest);

// Exit with the test that started us: stdin closes when the parent exits or drops the pipe;
// a parent killed outright also re-parents us, which the interval notices.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
const parentPid = process.ppid;
setInterval(() => { if (process.ppid !== parentPid) process.exit(0); }, 500).unref();

// A shifted clock, for assertions outside their validity window (saml and samlp read
// Date.now() / new Date() when they mint an assertion).
const offsetMs = Number(args['clock-offset'] || 0) * 1000;
if (!Number.isFinite(offsetMs)) usage('--clock-offset takes seconds');
if (offsetMs !== 0) {
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...a) { if (a.length === 0) super(RealDate.now() + offsetMs); else super(...a); }
    static now() { return RealDate.now() + offsetMs; }
  }
  global.Date = ShiftedDate;
}

// The signing key and its self-signed certificate (the certificate is what the metadata shows).
const keyFile = path.join(dir, 'idp-key.pem');
const certFile = path.join(dir, 'idp-cert.pem');
if (!fs.existsSync(keyFile) || !fs.existsSync(certFile)) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-days', '3650', '-subj', '/CN=ECE test SAML IdP', '-keyout', keyFile, '-out', certFile],
  { stdio: ['ignore', 'ignore', 'inherit'] });
}

// Encryption for the SP: saml-idp wants the certificate and its public key.
let encryption = {};
if (args['encrypt-cert']) {
  const pubFile = path.join(dir, 'sp-encryption-public-key.pem');
  fs.writeFileSync(pubFile, execFileSync('openssl', ['x509', '-pubkey', '-noout', '-in',
    path.resolve(args['encrypt-cert'])]));
  encryption = { encryptAssertion: true, encryptionCert: path.resolve(args['encrypt-cert']),
    encryptionPublicKey: pubFile };
}

// The user and the attributes the assertion carries (saml-idp's config file format).
const ATTRIBUTES = { principal: 'uid', groups: 'groups', name: 'displayName', mail: 'email' };
const user = args.user || 'saml.user';
const profile = {
  userName: user,
  nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  uid: user,
  displayName: args.name || `SAML user ${user}`,
  email: args.mail || `${user}@example.com`,
  groups: args.groups === undefined ? 'ece-admins' : args.groups,
};
const attribute = (id, displayName, multiValue) =>
  ({ id, optional: true, displayName, description: displayName, multiValue });
// One config file per process: launchers sharing a --dir (and so a key) may serve different users.
const configFile = path.join(dir, `idp-config-${process.pid}.json`);
fs.writeFileSync(configFile, JSON.stringify({
  user: profile,
  metadata: [
    attribute(ATTRIBUTES.principal, 'User ID', false),
    attribute(ATTRIBUTES.name, 'Display Name', false),
    attribute(ATTRIBUTES.mail, 'E-Mail Address', false),
    attribute(ATTRIBUTES.groups, 'Groups', true),
  ],
}, null, 2));

// saml-idp picks the port itself and never tells it: keep the server it creates.
let server;
const createServer = http.createServer;
http.createServer = function (...a) {
  server = createServer.apply(this, a);
  return server;
};
delete process.env.PORT;
delete process.env.HOST;

const issuer = args.issuer || 'urn:ece-test:saml-idp';
require('saml-idp').runServer({
  host: '127.0.0.1',
  port: 0,
  cert: certFile,
  key: keyFile,
  issuer,
  acsUrl: args.acs,
  audience: args.audience,
  configFile,
  signResponse: true,
  ...encryption,
});

server.on('listening', () => {
  const port = server.address().port;
  const base = `http://127.0.0.1:${port}`;
  writeStdout(JSON.stringify({
    port,
    base,
    metadata_url: `${base}/metadata`,
    entity_id: issuer,
    sso_url: `${base}/saml/sso`,
    attributes: ATTRIBUTES,
  }) + '\n');
});
