#!/usr/bin/env python3
"""End-to-end test of examples/ansible: the daneroll role and the rolling
rotation playbook, run by the real `ansible-playbook` (Debian's
ansible-core) against the sandbox's real BIND, NSD, Unbound and Postfix.

The fleet: four "machines", inventory hosts with ansible_connection=local,
each with its own config, state directory, TSIG key file and MTA:

  mx1-a  MX name mx1, Postfix `postfix` on .25, ECDSA + RSA, current+next
  mx1-b  MX name mx1, Postfix `postfix2` on .26, ECDSA + RSA, current+next,
         TSIG secret from ansible-vault (the other hosts copy a key file)
  mx2    MX name mx2, the test's STARTTLS server on .27 (reads its files per
         session, like Exim: mta.type "exim"), ECDSA, current+next; its
         first certificate expires in 5 days (renew_before is 10d), so its
         first tick starts a renewal and exits 4 (waiting)
  mx3    MX name mx3, the same on .28, ECDSA + RSA, current+issuer

mx1-a and mx1-b are two machines behind one MX name (mx1 has the A records
.25 and .26): both publish at _25._tcp.mx1, each its own keys, each probing
only its own address (probe.addresses). mx2 and mx3 have names of their own;
the sandbox gives every name the A records .25/.26 and its update keys may
not change A records, so their MTAs live on .27/.28 and their configs pin
probe.addresses there (on a real fleet: leave probe.addresses unset).

Steps and what is asserted:
 1. site.yml (the role): files and modes, init, one tick (mx2's exits 4,
    waiting, and the play goes on); site.yml with daneroll_run_wait until
    stable (mx2's renewal deploys); once more: idempotent (changed=0 on
    every host).
 2. site.yml --check and rotate-fleet.yml --check: exit 0, they report the
    plan, and change nothing: TLSA RRsets at every authoritative server, the
    chain each MTA presents (both key types), every file of every host.
 3. rotate-fleet.yml: every host ends stable with a new key deployed, its
    MTA presents the new chain (openssl s_client, independently of
    daneroll), which DANE-verifies against the RRset the validating resolver
    serves (openssl -dane_tlsa_*, and the sandbox's dane-check across both
    mx1 machines). A watcher samples the RRsets at the primary every 0.1 s
    during the run; with the per-host time windows of the rolling play
    (from a callback plugin) it asserts: the hosts ran one after another in
    inventory order; every record in every sample belongs to exactly one
    host (no stray records); every change happened while its owner's
    rotation ran (no host touched another's records); before a host's
    window its old records are all there, after it its new ones.
 4. Stop on first failure: mx2's MTA is stopped and rotate-fleet.yml runs
    again: it fails; mx1-a and mx1-b rotated again, mx2 rolled back (its
    old chain kept, phase failed), mx3 was not touched at all.
 5. A third run stops in the pre-flight (mx2 failed) before any host acts.

usage (root): fleet_rotation_test.py --daneroll BIN --source ROOT --work DIR
with DANEROLL_SANDBOX_DIR naming a sandbox started with
  --second-mx --policy-host mx2 --policy-host mx3
(tests/ansible/CMakeLists.txt does that). Figures go to WORK/figures.json.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

T0 = time.monotonic()
ANSIBLE_PLAYBOOK = "/usr/bin/ansible-playbook"
ANSIBLE_VAULT = "/usr/bin/ansible-vault"


class TestFailure(Exception):
    pass


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def run(argv, timeout=60, check_rc=True, env=None, stdin=None):
    argv = [str(a) for a in argv]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           input=stdin)
    except subprocess.TimeoutExpired as e:
        raise TestFailure(f"timed out after {timeout}s: {' '.join(argv)}") from e
    if check_rc and p.returncode != 0:
        raise TestFailure(f"{' '.join(argv)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


# ---- the fleet ------------------------------------------------------------------

HOSTS = [
    dict(name="mx1-a", mx="mx1", octet=25, mta="postfix", instance="postfix",
         algorithms=["ecdsa-p256", "rsa2048"], scheme="current+next", tsig="file"),
    dict(name="mx1-b", mx="mx1", octet=26, mta="postfix", instance="postfix2",
         algorithms=["ecdsa-p256", "rsa2048"], scheme="current+next", tsig="vault"),
    dict(name="mx2", mx="mx2", octet=27, mta="exim", algorithms=["ecdsa-p256"],
         scheme="current+next", tsig="file512", initial_days=5),
    dict(name="mx3", mx="mx3", octet=28, mta="exim", algorithms=["ecdsa-p256", "rsa2048"],
         scheme="current+issuer", tsig="file"),
]
SIGALGS = {"ecdsa": "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384",
           "rsa": "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256"}


def alg_kind(algorithm):
    return "rsa" if algorithm.startswith("rsa") else "ecdsa"


class Fleet:
    def __init__(self, args):
        self.bin = Path(os.environ.get("DANEROLL_E2E_BIN") or args.daneroll).resolve()
        self.src = Path(args.source).resolve()
        self.examples = self.src / "examples" / "ansible"
        self.work = Path(args.work).resolve()
        sb = os.environ.get("DANEROLL_SANDBOX_DIR")
        check(sb, "DANEROLL_SANDBOX_DIR is not set (run through ctest, or export it)")
        self.sb = Path(sb)
        self.env = self.sandbox_env()
        self.zone = self.env["SANDBOX_ZONE"]
        self.net = self.env["SANDBOX_NET"]
        self.primary = self.env["SANDBOX_PRIMARY_ADDR"]
        self.ns = self.env["SANDBOX_NS_ADDRS"].split()
        self.resolver = self.env["SANDBOX_RESOLVER_ADDR"]
        self.sandbox = self.src / "tests" / "sandbox" / "sandbox"
        self.local_ca = self.src / "tests" / "sandbox" / "local-ca"
        self.ca = self.work / "ca"
        self.servers = {}  # host name -> Popen of its STARTTLS server
        self.added_addrs = []
        self.figures = {}
        for h in HOSTS:
            h["fqdn"] = f"{h['mx']}.{self.zone}"
            h["addr"] = f"{self.net}.{h['octet']}"
            h["dir"] = self.work / "hosts" / h["name"]
            h["config"] = h["dir"] / "etc" / "daneroll.toml"
            h["state"] = h["dir"] / "state"

    def sandbox_env(self):
        p = run(["bash", "-c", '. "$1" && env -0', "_", self.sb / "env.sh"])
        env = dict(kv.split("=", 1) for kv in p.stdout.split("\0") if "=" in kv)
        need = ["SANDBOX_POLICY_HOSTS", "SANDBOX_POSTFIX_INSTANCES"]
        check(all(k in env for k in need), f"{self.sb}/env.sh lacks {need}")
        for h in ("mx1", "mx2", "mx3"):
            check(f"{h}.{env['SANDBOX_ZONE']}" in env["SANDBOX_POLICY_HOSTS"].split(),
                  f"the sandbox needs --policy-host {h} (has {env['SANDBOX_POLICY_HOSTS']})")
        check("postfix2" in env["SANDBOX_POSTFIX_INSTANCES"].split(),
              "the sandbox needs --second-mx")
        return env

    def daneroll(self, host, *args, timeout=120, check_rc=True):
        return run([self.bin, *args, "-c", host["config"]], timeout=timeout, check_rc=check_rc)

    def status(self, host):
        return json.loads(self.daneroll(host, "status", "--json").stdout)

    # ---- setup ----------------------------------------------------------------

    def setup(self):
        if self.work.exists():
            shutil.rmtree(self.work)
        (self.work / "logs").mkdir(parents=True)
        self.work.chmod(0o755)
        run([self.local_ca, "init", self.ca, "daneroll fleet test CA"])
        # Leftovers of an earlier run against the same sandbox: the TLSA
        # RRsets start empty, so every record seen later has a known owner.
        for mx in ("mx1", "mx2", "mx3"):
            run([self.sandbox, "nsupdate", self.sb, "good"], timeout=30,
                stdin=f"update delete _25._tcp.{mx}.{self.zone} TLSA\nsend\n")
        for h in HOSTS:
            (h["dir"] / "mta").mkdir(parents=True)
            if h["mta"] == "postfix":
                h["tls"] = Path(self.env[f"SANDBOX_{h['instance'].upper()}_ECDSA_PEM"]).parent
                h["pf_config"] = self.env[f"SANDBOX_{h['instance'].upper()}_CONFIG_DIR"]
            else:
                h["tls"] = h["dir"] / "mta"
        # Every machine starts with keys of its own: postfix2 begins with
        # copies of postfix's files, so mx1-b gets new ones (two machines
        # sharing a key would share its TLSA record too). mx2/mx3 get
        # certificates of the local CA (mx3's scheme lists it as issuer).
        mx1b = HOSTS[1]
        for alg in mx1b["algorithms"]:
            key, chain = self.issue(mx1b, alg)
            self.write_atomic(mx1b["tls"] / f"{alg}.pem", key + chain, 0o600)
        run([self.sandbox, "postfix-reload", self.sb, "postfix2"], timeout=60)
        for h in HOSTS[2:]:
            for alg in h["algorithms"]:
                key, chain = self.issue(h, alg)
                self.write_atomic(h["tls"] / f"{alg}.key", key, 0o600)
                self.write_atomic(h["tls"] / f"{alg}.pem", chain, 0o644)
            self.start_mta(h)
        self.write_inventory()

    def issue(self, host, alg):
        d = host["dir"] / "mta"
        key_file, csr, out = d / "initial.key", d / "initial.csr", d / "initial.pem"
        if alg.startswith("rsa"):
            gen = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:" + alg[3:]]
        else:
            gen = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        run(["openssl", "genpkey", *gen, "-out", key_file])
        run(["openssl", "req", "-new", "-key", key_file, "-subj", f"/CN={host['fqdn']}",
             "-addext", f"subjectAltName=DNS:{host['fqdn']}", "-out", csr])
        run([self.local_ca, "sign", self.ca, csr, out, str(host.get("initial_days", 30))])
        key, chain = key_file.read_text(), out.read_text()
        for f in (key_file, csr, out):
            f.unlink()
        return key, chain

    @staticmethod
    def write_atomic(path, text, mode):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(mode)
        tmp.rename(path)

    def start_mta(self, h):
        have = run(["ip", "-4", "-o", "addr", "show", "dev", "lo"]).stdout
        if f" {h['addr']}/" not in have:
            run(["ip", "addr", "add", f"{h['addr']}/32", "dev", "lo"])
            self.added_addrs.append(h["addr"])
        busy = run(["ss", "-Htln", f"sport = :25"]).stdout
        check(f"{h['addr']}:25" not in busy, f"{h['addr']}:25 is already in use:\n{busy}")
        argv = ["/usr/bin/python3", self.src / "tests" / "ansible" / "starttls-server.py",
                "--listen", h["addr"], "--name", h["fqdn"], "--lifetime", "900"]
        for alg in h["algorithms"]:
            argv += ["--cert", h["tls"] / f"{alg}.key", h["tls"] / f"{alg}.pem"]
        logf = open(h["dir"] / "mta" / "server.log", "w")
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=logf,
                             text=True)
        self.servers[h["name"]] = p
        ready = []
        t = threading.Thread(target=lambda: ready.append(p.stdout.readline()), daemon=True)
        t.start()
        t.join(15)
        check(ready and ready[0].strip() == "ready",
              f"the STARTTLS server of {h['name']} did not start; see {logf.name}")

    def stop_mta(self, h):
        p = self.servers.pop(h["name"], None)
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def cleanup(self):
        for name in list(self.servers):
            self.stop_mta(next(h for h in HOSTS if h["name"] == name))
        for a in self.added_addrs:
            run(["ip", "addr", "del", f"{a}/32", "dev", "lo"], check_rc=False)

    # ---- inventory --------------------------------------------------------------

    def service(self, h):
        svc = {
            "id": h["mx"],
            "host": h["fqdn"],
            "ttl": int(self.env["SANDBOX_TTL"]),
            "algorithms": h["algorithms"],
            "scheme": h["scheme"],
            "rotation_period": "30d",
            "renew_before": "10d",
            "source": {"type": "command",
                       "command": [str(self.local_ca), "sign", str(self.ca), "{csr}", "{chain}",
                                   "90"]},
            "probe": {"addresses": [h["addr"]], "timeout": "5s"},
        }
        if h["mta"] == "postfix":
            svc["mta"] = {"type": "postfix", "combined_file": f"{h['tls']}/{{algorithm}}.pem",
                          "reload": ["/usr/sbin/postfix", "-c", h["pf_config"], "reload"]}
        else:
            svc["mta"] = {"type": "exim", "key_file": f"{h['tls']}/{{algorithm}}.key",
                          "chain_file": f"{h['tls']}/{{algorithm}}.pem"}
        if h["scheme"] == "current+issuer":
            svc["issuers"] = {alg: [str(self.ca / "int.pem")] for alg in h["algorithms"]}
        return svc

    def write_inventory(self):
        inv = self.work / "inventory"
        (inv / "group_vars").mkdir(parents=True)
        hosts = {h["name"]: {"ansible_connection": "local",
                             "ansible_python_interpreter": "/usr/bin/python3"} for h in HOSTS}
        (inv / "hosts.yml").write_text(json.dumps({"mx": {"hosts": hosts}}, indent=2))
        group = {
            "daneroll_bin": str(self.bin),
            "daneroll_global": {"resolver": self.resolver, "log_level": "info"},
            "daneroll_zones": [{"name": self.zone, "tsig_key": "update"}],
            "daneroll_timer": True,
            "daneroll_timer_start": False,
            "daneroll_timer_units_src": str(self.src / "packaging" / "systemd"),
            "daneroll_run_timeout": "2m",
            "daneroll_rotate_timeout": 120,
            "daneroll_rotate_poll": 1,
            "daneroll_lock_retries": 3,
            "daneroll_lock_delay": 1,
        }
        (inv / "group_vars" / "mx.yml").write_text(json.dumps(group, indent=2))
        self.vault_pass = self.work / "vault-pass"
        self.vault_pass.write_text("daneroll fleet test\n")
        self.vault_pass.chmod(0o600)
        for h in HOSTS:
            hv = inv / "host_vars" / h["name"]
            hv.mkdir(parents=True)
            v = {
                "daneroll_config_dir": str(h["dir"] / "etc"),
                "daneroll_state_dir": str(h["state"]),
                "daneroll_systemd_dir": str(h["dir"] / "systemd"),
                "daneroll_timer_read_write_paths": [str(h["tls"]), str(self.ca)],
                "daneroll_services": [self.service(h)],
            }
            if h["tsig"] == "vault":
                name, alg, secret = self.tsig_parts(self.env["SANDBOX_TSIG512_FILE"])
                v["daneroll_tsig_keys"] = [{"id": "update", "name": name, "algorithm": alg,
                                            "secret": "{{ vault_daneroll_tsig_secret }}"}]
                p = run([ANSIBLE_VAULT, "encrypt_string", "--vault-password-file",
                         self.vault_pass, "--name", "vault_daneroll_tsig_secret", secret])
                (hv / "vault.yml").write_text(p.stdout)
                check("$ANSIBLE_VAULT" in p.stdout, "ansible-vault encrypt_string failed")
            else:
                f = self.env["SANDBOX_TSIG512_FILE" if h["tsig"] == "file512" else
                             "SANDBOX_TSIG_FILE"]
                v["daneroll_tsig_keys"] = [{"id": "update", "src": f}]
            (hv / "main.yml").write_text(json.dumps(v, indent=2))
        self.inventory = inv / "hosts.yml"

    @staticmethod
    def tsig_parts(path):
        text = Path(path).read_text()
        m = re.search(r'key\s+"([^"]+)"\s*\{\s*algorithm\s+([\w-]+);\s*secret\s+"([^"]+)";', text)
        check(m, f"cannot read the TSIG key in {path}")
        return m.group(1), m.group(2), m.group(3)

    # ---- ansible ------------------------------------------------------------------

    def ansible(self, label, playbook, *extra, check_mode=False, expect_rc=0, events=None):
        env = dict(os.environ)
        env.update({
            "ANSIBLE_VAULT_PASSWORD_FILE": str(self.vault_pass),
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp" / "local"),
            "ANSIBLE_REMOTE_TEMP": str(self.work / "ansible-tmp" / "remote"),
            "ANSIBLE_ASYNC_DIR": str(self.work / "ansible-tmp" / "async"),
            "ANSIBLE_NOCOLOR": "1",
            "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ in the source tree
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_CALLBACK_PLUGINS": str(self.src / "tests" / "ansible" / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "fleet_events",
            "FLEET_EVENTS_FILE": str(events or (self.work / "logs" / f"{label}.events")),
        })
        argv = [ANSIBLE_PLAYBOOK, "-i", self.inventory, self.examples / playbook, *extra]
        if check_mode:
            argv.append("--check")
        start = time.monotonic()
        p = run(argv, timeout=480, check_rc=False, env=env)
        seconds = time.monotonic() - start
        out = p.stdout + p.stderr
        (self.work / "logs" / f"{label}.log").write_text(out)
        recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
                 for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", p.stdout, re.M)}
        log(f"ansible-playbook {playbook}{' --check' if check_mode else ''} ({label}): "
            f"exit {p.returncode} in {seconds:.1f} s; changed: "
            + ", ".join(f"{h}={r.get('changed')}" for h, r in recap.items()))
        if p.returncode != expect_rc:
            print(out[-6000:])
            raise TestFailure(f"{label}: ansible-playbook exited {p.returncode}, "
                              f"expected {expect_rc}; log in {self.work}/logs/{label}.log")
        self.figures[label] = round(seconds, 2)
        return out, recap

    # ---- observation, independent of daneroll ---------------------------------

    def rrsets(self, server):
        qs = []
        for mx in ("mx1", "mx2", "mx3"):
            qs += ["TLSA", f"_25._tcp.{mx}.{self.zone}"]
        p = run(["dig", f"@{server}", "+norec", "+noall", "+answer", "+nosplit", "+time=2",
                 "+tries=2", *qs], timeout=20)
        out = {mx: set() for mx in ("mx1", "mx2", "mx3")}
        for line in p.stdout.splitlines():
            f = line.split()
            if len(f) >= 8 and f[3] == "TLSA":
                mx = f[0].split(".")[2]
                out[mx].add(f"{f[4]} {f[5]} {f[6]} {''.join(f[7:]).lower()}")
        return {k: frozenset(v) for k, v in out.items()}

    def all_rrsets(self):
        return {ns: self.rrsets(ns) for ns in self.ns}

    def served_leaf(self, h, alg):
        """The SPKI SHA-256 of the leaf the MTA presents for this key type."""
        p = run(["timeout", "20", "openssl", "s_client", "-starttls", "smtp", "-connect",
                 f"{h['addr']}:25", "-sigalgs", SIGALGS[alg_kind(alg)], "-showcerts"],
                timeout=30, check_rc=False, stdin="")
        m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", p.stdout, re.S)
        check(m, f"{h['name']} {alg}: no certificate from {h['addr']}:\n{p.stdout[-800:]}")
        pub = run(["openssl", "x509", "-noout", "-pubkey"], stdin=m.group(0)).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                             capture_output=True, timeout=20, check=True).stdout
        return hashlib.sha256(der).hexdigest()

    def served(self):
        return {(h["name"], alg): self.served_leaf(h, alg)
                for h in HOSTS for alg in h["algorithms"]}

    def dane_verify(self, h, alg):
        """openssl's DANE check of the chain at h's address against the RRset
        of h's name that the validating resolver serves (AD required)."""
        p = run(["dig", f"@{self.resolver}", "+dnssec", "+nosplit", "+noall", "+answer",
                 "+comments", "TLSA", f"_25._tcp.{h['fqdn']}"], timeout=20)
        check(re.search(r"^;; flags:[^;]* ad[ ;]", p.stdout, re.M),
              f"TLSA of {h['fqdn']}: no AD bit from the resolver")
        rr = [" ".join(l.split()[4:]) for l in p.stdout.splitlines()
              if not l.startswith(";") and len(l.split()) > 7 and l.split()[3] == "TLSA"]
        check(rr, f"no TLSA record for {h['fqdn']}")
        argv = ["timeout", "20", "openssl", "s_client", "-starttls", "smtp", "-connect",
                f"{h['addr']}:25", "-sigalgs", SIGALGS[alg_kind(alg)], "-dane_tlsa_domain",
                h["fqdn"], "-verify_return_error", "-brief"]
        for r in rr:
            argv += ["-dane_tlsa_rrdata", r]
        p = run(argv, timeout=30, check_rc=False, stdin="")
        check("Verification: OK" in p.stdout + p.stderr,
              f"{h['name']} {alg}: the chain at {h['addr']} does not DANE-verify against "
              f"{rr}:\n{(p.stdout + p.stderr)[-800:]}")

    def file_hashes(self):
        """Content and mode of every file of every host (config, TSIG key,
        state, keys, MTA files)."""
        out = {}
        roots = [h["dir"] for h in HOSTS] + [HOSTS[0]["tls"], HOSTS[1]["tls"]]
        for root in roots:
            for p in sorted(Path(root).rglob("*")):
                if p.is_file() and not p.name.endswith(".log"):
                    st = p.stat()
                    out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), oct(st.st_mode))
        return out

    def owned(self, statuses):
        """record -> host, from each host's daneroll status."""
        out = {}
        for h in HOSTS:
            for u in statuses[h["name"]]["units"]:
                for r in u["records"]:
                    rec = r["record"].lower()
                    check(out.get(rec, h["name"]) == h["name"],
                          f"record {rec[:30]} claimed by {out.get(rec)} and {h['name']}")
                    out[rec] = h["name"]
        return out

    def records_of(self, status):
        return {r["record"].lower() for u in status["units"] for r in u["records"]}


