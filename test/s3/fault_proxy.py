#!/usr/bin/env python3
"""An HTTP proxy on loopback in front of an S3 server that injects faults on request.

    fault_proxy.py --listen PORT --upstream HOST:PORT

Each client connection carries one request: the proxy adds "Connection: close" on the way up
(Connection is not a signed header, Host is passed unchanged, so SigV4 signatures stay valid) and
relays bytes both ways. Faults are armed through the proxy itself, with unsigned requests:

    GET /__fault?slowdown=N      the next N requests get 503 SlowDown without reaching the server
    GET /__fault?reset=N         the next N requests that move more than reset_after bytes in
        [&reset_after=BYTES]     either direction (default 65536) are cut there with a TCP reset
    GET /__fault?delay=N&delay_ms=MS[&delay_match=TEXT]
                                 the next N answers to requests whose request line contains
                                 TEXT (default: any) are held back MS milliseconds
    GET /__fault?lose=N[&lose_match=TEXT]
                                 the next N requests whose request line contains TEXT (default:
                                 any) reach the server, which acts on them, but their answers are
                                 discarded and the client's connection is reset: a lost answer
    GET /__fault?clear=1         disarms everything and zeroes the counters
    GET /__fault                 shows the state: "slowdown=0 reset=0 delay=0 slowdowns_sent=2 ..."

Standard library only.
"""
import argparse
import selectors
import socket
import struct
import threading
import time
import urllib.parse

lock = threading.Lock()
state = {
    "slowdown": 0,
    "reset": 0,
    "reset_after": 65536,
    "delay": 0,
    "delay_ms": 0,
    "delay_match": "",
    "lose": 0,
    "lose_match": "",
    "requests": 0,
    "slowdowns_sent": 0,
    "resets_done": 0,
    "delays_done": 0,
    "losses_done": 0,
}


def take(name):
    """Consumes one armed fault of that kind; True if there was one."""
    with lock:
        if state[name] > 0:
            state[name] -= 1
            return True
        return False


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def respond(sock, status, body, content_type="text/plain"):
    body = body.encode()
    sock.sendall(
        (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + body
    )


def control(sock, target):
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    with lock:
        if "clear" in query:
            for key in ("slowdown", "reset", "delay", "delay_ms", "lose", "requests", "slowdowns_sent", "resets_done",
                        "delays_done", "losses_done"):
                state[key] = 0
            state["reset_after"] = 65536
            state["lose_match"] = ""
            state["delay_match"] = ""
        for key in ("slowdown", "reset", "reset_after", "delay", "delay_ms", "lose"):
            if key in query:
                state[key] = int(query[key][0])
        for key in ("lose_match", "delay_match"):
            if key in query:
                state[key] = query[key][0]
        text = " ".join(f"{k}={v}" for k, v in state.items())
    respond(sock, "200 OK", text + "\n")


def reset(sock):
    # SO_LINGER with a zero timeout makes close() send RST: the peer sees "connection reset".
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def take_matching(name, request_line):
    """Consumes one armed fault of that kind ("lose", "delay") if the request line contains its
    NAME_match text."""
    with lock:
        if state[name] > 0 and state[name + "_match"] in request_line:
            state[name] -= 1
            return True
        return False


def relay(client, head, rest, upstream_addr, lose=False):
    lines = head.split("\r\n")
    kept = [l for l in lines[1:] if l.split(":", 1)[0].strip().lower() not in ("connection", "keep-alive")]
    new_head = "\r\n".join([lines[0]] + kept + ["Connection: close"]) + "\r\n\r\n"
    upstream = socket.create_connection(upstream_addr)
    upstream.sendall(new_head.encode("latin-1") + rest)
    with lock:
        reset_armed = state["reset"] > 0
        reset_after = state["reset_after"]
    up_bytes = len(rest)
    down_bytes = 0
    delayed = False
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, "up")
    sel.register(upstream, selectors.EVENT_READ, "down")
    try:
        while True:
            for key, _ in sel.select(timeout=120):
                src = key.fileobj
                data = src.recv(65536)
                if not data:
                    if key.data == "down":
                        if lose:
                            with lock:
                                state["losses_done"] += 1
                            reset(client)
                        return  # the server finished its answer
                    sel.unregister(client)  # the client has sent everything
                    continue
                if key.data == "up":
                    up_bytes += len(data)
                    if reset_armed and up_bytes > reset_after and take("reset"):
                        with lock:
                            state["resets_done"] += 1
                        reset(client)
                        return
                    upstream.sendall(data)
                elif lose:
                    continue  # the server's answer never reaches the client
                else:
                    if not delayed:
                        delayed = True
                        if take_matching("delay", lines[0]):
                            with lock:
                                state["delays_done"] += 1
                                ms = state["delay_ms"]
                            time.sleep(ms / 1000.0)
                    down_bytes += len(data)
                    if reset_armed and down_bytes > reset_after and take("reset"):
                        with lock:
                            state["resets_done"] += 1
                        # Send what is below the threshold, then cut the body in the middle.
                        client.sendall(data[: max(0, len(data) - (down_bytes - reset_after))])
                        reset(client)
                        return
                    client.sendall(data)
    finally:
        sel.close()
        upstream.close()


def drain_body(client, head, rest):
    """Reads the request body that the client sends before waiting for an answer, so that closing
    the connection does not reset it (with "Expect: 100-continue" it sends none)."""
    headers = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        return
    remaining = int(headers.get("content-length", "0")) - len(rest)
    while remaining > 0:
        data = client.recv(min(remaining, 65536))
        if not data:
            return
        remaining -= len(data)


def handle(client, upstream_addr):
    try:
        head, rest = read_head(client)
        if head is None:
            return
        target = head.split("\r\n", 1)[0].split(" ")[1]
        if target.startswith("/__fault"):
            control(client, target)
            return
        with lock:
            state["requests"] += 1
        if take("slowdown"):
            with lock:
                state["slowdowns_sent"] += 1
            drain_body(client, head, rest)
            respond(
                client,
                "503 Slow Down",
                "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SlowDown</Code>"
                "<Message>Please reduce your request rate.</Message></Error>",
                "application/xml",
            )
            return
        relay(client, head, rest, upstream_addr, take_matching("lose", head.split("\r\n", 1)[0]))
    except OSError:
        pass
    finally:
        try:
            client.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server")
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    upstream_addr = (host, int(port))
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.listen))
    server.listen(64)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client, upstream_addr), daemon=True).start()


if __name__ == "__main__":
    main()
