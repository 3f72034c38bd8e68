#!/usr/bin/env python3
"""A minimal SMTP server with STARTTLS, the "MTA" of the fleet test's hosts
that have no Postfix of their own (the sandbox runs two Postfix instances,
the test needs more machines than that).

It behaves like Exim where daneroll cares: it reads its key and chain files
at every STARTTLS (so a deploy takes effect with no reload, daneroll's
`mta.type = "exim"`), it presents every configured chain (one per key type;
the client's signature algorithms pick one), and it refuses all mail.

    starttls-server.py --listen ADDR[:PORT] --name NAME \
        --cert KEY_FILE CHAIN_FILE [--cert ...] [--lifetime SECONDS]

Prints "ready" on stdout once every socket listens. Every wait is bounded:
each connection times out after 30 s of silence, the whole server exits
after --lifetime seconds (default 1800) or on SIGTERM/SIGINT.
"""
import argparse
import signal
import socketserver
import ssl
import sys
import threading


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def make_handler(name: bytes, certs):
    class Handler(socketserver.StreamRequestHandler):
        timeout = 30  # per read, so an idle client cannot hold a thread
        wbufsize = 0

        def reply(self, w, text: bytes):
            w.write(text + b"\r\n")

        def context(self):
            # Read the files now, per session, as Exim does.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            for key_file, chain_file in certs:
                ctx.load_cert_chain(chain_file, key_file)
            return ctx

        def handle(self):
            r, w = self.rfile, self.wfile
            tls = None
            try:
                self.reply(w, b"220 " + name + b" ESMTP starttls-server (refuses all mail)")
                for _ in range(100):  # bounded dialogue
                    line = r.readline(1024)
                    if not line:
                        return
                    verb = line.strip().split(b" ", 1)[0].upper()
                    if verb == b"EHLO":
                        if tls is None:
                            self.reply(w, b"250-" + name)
                            self.reply(w, b"250 STARTTLS")
                        else:
                            self.reply(w, b"250 " + name)
                    elif verb == b"HELO":
                        self.reply(w, b"250 " + name)
                    elif verb == b"STARTTLS" and tls is None:
                        try:
                            ctx = self.context()
                        except (OSError, ssl.SSLError) as e:
                            print(f"starttls-server: cannot load the certificates: {e}",
                                  file=sys.stderr, flush=True)
                            self.reply(w, b"454 4.7.0 TLS not available")
                            continue
                        self.reply(w, b"220 2.0.0 Ready to start TLS")
                        tls = ctx.wrap_socket(self.connection, server_side=True)
                        tls.settimeout(self.timeout)
                        r = tls.makefile("rb")
                        w = tls.makefile("wb", buffering=0)
                    elif verb == b"QUIT":
                        self.reply(w, b"221 2.0.0 Bye")
                        return
                    elif verb in (b"NOOP", b"RSET"):
                        self.reply(w, b"250 2.0.0 OK")
                    else:
                        self.reply(w, b"554 5.7.1 this test server refuses all mail")
            except (OSError, ssl.SSLError):
                return  # the client went away or the handshake failed

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", action="append", required=True, help="ADDR[:PORT] (default port 25)")
    p.add_argument("--name", required=True, help="the host name in the greeting")
    p.add_argument("--cert", nargs=2, action="append", required=True,
                   metavar=("KEY_FILE", "CHAIN_FILE"))
    p.add_argument("--lifetime", type=float, default=1800)
    a = p.parse_args()

    handler = make_handler(a.name.encode(), [tuple(c) for c in a.cert])
    servers = []
    for spec in a.listen:
        host, _, port = spec.partition(":")
        servers.append(Server((host, int(port or 25)), handler))
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    done.wait(a.lifetime)
    for s in servers:
        s.shutdown()
        s.server_close()


if __name__ == "__main__":
    main()
