"""An http.client connection to the daemon's Unix socket, for the Python
test helpers (tests/lib/rotation_data.py, tests/faults/fault_run.py)."""
import http.client
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over the Unix socket at path; the Host header says "sb"."""

    def __init__(self, path, timeout=30):
        super().__init__("sb", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s
