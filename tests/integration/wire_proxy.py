#!/usr/bin/env python3
"""A loopback TCP proxy and replayer for the samizdat wire failure tests (test_node_failures.sh).

  wire_proxy.py record PORT_FILE NODE_PORT CAPTURE
      Listens on a free 127.0.0.1 port (written to PORT_FILE), forwards ONE connection to the node
      both ways, and saves every byte the client sent to CAPTURE.
  wire_proxy.py tamper PORT_FILE NODE_PORT N
      As record, but flips the last byte (inside the Poly1305 tag) of the client's N-th frame
      (1-based: 1 and 2 are handshake messages 1 and 3, 3 is HELLO, 4 the first request).
  wire_proxy.py replay NODE_PORT CAPTURE
      Connects to the node, sends the captured client bytes of an earlier session at once, and
      reads until the node closes. Prints "closed after K bytes"; exits 0 when the node closed
      the connection having sent at most its handshake message 2 (4 + 128 bytes), 1 otherwise.

Every wait is bounded (20 s)."""
import select
import socket
import struct
import sys

TIMEOUT = 20.0


def listen(port_file):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.settimeout(TIMEOUT)
    conn, _ = srv.accept()
    srv.close()
    return conn


def proxy(port_file, node_port, capture=None, tamper_frame=0):
    client = listen(port_file)
    node = socket.create_connection(("127.0.0.1", node_port), timeout=TIMEOUT)
    sent = bytearray()  # client -> node bytes, for framing and capture
    framed = 0  # bytes of `sent` already cut into frames
    frame_no = 0
    pending = bytearray()  # client bytes not yet forwarded (held until a frame is whole)
    socks = [client, node]
    while True:
        r, _, _ = select.select(socks, [], [], TIMEOUT)
        if not r:
            break
        done = False
        for s in r:
            data = s.recv(65536)
            if not data:
                done = True
                break
            if s is node:
                client.sendall(data)
                continue
            sent += data
            pending += data
            # Forward whole frames only, so one can be altered before it leaves.
            while len(sent) - framed >= 4:
                (n,) = struct.unpack(">I", bytes(sent[framed:framed + 4]))
                if len(sent) - framed < 4 + n:
                    break
                frame_no += 1
                start = len(pending) - (len(sent) - framed)
                if frame_no == tamper_frame:
                    pending[start + 4 + n - 1] ^= 0x01
                node.sendall(bytes(pending[:start + 4 + n]))
                del pending[:start + 4 + n]
                framed += 4 + n
        if done:
            break
    if capture:
        with open(capture, "wb") as f:
            f.write(bytes(sent))
    client.close()
    node.close()
    return 0


def replay(node_port, capture):
    data = open(capture, "rb").read()
    s = socket.create_connection(("127.0.0.1", node_port), timeout=TIMEOUT)
    s.sendall(data)
    got = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
    except (socket.timeout, ConnectionResetError) as e:
        if isinstance(e, socket.timeout):
            print("timed out after %d bytes" % got)
            return 1
    print("closed after %d bytes" % got)
    return 0 if got <= 4 + 128 else 1


def main():
    mode = sys.argv[1]
    if mode == "record":
        return proxy(sys.argv[2], int(sys.argv[3]), capture=sys.argv[4])
    if mode == "tamper":
        return proxy(sys.argv[2], int(sys.argv[3]), tamper_frame=int(sys.argv[4]))
    if mode == "replay":
        return replay(int(sys.argv[2]), sys.argv[3])
    print("unknown mode", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
