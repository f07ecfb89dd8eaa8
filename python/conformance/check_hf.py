"""HF conformance, part 2: load the checkpoints export.ts wrote with Hugging Face `transformers` (the
reference implementation) and compare with what gymrl computed on them: per-token logprobs,
token ids of real texts, and chat-template renders. Needs torch + transformers (a GPU machine's
image has them; this machine does not), so it is a manual check, not part of `npm test`.

    python3 python/conformance/check_hf.py OUT_DIR      # prints one JSON line; exit 1 on a mismatch
"""
import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

LOGPROB_TOL = 1e-4


def check_family(root: Path, entry: dict) -> dict:
    d = root / entry["dir"]
    exp = json.loads((d / "gymrl_expected.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32)
    model.eval()
    worst = 0.0
    n = 0
    with torch.no_grad():
        for ids, lp in zip(exp["sequences"], exp["logprobs"]):
            x = torch.tensor([ids])
            logits = model(input_ids=x).logits[0].double()
            ref = torch.log_softmax(logits, dim=-1)[:-1].gather(1, x[0, 1:, None])[:, 0]
            diff = (ref - torch.tensor(lp, dtype=torch.float64)).abs().max().item()
            worst = max(worst, diff)
            n += len(lp)
    out = {"family": entry["family"], "architecture": type(model).__name__, "tokens": n, "max_abs_logprob_diff": worst,
           "logprobs_ok": worst <= LOGPROB_TOL}
    if entry.get("tokenizer"):
        tok = AutoTokenizer.from_pretrained(str(d))
        enc_bad = [e["text"][:60] for e in exp["encodings"] if tok.encode(e["text"], add_special_tokens=False) != e["ids"]]
        ren_bad = []
        for r in exp["renders"]:
            # vLLM's chat front end parses tool-call arguments (a JSON string on the wire) into a dict
            # before rendering, so templates print them through `tojson`; gymrl serves as vLLM does
            for m in r["messages"]:
                for tc in m.get("tool_calls") or []:
                    if isinstance(tc["function"].get("arguments"), str):
                        tc["function"]["arguments"] = json.loads(tc["function"]["arguments"])
            text = tok.apply_chat_template(r["messages"], tools=r["tools"], tokenize=False,
                                           add_generation_prompt=r["add_generation_prompt"])
            if text != r["text"]:
                ren_bad.append({"hf": text[-200:], "gymrl": r["text"][-200:]})
        out.update({"encodings": len(exp["encodings"]), "encoding_mismatches": enc_bad,
                    "renders": len(exp["renders"]), "render_mismatches": ren_bad,
                    "tokenizer_ok": not enc_bad and not ren_bad})
    return out


def main() -> int:
    root = Path(sys.argv[1])
    manifest = json.loads((root / "manifest.json").read_text())
    results = [check_family(root, e) for e in manifest]
    ok = all(r["logprobs_ok"] and r.get("tokenizer_ok", True) for r in results)
    print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__, "ok": ok, "results": results}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