class Watcher(threading.Thread):
    """Samples the TLSA RRsets at the primary every 0.1 s until stopped."""

    def __init__(self, fleet):
        super().__init__(daemon=True)
        self.fleet = fleet
        self.samples = []  # (time, {mx: frozenset})
        self.stop = threading.Event()
        self.error = None

    def run(self):
        deadline = time.time() + 600
        try:
            while not self.stop.is_set() and time.time() < deadline:
                t = time.time()
                s = self.fleet.rrsets(self.fleet.primary)
                self.samples.append(((t + time.time()) / 2, s))
                self.stop.wait(0.1)
        except Exception as e:  # reported by the main thread
            self.error = e


def events_of(events_file):
    return [json.loads(line) for line in Path(events_file).read_text().splitlines()]


def host_windows(events_file, play_prefix):
    """host -> (first start, last result) of its tasks in the play whose name
    starts with play_prefix."""
    w = {}
    for e in events_of(events_file):
        if not (e.get("play") or "").startswith(play_prefix) or "host" not in e:
            continue
        a, b = w.get(e["host"], (e["t"], e["t"]))
        w[e["host"]] = (min(a, e["t"]), max(b, e["t"]))
    return w


# ---- the test ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daneroll", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    check(os.geteuid() == 0, "needs root (loopback addresses, the sandbox's Postfix)")
    for tool in (ANSIBLE_PLAYBOOK, ANSIBLE_VAULT):
        check(os.access(tool, os.X_OK),
              f"{tool} not found: install Debian's ansible-core (scripts/install-deps.sh)")
    fleet = Fleet(args)
    try:
        test(fleet)
    finally:
        fleet.cleanup()
        (fleet.work / "figures.json").write_text(json.dumps(fleet.figures, indent=2) + "\n")
    log("PASS: the role installs and converges, --check changes nothing, the rolling "
        "rotation rotates every host one at a time without touching another's records, "
        "and stops at the first failure")


