"""The two halves of scripts/measure-egress: `serve DIR CERT KEY` (HTTPS on
203.0.113.10:443) and `measure` (through the proxies on 127.0.0.1:3128 and :3129)."""
import http.server, os, socket, ssl, statistics, sys, time

def serve(root, cert, key):
    os.chdir(root)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    class Server(http.server.ThreadingHTTPServer):
        def get_request(self):
            conn, addr = self.socket.accept()
            return ctx.wrap_socket(conn, server_side=True), addr
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    Server(("203.0.113.10", 443), Handler).serve_forever()

CLIENT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT.check_hostname = False
CLIENT.verify_mode = ssl.CERT_NONE

def tunnel(port):
    """A CONNECT to allowed.test:443 and a TLS handshake in it: the socket, the seconds."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"the proxy on {port} closed the tunnel")
        head += chunk
    t = CLIENT.wrap_socket(s, server_hostname="allowed.test")
    return t, time.perf_counter() - t0

def measure():
    for name, port in [("peek at the TLS name, then splice (clawguard)", 3128), ("plain CONNECT splice", 3129)]:
        tunnel(port)[0].close()
        times = []
        for _ in range(100):
            t, d = tunnel(port)
            times.append(d * 1000)
            t.close()
        t, _ = tunnel(port)
        t0 = time.perf_counter()
        t.sendall(b"GET /big HTTP/1.0\r\nHost: allowed.test\r\n\r\n")
        n = 0
        while chunk := t.recv(1 << 20):
            n += len(chunk)
        secs = time.perf_counter() - t0
        print(f"{name}: handshake median {statistics.median(times):.2f} ms over 100 new connections "
              f"(min {min(times):.2f}, max {max(times):.2f}); {n / 1e6:.0f} MB in {secs:.2f} s = {n / 1e6 / secs:.0f} MB/s")

if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(*sys.argv[2:5])
    else:
        measure()
