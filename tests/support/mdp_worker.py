#!/usr/bin/python3
"""A Majordomo worker written from ZeroMQ RFC 7 (MDP/0.1) alone.

Without --credit it uses nothing but RFC 7: READY with the service name,
REQUEST / REPLY with the client-address envelope, HEARTBEAT, DISCONNECT.
The tests use it to prove that any MDP worker can serve an area, and to
play the misbehaving worker (failing, slow, holding requests, garbage).

Each handled request appends "SEQ ATTEMPT" to --log if given.
"""
import argparse
import os
import signal
import sys
import time

import msgpack
import zmq
import zmq.auth

PROTOCOL = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--mode", default="done", choices=["done", "fail", "retry", "garbage", "emit"])
    p.add_argument("--emit-count", type=int, default=1, help="follow-ups per reply (--mode emit)")
    p.add_argument("--delay-ms", type=int, default=0, help="work time per request")
    p.add_argument("--hold-ms", type=int, default=0,
                   help="answer nothing until no request came for this long")
    p.add_argument("--credit", type=int, default=0, help="send the credit extension frame")
    p.add_argument("--heartbeat-ms", type=int, default=2500)
    p.add_argument("--log", help="append 'SEQ ATTEMPT' per request, 'max_held N' at exit")
    p.add_argument("--identity", help="routing id (default: libzmq's)")
    p.add_argument("--key", help="CURVE: this worker's NAME.key_secret (pyzmq's zmq.auth format)")
    p.add_argument("--server-key", help="CURVE: the broker's public NAME.key")
    return p.parse_args()


class Worker:
    def __init__(self, args):
        self.args = args
        self.ctx = zmq.Context()
        self.sock = None
        self.held = []
        self.max_held = 0
        self.stop = False
        self.logf = open(args.log, "a", buffering=1) if args.log else None

    def connect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(zmq.DEALER)
        if self.args.key:
            self.sock.curve_publickey, self.sock.curve_secretkey = zmq.auth.load_certificate(
                self.args.key)
            self.sock.curve_serverkey, _ = zmq.auth.load_certificate(self.args.server_key)
        if self.args.identity:
            self.sock.setsockopt(zmq.IDENTITY, self.args.identity.encode())
        self.sock.connect(self.args.endpoint)
        frames = [b"", PROTOCOL, READY, self.args.service.encode()]
        if self.args.credit:
            frames.append(msgpack.packb({"credit": self.args.credit}))
        self.sock.send_multipart(frames)
        self.last_sent = time.monotonic()

    def send(self, command, *rest):
        self.sock.send_multipart([b"", PROTOCOL, command, *rest])
        self.last_sent = time.monotonic()

    def outcome(self, request):
        mode = self.args.mode
        if mode == "garbage":
            return b"this is not msgpack \xc1"
        if mode == "fail":
            return msgpack.packb({"status": "failed", "note": "always fails"})
        if mode == "retry":
            return msgpack.packb({"status": "retry", "note": "busy"})
        body = {"status": "done", "note": "python worker", "result": {"seq": request["seq"]}}
        if mode == "emit":
            event = request["event"]
            body["emit"] = [{
                "v": 1,
                "id": os.urandom(16),
                "type": "cyber.incident_notification",
                "source": "ignored",
                "time": event["time"],
                # Data the catalogue accepts, and where it came from.
                "data": {"from": request["seq"], "operator": "SOC", "owner": "Sở TT&TT",
                         "system": "web", "system_level": 3, "discovered_at": event["time"],
                         "description": "from a python worker", "impact": [],
                         "status": "open", "actions": "none"},
            } for _ in range(self.args.emit_count)]
        return msgpack.packb(body, use_bin_type=True)

    def answer(self, address, body):
        request = msgpack.unpackb(body, raw=False)
        if self.logf:
            self.logf.write("%d %d\n" % (request["seq"], request["attempt"]))
        if self.args.delay_ms:
            time.sleep(self.args.delay_ms / 1000.0)
        self.send(REPLY, address, b"", self.outcome(request))

    def run(self):
        self.connect()
        heartbeat = self.args.heartbeat_ms / 1000.0
        last_heard = time.monotonic()
        last_request = time.monotonic()
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self.stop:
            timeout = heartbeat
            if self.args.hold_ms and self.held:
                timeout = min(timeout, self.args.hold_ms / 1000.0)
            events = dict(poller.poll(timeout * 1000))
            now = time.monotonic()
            if self.sock in events:
                frames = self.sock.recv_multipart()
                last_heard = now
                if len(frames) < 3 or frames[0] != b"" or frames[1] != PROTOCOL:
                    continue
                command = frames[2]
                if command == REQUEST and len(frames) >= 6 and frames[4] == b"":
                    last_request = now
                    if self.args.hold_ms:
                        self.held.append((frames[3], frames[5]))
                        self.max_held = max(self.max_held, len(self.held))
                    else:
                        self.answer(frames[3], frames[5])
                elif command == DISCONNECT:
                    poller.unregister(self.sock)
                    self.connect()
                    poller.register(self.sock, zmq.POLLIN)
            if self.held and now - last_request >= self.args.hold_ms / 1000.0:
                for address, body in self.held:
                    self.answer(address, body)
                self.held = []
            if now - last_heard > 3 * heartbeat:
                poller.unregister(self.sock)
                self.connect()
                poller.register(self.sock, zmq.POLLIN)
                last_heard = now
            if now - self.last_sent >= heartbeat:
                self.send(HEARTBEAT)
        self.send(DISCONNECT)
        if self.logf:
            self.logf.write("max_held %d\n" % self.max_held)
        self.sock.close(linger=1000)
        self.ctx.term()


def main():
    worker = Worker(parse_args())

    def on_term(signum, frame):
        worker.stop = True

    signal.signal(signal.SIGTERM, on_term)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