def test(f):
    wall = time.monotonic()
    log(f"ansible-playbook: {run([ANSIBLE_PLAYBOOK, '--version']).stdout.splitlines()[0]}")
    f.setup()
    check_example(f)
    log("fleet set up: " + ", ".join(f"{h['name']} ({h['fqdn']} at {h['addr']}, {h['mta']})"
                                     for h in HOSTS))

    # ---- 1. the role ---------------------------------------------------------
    out, recap = f.ansible("site-first", "site.yml")
    ticks = {e["host"]: e for e in events_of(f.work / "logs" / "site-first.events")
             if "One tick" in e.get("task", "") and e["event"] != "start"}
    for h in HOSTS:
        check(recap[h["name"]]["changed"] > 0 and recap[h["name"]]["failed"] == 0,
              f"{h['name']}: the first run changed nothing: {recap[h['name']]}")
        want = 4 if h.get("initial_days") else 0
        check(ticks[h["name"]]["event"] == "ok" and ticks[h["name"]]["rc"] == want and
              ticks[h["name"]]["changed"], f"{h['name']}: first tick {ticks[h['name']]}, "
                                           f"expected ok, changed, exit {want}")
        check_modes(h)
    log("first tick: changed on every host, mx2's exit 4 (a renewal waiting) is not a failure")
    adopted = f.status(HOSTS[2])["units"][0]["deployed"]["key"]
    f.ansible("site-converge", "site.yml", "-e", '{"daneroll_run_wait": true}')
    for h in HOSTS:
        units = f.status(h)["units"]
        check(all(u["phase"] == "stable" for u in units), f"{h['name']} not stable: {units}")
    check(f.status(HOSTS[2])["units"][0]["deployed"]["key"] != adopted,
          "mx2's renewal did not deploy during site.yml -e daneroll_run_wait=true")
    out, recap = f.ansible("site-idempotent", "site.yml")
    for h in HOSTS:
        check(recap[h["name"]]["changed"] == 0,
              f"{h['name']}: a second run on a stable fleet changed {recap[h['name']]}")
    check_timer_files(f)

    # ---- 2. check mode changes nothing ----------------------------------------
    before_rr = f.all_rrsets()
    before_served = f.served()
    before_files = f.file_hashes()
    before_status = {h["name"]: f.status(h) for h in HOSTS}
    owners = f.owned(before_status)
    for mx in ("mx1", "mx2", "mx3"):
        want = {r for h in HOSTS if h["mx"] == mx for r in f.records_of(before_status[h["name"]])}
        for ns, rr in before_rr.items():
            check(rr[mx] == want, f"{ns} _25._tcp.{mx}: {sorted(rr[mx])} != the hosts' "
                                  f"records {sorted(want)}")
    for h in HOSTS:
        for alg in h["algorithms"]:
            f.dane_verify(h, alg)
    out, recap = f.ansible("site-check", "site.yml", check_mode=True)
    check(all(r["changed"] == 0 for r in recap.values()), f"site.yml --check: {recap}")
    check(out.count("daneroll plan --json") >= 1, "site.yml --check did not run daneroll plan")
    out, recap = f.ansible("rotate-check", "rotate-fleet.yml", check_mode=True)
    check(out.count("would run: daneroll rotate") == len(HOSTS),
          "rotate-fleet.yml --check did not report the rotation of every host")
    check(all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()),
          f"rotate-fleet.yml --check: {recap}")
    check(f.all_rrsets() == before_rr, "--check changed a TLSA RRset")
    check(f.served() == before_served, "--check changed a chain an MTA presents")
    after_files = f.file_hashes()
    changed_files = sorted(k for k in set(before_files) | set(after_files)
                           if before_files.get(k) != after_files.get(k))
    check(not changed_files, f"--check changed files: {changed_files}")
    log(f"--check: nothing changed ({len(before_files)} files, "
        f"{sum(len(v) for v in before_rr[f.primary].values())} records, "
        f"{len(before_served)} chains compared)")

    # ---- 3. the rolling rotation -------------------------------------------
    watcher = Watcher(f)
    watcher.start()
    events = f.work / "logs" / "rotate.events"
    out, recap = f.ansible("rotate", "rotate-fleet.yml", events=events)
    time.sleep(0.5)
    watcher.stop.set()
    watcher.join(10)
    check(watcher.error is None, f"the RRset watcher failed: {watcher.error}")
    after_status = {h["name"]: f.status(h) for h in HOSTS}
    after_served = f.served()
    for h in HOSTS:
        check(recap[h["name"]]["failed"] == 0 and recap[h["name"]]["changed"] > 0,
              f"{h['name']}: {recap[h['name']]}")
        for u in after_status[h["name"]]["units"]:
            check(u["phase"] == "stable" and not u["rotate_requested"],
                  f"{h['name']} {u['algorithm']}: {u['phase']}")
            old = next(x for x in before_status[h["name"]]["units"]
                       if x["algorithm"] == u["algorithm"])
            key = (h["name"], u["algorithm"])
            check(u["deployed"]["key"] != old["deployed"]["key"],
                  f"{key}: the deployed key did not change")
            check(before_served[key].startswith(old["deployed"]["key"]),
                  f"{key}: the MTA presented {before_served[key][:16]} before, daneroll "
                  f"says {old['deployed']['key']}")
            check(after_served[key].startswith(u["deployed"]["key"]),
                  f"{key}: the MTA presents {after_served[key][:16]}, not the new key "
                  f"{u['deployed']['key']}")
            f.dane_verify(h, u["algorithm"])
    for kind in ("ecdsa", "rsa"):
        run([f.sandbox, "dane-check", f.sb, "--alg", kind], timeout=60)
    log("every host stable, each MTA presents its new chain, DANE-verified "
        "(openssl per host and algorithm; dane-check across both mx1 machines)")
    audit_rrsets(f, watcher.samples, events, before_status, after_status)

    # ---- 4. stop on the first failure -----------------------------------------
    mid_status = after_status
    mid_served = after_served
    mid_rr = f.rrsets(f.primary)
    f.stop_mta(HOSTS[2])  # mx2's MTA is down: its deploy probe must fail
    out, recap = f.ansible("rotate-fail", "rotate-fleet.yml", expect_rc=2)
    st = {h["name"]: f.status(h) for h in HOSTS}
    for h in HOSTS[:2]:
        check(all(u["phase"] == "stable" for u in st[h["name"]]["units"]) and
              {u["deployed"]["key"] for u in st[h["name"]]["units"]}.isdisjoint(
                  {u["deployed"]["key"] for u in mid_status[h["name"]]["units"]}),
              f"{h['name']} should have rotated again before mx2 failed")
    mx2 = st["mx2"]["units"][0]
    check(mx2["phase"] == "failed" and "rolled back" in mx2["failure"],
          f"mx2 should have failed and rolled back: {mx2['phase']} {mx2['failure']}")
    check(mx2["deployed"]["key"] == mid_status["mx2"]["units"][0]["deployed"]["key"],
          "mx2 keeps its previous deployed key after the rollback")
    chain_file = HOSTS[2]["tls"] / "ecdsa-p256.pem"
    check(hashlib.sha256(spki_der(chain_file)).hexdigest().startswith(
              mid_status["mx2"]["units"][0]["deployed"]["key"]),
          "mx2's chain file is not its previous chain after the rollback")
    check(st["mx3"] == mid_status["mx3"], "mx3 was touched although mx2 failed before it")
    check(f.rrsets(f.primary)["mx3"] == mid_rr["mx3"], "mx3's records changed")
    for alg in HOSTS[3]["algorithms"]:
        check(f.served_leaf(HOSTS[3], alg) == mid_served[("mx3", alg)], "mx3's chain changed")
    ev = events_of(f.work / "logs" / "rotate-fail.events")
    check(not any(e.get("host") == "mx3" and e.get("play", "").startswith("Rotate")
                  for e in ev), "a task ran on mx3 after mx2 failed")
    log("stop on first failure: mx1-a and mx1-b rotated, mx2 failed and rolled back, "
        "mx3 untouched")

    # ---- 5. the pre-flight refuses a fleet with a failed host ------------------
    f.start_mta(HOSTS[2])
    before = {h["name"]: f.status(h) for h in HOSTS}
    out, recap = f.ansible("rotate-preflight", "rotate-fleet.yml", expect_rc=2)
    check("mx2/ecdsa-p256 is failed" in out,
          "the pre-flight should name mx2's failed unit")
    check({h["name"]: f.status(h) for h in HOSTS} == before,
          "a host changed although the pre-flight failed")
    log("pre-flight: refuses to start while mx2 is failed, nothing changed")
    f.figures["test_wall_seconds"] = round(time.monotonic() - wall, 1)


