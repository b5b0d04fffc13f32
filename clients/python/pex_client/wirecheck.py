"""Strict structural check of protobuf bytes against a message descriptor.

The protobuf runtime reports every parse failure as the same ``DecodeError``; walking the wire
format first lets the client name the fault (``malformed`` vs ``invalid-utf8``) the way the Swift
codec does, and rejects encodings that the runtime would silently reinterpret (a known field with
the wrong wire type, proto2 groups).
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from . import varint
from .errors import WireError

_WT_VARINT, _WT_FIXED64, _WT_LEN, _WT_START_GROUP, _WT_END_GROUP, _WT_FIXED32 = 0, 1, 2, 3, 4, 5
_MAX_FIELD_NUMBER = (1 << 29) - 1

_VARINT_TYPES = {
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_BOOL,
    FieldDescriptor.TYPE_ENUM,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
}
_FIXED64_TYPES = {FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_DOUBLE}
_FIXED32_TYPES = {FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_FLOAT}


def _scalar_wire_type(field: FieldDescriptor) -> int:
    if field.type in _VARINT_TYPES:
        return _WT_VARINT
    if field.type in _FIXED64_TYPES:
        return _WT_FIXED64
    if field.type in _FIXED32_TYPES:
        return _WT_FIXED32
    return _WT_LEN


def _read_varint(data: bytes, pos: int, end: int, where: str) -> tuple[int, int]:
    try:
        result = varint.read(data, pos, minimal=False, end=end)
    except varint.VarintError as exc:
        raise WireError("malformed", f"{where}: {exc}") from None
    if result is None:
        raise WireError("malformed", f"{where}: truncated varint")
    return result


def _skip(data: bytes, pos: int, end: int, wire_type: int, where: str) -> tuple[int, int]:
    """Return ``(value_start, next_pos)`` for a field value of ``wire_type`` at ``pos``."""
    if wire_type == _WT_VARINT:
        _, n = _read_varint(data, pos, end, where)
        return pos, pos + n
    if wire_type == _WT_FIXED64 or wire_type == _WT_FIXED32:
        size = 8 if wire_type == _WT_FIXED64 else 4
        if pos + size > end:
            raise WireError("malformed", f"{where}: truncated fixed-size value")
        return pos, pos + size
    # Length-delimited: the only wire type left once groups and invalid types were refused.
    length, n = _read_varint(data, pos, end, where)
    start = pos + n
    if length > end - start:
        raise WireError("malformed", f"{where}: length {length} runs past the end")
    return start, start + length


def check_string(raw: bytes, where: str) -> None:
    """Raise ``invalid-utf8`` unless ``raw`` is UTF-8, ``malformed`` if it holds a NUL byte.

    protobuf-c hands strings to the Swift codec NUL-terminated, so a NUL would silently cut the
    string there; both implementations refuse it instead.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("invalid-utf8", f"{where} is not valid UTF-8") from None
    if b"\x00" in raw:
        raise WireError("malformed", f"{where} holds a NUL byte")


def check_message(data: bytes, descriptor: Descriptor, path: str, *, check_strings: bool = True) -> list[int]:
    """Walk ``data`` as the message ``descriptor``, recursing into sub-messages.

    Returns the field numbers at the top level that the descriptor does not know, in order of
    appearance. Raises :class:`WireError` ``malformed`` for broken wire format or a NUL byte in a
    string, and ``invalid-utf8`` for a string field that is not UTF-8 (``path`` prefixes the field
    names in messages). Without ``check_strings`` string contents are left to the caller, who may
    need to check other fields first.
    """
    return _check(bytes(data), 0, len(data), descriptor, path, check_strings)


def _check(data: bytes, pos: int, end: int, descriptor: Descriptor, path: str, check_strings: bool) -> list[int]:
    unknown: list[int] = []
    while pos < end:
        tag, n = _read_varint(data, pos, end, path)
        pos += n
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or number > _MAX_FIELD_NUMBER:
            raise WireError("malformed", f"{path}: invalid field number {number}")
        if wire_type in (_WT_START_GROUP, _WT_END_GROUP) or wire_type > _WT_FIXED32:
            raise WireError("malformed", f"{path}: unsupported wire type {wire_type}")
        field = descriptor.fields_by_number.get(number)
        if field is None:
            unknown.append(number)
            _, pos = _skip(data, pos, end, wire_type, path)
            continue
        where = f"{path}.{field.name}"
        expected = _scalar_wire_type(field)
        packed = field.label == FieldDescriptor.LABEL_REPEATED and expected != _WT_LEN and wire_type == _WT_LEN
        if wire_type != expected and not packed:
            raise WireError("malformed", f"{where}: wire type {wire_type}, expected {expected}")
        start, pos = _skip(data, pos, end, wire_type, where)
        if packed:
            inner = start
            while inner < pos:
                _, inner = _skip(data, inner, pos, expected, where)
        elif field.type == FieldDescriptor.TYPE_STRING and check_strings:
            check_string(data[start:pos], where)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            _check(data, start, pos, field.message_type, where, check_strings)
    return unknown
