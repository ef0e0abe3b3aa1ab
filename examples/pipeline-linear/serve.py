#!/usr/bin/env python3
"""Serves the example's model over HTTP on 127.0.0.1:$PORT.

GET /health answers 200 once the model is loaded; GET /predict?x=v1,v2,...,v8 answers
{"label": +1 or -1, "score": w.x + b, "model": the model file's version tag}. The model is
LIBLINEAR's text format (a header, then "w" and one weight per line), read once at start.
Usage: serve.py MODEL [VERSION_TAG]
"""
import http.server
import json
import os
import sys
import urllib.parse


def load(path):
    weights, bias, in_w = [], -1.0, False
    labels = [1, -1]
    with open(path) as f:
        for line in f:
            line = line.strip()
            if in_w:
                if line:
                    weights.append(float(line.split()[0]))
            elif line.startswith("label "):
                labels = [int(v) for v in line.split()[1:]]
            elif line.startswith("bias "):
                bias = float(line.split()[1])
            elif line == "w":
                in_w = True
    if bias >= 0 and weights:
        bias = weights.pop()
    else:
        bias = 0.0
    return weights, bias, labels


def main():
    weights, bias, labels = load(sys.argv[1])
    tag = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("AION_PIPELINE_RUN", "dev")

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path == "/health":
                return self.reply(200, {"ok": True, "model": tag})
            if url.path == "/predict":
                try:
                    x = [float(v) for v in urllib.parse.parse_qs(url.query)["x"][0].split(",")]
                except (KeyError, ValueError):
                    return self.reply(400, {"error": "give x=v1,v2,... (numbers)"})
                score = sum(w * v for w, v in zip(weights, x)) + bias
                return self.reply(200, {"label": labels[0] if score > 0 else labels[1],
                                        "score": score, "model": tag})
            return self.reply(404, {"error": "GET /health or /predict?x=..."})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    print(f"serve: model {tag} on 127.0.0.1:{os.environ['PORT']}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
