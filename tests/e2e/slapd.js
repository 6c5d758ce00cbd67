// A real OpenLDAP slapd for the browser tests (the node twin of tests/directory/slapd.rs, smaller):
// a child process on a free loopback port, plain ldap:// only, from a generated slapd.conf and an
// LDIF loaded with slapadd, in a temporary directory removed by stop(). The system's slapd
// service, if any, is never used.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
export const SUFFIX = 'dc=example,dc=org';

/** Whether slapd can run here (Debian package slapd). */
export const slapdInstalled = () => existsSync(SLAPD) && existsSync(SLAPADD);

const freePort = () => new Promise((ok, fail) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  s.on('error', fail);
});

const listening = (port) => new Promise((ok) => {
  const sock = connect({ host: '127.0.0.1', port }, () => { sock.destroy(); ok(true); });
  sock.on('error', () => ok(false));
});

/** people: [{ uid, cn, mail, password, groups: ['admins'] }] -> the LDIF of the tree. */
function ldif(people) {
  const groups = [...new Set(people.flatMap((p) => p.groups || []))];
  const out = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example`,
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups`,
  ];
  for (const p of people) {
    out.push([`dn: uid=${p.uid},ou=people,${SUFFIX}`, 'objectClass: inetOrgPerson', `uid: ${p.uid}`, `cn: ${p.cn}`,
      `sn: ${p.cn.split(' ').pop()}`, p.mail && `mail: ${p.mail}`, `userPassword: ${p.password}`].filter(Boolean).join('\n'));
  }
  for (const g of groups) {
    const members = people.filter((p) => p.groups?.includes(g)).map((p) => `member: uid=${p.uid},ou=people,${SUFFIX}`);
    out.push([`dn: cn=${g},ou=groups,${SUFFIX}`, 'objectClass: groupOfNames', `cn: ${g}`, ...members].join('\n'));
  }
  return `${out.join('\n\n')}\n`;
}

/** Starts slapd with these people; resolves { url, stop() } once it accepts connections. */
export async function startSlapd(people) {
  const dir = mkdtempSync(join(tmpdir(), 'ece-e2e-slapd-'));
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'tree.ldif'), ldif(people));
  writeFileSync(join(dir, 'slapd.conf'), `${['core', 'cosine', 'inetorgperson'].map((s) => `include /etc/ldap/schema/${s}.schema`).join('\n')}
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
access to attrs=userPassword
  by anonymous auth
  by * none
access to * by * read
database mdb
suffix "${SUFFIX}"
directory ${dir}/db
maxsize 10485760
`);
  execFileSync(SLAPADD, ['-f', join(dir, 'slapd.conf'), '-b', SUFFIX, '-l', join(dir, 'tree.ldif')], { stdio: 'pipe' });
  const port = await freePort();
  const child = spawn(SLAPD, ['-f', join(dir, 'slapd.conf'), '-h', `ldap://127.0.0.1:${port}/`, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (c) => { log += c; });
  child.stderr.on('data', (c) => { log += c; });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Poll until it listens (or exits), with a deadline.
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`slapd did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { url: `ldap://127.0.0.1:${port}`, stop };
}
