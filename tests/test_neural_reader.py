"""The neural span reader: its shipped weights, its training data, and a resumable training run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.errors import ModelMissing
from rag.quality.span_data import SpanExample, SpanStream, held_out
from rag.quality.span_training import SpanRun, encode, train_span_reader
from rag.reading.neural import DEFAULT_WEIGHTS, SpanModel


def test_the_shipped_weights_load_offline_and_match_their_record() -> None:
    model = SpanModel()
    assert model.record.threshold > 0
    assert DEFAULT_WEIGHTS.stat().st_size < 30_000_000
    windows = model.windows("Who wrote it?", ["It was written by Ada Lovelace in 1843."])
    start, end = model.logits(windows)
    assert start.shape == end.shape == (1, len(windows[0].ids))


def test_weights_that_differ_from_their_record_are_refused(tmp_path: Path) -> None:
    weights = tmp_path / DEFAULT_WEIGHTS.name
    shutil.copy(DEFAULT_WEIGHTS, weights)
    shutil.copy(DEFAULT_WEIGHTS.with_suffix(".json"), weights.with_suffix(".json"))
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(ModelMissing, match="sha256"):
        SpanModel(weights)
    weights.with_suffix(".json").unlink()
    with pytest.raises(ModelMissing, match="record"):
        SpanModel(weights)


def _tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from rag.embedding.onnx import model_path

    return AutoTokenizer.from_pretrained(str(model_path()), local_files_only=True)


def test_answers_map_to_the_tokens_that_spell_them() -> None:
    passage = "The bridge, finished in 1932 by Dorman Long, spans the harbour."
    examples = [
        SpanExample("Who built it?", passage, (32, 43), "positive"),
        SpanExample("When was it finished?", passage, (24, 28), "positive"),
        SpanExample("Who painted it?", passage, None, "near-topic"),
    ]
    enc = encode(_tokenizer(), examples)
    spelled = []
    for row in range(len(examples)):
        start, end = int(enc["start"][row]), int(enc["end"][row])
        offsets = enc["offsets"][row].tolist()
        spelled.append(passage[offsets[start][0] : offsets[end][1]] if start else None)
    assert spelled == ["Dorman Long", "1932", None]


def _training_data(root: Path) -> Path:
    """A tiny copy of ../shared/train's layout: two articles, one adversarial question."""
    paragraphs = [
        ("Alpha", "Ada Lovelace wrote the first program in 1843 for the Analytical Engine.",
         "Who wrote the first program?", "Ada Lovelace", 0),
        ("Alpha", "Charles Babbage designed the Analytical Engine but never finished it.",
         "What did Charles Babbage design?", "the Analytical Engine", 24),
        ("Beta", "The Forth Bridge in Scotland opened in 1890 after seven years of work.",
         "When did the Forth Bridge open?", "1890", 40),
        ("Beta", "Its cantilevers are painted a colour called Forth Bridge Red.",
         "What colour is the bridge painted?", "Forth Bridge Red", 44),
    ]  # fmt: skip
    rows = [
        {"id": f"p{i}", "article": a, "context": c,
         "qas": [{"id": f"q{i}", "question": q, "answers": [t], "answer_start": s}]}
        for i, (a, c, q, t, s) in enumerate(paragraphs)
    ]  # fmt: skip
    adversarial = dict(rows[0])
    adversarial["qas"] = [
        {"id": "x", "question": "Who wrote the last program?", "answers": [],
         "answer_start": None, "is_impossible": True}
    ]  # fmt: skip
    for name, content in (("squad11-train", rows), ("squad11", rows[:2]),
                          ("squad2-train", [adversarial])):  # fmt: skip
        (root / name).mkdir(parents=True)
        lines = "\n".join(json.dumps(r) for r in content) + "\n"
        (root / name / "paragraphs.jsonl").write_text(lines, encoding="utf-8")
    _multihop_data(root / "multihop-train")
    return root


_DOCS = {
    "peart": "Neil Peart was the drummer of the Canadian band Rush. He joined the band in 1974.",
    "song": "Nobody's Hero is a song by Rush from their album Counterparts.",
    "portnoy": "Mike Portnoy is an American drummer, a founder of Dream Theater.",
    "olsen": "Carsten Olsen (1891 - 1974) was a Danish plant ecologist.",
    "sorensen": "S. P. L. Sorensen was a Danish chemist who introduced the concept of pH.",
    "bohr": "Niels Bohr was a Danish physicist.",
}
_HOPS = [  # question, answer, supporting documents, given documents
    ("Which band recorded Counterparts with drummer Neil Peart?", "Rush",
     ("song", "peart"), ("song", "peart", "portnoy")),
    ("When did the ecologist who assisted Sorensen die?", "1974",
     ("olsen", "sorensen"), ("olsen", "sorensen", "bohr")),
    ("Were Olsen and Sorensen both Danish?", "yes",
     ("olsen", "sorensen"), ("olsen", "sorensen", "bohr")),
    ("Which Danish scientist introduced pH, assisted by an ecologist?", "S. P. L. Sorensen",
     ("sorensen", "olsen"), ("olsen", "sorensen", "portnoy", "bohr")),
]  # fmt: skip


