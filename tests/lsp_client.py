"""A small Language Server Protocol client over stdio, for driving yaml-language-server in tests.

It speaks JSON-RPC with `Content-Length` framing: requests wait for their response, the
server's own requests (`workspace/configuration`, capability registration) are answered, and
`textDocument/publishDiagnostics` notifications are kept per document.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Sequence
from typing import IO, Any


class LspError(RuntimeError):
    """The server answered a request with an error, or did not answer in time."""


class LanguageServer:
    def __init__(self, command: Sequence[str], settings: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.settings = settings
        self._next_id = 0
        self._responses: dict[int, dict[str, Any]] = {}
        self._diagnostics: dict[str, list[dict[str, Any]]] = {}
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # --- wire -----------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        stdin: IO[bytes] | None = self.proc.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self._handle(json.loads(out.read(length)))

    def _handle(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # the server asks something
            result: Any = None
            if message["method"] == "workspace/configuration":
                items = message["params"]["items"]
                result = [self.settings.get(item.get("section", ""), None) for item in items]
            self._send({"id": message["id"], "result": result})
            return
        with self._cond:
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                self._diagnostics[params["uri"]] = params["diagnostics"]
            elif "id" in message:
                self._responses[message["id"]] = message
            self._cond.notify_all()

    # --- protocol ---------------------------------------------------------------------------

    def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        self._next_id += 1
        request_id = self._next_id
        self._send({"id": request_id, "method": method, "params": params})
        with self._cond:
            if not self._cond.wait_for(lambda: request_id in self._responses, timeout):
                raise LspError(f"no answer to {method} in {timeout} s")
            message = self._responses.pop(request_id)
        if "error" in message:
            raise LspError(f"{method}: {message['error']}")
        return message["result"]

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def initialize(self, root_uri: str) -> dict[str, Any]:
        capabilities = {
            "textDocument": {
                "completion": {"completionItem": {"snippetSupport": True}},
                "publishDiagnostics": {},
            },
            "workspace": {"configuration": True},
        }
        result = self.request(
            "initialize",
            {"processId": None, "rootUri": root_uri, "capabilities": capabilities},
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})
        return result

    def diagnostics(self, uri: str, text: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Open a document, wait for the diagnostics the server publishes for it, close it."""
        found = self._open(uri, text, timeout)
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return found

    def completion(self, uri: str, text: str, line: int, character: int) -> list[dict[str, Any]]:
        """Open a document and ask for completions at a (0-based) position."""
        self._open(uri, text)
        result = self.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return result["items"] if isinstance(result, dict) else result

    def _open(self, uri: str, text: str, timeout: float = 60) -> list[dict[str, Any]]:
        with self._cond:
            self._diagnostics.pop(uri, None)
        document = {"uri": uri, "languageId": "yaml", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": document})
        with self._cond:
            if not self._cond.wait_for(lambda: uri in self._diagnostics, timeout):
                raise LspError(f"no diagnostics for {uri} in {timeout} s")
            return self._diagnostics[uri]

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(10)
        except (LspError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
