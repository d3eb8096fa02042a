"""MLLP: framing across reads, a real listener on loopback, peers that close or never answer."""

from __future__ import annotations

import socket
import threading

import pytest

from ecgdesk.interop import mllp


def test_frames_split_across_reads_and_junk_between_frames() -> None:
    reader = mllp.FrameReader()
    data = b"junk" + mllp.frame("A|1") + mllp.frame("B|2")
    frames = [f for i in range(len(data)) for f in reader.feed(data[i : i + 1])]
    assert frames == [b"A|1", b"B|2"] and not reader.partial


class _CountingBuffer(bytearray):
    """A frame buffer that counts the bytes its searches look at."""

    scanned = 0

    def find(self, sub, start=0, end=None):  # type: ignore[no-untyped-def, override]
        stop = len(self) if end is None else min(end, len(self))
        at = super().find(sub, start, stop)
        self.scanned += max(0, (at + 1 if at >= 0 else stop) - start)  # a search stops at its match
        return at


def test_a_large_message_arriving_in_many_reads_is_scanned_once() -> None:
    """Every read searched the whole open frame again for its end, quadratic in the message's size (a
    32 MiB order in 64 KiB reads took 12 to 21 s of one core while the listener's other peers waited).
    Counted, not timed: the searches look at each byte a bounded number of times."""
    size = 4 * 2**20
    data = mllp.frame("MSH|" + "x" * size)
    reader = mllp.FrameReader()
    buffer = _CountingBuffer()
    reader._buffer = buffer
    frames = [f for at in range(0, len(data), 65536) for f in reader.feed(data[at : at + 65536])]
    assert len(frames) == 1 and len(frames[0]) == 4 + size
    assert buffer.scanned <= 3 * len(data)


def test_end_block_split_between_reads() -> None:
    reader = mllp.FrameReader()
    # the frame is complete at FS; the CR of the next read is outside any frame
    assert reader.feed(b"\x0bA|1\x1c") == [b"A|1"] and reader.feed(b"\r") == [] and not reader.partial


@pytest.mark.parametrize(
    ("chunks", "frames"),
    [
        # an end block without its CR (FS alone, FS LF): the message ends at FS, what follows is outside
        ([b"\x0bA|1\x1c", b"\x0bB|2\x1c\r"], [b"A|1", b"B|2"]),
        ([b"\x0bA|1\x1c\n\x0bB|2\x1c\n"], [b"A|1", b"B|2"]),
        ([b"\x0bA|1\x1c"], [b"A|1"]),  # a sender that ends with FS and waits for the ACK gets it
        # a sender that gave up mid-frame and started again: the restarted message alone, not glued on
        ([b"\x0bA|1 cut sh", b"\x0bB|2\x1c\r"], [b"B|2"]),
        ([b"\x0bA|1\x0bB|2\x1c\r\x0bC|3\x1c\r"], [b"B|2", b"C|3"]),
    ],
)
def test_a_frame_ends_at_fs_and_a_new_start_block_begins_a_new_frame(
    chunks: list[bytes], frames: list[bytes]
) -> None:
    reader = mllp.FrameReader()
    assert [f for chunk in chunks for f in reader.feed(chunk)] == frames and not reader.partial


def test_oversized_frame_is_refused() -> None:
    reader = mllp.FrameReader(max_bytes=100)
    with pytest.raises(mllp.DeliveryError):
        reader.feed(mllp.START + b"x" * 200)


def test_listener_answers_each_message_on_one_connection() -> None:
    seen: list[str] = []
    server = mllp.MllpServer("127.0.0.1", 0, lambda text, peer: (seen.append(text), f"ACK {text}")[1])
    server.start_in_thread()
    try:
        assert mllp.send("127.0.0.1", server.port, "MSG|1", timeout_s=5) == "ACK MSG|1"
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(mllp.frame("MSG|2") + mllp.frame("MSG|3"))
            reader, answers = mllp.FrameReader(), []
            while len(answers) < 2:
                answers += reader.feed(conn.recv(4096))
        assert answers == [b"ACK MSG|2", b"ACK MSG|3"] and seen == ["MSG|1", "MSG|2", "MSG|3"]
    finally:
        server.shutdown()
        server.server_close()


def _peer(behaviour: str) -> tuple[socket.socket, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        if behaviour == "half":
            conn.sendall(mllp.START + b"MSH|partial")
        elif behaviour == "silent":
            threading.Event().wait(3)
        elif behaviour == "trickle":  # a byte of an answer at a time, each well within the timeout
            try:
                conn.sendall(mllp.START)
                for _ in range(30):
                    threading.Event().wait(0.1)
                    conn.sendall(b"M")
            except OSError:  # the sender gave up and closed
                pass
        conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize(
    ("behaviour", "words"), [("half", "middle"), ("close", "without"), ("silent", "no acknowledgement"),
                             ("trickle", "no acknowledgement")]
)
def test_peer_failures_are_delivery_errors(behaviour: str, words: str) -> None:
    """The timeout bounds the whole answer: a peer that sent a byte at a time, each within it, held the
    deliverer (and every result queued behind) for as long as it kept sending."""
    listener, thread = _peer(behaviour)
    try:
        with pytest.raises(mllp.DeliveryError, match=words):
            mllp.send("127.0.0.1", listener.getsockname()[1], "MSG", timeout_s=0.5)
    finally:
        thread.join(5)
        listener.close()


def test_unreachable_peer_is_a_delivery_error() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(mllp.DeliveryError):
        mllp.send("127.0.0.1", port, "MSG", timeout_s=1)
