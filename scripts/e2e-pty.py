"""Runs a command under a pseudo-terminal (80x24), as a user's terminal would, and measures how
often its progress line changes (ignoring the spinner), to check that a slow run shows life.

  e2e-pty.py TRANSCRIPT CMD ARGS...   exit status of CMD; fails (exit 1) if the line stood still
                                      for more than MAX_GAP seconds (env E2E_MAX_GAP, default 5)
"""
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
SPINNER = re.compile(r"^\s*[⠁-⣿|/\\\-]\s")


def main():
    out_path, cmd = sys.argv[1], sys.argv[2:]
    max_gap = float(os.environ.get("E2E_MAX_GAP", "5"))
    master, slave = pty.openpty()
    try:
        import fcntl
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    except OSError:
        pass
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    raw, last_text, last_change, gaps, started = b"", None, time.time(), [], time.time()
    progress_seen = False
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            raw += chunk
            # The newest redraw of the bar: text after the last carriage return / clear.
            tail = raw[-4000:].decode("utf-8", "replace")
            pieces = [p for p in re.split(r"\r|\x1b\[2K|\n", tail) if p.strip()]
            if pieces:
                text = SPINNER.sub("", ANSI.sub("", pieces[-1])).strip()
                if "/" in text and "[" in text:
                    progress_seen = True
                    now = time.time()
                    if text != last_text:
                        if last_text is not None:
                            gaps.append(now - last_change)
                        last_text, last_change = text, now
        elif proc.poll() is not None:
            break
    rc = proc.wait()
    open(out_path, "wb").write(raw)
    longest = max(gaps, default=0.0)
    print(f"  progress line: {len(gaps)} changes over {time.time() - started:.0f}s, longest still {longest:.1f}s")
    if rc != 0:
        sys.exit(rc)
    if not progress_seen:
        print("  no progress line was drawn", file=sys.stderr)
        sys.exit(1)
    if longest > max_gap:
        print(f"  the progress line stood still for {longest:.1f}s (> {max_gap}s)", file=sys.stderr)
        sys.exit(1)


main()
