"""Rank 0's control API: HTTP on 127.0.0.1 (a free port unless given), JSON bodies, arrays as base64
of little-endian typed arrays (int32 tokens and offsets, float64 per-token values, float32 weights
and gradients). Each command is checked here first, so a bad request gets a 4xx and never reaches
the other ranks; then it is broadcast and every rank runs it (worker.py). Errors are
{"error": {"message", "type", "field"?}}. Routes:

    GET  /health                      status, world size, parameters, optimizer step
    POST /forward                     {tokens, seq_offsets} → {logprobs, entropy}
    POST /forward_backward            + loss inputs, loss_config → {loss, logprobs, entropy}; grads accumulate
    POST /optim_step                  {lr} → {grad_norm, step}; zeroes the gradients
    POST /train_step                  forward_backward + optim_step in one round trip
    POST /zero_grad
    GET  /debug/grads                 the accumulated gradient, flat in gymrl's layout order (float32)
    POST /save {dir, state}           weights + optimizer + trainer_state.json (atomic)
    POST /load {dir}                  → {state}
    POST /export {dir}                weights alone (config.json + model.safetensors), for an engine
    POST /shutdown
"""
import base64
import binascii
import json
import logging
import math
import os
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from . import checkpoint as ckpt
from .config import dims_of, parse_config
from .loss import LossConfigError, resolve_config
from .worker import Batch

log = logging.getLogger("gymrl_torch")

MAX_BODY = 1 << 31


class BadRequest(Exception):
    def __init__(self, message, field=None, status=400, type_="invalid_request_error"):
        super().__init__(message)
        self.field, self.status, self.type = field, status, type_


# ------------------------------------------------------------------------------------------------
# wire


def decode_array(body, field, dtype, required=True):
    v = body.get(field)
    if v is None:
        if required:
            raise BadRequest(f"{field} is required (base64 of a little-endian {dtype_name(dtype)} array)", field)
        return None
    if not isinstance(v, str):
        raise BadRequest(f"{field} must be a base64 string", field)
    try:
        raw = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{field} is not valid base64", field) from None
    size = torch.tensor([], dtype=dtype).element_size()
    if len(raw) % size:
        raise BadRequest(f"{field} has {len(raw)} bytes, not a multiple of {size} ({dtype_name(dtype)})", field)
    return torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)


def dtype_name(dtype):
    return {torch.int32: "int32", torch.float64: "float64", torch.float32: "float32"}[dtype]


def encode_array(t):
    t = t.detach().cpu().contiguous()
    n = t.numel() * t.element_size()
    out = bytearray(n)
    if n:
        torch.frombuffer(out, dtype=torch.uint8).copy_(t.reshape(-1).view(torch.uint8))
    return base64.b64encode(bytes(out)).decode("ascii")