def check_example(f):
    """The example inventory parses, both playbooks pass --syntax-check with
    it, its config renders to what the README promises, and the role in
    check mode on a fresh host changes nothing and says there is no config
    to plan yet."""
    inv = f.examples / "inventory"
    out = f.work / "example"
    out.mkdir()
    for pb in ("site.yml", "rotate-fleet.yml"):
        run([ANSIBLE_PLAYBOOK, "-i", inv, "--syntax-check", f.examples / pb], timeout=120)
    run([ANSIBLE_PLAYBOOK, "-i", inv, f.src / "tests" / "ansible" / "render-example.yml",
         "-e", f"example_out={out}", "-e", f"example_role={f.examples / 'roles' / 'daneroll'}"],
        timeout=120)

    conf = {h: tomllib.loads((out / f"{h}.example.com.toml").read_text())
            for h in ("mx1a", "mx1b", "mx2")}
    check(conf["mx1a"]["service"]["mx1"]["probe"]["addresses"] == ["192.0.2.25"] and
          conf["mx1b"]["service"]["mx1"]["probe"]["addresses"] == ["192.0.2.26"] and
          "addresses" not in conf["mx2"]["service"]["mx2"]["probe"],
          f"example probe addresses: {conf}")
    for h, c in conf.items():
        check(c["tsig"]["dns"] == {"file": "/etc/daneroll/tsig/dns.key"} and
              c["zone"]["example.com"]["tsig_key"] == "dns" and
              c["daneroll"]["state_dir"] == "/var/lib/daneroll" and
              c["daneroll"]["default_ttl"] == 3600, f"example {h}: {c}")
    # A fresh host in check mode: nothing written, "nothing to plan yet".
    fresh = f.work / "example-fresh"
    o = run([ANSIBLE_PLAYBOOK, "-i", inv, f.examples / "site.yml", "--check", "-e",
             json.dumps({"ansible_connection": "local",
                         "ansible_python_interpreter": "/usr/bin/python3",
                         "daneroll_bin": str(f.bin), "daneroll_config_dir": f"{fresh}/etc",
                         "daneroll_state_dir": f"{fresh}/state",
                         "daneroll_systemd_dir": f"{fresh}/systemd",
                         "daneroll_timer_start": False})], timeout=300).stdout
    check(o.count("does not exist yet: nothing to plan") == 3 and not fresh.exists(),
          f"site.yml --check on fresh hosts:\n{o[-3000:]}")
    log("example inventory: syntax, rendered configs and --check on fresh hosts as documented")


