"""MLLP (Minimal Lower Layer Protocol, HL7 v2 over TCP): framing, a sending client, a listening server.

A frame is ``<VT> message <FS><CR>``. The client sends one message and waits for one framed ACK; a peer
that closes mid-frame or never answers is a :class:`DeliveryError` (the outbox retries later). The server
answers every frame it receives with the handler's ACK, on as many connections at once as peers open, and
never holds more than ``max_bytes`` of one message in memory.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable

from ecgdesk.errors import EcgDeskError

START, END = b"\x0b", b"\x1c\r"
_FS = END[:1]
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class DeliveryError(EcgDeskError):
    """A message could not be delivered (peer unreachable, closed, silent or refusing)."""


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


#: HL7 table 0211 (MSH-18) character sets a v2 message can be read in: those whose MSH is ASCII. A
#: UTF-16 or UTF-32 message ("UNICODE", "UNICODE UTF-16") is not among them: its MSH cannot even be found.
CHARSETS = {
    "ASCII": "ascii",
    **{f"8859/{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
    "UNICODE UTF-8": "utf-8",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
    "ISO IR87": "iso2022_jp",
}
#: What a declared character set that cannot be decoded leaves in the text: the reader refuses the field.
UNDECODABLE = "\ufffd"


def declared_charset(payload: bytes) -> str:
    """MSH-18 (its first repetition) of a v2 message, upper-case; '' when it gives none."""
    head = payload.lstrip(b"\xef\xbb\xbf\x0b\r\n\t ")
    if not head.startswith(b"MSH") or len(head) < 8:
        return ""
    msh = head[: min(i for i in (head.find(b"\r"), head.find(b"\n"), len(head)) if i >= 0)]
    fields = msh.split(head[3:4])
    if len(fields) < 18:
        return ""
    value = fields[17].split(head[5:6])[0].split(head[4:5])[0]
    return value.decode("ascii", "replace").strip().upper()


def decode(payload: bytes) -> str:
    """HL7 v2 text in the character set its MSH-18 declares (FHIR JSON in UTF-8). UTF-8 where the bytes are
    UTF-8 when none is declared, else ISO 8859-1 (the v2 default), and also when an 8859 set or ASCII is
    declared: valid UTF-8 with non-ASCII text is almost never 8859 text, and senders mislabel it. Bytes not
    valid in a declared multi-byte set are left as U+FFFD, which the reader refuses naming the field; an
    unknown MSH-18 is read like none, and refused by the reader (it names MSH-18)."""
    if payload.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        # FHIR JSON, which is UTF-8 (RFC 8259): bytes that are not are left as U+FFFD, refused naming the
        # element (read as 8859-1, a Windows-1252 "O'Brien" was stored with a C1 character in it)
        return payload.decode("utf-8", "replace")
    codec = CHARSETS.get(declared_charset(payload))
    if codec is not None and codec not in {"ascii", "utf-8"} and not codec.startswith("iso8859"):
        return payload.decode(codec, "replace")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        if codec == "utf-8":
            return payload.decode("utf-8", "replace")
        return payload.decode(codec if codec and codec != "ascii" else "latin-1")


class FrameReader:
    """Splits a byte stream into MLLP frames; bytes outside a frame are dropped, as the protocol says.

    A frame ends at FS: the CR the protocol puts after it is outside the frame (dropped like any byte
    there), so a sender that ends with FS alone, or FS LF, still gets its answer instead of waiting on a
    frame that never ends. A start block inside an unfinished frame begins a new one: the sender gave up on
    the first, whose part would otherwise be glued onto the next message. Neither byte occurs in HL7 text.
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_bytes
        self._seen = 0  # the buffer (an open frame from index 0) holds no FS or start block before this

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while True:
            start = self._buffer.find(START)
            if start < 0:
                self._buffer.clear()
                self._seen = 0
                break
            if start:
                del self._buffer[:start]
                self._seen = 0
            since = max(1, self._seen)  # a large frame arriving in many reads is scanned once
            end = self._buffer.find(_FS, since)
            restart = self._buffer.find(START, since, end if end >= 0 else len(self._buffer))
            if restart >= 0:
                del self._buffer[:restart]
                self._seen = 0
                continue
            if end < 0:
                self._seen = len(self._buffer)
                if len(self._buffer) > self._max:
                    raise DeliveryError(f"an MLLP frame exceeds {self._max} bytes")
                break
            frames.append(bytes(self._buffer[1:end]))
            del self._buffer[: end + 1]
            self._seen = 0
        return frames

    @property
    def partial(self) -> bool:
        return bool(self._buffer)


def send(host: str, port: int, message: str, timeout_s: float = 30.0) -> str:
    """Send one message and return the peer's ACK text; :class:`DeliveryError` on any failure."""
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            conn.sendall(frame(message))
            reader = FrameReader()
            while True:
                # the whole answer within the timeout: a peer dribbling bytes held the deliverer for good
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                conn.settimeout(remaining)
                data = conn.recv(65536)
                if not data:
                    state = "in the middle of its answer" if reader.partial else "without an answer"
                    raise DeliveryError(f"MLLP peer {host}:{port} closed the connection {state}")
                frames = reader.feed(data)
                if frames:
                    return decode(frames[0])
    except TimeoutError:
        raise DeliveryError(
            f"MLLP peer {host}:{port} sent no acknowledgement within {timeout_s:g} s"
        ) from None
    except OSError as error:
        raise DeliveryError(f"MLLP peer {host}:{port}: {error.strerror or error}") from None


Handler = Callable[[str, str], str]  # (message text, peer) -> ACK text ('' for none)


class _Connection(socketserver.BaseRequestHandler):
    server: MllpServer

    def handle(self) -> None:
        reader = FrameReader(self.server.max_bytes)
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        self.request.settimeout(self.server.idle_timeout_s)
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return  # a peer closing mid-message leaves nothing half-done: nothing was handled
            try:
                frames = reader.feed(data)
            except DeliveryError:
                return
            for payload in frames:
                ack = self.server.handler(decode(payload), peer)
                if not ack:  # enhanced mode, MSH-15 NE (or ER/SU not met): the sender wants no answer
                    continue
                try:
                    self.request.sendall(frame(ack))
                except OSError:
                    return


class MllpServer(socketserver.ThreadingTCPServer):
    """A threaded MLLP listener: ``serve_forever()`` until ``shutdown()``; port 0 picks a free port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        host: str,
        port: int,
        handler: Handler,
        idle_timeout_s: float = 300.0,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.handler = handler
        self.idle_timeout_s = idle_timeout_s
        self.max_bytes = max_bytes
        super().__init__((host, port), _Connection)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="mllp-listener", daemon=True)
        thread.start()
        return thread
