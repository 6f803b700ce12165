"""Pieces the fault-injecting proxies of the integration tests share.

A proxy is a small HTTP server between gluefs and s3rver that delays,
cuts or fails some requests and relays the others unchanged.  Each test
module writes its own request handler (what it injects); this module
gives the loopback server that runs it and the plain relay of one
request to the upstream S3 server.
"""
import http.client
import http.server
import threading

# Hop-by-hop headers not forwarded in either direction; Content-Length is
# set again from the body actually sent.
_HOP = ("connection", "keep-alive")
_HOP_REPLY = ("connection", "transfer-encoding", "content-length", "keep-alive")


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    """Base of the proxies' request handlers: HTTP/1.1 keep-alive, no
    request log on stderr, and the request body read whole."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def read_body(self):
        """The request's body (bytes), or None when it has none."""
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else None


class LoopbackServer:
    """HANDLER (a BaseHTTPRequestHandler subclass) served on a free port
    of 127.0.0.1 by a daemon thread, one thread per connection.  .url is
    its address; close() stops it."""

    def __init__(self, handler):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def open_upstream(handler, host, port, body):
    """Send HANDLER's request (method, path, headers and BODY, bytes or
    None) to HOST:PORT; returns (connection, response) with the response
    body not yet read.  The caller closes the connection."""
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    hdrs = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
    c.request(handler.command, handler.path, body=body, headers=hdrs)
    return c, c.getresponse()


def send_reply_head(handler, r, length):
    """Send upstream response R's status and headers through HANDLER, with
    Content-Length LENGTH (a str)."""
    handler.send_response_only(r.status, r.reason)
    for k, v in r.getheaders():
        if k.lower() not in _HOP_REPLY:
            handler.send_header(k, v)
    handler.send_header("Content-Length", length)
    handler.end_headers()


def relay(handler, host, port, body):
    """Forward HANDLER's request to HOST:PORT and copy the whole answer
    back (status, headers, body)."""
    c, r = open_upstream(handler, host, port, body)
    data = r.read()
    send_reply_head(handler, r, str(len(data)))
    if handler.command != "HEAD":
        handler.wfile.write(data)
    c.close()
