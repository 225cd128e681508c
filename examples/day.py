#!/usr/bin/env python3
"""day.py: a realistic day of events for the department, and its summary.

  day.py generate > examples/day.jsonl   the day (Monday 1 June 2026), built
                                         from a fixed seed: every type of the
                                         catalogue, some invalid, some late,
                                         and a burst from the SOC
  day.py shift FILE                      the same day moved to yesterday, so
                                         that its deadlines fall due around now
  day.py summarise < tail.jsonl          what happened, from
                                         `mandatectl tail --json --from 1`
  day.py publish FILE [--endpoint E] [--key NAME.key_secret --server-key server.key]
                                         publishes FILE's events over MEP/1
                                         as an agency's own program would:
                                         pyzmq and msgpack, a DEALER socket,
                                         CURVE with the keys given (the
                                         ZeroMQ certificate files that
                                         `mandatectl keygen` and pyzmq's
                                         zmq.auth.create_certificates write)

generate, shift and summarise need only the standard library; publish needs
pyzmq and msgpack (Debian: python3-zmq python3-msgpack).
"""
import argparse
import json
import os
import random
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
import time

ICT = timezone(timedelta(hours=7))
DAY = datetime(2026, 6, 1, tzinfo=ICT)  # a Monday
MS = 1000


def at(hh, mm=0, days=0):
    """Unix ms of hh:mm on the day (plus days), Vietnam time."""
    return int((DAY + timedelta(days=days, hours=hh, minutes=mm)).timestamp() * MS)


def ident(rng):
    return "%032x" % rng.getrandbits(128)


