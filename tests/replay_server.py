"""A real OpenAI-compatible chat server on 127.0.0.1 that replays scripted teacher answers.

Shared by the labelling and synthesis tests: ``reply(body)`` gives each request's (content,
reasoning_content or None), as an R1-style server returns them; every answer reports 100 prompt and
10 completion tokens.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMPT_TOKENS, OUTPUT_TOKENS = 100, 10


class LoopbackServer:
    """An HTTP server on a free port of 127.0.0.1, serving ``handler`` from a background thread."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ReplayServer(LoopbackServer):
    def __init__(self, reply: Callable[[dict], tuple[str, str | None]]):
        self.reply = reply
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                answer = json.dumps(server.completion(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.serve(Handler)

    def completion(self, body: dict) -> dict:
        content, reasoning = self.reply(body)
        message = {"role": "assistant", "content": content}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        return {
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
                      "total_tokens": PROMPT_TOKENS + OUTPUT_TOKENS},
        }
