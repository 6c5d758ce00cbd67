"""A throwaway OpenLDAP `slapd` for the directory cases of the bench (see bench/README.md).

One mdb database `dc=bench,dc=org` with users `dir-00`... (password PASSWORD of the harness),
plain `ldap://` on a free loopback port, started from a generated slapd.conf in the run directory,
pinned to the load generator's cores (its CPU is not the server's). Needs Debian's `slapd`
(scripts/test.sh installs it; bench/run.sh too). The system's slapd service is never used.
"""

import os
import socket
import subprocess
import time

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SUFFIX = "dc=bench,dc=org"
PEOPLE = f"ou=people,{SUFFIX}"


def available():
    return os.path.exists(SLAPD) and os.path.exists(SLAPADD)


def _ldif(users, password):
    out = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: bench\n",
           f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"]
    for u in users:
        out.append(f"dn: uid={u},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {u}\ncn: {u}\nsn: {u}\n"
                   f"mail: {u}@bench.example\nuserPassword: {password}\n")
    return "\n".join(out)


def _config(d):
    schemas = "".join(f"include /etc/ldap/schema/{s}.schema\n" for s in ("core", "cosine", "inetorgperson"))
    return schemas + f"""pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
access to attrs=userPassword
  by anonymous auth
  by * none
access to * by * read
database mdb
suffix "{SUFFIX}"
directory {d}/db
maxsize 104857600
"""


class Slapd:
    def __init__(self, run_dir, users, password, cpus=None):
        d = os.path.join(run_dir, "slapd")
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        conf = os.path.join(d, "slapd.conf")
        with open(conf, "w") as f:
            f.write(_config(d))
        ldif = os.path.join(d, "bench.ldif")
        with open(ldif, "w") as f:
            f.write(_ldif(users, password))
        subprocess.run([SLAPADD, "-f", conf, "-b", SUFFIX, "-l", ldif], check=True, capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"ldap://127.0.0.1:{self.port}"
        cmd = [SLAPD, "-f", conf, "-h", f"{self.url}/", "-d", "0"]
        if cpus:
            cmd = ["taskset", "-c", cpus] + cmd
        self.log = open(os.path.join(d, "slapd.log"), "ab")
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.p.returncode}; see {d}/slapd.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen within 15 s")

    def realm(self, realm_id):
        """An LDAP realm for this directory: DN templates, every user a platform viewer."""
        return {
            "id": realm_id, "name": "Bench LDAP", "urls": [self.url], "enabled": True,
            "bind_anonymously": True, "bind_type": "user_templates",
            "user_dn_templates": [f"uid={{0}},{PEOPLE}"],
            "role_mappings": {"default_roles": ["ece_platform_viewer"], "rules": []},
        }

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