def generate(out):
    rng = random.Random(20260601)
    lines = []

    def event(etype, source, hh, mm, data, **kw):
        line = {"type": etype, "source": source, "time": at(hh, mm), "data": data,
                "id": ident(rng)}
        line.update(kw)
        lines.append(line)
        return line["id"]

    # press: conference notices, on time and late, domestic and foreign
    venues = ["Nhà hát thành phố", "Trung tâm Hội nghị thành phố", "Khách sạn Melia"]
    notices = []
    for i in range(12):
        kind = "foreign" if i in (3, 9) else ("central" if i == 5 else "domestic")
        lead_h = [72, 48, 30, 96, 26, 50, 10, 40, 120, 30, 60, 20][i]  # hours before start
        hh = 8 + i % 9
        start = at(hh, 0) + lead_h * 3600 * MS
        notices.append(event("press.conference_notice", "so-van-hoa", hh, 0, {
            "organiser": ["Sở Văn hóa và Thể thao", "Công ty Cảng Hải Phòng",
                          "Đại sứ quán Examplia"][i % 3] if kind != "foreign"
            else "Tổng lãnh sự quán Examplia",
            "organiser_kind": kind, "chair": "Người chủ trì %d" % i,
            "purpose": "Thông tin về sự kiện %d" % i, "content": "Nội dung họp báo %d" % i,
            "start_time": start, "venue": venues[i % 3], "invitees": "Báo Hải Phòng, VTV"}))
    event("press.conference_notice.v2", "so-ngoai-vu", 9, 30, {
        "organiser": "Tổng lãnh sự quán Examplia", "organiser_kind": "foreign",
        "chair": "J. Doe", "purpose": "Tuần lễ thương mại", "content": "Chương trình",
        "start_time": at(10, 0, days=4), "venue": "Khách sạn Melia",
        "invitees": ["Báo Hải Phòng", "Đài PT-TH Hải Phòng", "VnExpress"],
        "livestream_url": "https://example.org/live"})
    bulletins = []
    for i, (size, pages) in enumerate([("19x27", 24), ("21x29.7", 32), ("19x27", 80)]):
        bulletins.append(event("press.bulletin_licence_application", "ubnd-quan", 10, 10 * i, {
            "name": "Bản tin %d" % i, "purpose": "Thông tin nội bộ", "audience": "Cán bộ",
            "language": "vi", "periodicity": "monthly", "size_cm": size, "pages": pages,
            "print_run": 500, "printer": "In Hải Phòng", "responsible_person": "Trần B"}))

    # publishing, printing, distribution
    permits = []
    for i in range(4):
        permits.append(event("publishing.noncommercial_permit", "hoi-van-hoc", 8, 15 * i, {
            "applicant": "Hội Văn học nghệ thuật", "title": "Kỷ yếu %d" % i,
            "manuscripts": 1 if i == 2 else 2}))
    for i in range(2):
        event("publishing.noncommercial_import", "dai-hoc-hang-hai", 11, 5 * i, {
            "applicant": "Trường Đại học Hàng hải", "titles": ["Maritime Law %d" % i, "Ports"],
            "id_document": "QĐ 12/%d" % i, "shipping_docs": "B/L 77%d" % i})
    for i in range(2):
        event("printing.licence_application", "doanh-nghiep", 13, 10 * i, {
            "products": "bao bì", "business_registration": "020012345%d" % i,
            "security_certificate": "ANTT-7%d" % i, "premises": "KCN Đình Vũ", "head": "Lê C",
            "equipment": ["Heidelberg SM 74"], "reissue": i == 1})
    for i, (change, when) in enumerate([("new", None), ("change", "2026-05-28"),
                                        ("change", "2026-05-18")]):
        data = {"establishment": "In nhanh %d" % i, "declaration": "Mẫu 11", "change_type": change}
        if when:
            data["changed_on"] = when
        event("printing.establishment_registration", "doanh-nghiep", 14, 10 * i, data)
    for i in range(2):
        event("printing.color_copier_registration", "truong-hoc", 15, 10 * i, {
            "organisation": "Trường THPT %d" % i, "serial": "XC-99%d" % i,
            "import_licence": "NK-2026-0%d" % i, "invoice_or_lease": "HĐ 001%d" % i})
    event("publishing.book_fair_permit", "fahasa", 9, 45, {
        "organiser": "Fahasa Hải Phòng", "purpose": "Ngày sách", "start_date": "2026-06-20",
        "end_date": "2026-06-24", "venue": "Cung Văn hóa Lao động",
        "titles": ["Tắt đèn", "Số đỏ", "Tắt đèn"]})
    event("publishing.book_fair_permit", "fahasa", 9, 50, {
        "organiser": "Nhà sách Tiền Phong", "purpose": "Hội sách", "start_date": "2026-07-10",
        "end_date": "2026-07-05", "venue": "Quảng trường", "titles": ["Dế mèn phiêu lưu ký"]})

    # foreign information, grassroots, electronic information, advertising
    for i in range(3):
        event("foreign_info.display_request", "so-ngoai-vu", 10, 20 * i, {
            "foreign_body": ["Consulate of Examplia", "Examplia Cultural Centre",
                             "Trade Office"][i], "is_diplomatic_mission": i == 0,
            "content": "Triển lãm ảnh", "place": "Nhà hát Lớn", "period": "tháng 6/2026"})
    communes = ["Phường Lê Lợi", "Phường Máy Tơ", "Xã An Hòa", "Phường Hải Thành", "Xã Tân Dương"]
    for i in range(10):
        event("grassroots.feedback_item", "ubnd-xa", 7 + i, 30, {
            "commune": communes[i % 5], "channel": ["loa truyền thanh", "bảng tin", "Zalo"][i % 3],
            "content": "Phản ánh %d" % i})
    for i in range(2):
        event("einfo.general_website_licence", "doanh-nghiep", 16, 10 * i, {
            "applicant": "Báo điện tử %d" % i, "legal_status_doc": "GPKD 020%d" % i,
            "plan": "Kế hoạch nội dung"})
    for i, (dist, area_m2, cls) in enumerate([(350, 60, "I"), (150, 60, "I"), (300, 45, "I"),
                                              (400, 45, None)]):
        data = {"business_registration": "HKD %d" % i, "address": "%d Lạch Tray" % (10 + i),
                "school_distance_m": dist, "room_area_m2": area_m2, "fire_safety": "PCCC-0%d" % i}
        if cls:
            data["urban_class"] = cls
        event("einfo.game_point_certificate", "ho-kinh-doanh", 14, 5 * i, data)
    takedowns = []
    for i in range(5):
        req = at(8, 0, days=-2) if i == 4 else at(8 + i, 0)
        takedowns.append(event("ads.online_takedown", "cuc-ptth", 8 + i, 5, {
            "platform": ["example-social", "example-video"][i % 2], "ad_ref": "ad/88%d" % i,
            "legal_basis": "Luật Quảng cáo 2012 Art. 8", "request_time": req}))

    # postal, telecommunications, radio frequencies
    for i, req in enumerate(["new", "amendment", "reissue"]):
        event("postal.activity_notification", "doanh-nghiep", 9, 10 * i, {
            "company": "Giao Nhanh %d" % i, "services": ["parcel"], "scope": "thành phố",
            "request": req})
    for i, (scope, capital) in enumerate([("domestic", 3000000000),
                                          ("international", 3000000000)]):
        event("postal.licence_application", "doanh-nghiep", 9, 40 + i, {
            "company": "Bưu chính Biển %d" % i, "services": ["letters"], "scope": scope,
            "capital_vnd": capital})
    for i in range(4):
        event("telecom.infrastructure_report", "vnpt", 10, 5 * i, {
            "operator": ["VNPT", "Viettel"][i % 2], "site": "HP-04%02d" % i,
            "lat": 20.84 + i / 100, "lon": 106.68 + i / 100, "structure": "monopole 30 m",
            "permit_ref": "GPXD 7%d" % i})
    for i in range(3):
        start = at(6, 0)
        event("rf.interference_report", "dai-phat-thanh", 11, 20 * i, {
            "reporter": "Đài Phát thanh và Truyền hình", "frequency_hz": 93700000 + i * 100000,
            "location": "Kiến An", "window_start": start,
            "window_end": start - 3600 * MS if i == 2 else start + 3600 * MS})

    # e-documents over the exchange
    organs = ["000.00.31.H26", "000.00.12.H26", "000.00.20.H26", "000.00.41.H26"]
    for i in range(15):
        data = {"from_organ_id": organs[i % 4], "to_organ_ids": [organs[(i + 1) % 4]],
                "document_id": "2026-%06d" % (100 + i), "code_number": "%d/UBND-VP" % (200 + i),
                "promulgation_date": "2026-05-29", "document_type": "Công văn",
                "subject": "Về việc triển khai chuyển đổi số, đợt %d" % i}
        if i == 4:
            data["document_id"] = "2026-0000000000123"
        if i == 9:
            data["to_organ_ids"] = [organs[1], organs[1]]
        if i == 13:
            data["promulgation_date"] = "2026-06-03"
        event("dx.edoc_received", "lgsp", 8 + i % 9, 3 * i, data)

    # the SOC: a background of alerts, then a burst on the public service portal
    formats = {"wazuh": lambda p: [13, 10, 8, 3][p - 1], "cef": lambda p: [10, 8, 5, 2][p - 1],
               "ocsf": lambda p: [5, 4, 3, 1][p - 1], "misp": lambda p: [1, 1, 2, 4][p - 1],
               "stix": lambda p: ["critical", "high", "medium", "low"][p - 1]}
    hosts = ["web-01", "qlvb", "lgsp", "mail-01", "dns-01", "vpn-01", "camera-giao-thong"]
    for i in range(150):
        fmt = list(formats)[i % 5]
        p = rng.choice([4, 4, 4, 3, 3, 2])
        hh, mm = 6 + i // 60, i % 60
        event("cyber.soc_alert", "soc", hh, mm, {
            "format": fmt, "time": at(hh, mm), "asset": hosts[i % len(hosts)],
            "rule": "rule-%03d" % rng.randrange(1000), "severity_raw": formats[fmt](p),
            "observables": ["203.0.113.%d" % rng.randrange(1, 255)]})
    for i in range(60):
        p = 1 if i >= 20 else rng.choice([3, 2])
        hh, mm = 14, i // 2
        data = {"format": "wazuh", "time": at(hh, mm) + (i % 2) * 20 * MS,
                "asset": "cong-dich-vu-cong", "rule": "31151 web attack",
                "severity_raw": formats["wazuh"](p), "observables": ["198.51.100.7"]}
        if i >= 20:
            data["impact"] = ["service_interruption"]
        event("cyber.soc_alert", "soc", hh, mm, data)
    event("cyber.incident_notification", "trung-tam-cntt", 16, 0, {
        "operator": "Trung tâm CNTT", "owner": "Văn phòng UBND thành phố",
        "system": "cong-dich-vu-cong", "system_level": 4, "discovered_at": at(14, 0),
        "description": "Tấn công từ chối dịch vụ vào Cổng dịch vụ công",
        "impact": ["service_interruption"], "status": "đang xử lý",
        "actions": "Chặn nguồn tấn công"}, subject="INC-DEMO-1")
    event("cyber.incident_notification", "truong-hoc", 9, 0, {
        "operator": "Trường THPT Ngô Quyền", "owner": "Sở Giáo dục và Đào tạo",
        "system": "web trường", "system_level": 2, "discovered_at": at(9, 0, days=-9),
        "description": "Thay đổi giao diện trang web", "impact": [], "status": "đã khắc phục",
        "actions": "Khôi phục từ bản sao"}, subject="INC-DEMO-2")
    event("cyber.incident_final_report", "truong-hoc", 17, 0, {
        "incident_id": "INC-DEMO-2", "completed_at": at(8, 0, days=-1),
        "outcome": "đã khôi phục, vá lỗ hổng"}, subject="INC-DEMO-2")

    # inspection
    for i in range(5):
        data = {"received_at": at(8 + i, 0), "complainant": "Công dân %d" % i,
                "address": "Quận Lê Chân", "respondent": "Phòng Bưu chính - Viễn thông",
                "content": "Khiếu nại quyết định xử phạt %d" % i, "request": "Hủy quyết định"}
        if i == 1:
            data["known_at"] = at(8, 0, days=-120)
        if i == 2:
            data.update({"complex": True, "remote": True})
        event("inspection.complaint_received", "tiep-cong-dan", 8 + i, 10, data)
    for i in range(3):
        data = {"received_at": at(9 + i, 0), "accuser": "Người tố cáo %d" % i,
                "contact": "09000000%02d" % i, "accused": "Cán bộ X%d" % i,
                "violation": "Nhũng nhiễu khi giải quyết hồ sơ"}
        if i == 0:
            data.update({"accepted_at": at(9, 30), "extensions": 1})
        event("inspection.denunciation_received", "tiep-cong-dan", 9 + i, 15, data)

    # the department's decisions on some of the day's cases
    for corr, decision in [(bulletins[0], "granted"), (bulletins[2], "refused"),
                           (permits[0], "granted"), (takedowns[0], "removed"),
                           (takedowns[1], "removed")]:
        event("case.decision", "so-tttt", 17, 30, {"decision": decision,
                                                  "reasons": "Xem hồ sơ"}, corr=corr)

    # refused at intake: each breaks one rule of the catalogue
    event("press.conference_notice", "so-van-hoa", 12, 0, {
        "organiser": "Thiếu địa điểm", "organiser_kind": "domestic", "chair": "A",
        "purpose": "p", "content": "c", "start_time": at(10, 0, days=3), "invitees": "báo chí"})
    event("press.conference_notice", "so-van-hoa", 12, 1, {
        "organiser": "Sai loại", "organiser_kind": "alien", "chair": "A", "purpose": "p",
        "content": "c", "start_time": at(10, 0, days=3), "venue": "v", "invitees": "báo chí"})
    event("telecom.infrastructure_report", "vnpt", 12, 2, {
        "operator": "VNPT", "site": "HP-9999", "lat": 120.5, "lon": 106.7,
        "structure": "tower", "permit_ref": "x"})
    event("inspection.complaint_received", "tiep-cong-dan", 12, 3, {
        "received_at": "hôm nay", "complainant": "P", "address": "L", "respondent": "R",
        "content": "C", "request": "Q"})
    event("publishing.book_fair_permit", "fahasa", 12, 4, {
        "organiser": "X", "purpose": "p", "start_date": "2026-02-30", "end_date": "2026-03-02",
        "venue": "v", "titles": ["A"]})
    event("cyber.soc_alert", "soc", 12, 5, {
        "format": "syslog", "time": at(12, 5), "asset": "web-01", "rule": "r",
        "severity_raw": 3, "observables": []})
    event("cyber.serious_incident_escalation", "soc", 12, 6, {"incident_id": "forged"})
    event("press.press_card_request", "bao-hai-phong", 12, 7, {"name": "Nguyễn Văn A"})
    event("case.decision", "so-tttt", 12, 8, {"decision": "granted"})

    lines.sort(key=lambda l: l["time"])
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")


