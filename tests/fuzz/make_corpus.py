#!/usr/bin/python3
"""Writes the seed corpus of fuzz_envelope into tests/fuzz/corpus/envelope/.

Valid envelopes of several types (ok_*), the malformed cases of
tests/unit/test_envelope.c (bad_*), and MEP/1 reply bodies (reply_*), since
the target feeds every input to mep_reply_decode too. Deterministic: running
it again rewrites the same bytes. Needs the msgpack module (python3-msgpack).

    /usr/bin/python3 tests/fuzz/make_corpus.py
"""

import os
import struct
import sys

import msgpack

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "envelope")

ID = bytes(range(1, 17))
CORR = bytes(range(0xF0, 0x100))
TIME = 1717171717171


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def envelope(**changes):
    """The base envelope as an ordered dict, with changes (None deletes a key)."""
    env = {
        "v": 1,
        "id": ID,
        "type": "press.conference_notice",
        "source": "hp-dic",
        "time": TIME,
        "data": {"title": "Họp báo định kỳ", "at": "2024-06-01T09:00:00+07:00"},
    }
    for key, val in changes.items():
        if val is None:
            env.pop(key, None)
        else:
            env[key] = val
    return env


def raw_pairs(pairs):
    """A map from (key bytes, value bytes) pairs, for what msgpack.packb cannot express."""
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
    return head + b"".join(k + v for k, v in pairs)


def base_pairs(**raw):
    """The base envelope's pairs, with some values given as raw msgpack bytes."""
    pairs = []
    for key, val in envelope().items():
        pairs.append((pack(key), raw.get(key, pack(val))))
    return pairs


def nested(depth):
    """depth nested single-key maps."""
    obj = {}
    for _ in range(depth - 1):
        obj = {"a": obj}
    return obj


def main():
    good = pack(envelope())
    cases = {
        # Valid envelopes.
        "ok_press_conference_notice": good,
        "ok_cyber_incident_report": pack(envelope(
            type="cyber.incident_report", source="soc",
            data={"severity": "high", "asset": "portal.haiphong.gov.vn", "ioc": ["198.51.100.7"],
                  "detected_ms": TIME - 5000})),
        "ok_permit_application_with_subject": pack(envelope(
            type="permit.press_card_application", source="so-tttt",
            subject="HP/2024/ĐKKD-0001", data={"applicant": "Nguyễn Văn A", "pages": 3})),
        "ok_followup_with_corr": pack(envelope(
            type="press.conference_result", corr=CORR, source="area:press",
            data={"status": "done", "attendees": 42})),
        "ok_broadcast_license_nested": pack(envelope(
            type="broadcast.license.renewal", data={"a": {"b": {"c": {"d": [1, 2, {"e": None}]}}}})),
        "ok_empty_data": pack(envelope(type="telecom.outage_notice", data={})),
        "ok_depth_8": pack(envelope(data=nested(7))),
        "ok_all_scalar_kinds": pack(envelope(
            type="it.asset_inventory",
            data={"i": -5, "u": 2**63, "f": 1.5, "t": True, "n": None, "b": b"\x00\xff",
                  "s": "", "arr": [], "ext": msgpack.ExtType(5, b"xyz")})),
        "ok_keys_in_reverse_order": pack(dict(reversed(list(envelope().items())))),
        "ok_type_128_bytes": pack(envelope(type="a." + "b" * 126)),
        "ok_string_16384": pack(envelope(data={"s": "x" * 16384})),
        "ok_wide_encodings": raw_pairs(base_pairs(
            v=b"\xcf" + struct.pack(">Q", 1), id=b"\xc6\x00\x00\x00\x10" + ID)),
        # Framing and msgpack.
        "bad_empty": b"",
        "bad_c1_alone": b"\xc1",
        "bad_c1_in_data": raw_pairs(base_pairs(data=b"\x81\xa1a\xc1")),
        "bad_trailing_byte": good + b"\x00",
        "bad_two_envelopes": good + good,
        "bad_truncated_header": good[:1],
        "bad_truncated_in_id": good[:15],
        "bad_truncated_in_type": good[:40],
        "bad_truncated_last_byte": good[:-1],
        "bad_array32_huge": b"\xdd\xff\xff\xff\xff",
        "bad_map32_huge": b"\xdf\xff\xff\xff\xff",
        "bad_str32_huge": b"\xdb\xff\xff\xff\xff",
        "bad_bin32_huge": b"\xc6\xff\xff\xff\xff",
        "bad_ext32_huge": b"\xc9\xff\xff\xff\xff\x01",
        "bad_data_map32_huge": raw_pairs(base_pairs(data=b"\xdf\xff\xff\xff\xff")),
        "bad_deep_arrays": b"\x91" * 4096,
        # Limits.
        "bad_oversize_message": pack(envelope(data={k: "x" * 14000 for k in "abcde"})),
        "bad_oversize_string": pack(envelope(data={"s": "x" * 16385})),
        "bad_depth_9": pack(envelope(data=nested(8))),
        # Shape.
        "bad_top_level_array": pack([1, 2, 3]),
        "bad_top_level_str": pack("press.conference_notice"),
        "bad_int_key": raw_pairs([(b"\x01", b"\x02")]),
        "bad_unknown_key": pack(envelope(extra=1)),
        "bad_duplicate_type": raw_pairs(base_pairs() + [(pack("type"), pack("a.b"))]),
        # Fields.
        "bad_missing_v": pack(envelope(v=None)),
        "bad_missing_id": pack(envelope(id=None)),
        "bad_missing_data": pack(envelope(data=None)),
        "bad_v_2": pack(envelope(v=2)),
        "bad_v_negative": pack(envelope(v=-1)),
        "bad_id_15_bytes": pack(envelope(id=ID[:15])),
        "bad_id_17_bytes": pack(envelope(id=ID + b"\x11")),
        "bad_id_as_str": pack(envelope(id="0123456789abcdef")),
        "bad_type_invalid_utf8": raw_pairs(base_pairs(type=b"\xa5a.b\xffc")),
        "bad_type_overlong_utf8": raw_pairs(base_pairs(type=b"\xa6a.b\xc0\xafc")),
        "bad_type_surrogate": raw_pairs(base_pairs(type=b"\xa6a.b\xed\xa0\x80")),
        "bad_type_uppercase": pack(envelope(type="Press.Notice")),
        "bad_type_without_dot": pack(envelope(type="press")),
        "bad_source_with_space": pack(envelope(source="hp dic")),
        "bad_time_negative": pack(envelope(time=-1)),
        "bad_time_zero": pack(envelope(time=0)),
        "bad_data_not_map": pack(envelope(data=[1, 2])),
        "bad_corr_15_bytes": pack(envelope(corr=CORR[:15])),
        "bad_subject_257": pack(envelope(subject="s" * 257)),
        # Reply bodies (mep_reply_decode).
        "reply_ack": pack({"id": ID, "seq": 42, "dup": False}),
        "reply_ack_dup": pack({"id": ID, "seq": 2**40, "dup": True}),
        "reply_nack_no_id": pack({"id": None, "code": "bad_msgpack", "reason": "message: empty",
                                  "retry": False}),
        "reply_nack_rate_limited": pack({"id": ID, "code": "rate_limited",
                                         "reason": "source 'soc': over 5000 events/s",
                                         "retry": True}),
        "reply_pong": pack({}),
    }

    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(cases.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(cases)} inputs written to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
