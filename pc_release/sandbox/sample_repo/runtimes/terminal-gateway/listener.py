"""terminal-gateway internal listener: the WebSocket endpoint the API opens terminal sessions through.

Config keys come from runtime.yaml beside this file, overridden by environment variables of the same name
(the Deployment sets them from the platform-config ConfigMap).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from pathlib import Path

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RUNTIME_CONFIG = Path(__file__).with_name("runtime.yaml")


def load_config(path: Path = RUNTIME_CONFIG, environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    config: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition(":")
            config[key.strip()] = environ.get(key.strip(), value.strip())
    return config


def accept_key(client_key: str) -> str:
    return base64.b64encode(hashlib.sha1((client_key + WS_GUID).encode()).digest()).decode()


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(length)))
    return opcode, data


def frame(opcode: int, data: bytes) -> bytes:
    if len(data) < 126:
        return bytes([0x80 | opcode, len(data)]) + data
    return bytes([0x80 | opcode, 126]) + struct.pack("!H", len(data)) + data


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ws_path: str) -> None:
    request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    method, path, _ = request[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in request[1:] if line)}
    if method == "GET" and path == "/healthz":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    elif path == ws_path and headers.get("upgrade", "").lower() == "websocket":
        writer.write(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n\r\n".encode()
        )
        # Terminal sessions are relayed by the session broker; the listener itself echoes, which is what
        # the transport probe (and remote validation) relies on.
        while True:
            opcode, data = await read_frame(reader)
            if opcode == 0x8:
                writer.write(frame(0x8, data))
                break
            writer.write(frame(0xA if opcode == 0x9 else opcode, data))
            await writer.drain()
    else:
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


async def main() -> None:
    config = load_config()
    host, _, port = config["TERMINAL_INTERNAL_LISTEN_ADDR"].rpartition(":")
    server = await asyncio.start_server(lambda r, w: handle(r, w, config["TERMINAL_WS_PATH"]), host, int(port))
    print(
        f"terminal-gateway listening on {host}:{port}{config['TERMINAL_WS_PATH']} (log level {config['LOG_LEVEL']})",
        flush=True,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