def spki_der(chain_file):
    pub = run(["openssl", "x509", "-noout", "-pubkey", "-in", chain_file]).stdout
    return subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                          capture_output=True, timeout=20, check=True).stdout


def check_modes(h):
    def mode(p):
        st = Path(p).stat()
        check(st.st_uid == 0, f"{p} is not owned by root")
        return st.st_mode & 0o7777
    etc = h["dir"] / "etc"
    check(mode(etc) == 0o755, f"{etc}: {oct(mode(etc))}")
    check(mode(h["config"]) == 0o644, f"{h['config']}: {oct(mode(h['config']))}")
    check(mode(etc / "tsig") == 0o700, f"{etc}/tsig: {oct(mode(etc / 'tsig'))}")
    check(mode(etc / "tsig" / "update.key") == 0o600, "TSIG key file not 0600")
    check(mode(h["state"]) == 0o700, f"{h['state']}: {oct(mode(h['state']))}")
    text = h["config"].read_text()
    check("secret" not in text, f"{h['config']} holds a secret")


def check_timer_files(f):
    for h in HOSTS:
        d = h["dir"] / "systemd"
        svc = (d / "daneroll.service.d" / "ansible.conf").read_text()
        check(f"ExecStart={f.bin} run -c {h['config']}" in svc, f"{h['name']}: drop-in: {svc}")
        check(f"-{h['state']}" in svc and f"-{h['tls']}" in svc,
              f"{h['name']}: ReadWritePaths in the drop-in: {svc}")
        check((d / "daneroll.timer").exists() and (d / "daneroll.service").exists(),
              f"{h['name']}: the units were not copied")
    if shutil.which("systemd-analyze"):
        h = HOSTS[0]
        d = h["dir"] / "systemd"
        env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{d}:", SYSTEMD_LOG_COLOR="0")
        p = run(["systemd-analyze", "verify", "--man=no", d / "daneroll.service",
                 d / "daneroll.timer"], env=env, check_rc=False, timeout=60)
        out = (p.stdout + p.stderr).strip()
        check(p.returncode == 0 and not out, f"systemd-analyze verify: {out}")
        log("systemd units + the role's drop-ins: systemd-analyze verify is silent")