TIME_KEYS = {"time", "start_time", "request_time", "discovered_at", "completed_at",
             "received_at", "known_at", "accepted_at", "window_start", "window_end"}
DATE_KEYS = {"start_date", "end_date", "changed_on", "promulgation_date"}


def shift(path, out):
    days = (datetime.now(ICT).date() - DAY.date()).days - 1
    delta_ms = days * 86400 * MS
    for raw in open(path, encoding="utf-8"):
        line = json.loads(raw)
        line["time"] += delta_ms
        for key, value in line["data"].items():
            if key in TIME_KEYS and isinstance(value, int):
                line["data"][key] = value + delta_ms
            elif key in DATE_KEYS and isinstance(value, str):
                try:
                    d = date.fromisoformat(value) + timedelta(days=days)
                    line["data"][key] = d.isoformat()
                except ValueError:
                    pass  # an invalid date stays invalid
        out.write(json.dumps(line, ensure_ascii=False) + "\n")


def summarise(inp, out):
    outcomes = defaultdict(Counter)
    kinds, refused, deadlines = Counter(), [], Counter()
    emitted, findings = Counter(), Counter()
    for raw in inp:
        rec = json.loads(raw)
        kind = rec["kind"]
        kinds[kind] += 1
        if kind == "rejected":
            refused.append("%s: %s" % (rec.get("code"), rec.get("reason")))
        elif kind == "accepted" and str(rec.get("source", "")).startswith(("area:", "broker")):
            emitted[rec["type"]] += 1
        elif kind == "completed" and isinstance(rec.get("result"), dict):
            res = rec["result"]
            outcomes[rec["area"]][res.get("outcome", "?")] += 1
            for f in res.get("findings", []):
                findings[f["code"]] += 1
            for d in res.get("deadlines", []):
                if d.get("track"):
                    deadlines["tracked"] += 1
        elif kind == "deadline":
            deadlines[rec.get("state")] += 1
    w = out.write
    w("records: %s\n" % ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    w("\noutcomes by area:\n")
    for area in sorted(outcomes):
        w("  %-13s %s\n" % (area, ", ".join("%s %d" % kv for kv in outcomes[area].most_common())))
    w("\nfindings: %s\n" % ", ".join("%s %d" % kv for kv in findings.most_common()))
    w("\nemitted by workers and the broker: %s\n"
      % ", ".join("%s %d" % kv for kv in sorted(emitted.items())))
    w("deadlines: %s\n" % ", ".join("%s %d" % kv for kv in sorted(deadlines.items())))
    w("\nrefused at intake (%d):\n" % len(refused))
    for r in refused:
        w("  %s\n" % r)


def new_id():
    """A UUIDv7 (RFC 9562): 48 bits of Unix ms, then random bits."""
    raw = bytearray(int(time.time() * MS).to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return bytes(raw)


def envelope(line):
    """The MEP/1 envelope of one line of day.jsonl (the mandatectl publish format)."""
    env = {"v": 1, "id": bytes.fromhex(line["id"].replace("-", "")) if "id" in line else new_id(),
           "type": line["type"], "source": line["source"],
           "time": line.get("time", int(time.time() * MS)), "data": line.get("data", {})}
    if "corr" in line:
        env["corr"] = bytes.fromhex(line["corr"].replace("-", ""))
    if "subject" in line:
        env["subject"] = line["subject"]
    return env


def publish(argv, out):
    """Publishes every line of a file, up to `window` in flight, each resent
    with the same bytes until answered (the broker deduplicates by id)."""
    import msgpack
    import zmq
    import zmq.auth

    p = argparse.ArgumentParser(prog="day.py publish")
    p.add_argument("file")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:7400", help="the broker's ingress")
    p.add_argument("--key", help="CURVE: this publisher's NAME.key_secret (mode 0600)")
    p.add_argument("--server-key", help="CURVE: the broker's public key file")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--timeout-ms", type=int, default=2000)
    p.add_argument("--retries", type=int, default=5)
    args = p.parse_args(argv)
    if bool(args.key) != bool(args.server_key):
        p.print_usage(sys.stderr)
        sys.stderr.write("day.py publish: --key and --server-key go together\n")
        return 64

    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    if args.key:
        try:
            opt = "--key"
            public, secret = zmq.auth.load_certificate(args.key)
            opt = "--server-key"
            server, _ = zmq.auth.load_certificate(args.server_key)
        except (OSError, ValueError) as e:
            sys.stderr.write("day.py: %s: %s\n" % (opt, e))
            return 78
        if secret is None:
            sys.stderr.write("day.py: --key %s: no secret key (give NAME.key_secret)\n" % args.key)
            return 78
        if os.stat(args.key).st_mode & 0o077:
            sys.stderr.write("day.py: --key %s: readable by group or others (chmod 600 it)\n"
                             % args.key)
            return 78
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server
    sock.connect(args.endpoint)

    with open(args.file, encoding="utf-8") as f:
        todo = [msgpack.packb(envelope(json.loads(l)), use_bin_type=True) for l in f if l.strip()]
    inflight = {}  # id -> [body, sent_at, tries]
    acked = nacked = lost = 0
    nxt = 0
    while nxt < len(todo) or inflight:
        while nxt < len(todo) and len(inflight) < args.window:
            body = todo[nxt]
            nxt += 1
            eid = msgpack.unpackb(body, raw=False)["id"]
            sock.send_multipart([b"MEP1", b"PUB", body])
            inflight[eid] = [body, time.monotonic(), 0]
        if sock.poll(100):
            frames = sock.recv_multipart()
            if len(frames) != 3 or frames[0] != b"MEP1":
                continue
            reply = msgpack.unpackb(frames[2], raw=False)
            eid = reply.get("id")
            if eid not in inflight:
                continue  # a late answer to a resend
            del inflight[eid]
            if frames[1] == b"ACK":
                acked += 1
                out.write("%d %s%s\n" % (reply["seq"], eid.hex(), " dup" if reply["dup"] else ""))
            else:
                nacked += 1
                sys.stderr.write("day.py: NACK %s: %s (id %s)\n"
                                 % (reply["code"], reply["reason"], eid.hex()))
        now = time.monotonic()
        for eid, entry in list(inflight.items()):
            if now - entry[1] < args.timeout_ms / 1000:
                continue
            if entry[2] >= args.retries:
                del inflight[eid]
                lost += 1
                sys.stderr.write("day.py: no answer for %s\n" % eid.hex())
                continue
            sock.send_multipart([b"MEP1", b"PUB", entry[0]])
            entry[1], entry[2] = now, entry[2] + 1
    sock.close()
    sys.stderr.write("day.py: %d acknowledged, %d refused, %d unanswered\n" % (acked, nacked, lost))
    return 69 if lost and not (acked or nacked) else (1 if nacked or lost else 0)


def main(argv):
    if len(argv) >= 3 and argv[1] == "publish":
        return publish(argv[2:], sys.stdout)
    if len(argv) == 2 and argv[1] == "generate":
        generate(sys.stdout)
    elif len(argv) == 3 and argv[1] == "shift":
        shift(argv[2], sys.stdout)
    elif len(argv) == 2 and argv[1] == "summarise":
        summarise(sys.stdin, sys.stdout)
    else:
        sys.stderr.write(__doc__)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