def _multihop_data(root: Path) -> None:
    (root / "corpus").mkdir(parents=True)
    for name, text in _DOCS.items():
        (root / "corpus" / f"{name}.txt").write_text(text, encoding="utf-8")
    rows = [
        {"id": f"h{i}", "question": q, "answers": [a], "context_docs": list(given),
         "evidence": [{"doc": d, "text": _DOCS[d]} for d in supporting]}
        for i, (q, a, supporting, given) in enumerate(_HOPS)
    ]  # fmt: skip
    lines = "\n".join(json.dumps(r) for r in rows) + "\n"
    (root / "questions.jsonl").write_text(lines, encoding="utf-8")


def test_a_later_phase_mixes_in_multihop_questions_and_holds_one_in_five_out(
    tmp_path: Path,
) -> None:
    data = _training_data(tmp_path / "train")
    stream = SpanStream(data / "squad11-train" / "paragraphs.jsonl",
                        data / "squad2-train" / "paragraphs.jsonl", seed=3,
                        multihop=data / "multihop-train", multihop_share=0.6)  # fmt: skip
    examples = [e for e, _ in zip(stream, range(200), strict=False)]
    hops = [e for e in examples if e.kind == "multihop"]
    distractors = [e for e in examples if e.kind == "multihop-distractor"]
    assert hops and distractors
    # The first question is held out; the yes/no one has no answer to point at.
    assert {e.question for e in hops} == {_HOPS[1][0], _HOPS[3][0]}
    spelled = {e.passage[e.answer[0] : e.answer[1]] for e in hops if e.answer}
    assert spelled == {"1974", "S. P. L. Sorensen"}
    assert all(e.answer is None and "1974" not in e.passage and "Sorensen" not in e.passage
               for e in distractors)  # fmt: skip
    held = held_out(data / "squad11" / "paragraphs.jsonl",
                    data / "squad2-train" / "paragraphs.jsonl",
                    data / "multihop-train")  # fmt: skip
    assert [(e.kind, e.question) for e in held if e.kind.startswith("multihop")] == [
        ("multihop", _HOPS[0][0]), ("multihop-distractor", _HOPS[0][0])]  # fmt: skip


def test_the_example_stream_is_seeded(tmp_path: Path) -> None:
    data = _training_data(tmp_path / "train")
    stream = SpanStream(data / "squad11-train" / "paragraphs.jsonl",
                        data / "squad2-train" / "paragraphs.jsonl", seed=3)  # fmt: skip
    first = [e for e, _ in zip(stream, range(40), strict=False)]
    again = [e for e, _ in zip(stream, range(40), strict=False)]
    assert first == again
    assert {e.kind for e in first} >= {"positive", "near-topic"}
    for example in first:
        if example.answer is not None:
            assert example.passage[example.answer[0] : example.answer[1]]


def test_a_stopped_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    import torch

    from rag.embedding.onnx import model_path

    data = _training_data(tmp_path / "train")
    run = SpanRun(steps=4, batch=2, warmup=1, threads=1, eval_every=100)
    straight = tmp_path / "straight"
    train_span_reader(data, straight, model_path(), run, log=lambda _: None)
    resumed = tmp_path / "resumed"
    stopped = train_span_reader(data, resumed, model_path(), run, log=lambda _: None, until=2)
    assert stopped == {"examples_seen": 4.0}
    assert not (resumed / "span_reader.pt").exists()
    messages: list[str] = []
    figures = train_span_reader(data, resumed, model_path(), run, log=messages.append)
    assert "resumed at step 2" in messages
    assert figures["examples_seen"] == 8
    one = torch.load(straight / "span_reader.pt")
    two = torch.load(resumed / "span_reader.pt")
    assert all(torch.allclose(one[name], two[name], atol=1e-6) for name in one)


def test_a_later_phase_starts_from_the_earlier_phase_weights(tmp_path: Path) -> None:
    import torch

    from rag.embedding.onnx import model_path

    data = _training_data(tmp_path / "train")
    first = SpanRun(steps=2, batch=2, warmup=1, threads=1, eval_every=100)
    train_span_reader(data, tmp_path / "one", model_path(), first, log=lambda _: None, until=1)
    # A checkpoint written before a field was added resumes while that field keeps its default.
    checkpoint = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)
    del checkpoint["run"]["multihop_share"]
    torch.save(checkpoint, tmp_path / "one" / "checkpoint.pt")
    messages: list[str] = []
    train_span_reader(data, tmp_path / "one", model_path(), first, log=messages.append)
    assert "resumed at step 1" in messages
    still = SpanRun(steps=1, batch=2, warmup=1, threads=1, learning_rate=0.0, multihop_share=0.5)
    earlier = tmp_path / "one" / "span_reader.pt"
    figures = train_span_reader(data, tmp_path / "two", model_path(), still,
                                log=messages.append, init=earlier)  # fmt: skip
    assert "starting from span_reader.pt" in messages
    assert {"multihop_em", "multihop_f1", "auc_multihop-distractor"} <= set(figures)
    one, two = torch.load(earlier), torch.load(tmp_path / "two" / "span_reader.pt")
    assert all(torch.equal(one[name], two[name]) for name in one)
