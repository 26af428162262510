"""Turn tests/data/protocol_vectors.json into a C header for the firmware unit tests."""

import json
import sys

ERRORS = {"truncated": "RR_ERR_TRUNCATED", "crc": "RR_ERR_CRC", "version": "RR_ERR_VERSION",
          "length": "RR_ERR_LENGTH", "type": "RR_ERR_TYPE"}


def c_bytes(hex_text: str) -> str:
    data = bytes.fromhex(hex_text)
    return "{" + ",".join(str(b) for b in data) + ("" if data else "0") + "}", len(data)


def main(src: str, dst: str) -> None:
    vectors = json.load(open(src))
    types = {"HELLO": 1, "INFO": 2, "STATE": 3, "COMMAND": 4, "ARM": 5, "DISARM": 6,
             "HEARTBEAT": 7, "ESTOP": 8, "STATUS": 9, "ACK": 10, "ERROR": 11, "HIL_SENSOR": 12,
             "HIL_ACTUATOR": 13}
    out = ["/* generated from tests/data/protocol_vectors.json; do not edit */",
           "#include <stdint.h>", "#include <stddef.h>",
           "typedef struct { const char *name; uint8_t type; uint32_t seq; uint64_t time_us;",
           "  const uint8_t *key; const uint8_t *payload; size_t payload_len;",
           "  const uint8_t *frame; size_t frame_len; const uint8_t *serial; size_t serial_len; }"
           " golden_valid;",
           "typedef struct { const char *name; const uint8_t *frame; size_t frame_len; int error; }"
           " golden_invalid;"]
    rows = []
    for i, v in enumerate(vectors["valid"]):
        for field, key in (("payload", "payload_hex"), ("frame", "frame_hex"),
                           ("serial", "serial_hex"), ("key", "key_hex")):
            body, n = c_bytes(v[key] or "")
            out.append(f"static const uint8_t V{i}_{field}[] = {body};")
        key = f"V{i}_key" if v["key_hex"] else "NULL"
        rows.append(f'  {{"{v["name"]}", {types[v["type"]]}, {v["seq"]}u, {v["time_us"]}ull, {key}, '
                    f'V{i}_payload, {len(bytes.fromhex(v["payload_hex"]))}, V{i}_frame, '
                    f'{len(bytes.fromhex(v["frame_hex"]))}, V{i}_serial, '
                    f'{len(bytes.fromhex(v["serial_hex"]))}}},')
    out.append("static const golden_valid GOLDEN_VALID[] = {")
    out += rows
    out.append("};")
    rows = []
    for i, v in enumerate(vectors["invalid"]):
        body, n = c_bytes(v["frame_hex"])
        out.append(f"static const uint8_t I{i}_frame[] = {body};")
        rows.append(f'  {{"{v["name"]}", I{i}_frame, {n}, {ERRORS[v["error"]]}}},')
    out.append("static const golden_invalid GOLDEN_INVALID[] = {")
    out += rows
    out.append("};")
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
