#!/usr/bin/env python3
"""A real SMTP server for the mail tests (aiosmtpd), writing what it receives
to a directory.

Each accepted message becomes NNNN.eml, with NNNN.meta beside it holding one
`key: value` per line (auth, tls, from, to). Options make it misbehave in the
ways a relay does: answer 451 (try later) to the first N messages, or 550 to
every message, so the daemon's retries and failures can be observed.

    smtp_sink.py --port P --out DIR [--fail-first N] [--reject]
                 [--starttls CERT KEY | --implicit CERT KEY] [--auth USER:PASS]

Prints "ready" on stdout once it accepts connections; runs until killed.
"""

import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out, fail_first, reject):
        self.out = out
        self.fail_first = fail_first
        self.reject = reject
        self.tries = 0
        self.stored = 0

    async def handle_DATA(self, server, session, envelope):
        self.tries += 1
        if self.reject:
            return "550 5.1.1 mailbox unavailable"
        if self.tries <= self.fail_first:
            return "451 4.3.0 try again later"
        self.stored += 1
        base = os.path.join(self.out, "%04d" % self.stored)
        tls = server.transport.get_extra_info("ssl_object") is not None
        auth = ""
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            auth = session.auth_data.login.decode("utf-8", "replace")
        meta = "auth: %s\ntls: %s\nfrom: %s\nto: %s\n" % (
            auth,
            "yes" if tls else "no",
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
        )
        # Written under a temporary name and renamed: the test never reads half a file.
        for suffix, data in ((".meta", meta.encode()), (".eml", envelope.original_content)):
            with open(base + suffix + ".tmp", "wb") as f:
                f.write(data)
            os.replace(base + suffix + ".tmp", base + suffix)
        return "250 2.0.0 stored"


def context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--reject", action="store_true")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sink = Sink(a.out, a.fail_first, a.reject)

    authenticator = None
    if a.auth:
        want_user, want_pass = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == want_user
                and data.password.decode() == want_pass
            )
            return AuthResult(success=ok, auth_data=data if ok else None)

    starttls = context(*a.starttls) if a.starttls else None
    implicit = context(*a.implicit) if a.implicit else None

    def factory():
        return SMTP(
            sink,
            hostname="localhost",
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=authenticator,
            auth_required=authenticator is not None,
            # Implicit TLS is TLS from the first byte; aiosmtpd only knows STARTTLS.
            auth_require_tls=starttls is not None,
        )

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", a.port, ssl=implicit)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
