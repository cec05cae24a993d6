#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the tests' fixtures and from small
hand-built inputs in each target's input format (see the comment at the top of each
*_fuzzer.cc). Re-run after changing a format; the output is deterministic."""
import glob
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def write(target, items):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    # regression-* files are inputs the fuzzers found crashing (kept; see docs/fuzzing.md).
    for f in glob.glob(os.path.join(d, "*")):
        if not os.path.basename(f).startswith("regression-"):
            os.remove(f)
    for data in items:
        if isinstance(data, str):
            data = data.encode()
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(set(items))} seeds")


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


# ---- change_json: the test events, one file or one JSONL line each ----
events = [read(p) for p in sorted(glob.glob(os.path.join(ROOT, "tests/events/*.json")))]
for p in ["tests/events/mixed.jsonl", "tests/golden/formats/input.jsonl",
          "tests/golden/transforms-models/input.jsonl"]:
    events += [l for l in read(p).splitlines() if l.strip()][:6]
events = list(dict.fromkeys(events))[:40]
write("change_json", events)

# ---- pattern: patterns NUL event ----
EVENT = (b'{"version":"0","id":"e1","detail-type":"users.UPDATE","source":"cdc.coredb",'
         b'"account":"000000000000","time":"2024-01-15T10:30:00Z","region":"local","resources":[],'
         b'"detail":{"eventType":"UPDATE","tableName":"users","after":{"id":42,"status":"active",'
         b'"name":"Ann \\"A\\" Lee","score":1.5,"vip":true,"notes":null,"tags":["a","b"],'
         b'"ip":"10.0.1.7","big":12345678901234567890,'
         b'"address":{"city":"Oslo","zip":"0150"}},"items":[{"sku":"x","qty":2},{"sku":"y","qty":0}],'
         b'"changedFields":["status"]}}')
PATTERNS = [
    '{"source":["cdc.coredb"]}',
    '{"detail-type":[{"prefix":"users."}]}',
    '{"detail":{"after":{"status":[{"suffix":"ive"}]}}}',
    '{"detail":{"after":{"name":[{"equals-ignore-case":"ANN \\"A\\" LEE"}]}}}',
    '{"detail":{"after":{"status":[{"wildcard":"a*t*e"}]}}}',
    '{"detail":{"after":{"status":[{"anything-but":["deleted","banned"]}]}}}',
    '{"detail":{"after":{"status":[{"anything-but":{"prefix":"del"}}]}}}',
    '{"detail":{"after":{"score":[{"numeric":[">",1,"<=",2]}]}}}',
    '{"detail":{"after":{"id":[42]}}}',
    '{"detail":{"after":{"big":[12345678901234567890]}}}',
    '{"detail":{"after":{"ip":[{"cidr":"10.0.0.0/16"}]}}}',
    '{"detail":{"after":{"notes":[null],"vip":[true]}}}',
    '{"detail":{"after":{"missing":[{"exists":false}],"id":[{"exists":true}]}}}',
    '{"detail":{"items":{"sku":["x"],"qty":[0]}}}',
    '{"detail":{"items":{"sku":["y"],"qty":[0]}}}',
    '{"$or":[{"source":["other"]},{"detail":{"tableName":["users"]}}]}',
    '{"detail":{"after":{"tags":["b"]}},"detail.after.id":[42]}',
    '{"detail":{"after":{"name":[{"prefix":{"equals-ignore-case":"ann"}}]}}}',
    '{"detail":{"after":{"name":[{"suffix":{"equals-ignore-case":"LEE"}}]}}}',
    '{"detail":{"after":{"address":{"city":[{"anything-but":{"equals-ignore-case":["oslo"]}}]}}}}',
    '{}',
]
EVENTS2 = [EVENT, b'{"a":[1,2,{"b":"c"}],"a.b":"c","x":-0.0,"y":1e400}', b'[]', b'{"a":{"b":[[]]}}']
pattern_seeds = []
for i, p in enumerate(PATTERNS):
    pattern_seeds.append(p.encode() + b"\0" + EVENT)
pattern_seeds.append(PATTERNS[1].encode() + b"\0" + PATTERNS[13].encode() + b"\0" + PATTERNS[14].encode() + b"\0" + EVENT)
pattern_seeds.append(b'{"a":{"b":["c"]}}\0{"a":[{"exists":true}]}\0' + EVENTS2[1])
pattern_seeds.append(b'{"x":[0]}\0{"y":[{"numeric":[">",0]}]}\0' + EVENTS2[1])
pattern_seeds.append(b'{"a":{"b":[{"exists":false}]}}\0' + EVENTS2[3])
write("pattern", pattern_seeds)

# ---- input_transformer: template NUL paths NUL event ----
IT = [
    (b'{"id": <id>, "status": <status>, "vip": <vip>, "notes": <notes>, "tags": <tags>, "address": <address>}',
     b"id\t$.detail.after.id\nstatus\t$.detail.after.status\nvip\t$.detail.after.vip\n"
     b"notes\t$.detail.after.notes\ntags\t$.detail.after.tags\naddress\t$.detail.after.address"),
    (b'{"msg": "user <id> is <status>", "name": "<name>", "where": "<address>", "tags": "<tags>"}',
     b"id\t$.detail.after.id\nstatus\t$.detail.after.status\nname\t$.detail.after.name\n"
     b"address\t$.detail.after.address\ntags\t$.detail.after.tags"),
    (b'{"a": <gone>, "b": "[<deep>]"}', b"gone\t$.detail.nope\ndeep\t$.detail.after.nope.deeper"),
    (b'{"c": <city>, "f": <first>, "o": <out>, "a": <all>, "v": <values>, "t": "<dashed>"}',
     b"city\t$.detail.after.address.city\nfirst\t$.detail.after.tags[0]\nout\t$.detail.after.tags[5]\n"
     b"all\t$.detail.after.tags[*]\nvalues\t$.detail.after.address.*\ndashed\t$['detail-type']"),
    (b'{"rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>", "at": "<aws.events.event.ingestion-time>", "event": <aws.events.event.json>}', b""),
    (b'{"e": <aws.events.event>}', b""),
    (b'User <name> changed <n> fields', b"name\t$.detail.after.name\nn\t$.detail.changedFields"),
    (b'"<status>"', b"status\t$.detail.after.status"),
    (b'[<id>, "<id>"]', b"id\t$.detail.after.id"),
    (b'$.detail.after', b""),
    (b"$['detail']['after'].tags[1]", b""),
    (b'\x01{"hello":"world","n":[1,2]}', b""),
]
write("input_transformer", [t + b"\0" + m + b"\0" + EVENT for t, m in IT] +
      [IT[0][0] + b"\0" + IT[0][1] + b"\0" + e for e in EVENTS2[1:]])

# ---- config: the shipped config and the golden configs ----
configs = [read("config/cdc-pipeline.yaml")]
configs += [read(p) for p in sorted(glob.glob(os.path.join(ROOT, "tests/golden/*/config.yaml")))]
configs += [read(p) for p in sorted(glob.glob(os.path.join(ROOT, "config/models/*.yaml")))][:5]
configs += [b"{}", b"source: {kind: json}\n", b"admin: {listen: \"127.0.0.1:0\"}\n"]
write("config", configs)

# ---- pgoutput: frames of u16le length + bytes ----
def cstr(s):
    return s.encode() + b"\0"


def frame(msg, wrap=True):
    if wrap:
        msg = b"w" + struct.pack(">qqq", 0x1000, 0x2000, 0) + msg
    return struct.pack("<H", len(msg)) + msg


def relation(rid, ns, name, cols, ident=b"d"):
    m = b"R" + struct.pack(">I", rid) + cstr(ns) + cstr(name) + ident + struct.pack(">H", len(cols))
    for flags, cname, oid in cols:
        m += struct.pack(">B", flags) + cstr(cname) + struct.pack(">Ii", oid, -1)
    return m


def tuple_data(vals):
    m = struct.pack(">H", len(vals))
    for v in vals:
        if v is None:
            m += b"n"
        elif v == "u":
            m += b"u"
        else:
            b = v.encode()
            m += b"t" + struct.pack(">I", len(b)) + b
    return m


BEGIN = b"B" + struct.pack(">qqI", 0x16B3748, 757382400000000, 7)
COMMIT = b"C" + b"\0" + struct.pack(">qqq", 0x16B3748, 0x16B3778, 757382400000000)
TYPES = [(16, "t"), (17, "\\x0102ff"), (20, "-9223372036854775808"), (21, "32767"), (23, "42"),
         (25, "hello"), (114, '{"a": [1, 2]}'), (650, "10.0.0.0/8"), (700, "1.5"), (701, "NaN"),
         (869, "192.168.0.1"), (1042, "ab  "), (1043, "varchar"), (1082, "2024-01-15"),
         (1083, "10:30:00.123456"), (1114, "2024-01-15 10:30:00.5"),
         (1184, "2024-01-15 10:30:00+02"), (1186, "P1Y2M3DT4H5M6S"), (1266, "10:30:00+02"),
         (1700, "-12.50"), (2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), (3802, '{"k": "v"}'),
         (1007, "{1,2,NULL}"), (1009, '{"a b","c\\"d",NULL}'), (1000, "{t,f}"),
         (1115, '{"2024-01-15 10:30:00"}'), (1231, "{1.5,NaN}"), (3807, '{"{\\"a\\": 1}"}'),
         (1005, "{{1,2},{3,4}}"), (1182, "{infinity,-infinity}")]
cols = [(1, "id", 23)] + [(0, f"c{oid}", oid) for oid, _ in TYPES]
vals = ["1"] + [v for _, v in TYPES]
REL = relation(16385, "public", "users", cols)
pg = []
pg.append(frame(BEGIN) + frame(REL) + frame(b"I" + struct.pack(">I", 16385) + b"N" + tuple_data(vals)) + frame(COMMIT))
pg.append(frame(BEGIN) + frame(REL) + frame(b"U" + struct.pack(">I", 16385) + b"K" + tuple_data(["1"] + [None] * len(TYPES)) + b"N" + tuple_data(["2"] + ["u"] + vals[2:])) + frame(COMMIT))
pg.append(frame(BEGIN) + frame(REL) + frame(b"D" + struct.pack(">I", 16385) + b"O" + tuple_data(vals)) + frame(COMMIT))
pg.append(frame(BEGIN) + frame(REL) + frame(b"T" + struct.pack(">IBI", 1, 0, 16385)) + frame(COMMIT))
pg.append(frame(BEGIN) + frame(b"O" + struct.pack(">q", 0x100) + cstr("origin")) + frame(b"Y" + struct.pack(">I", 70000) + cstr("public") + cstr("mood")) + frame(COMMIT))
pg.append(frame(b"M" + b"\0" + struct.pack(">q", 0x200) + cstr("pfx") + struct.pack(">I", 5) + b"hello"))
pg.append(frame(BEGIN) + frame(b"M" + b"\1" + struct.pack(">q", 0x200) + cstr("pfx") + struct.pack(">I", 2) + b"hi") + frame(COMMIT))
pg.append(frame(b"k" + struct.pack(">qqB", 0x3000, 0, 1), wrap=False))
small = relation(16386, "sales", "orders", [(1, "id", 20), (0, "note", 25)], b"f")
for i, (oid, v) in enumerate(TYPES):
    rel = relation(16390 + i, "public", f"t{oid}", [(1, "id", 23), (0, "v", oid)])
    pg.append(frame(BEGIN) + frame(rel) + frame(b"I" + struct.pack(">I", 16390 + i) + b"N" + tuple_data(["1", v])) + frame(COMMIT))
pg.append(frame(BEGIN) + frame(small) + frame(b"I" + struct.pack(">I", 16386) + b"N" + tuple_data(["5", None])) + frame(COMMIT))
# Protocol 2: a transaction streamed in two blocks (a savepoint's part rolled back, a
# transactional message), then committed; another streamed and aborted.
def streamed(msg, xid):
    return msg[:1] + struct.pack(">I", xid) + msg[1:]


def insert_small(i):
    return b"I" + struct.pack(">I", 16386) + b"N" + tuple_data([str(i), "n" + str(i)])


pg.append(frame(b"S" + struct.pack(">IB", 9, 1)) + frame(streamed(small, 9)) +
          frame(streamed(insert_small(1), 9)) + frame(streamed(insert_small(2), 10)) + frame(b"E") +
          frame(b"A" + struct.pack(">II", 9, 10)) + frame(b"S" + struct.pack(">IB", 9, 0)) +
          frame(streamed(insert_small(3), 9)) +
          frame(streamed(b"M" + b"\1" + struct.pack(">q", 0x200) + cstr("pfx") + struct.pack(">I", 1) + b"x", 9)) +
          frame(b"E") + frame(b"S" + struct.pack(">IB", 11, 1)) + frame(streamed(small, 11)) +
          frame(streamed(insert_small(4), 11)) + frame(b"E") + frame(b"A" + struct.pack(">II", 11, 11)) +
          frame(b"c" + struct.pack(">IBqqq", 9, 0, 0x16B3748, 0x16B3778, 757382400000000)))
write("pgoutput", pg)

# ---- pg_decode_text: one byte choosing the type, then the text ----
# The fuzzer picks oids[byte % len]; the seeds choose by position, so they cover every index with
# a few typical texts each.
texts = ["42", "-1", "t", "f", "1.5e10", "NaN", "Infinity", "{1,2,NULL}", '{"a b","c"}',
         "{{1,2},{3,4}}", "2024-01-15", "2024-01-15 10:30:00.123456", "2024-01-15 10:30:00+05:30",
         "10:30:00", "10:30:00+02", "P1Y2M", "1 year 2 mons", "192.168.0.1/24", "::1",
         "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\\xdeadbeef", '{"k": [1, 2, {"x": null}]}',
         "-12.50", "infinity", "0001-01-01 BC", "294276-12-31 23:59:59", "", "(1,2),(3,4);(5,6),(7,8)"]
write("pg_decode_text", [bytes([i * 7 % 256]) + t.encode() for i, t in enumerate(texts)] +
      [bytes([i]) + texts[i % len(texts)].encode() for i in range(0, 70, 3)])


# ---- stream_segment: segment bytes (records with CRC-32C) and synced files ----
def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def record(offset, typ, micros, payload):
    body = struct.pack("<BQq", typ, offset, micros) + payload
    return struct.pack("<II", len(payload), crc32c(body)) + body


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return varint(len(x)) + x


def row(cols):
    return varint(len(cols)) + b"".join(s(n) + v for n, v in cols)


change_row = row([("id", b"\x02" + struct.pack("<q", 42)), ("name", b"\x05" + s("Ann")),
                  ("ok", b"\x01\x01"), ("score", b"\x03" + struct.pack("<d", 1.5)),
                  ("tags", b"\x10" + varint(2) + b"\x05" + s("a") + b"\x00"),
                  ("big", b"\x04" + s("-12.50")), ("blob", b"\x06" + s(b"\x00\xff"))])
change = (b"\x01" + s("public") + s("users") + b"\x01" + struct.pack("<Iq", 1, 1705314600000000) +
          b"\x01" + struct.pack("<QII", 0x16B3748, 7, 0) + b"\x03" + change_row + change_row +
          row([("id", b"\x02" + struct.pack("<q", 42))]) + varint(1) + s("blob"))
change2 = (b"\x01" + s("sales") + s("orders") + b"\x00" + struct.pack("<Iq", 2, 0) + b"\x02" +
           s("digest") + b"\x02" + change_row + row([]) + varint(0))
seg = []
recs = [record(i, 1, 1705314600000000 + i, p) for i, p in enumerate([change, change2, b"", b"x" * 40])]
seg.append(b"".join(recs))
seg.append(b"".join(recs)[:-7])  # torn tail
bad = bytearray(b"".join(recs))
bad[30] ^= 0xFF
seg.append(bytes(bad))  # corrupt before a valid record
seg.append(b"".join(record(100 + i, 2, 0, change) for i in range(3)))
seg.append(change)
seg.append(change2)
seg.append(b"cdc-pipeline synced\nshard 0000 00000000000000018734\nshard 0001 00000000000000017002\n")
synced_lines = "cdc-pipeline synced\nshard 0000 00000000000000018734\n"
seg.append((synced_lines + "crc %08x\n" % crc32c(synced_lines.encode())).encode())
write("stream_segment", seg)

# ---- sigv4: authorization NUL x-amz-date NUL host NUL x-amz-content-sha256 NUL body NUL query ----
def sigv4_seed(body, query=(), payload_header="", key_id="AKIDEXAMPLE",
               secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date="20150830T123600Z",
               host="127.0.0.1:4010"):
    import hmac
    sign = lambda k, m: hmac.new(k, m.encode(), hashlib.sha256).digest()
    signed = "host;x-amz-content-sha256;x-amz-date" if payload_header else "host;x-amz-date"
    headers = "host:%s\n" % host
    if payload_header:
        headers += "x-amz-content-sha256:%s\n" % payload_header
    headers += "x-amz-date:%s\n" % date
    q = "&".join("%s=%s" % kv for kv in sorted(query))
    canonical = "POST\n/\n%s\n%s\n%s\n%s" % (q, headers, signed,
                                             payload_header or hashlib.sha256(body.encode()).hexdigest())
    scope = "%s/us-east-1/events/aws4_request" % date[:8]
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    k = sign(("AWS4" + secret).encode(), date[:8])
    for part in ["us-east-1", "events", "aws4_request"]:
        k = sign(k, part)
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (key_id, scope, signed, sig)
    return "\0".join([auth, date, host, payload_header, body, "\n".join("%s=%s" % kv for kv in query)])

body = '{"Entries":[{"Source":"a","DetailType":"b","Detail":"{}"}]}'
write("sigv4", [sigv4_seed(body), sigv4_seed("{}", query=[("b", "2"), ("a", "x y")]),
                sigv4_seed(body, payload_header=hashlib.sha256(body.encode()).hexdigest()),
                sigv4_seed(body, key_id="AKIDOTHER"), sigv4_seed(body, secret="wrong"),
                sigv4_seed(body, date="20150830T130000Z"), "\0\0\0\0",
                "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00\0"
                "20150830T123600Z\0h\0\0"])

# ---- api_request: requests separated by NUL, each an operation byte and its JSON body ----
# Operation bytes (fuzz/api_request_fuzzer.cc): 0 PutEvents, 1 PutRule, 2 DeleteRule,
# 3 DescribeRule, 4 ListRules, 5 EnableRule, 6 DisableRule, 7 PutTargets, 8 RemoveTargets,
# 9 ListTargetsByRule, 10 TestEventPattern, 11 DescribeEventBus, 12 ListEventBuses.
def req(op, body):
    return bytes([op]) + body.encode()

put_events = json.dumps({"Entries": [
    {"Source": "orders.app", "DetailType": "OrderPlaced", "Detail": '{"orderId":"o-1","total":250}'},
    {"Source": "sdk.app", "DetailType": "T", "Detail": "not json"},
    {"Source": "a", "DetailType": "b", "Detail": '{"x":[1,2,{"y":null}]}', "Time": 1767323045,
     "Resources": ["arn:aws:example:1"], "EventBusName": "cdc-events"},
    {"Source": "a", "DetailType": "b", "Detail": "{}", "Time": "2026-01-02T03:04:05Z",
     "EventBusName": "other-bus"}]})
put_rule = json.dumps({"Name": "big-orders", "Description": "big orders",
                       "EventPattern": '{"source":["orders.app"],"detail":{"total":[{"numeric":[">",100]}]}}'})
put_targets = json.dumps({"Rule": "big-orders", "Targets": [
    {"Id": "audit", "Arn": "arn:aws:events:local:000000000000:target/audit"},
    {"Id": "crm", "Arn": "crm", "InputTransformer": {"InputPathsMap": {"o": "$.detail.orderId"},
                                                     "InputTemplate": '{"order": <o>}'}},
    {"Id": "x", "Arn": "audit", "InputPath": "$.detail"}]})
write("api_request", [
    req(0, put_events),
    req(1, put_rule) + b"\0" + req(7, put_targets) + b"\0" + req(0, put_events) + b"\0" +
    req(3, '{"Name":"big-orders"}') + b"\0" + req(9, '{"Rule":"big-orders"}') + b"\0" +
    req(6, '{"Name":"big-orders"}') + b"\0" + req(4, '{"NamePrefix":"big","Limit":1}') + b"\0" +
    req(8, '{"Rule":"big-orders","Ids":["audit","crm","x"]}') + b"\0" + req(2, '{"Name":"big-orders"}'),
    req(1, '{"Name":"bad","EventPattern":"{\\"source\\":[{\\"prefix\\":5}]}"}'),
    req(10, json.dumps({"EventPattern": '{"detail":{"total":[{"numeric":[">",100]}]}}',
                        "Event": EVENT.decode()})),
    req(11, '{"Name":"cdc-events"}') + b"\0" + req(12, '{"NamePrefix":"cdc"}'),
    req(0, '{"Entries":[]}'), req(13, "{}"), req(1, "[1,2]"), req(0, "not json"),
])