def audit_rrsets(f, samples, events, before_status, after_status):
    """The watcher's samples against each host's time window in the rolling
    play: see the module docstring, step 3."""
    check(len(samples) > 20, f"only {len(samples)} RRset samples")
    owners = f.owned(before_status)
    owners.update(f.owned(after_status))
    windows = host_windows(events, "Rotate")
    names = [h["name"] for h in HOSTS]
    check(sorted(windows) == sorted(names), f"rolling play windows: {windows}")
    for a, b in zip(names, names[1:]):
        check(windows[a][1] < windows[b][0],
              f"{a} ({windows[a]}) and {b} ({windows[b]}) overlap or are out of order")
    mx_of = {h["name"]: h["mx"] for h in HOSTS}
    before = {n: f.records_of(before_status[n]) for n in names}
    after = {n: f.records_of(after_status[n]) for n in names}
    changes = {n: 0 for n in names}
    prev_t, prev = None, None
    for t, s in samples:
        for mx, rr in s.items():
            stray = [r for r in rr if owners.get(r) is None or mx_of[owners[r]] != mx]
            check(not stray, f"_25._tcp.{mx} holds records of no host of {mx}: {stray}")
        for n in names:
            start, end = windows[n]
            if t < start:
                check(before[n] <= s[mx_of[n]], f"{n}'s records changed before its turn")
            if t > end:
                check(after[n] <= s[mx_of[n]], f"{n}'s new records missing after its turn")
        if prev is not None and s != prev:
            diff = set().union(*(s[mx] ^ prev[mx] for mx in s))
            who = {owners[r] for r in diff}
            running = {n for n in names if windows[n][0] <= t and windows[n][1] >= prev_t}
            check(who <= running, f"records of {sorted(who - running)} changed between "
                                  f"{prev_t:.2f} and {t:.2f}, while only {sorted(running)} "
                                  f"ran: {sorted(diff)}")
            for n in who:
                changes[n] += 1
        prev_t, prev = t, s
    for n in names:
        check(changes[n] > 0, f"no change of {n}'s records was seen")
        check(before[n] != after[n], f"{n}'s records did not change")
    f.figures["max_tlsa_records_seen"] = {mx: max(len(s[mx]) for _, s in samples)
                                          for mx in ("mx1", "mx2", "mx3")}
    f.figures["rotate_per_host_seconds"] = {n: round(windows[n][1] - windows[n][0], 2)
                                            for n in names}
    log(f"RRset audit: {len(samples)} samples at the primary; changes per host {changes}; "
        "each change by the host whose turn it was, no stray records, hosts one at a time "
        "in inventory order; per-host windows (s): "
        + ", ".join(f"{n} {windows[n][1] - windows[n][0]:.1f}" for n in names))


if __name__ == "__main__":
    try:
        main()
    except TestFailure as e:
        log(f"FAIL: {e}")
        sys.exit(1)
