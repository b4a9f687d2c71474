#!/usr/bin/env bash
# Drives samizdat's passphrase prompts through a pseudo-terminal: keygen asks twice with echo off,
# a mismatch is refused, and signing asks once for a protected key and never for an unprotected
# one. The passphrase must never appear in what the terminal shows.
set -u
SAMIZDAT=${SAMIZDAT:?set SAMIZDAT to the samizdat binary}
SRC=${SZ_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d "${TMPDIR:-/tmp}/sz-cli-tty.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
unset SAMIZDAT_PASSPHRASE_FILE SAMIZDAT_KEY
export HOME=$work XDG_CONFIG_HOME=$work/config

if ! python3 -c 'import os, pty; m, s = pty.openpty(); os.close(m); os.close(s)' 2>/dev/null; then
    echo "SKIPPED: no pseudo-terminals available here (0 passed, 0 failed)"
    exit 0
fi

python3 - "$SAMIZDAT" "$SRC/schema/examples/testimony-minimal.json" <<'EOF'
import os, pty, select, sys, time

def run(argv, answers, timeout=60):
    """Runs argv on a new pty, typing each answer after each passphrase prompt."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out, typed = b"", 0
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if typed < len(answers) and out.count(b"assphrase") > typed:
            os.write(fd, answers[typed])
            typed += 1
    else:
        os.kill(pid, 9)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), out.decode("utf-8", "replace"), typed

passed = failed = 0
def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   - " + name)
    else:
        failed += 1
        print("FAIL - %s: %s" % (name, detail))

bin, body = sys.argv[1], sys.argv[2]
pw = b"tty s3cret phrase"
rc, out, typed = run([bin, "keygen", "-o", "tty.key", "--kdf", "interactive"], [pw + b"\n", pw + b"\n"])
check("keygen on a terminal asks twice and succeeds", rc == 0 and typed == 2, "rc=%d typed=%d %r" % (rc, typed, out))
check("keygen does not echo the passphrase", "s3cret" not in out, repr(out))
check("keygen wrote the key", os.path.exists("tty.key") and os.path.exists("tty.key.pub"))

rc, out, typed = run([bin, "keygen", "-o", "mismatch.key", "--kdf", "interactive"], [pw + b"\n", b"something else\n"])
check("keygen refuses mismatched passphrases", rc == 1 and "do not match" in out, "rc=%d %r" % (rc, out))
check("nothing written on a mismatch", not os.path.exists("mismatch.key"))

rc, out, typed = run([bin, "keygen", "-o", "empty.key", "--kdf", "interactive"], [b"\n", b"\n"])
check("keygen refuses an empty passphrase", rc == 1 and "empty passphrase" in out, "rc=%d %r" % (rc, out))

rc, out, typed = run([bin, "--key", "tty.key", "sign", "testimony", body, "-o", "a.szr"], [pw + b"\n"])
check("sign asks once and signs", rc == 0 and typed == 1 and os.path.exists("a.szr"), "rc=%d %r" % (rc, out))
check("sign does not echo the passphrase", "s3cret" not in out, repr(out))

rc, out, typed = run([bin, "--key", "tty.key", "sign", "testimony", body, "-o", "b.szr"], [b"wrong\n"])
check("sign with a wrong passphrase fails", rc == 1 and "wrong passphrase" in out, "rc=%d %r" % (rc, out))
check("nothing written for a wrong passphrase", not os.path.exists("b.szr"))

rc, out, typed = run([bin, "keygen", "-o", "open.key", "--no-passphrase"], [])
check("keygen --no-passphrase asks nothing", rc == 0 and "passphrase for" not in out.lower(), "rc=%d %r" % (rc, out))
rc, out, typed = run([bin, "--key", "open.key", "sign", "testimony", body, "-o", "c.szr"], [])
check("an unprotected key is used without a prompt", rc == 0 and typed == 0 and "passphrase for" not in out.lower(), "rc=%d %r" % (rc, out))

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