def _json_safe(x):
    """NaN and ±inf are not JSON: they travel as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, torch.Tensor):
        return encode_array(x)
    return x


# ------------------------------------------------------------------------------------------------
# request checks (rank 0, before anything is broadcast)


def parse_batch(body, model, train):
    tokens = decode_array(body, "tokens", torch.int32)
    off = decode_array(body, "seq_offsets", torch.int32)
    N = tokens.numel()
    if off.numel() < 1 or int(off[0]) != 0 or int(off[-1]) != N:
        raise BadRequest(f"seq_offsets must start at 0 and end at the token count {N} (S+1 entries)", "seq_offsets")
    lens = off[1:] - off[:-1]
    if lens.numel() and int(lens.min()) < 0:
        raise BadRequest("seq_offsets must be non-decreasing", "seq_offsets")
    if lens.numel() and int(lens.max()) > model.dm.max_pos:
        raise BadRequest(f"a sequence has {int(lens.max())} tokens; max_position_embeddings is {model.dm.max_pos}", "seq_offsets")
    try:
        model.vocab.check_ids(tokens)
    except ValueError as e:
        raise BadRequest(str(e), "tokens") from None
    fields = {}
    if train:
        S = off.numel() - 1
        for name in ("token_mask", "generation_logprobs", "advantages", "prev_logprobs", "reference_logprobs"):
            a = decode_array(body, name, torch.float64, required=name in ("token_mask", "generation_logprobs", "advantages"))
            if a is not None and a.numel() != N:
                raise BadRequest(f"{name} has {a.numel()} entries, expected N={N}", name)
            fields[name] = a
        sm = decode_array(body, "sample_mask", torch.float64, required=False)
        if sm is None:
            sm = torch.ones(S, dtype=torch.float64)
        if sm.numel() != S:
            raise BadRequest(f"sample_mask has {sm.numel()} entries, expected S={S}", "sample_mask")
        fields["sample_mask"] = sm
    return Batch(tokens.long(), off.long(), **fields)


def parse_loss_config(body, batch):
    raw = body.get("loss_config", {})
    if not isinstance(raw, dict):
        raise BadRequest("loss_config must be an object of NeMo RL ClippedPGLossConfig keys", "loss_config")
    try:
        cfg = resolve_config(raw)
    except LossConfigError as e:
        raise BadRequest(str(e), "loss_config") from None
    if cfg["reference_policy_kl_penalty"] != 0 and batch.fields.get("reference_logprobs") is None:
        raise BadRequest("reference_logprobs is required when reference_policy_kl_penalty != 0", "reference_logprobs")
    return cfg


def parse_lr(body):
    lr = body.get("lr")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
        raise BadRequest(f"lr must be a finite number >= 0, got {lr!r}", "lr")
    return float(lr)


def parse_dir(body):
    d = body.get("dir")
    if not isinstance(d, str) or not d:
        raise BadRequest("dir must be a non-empty path", "dir")
    return os.path.abspath(d)


# ------------------------------------------------------------------------------------------------
# the server


class Control:
    """Serialises commands: check (rank 0) → broadcast → every rank runs it."""

    def __init__(self, worker, d, args):
        self.worker, self.d, self.args = worker, d, args
        self.lock = threading.Lock()
        self.broken = None  # set when a command failed on this rank: the ranks may be out of step
        self.busy_since = None
        self.stopping = False

    def health(self):
        w = self.worker
        return {
            "status": "broken" if self.broken else "ok",
            "error": self.broken,
            "world_size": self.d.world,
            "num_params": w.num_params,
            "step": w.optimizer.t,
            "description": w.description,
            "device": str(self.d.device),
            "backend": self.d.backend,
            "torch": torch.__version__,
            "busy_s": None if self.busy_since is None else time.time() - self.busy_since,
        }

    def prepare(self, path, body):
        """(op, args for rank 0, args for the other ranks), or BadRequest."""
        m = self.worker.model
        if path == "/forward":
            b = parse_batch(body, m, train=False)
            return "forward", {"batch": b}, None
        if path in ("/forward_backward", "/train_step"):
            b = parse_batch(body, m, train=True)
            a = {"batch": b, "loss_config": parse_loss_config(body, b)}
            if path == "/train_step":
                a["lr"] = parse_lr(body)
                return "train_step", a, None
            return "forward_backward", a, None
        if path == "/optim_step":
            return "optim_step", {"lr": parse_lr(body)}, None
        if path == "/zero_grad":
            return "zero_grad", {}, None
        if path == "/save":
            state = body.get("state", {})
            if not isinstance(state, dict):
                raise BadRequest("state must be a JSON object (trainer_state.json)", "state")
            return "save", {"dir": parse_dir(body), "state": state}, None
        if path == "/export":
            return "export", {"dir": parse_dir(body)}, None
        if path == "/load":
            return "load", {"loaded": self._read(parse_dir(body))}, {"loaded": None}
        raise BadRequest(f"no route POST {path}", status=404, type_="not_found")

    def _read(self, path):
        if not os.path.isdir(path):
            raise BadRequest(f"{path} is not a directory", "dir", status=404, type_="not_found")
        try:
            m = self.worker.model
            cfg = parse_config(ckpt.read_config(path))
            if dims_of(cfg) != m.dm or cfg.get("gymrl_vocab_map") != m.config.get("gymrl_vocab_map"):
                raise ValueError("its config.json describes another architecture or vocabulary than the running model")
            tensors = ckpt.read_model_tensors(path)
            optimizer = ckpt.read_optimizer(path)
            ckpt.check_tensors(self.worker.shapes, tensors, optimizer[2] if optimizer is not None else None)
            return {"tensors": tensors, "optimizer": optimizer, "state": ckpt.read_state(path)}
        except (OSError, ValueError, KeyError) as e:
            raise BadRequest(f"cannot load {path}: {e}", "dir") from None

    def execute(self, op, mine, theirs):
        with self.lock:
            if self.broken:
                raise BadRequest(f"the worker is broken by an earlier failure: {self.broken}", status=503, type_="worker_broken")
            self.busy_since = time.time()
            try:
                self.d.broadcast_object({"op": op, "args": mine if theirs is None else theirs})
                return self.worker.run(op, mine)
            except Exception as e:  # the ranks may now be out of step: refuse further work
                self.broken = f"{op}: {type(e).__name__}: {e}"
                log.error("command %s failed:\n%s", op, traceback.format_exc())
                raise
            finally:
                self.busy_since = None

    def shutdown(self):
        with self.lock:
            if not self.stopping:
                self.stopping = True
                if not self.broken:
                    self.d.broadcast_object({"op": "shutdown", "args": {}})


def make_handler(control):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet: one line per request at debug level
            log.debug("%s " + fmt, self.address_string(), *a)

        def _reply(self, status, obj):
            data = json.dumps(_json_safe(obj), separators=(",", ":"), allow_nan=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status, type_, message, field=None):
            err = {"message": message, "type": type_, "code": status}
            if field:
                err["field"] = field
            self._reply(status, {"error": err})

        def do_GET(self):
            if self.path == "/health":
                return self._reply(200, control.health())
            if self.path == "/debug/grads":
                return self._run("grads", {}, None)
            self._error(404, "not_found", f"no route GET {self.path}")

        def do_POST(self):
            try:
                n = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self.close_connection = True  # the unread body must not be taken for the next request
                return self._error(411, "invalid_request_error", "a numeric Content-Length is required")
            if not 0 <= n <= MAX_BODY:
                self.close_connection = True
                return self._error(413, "invalid_request_error", f"body of {n} bytes is outside 0..{MAX_BODY}")
            raw = self.rfile.read(n)
            if self.path == "/shutdown":
                self._reply(200, {"ok": True})
                threading.Thread(target=self._stop, daemon=True).start()
                return
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            except ValueError as e:
                return self._error(400, "invalid_json", f"invalid JSON body: {e}")
            try:
                op, mine, theirs = control.prepare(self.path, body)
            except BadRequest as e:
                return self._error(e.status, e.type, str(e), e.field)
            self._run(op, mine, theirs)

        def _run(self, op, mine, theirs):
            try:
                out = control.execute(op, mine, theirs)
            except BadRequest as e:
                return self._error(e.status, e.type, str(e), e.field)
            except Exception as e:
                return self._error(500, "worker_error", f"{op} failed on rank 0: {type(e).__name__}: {e}")
            self._reply(200, out)

        def _stop(self):
            control.shutdown()
            self.server.shutdown()

    return Handler


def serve(worker, d, args, on_ready):
    control = Control(worker, d, args)
    httpd = ThreadingHTTPServer((args.host, args.port), make_handler(control))
    httpd.daemon_threads = True
    on_ready(httpd.server_address[1], control.health())
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        control.shutdown()
