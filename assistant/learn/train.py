"""``assistant train``: fit the shipped models from the training weeks, reproducibly.

1. Every training block (four consecutive weeks, the held-out sample left out) is
   chunked and encoded as the indexer does it (through the vector cache), and each of its
   questions asked against it; questions of another block asked against it are the
   negatives that teach abstention about topics the articles never address.
2. The passage ranker, then the sentence ranker, are chosen among a few LightGBM
   settings by their out-of-fold score (folds by block, never by question) and refitted
   on all training blocks.
3. The answer's extra sentences, the kept checks and the calibrated abstention model (a
   logistic regression on the answer's strength) are chosen the same way; its threshold
   is the one that keeps wrongly declined supported questions within the stated share.

It writes ``passage.npz``, ``sentence.npz``, ``abstain.json`` and ``manifest.json``
(weeks, settings, out-of-fold metrics) into the models folder.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.answer.compose import MAX_SENTENCES, choose
from assistant.answer.features import (
    ANSWER_FEATURES,
    LINEAR_ANSWER_FEATURES,
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    sentence_candidates,
    sentence_features,
)
from assistant.answer.ranking import MANIFEST, MODELS_DIR
from assistant.answer.retrieval import pick_passages
from assistant.answer.topicality import ALWAYS_CHECKS, OPTIONAL_CHECKS
from assistant.answer.trees import TreeEnsemble
from assistant.config import Settings
from assistant.learn.dataset import (
    Example,
    block_examples,
    load_block,
    make_example,
    small_library_examples,
)
from assistant.learn.evaluation import normalise
from assistant.learn.fit import (
    TreeParams,
    block_folds,
    fit_trees,
    out_of_fold,
    passage_rows,
    set_passage_scores,
)
from assistant.learn.weeks import (
    WeeksError,
    block_name,
    held_out_blocks,
    leave_year_out,
    make_blocks,
    training_blocks,
    training_sample,
    week_names,
)

Progress = Callable[[str], None]
FOLDS = 5
CANDIDATES = 40  # from each retriever, as ``Settings.candidates``
SMALL_LIBRARY_SHARE = 3  # a third of each block's questions are asked of a small library too
MAX_WRONGLY_DECLINED = 0.08  # of supported questions, out of fold (the target is 0.10)
PASSAGE_GRID = (
    TreeParams("lambdarank", rounds=150, leaves=7),
    TreeParams("lambdarank", rounds=300, leaves=15),
    TreeParams("binary", rounds=300, leaves=15),
)
SENTENCE_GRID = (
    TreeParams("binary", rounds=150, leaves=7),
    # listwise: what counts is the best sentence of each question, not every sentence
    TreeParams("rank_xendcg", rounds=150, leaves=7),
    TreeParams("binary", rounds=300, leaves=15),
    TreeParams("binary", rounds=600, leaves=15, learning_rate=0.03),
)
# a larger model must beat the simplest by more than this (out of fold) to be chosen: on
# ~650 questions a point is noise, and the smaller trees carry less position bias into
# articles unlike the quiz's (a seed article's answers sit deep in it)
SIMPLER_WITHIN = 0.01
KEEP_GRID = (0.3, 0.5, 0.7, 1.01)  # 1.01: the best sentence alone


@dataclass(frozen=True)
class AbstainSpec:
    """One abstention model to try: a logistic regression, or boosted trees."""

    name: str
    features: tuple[str, ...]
    trees: TreeParams | None = None


# simplest first: a boosted model is kept only where it beats the logistic one out of fold
ABSTAIN_GRID = (
    AbstainSpec("logistic", LINEAR_ANSWER_FEATURES),
    AbstainSpec(
        "trees-100x7",
        ANSWER_FEATURES,
        TreeParams("binary", rounds=100, leaves=7, min_data_in_leaf=40),
    ),
)


@dataclass
class SentenceSet:
    """One question's sentence candidates among its best passages, with features."""

    example: Example
    cands: list
    rows: np.ndarray
    labels: np.ndarray


@dataclass
class TrainReport:
    """What a training run chose and how it did out of fold."""

    weeks: list[str]
    blocks: list[str]
    questions: int
    supported: int
    foreign: int
    small_library: int
    passage: dict = field(default_factory=dict)
    sentence: dict = field(default_factory=dict)
    answer: dict = field(default_factory=dict)
    seconds: float = 0.0


def training_weeks(
    train_dir: Path,
    limit_blocks: int | None = None,
    all_blocks: bool = False,
    leave_out_year: str | None = None,
) -> list[list[str]]:
    """The training blocks, oldest first: those of ``TRAINING_SAMPLE`` (with
    ``all_blocks``, every block outside the held-out sample), without any block of
    ``leave_out_year``."""
    every = make_blocks(week_names(train_dir))
    blocks = training_blocks(every) if all_blocks else training_sample(every)
    if leave_out_year:
        blocks = leave_year_out(blocks, leave_out_year)
    if not blocks:
        raise WeeksError(f"none of the training sample's blocks is in {train_dir}")
    return blocks[:limit_blocks] if limit_blocks else blocks


def build_examples(
    train_dir: Path,
    blocks: list[list[str]],
    embedder,
    settings: Settings,
    progress: Progress,
    max_articles: int | None = None,
    cache_dir: Path | None = None,
) -> tuple[list[Example], dict]:
    """Own-block examples of every block, a third of them asked again against a small
    library (``dataset.small_library_examples``), plus each block's foreign questions
    (those of the next block, a sample as large as a third of its own)."""
    loaded, examples = [], []
    rng = random.Random(7)
    for weeks in blocks:
        start = time.perf_counter()
        block = load_block(train_dir, weeks, embedder, settings, max_articles, cache_dir)
        loaded.append(block)
        own = block_examples(block, embedder, CANDIDATES)
        sample = rng.sample(own, k=len(own) // SMALL_LIBRARY_SHARE)
        examples += own + small_library_examples(block, sample, embedder, CANDIDATES, rng)
        progress(
            f"{block.name}: {len(block.corpus.chunks)} chunks, {len(block.questions)} "
            f"questions ({time.perf_counter() - start:.0f} s)"
        )
    for i, block in enumerate(loaded):
        other = loaded[(i + 1) % len(loaded)]
        if other is block:
            continue
        sample = rng.sample(other.questions, k=min(len(other.questions), len(block.questions) // 3))
        examples += [make_example(block, q, embedder, CANDIDATES, foreign=True) for q in sample]
    articles = {d.doc_id: d for b in loaded for d in b.documents}
    return examples, articles


# --- stage 1: passages --------------------------------------------------------------------


def hit_at(examples: list[Example], ks=(1, 3, 5, 10, 40)) -> dict[str, float]:
    """Share of supported own-block questions whose answer is in the top k hits."""
    usable = [e for e in examples if e.supported]
    firsts = []
    for e in usable:
        found = np.flatnonzero(e.labels)
        firsts.append(found[0] + 1 if len(found) else None)
    return {str(k): _mean([f is not None and f <= k for f in firsts]) for k in ks}


def _mean(flags) -> float:
    flags = list(flags)
    return round(float(np.mean(flags)), 4) if flags else 0.0


def _fit_passages(params: TreeParams):
    def fit(train: list[Example]):
        x, y, groups = passage_rows(train)
        return fit_trees(x, y, groups, params)

    return fit


def choose_passage_model(examples, folds, progress) -> tuple[TreeParams, dict]:
    """The passage setting with the best out-of-fold hit@5 (hit@1 breaks ties); leaves
    every example scored out of fold by it."""
    set_passage_scores(None, examples)
    results = {"rrf": hit_at(examples)}
    best = None
    for params in PASSAGE_GRID:
        out_of_fold(examples, folds, _fit_passages(params), set_passage_scores)
        hits = hit_at(examples)
        results[_name(params)] = hits
        progress(f"passage {_name(params)}: hit@k {hits}")
        if best is None or (hits["5"], hits["1"]) > (best[1]["5"], best[1]["1"]):
            best = (params, hits)
    out_of_fold(examples, folds, _fit_passages(best[0]), set_passage_scores)
    return best[0], results


def _name(params: TreeParams) -> str:
    return f"{params.objective}-{params.rounds}x{params.leaves}-lr{params.learning_rate}"


# --- stage 2: sentences -------------------------------------------------------------------


def sentence_sets(examples: list[Example], k: int) -> list[SentenceSet]:
    """Every example's sentences among its ``k`` best passages (as retrieval picks them)."""
    out = []
    for ex in examples:
        picked = pick_passages(ex.hits, k)
        cands = sentence_candidates(picked)
        rows = (
            sentence_features(ex.context, cands, {h.chunk_id: h.features for h in picked})
            if cands
            else np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
        )
        labels = np.array([bool(ex.gold) and ex.gold in normalise(c.text) for c in cands])
        out.append(SentenceSet(ex, cands, rows, labels.astype(bool)))
    return out


def _fit_sentences(params: TreeParams):
    def fit(train: list[SentenceSet]):
        use = [s for s in train if s.example.supported and s.labels.any()]
        x = np.vstack([s.rows for s in use])
        y = np.concatenate([s.labels for s in use])
        groups = [] if params.objective == "binary" else [len(s.rows) for s in use]
        return fit_trees(x, y, groups, params)

    return fit


def _score_sentences(model, sets: list[SentenceSet]) -> None:
    for s in sets:
        if len(s.cands):
            for cand, score in zip(s.cands, model.raw(s.rows), strict=True):
                cand.score = float(score)


def sentence_hits(sets: list[SentenceSet]) -> dict[str, float]:
    """Out-of-fold share of supported questions whose best sentence holds the answer."""
    usable = [s for s in sets if s.example.supported]
    tops = [
        bool(len(s.cands)) and bool(s.labels[int(np.argmax([c.score for c in s.cands]))])
        for s in usable
    ]
    return {"top1": _mean(tops)}


def choose_sentence_model(sets, folds, progress) -> tuple[TreeParams, dict]:
    """The simplest sentence setting (the grid runs simplest first) whose out-of-fold
    top-sentence hit is within ``SIMPLER_WITHIN`` of the best."""
    by_block = _by_block(sets)
    results, scored = {}, []
    for params in SENTENCE_GRID:
        _oof(by_block, folds, _fit_sentences(params), _score_sentences)
        hits = sentence_hits(sets)
        results[_name(params)] = hits
        scored.append((params, hits["top1"]))
        progress(f"sentence {_name(params)}: {hits}")
    chosen = _first_within(scored)
    _oof(by_block, folds, _fit_sentences(chosen), _score_sentences)
    return chosen, results


def _first_within(scored: list[tuple]):
    """The first choice of ``scored`` ((choice, score) pairs in grid order, simplest
    first) whose score is within ``SIMPLER_WITHIN`` of the best: a larger model or a later
    setting has to win by more than noise."""
    top = max(score for _, score in scored)
    return next(choice for choice, score in scored if score >= top - SIMPLER_WITHIN)


def _by_block(sets: list[SentenceSet]) -> dict[str, list[SentenceSet]]:
    out: dict[str, list[SentenceSet]] = {}
    for s in sets:
        out.setdefault(s.example.block, []).append(s)
    return out


def _oof(by_block, folds, fit, apply) -> None:
    for fold in folds:
        inside = [s for b in fold for s in by_block.get(b, [])]
        outside = [s for b, items in by_block.items() if b not in fold for s in items]
        apply(fit(outside), inside)


# --- stage 3: the answer, its checks and abstention ----------------------------------------


@dataclass
class Outcome:
    """One question's answer under a setting, before the abstention threshold."""

    supported: bool
    values: list[float]  # ANSWER_FEATURES
    answered_right: bool  # a chosen sentence holds the gold answer
    cited_right: bool  # a chosen sentence's passage holds it
    checks_failed: bool
    sentences: int
    kind: str = "own"  # "own" (asked of its block), "small" (of a small library), "foreign"


def outcomes(
    sets, keep: float, checks: list[str], lookup, distinct=False, max_sentences=MAX_SENTENCES
) -> list[Outcome]:
    """Every question's chosen sentences and answer features under one setting."""
    from assistant.answer.compose import answer_values
    from assistant.answer.topicality import eligible_sentences, failed_question_checks

    out = []
    for s in sets:
        ex = s.example
        order = np.argsort([-c.score for c in s.cands], kind="stable")
        ranked = [s.cands[i] for i in order]
        allowed = eligible_sentences(ex.question.question, ranked, checks, lookup)
        chosen = choose(allowed, max_sentences, keep, distinct)
        position = {id(c): i for i, c in enumerate(s.cands)}
        rows = s.rows[[position[id(c)] for c in chosen]] if chosen else s.rows[:0]
        picked = list({c.hit.chunk_id: c.hit for c in s.cands}.values()) or ex.hits[:1]
        values = answer_values(ex.context, picked, ranked, rows)
        failed = bool(chosen) and bool(
            failed_question_checks(ex.question.question, picked, chosen, checks, lookup)
        )
        gold = ex.gold
        out.append(
            Outcome(
                ex.supported,
                [values[name] for name in ANSWER_FEATURES],
                ex.supported and any(gold in normalise(c.text) for c in chosen),
                ex.supported and any(gold in normalise(c.hit.text) for c in chosen),
                failed or not chosen,
                len(chosen),
                "foreign" if ex.foreign else "small" if ex.small else "own",
            )
        )
    return out


def fit_abstention(
    rows: np.ndarray, labels: np.ndarray, spec: AbstainSpec = ABSTAIN_GRID[0]
) -> tuple[dict, TreeEnsemble | None]:
    """The abstention model of ``spec`` fitted on ``rows`` (all ``ANSWER_FEATURES``): its
    description (written as ``abstain.json``) and, for boosted trees, the trees."""
    rows = _answer_columns(rows, spec.features)
    if spec.trees is None:
        fitted = _fit_logistic(rows, labels, spec.features)
        return {"kind": "logistic", "name": spec.name, **fitted}, None
    trees = fit_trees(rows, labels, [], spec.trees)
    return {"kind": "trees", "name": spec.name, "features": list(spec.features)}, trees


def _answer_columns(rows: np.ndarray, features) -> np.ndarray:
    """The columns of ``features`` from rows of all ``ANSWER_FEATURES``."""
    return rows[:, [ANSWER_FEATURES.index(name) for name in features]]


def _fit_logistic(rows: np.ndarray, labels: np.ndarray, features) -> dict:
    """A logistic regression on answer features (its own calibration): continuous ones
    standardised, 0/1 indicators left as they are, so that the penalty holds a rarely
    seen indicator (a date question: 4 of 540) to a small weight instead of letting its
    tiny spread blow it up (it read -4.7, and every date question was declined)."""
    from sklearn.linear_model import LogisticRegression

    binary = np.all((rows == 0) | (rows == 1), axis=0)
    mean = np.where(binary, 0.0, rows.mean(axis=0))
    scale = np.where(binary, 1.0, rows.std(axis=0) + 1e-6)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((rows - mean) / scale, labels)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0] - (model.coef_[0] * mean / scale).sum())
    return {"features": list(features), "weights": weights.tolist(), "bias": bias}


def _probabilities(model: tuple[dict, TreeEnsemble | None], rows: np.ndarray) -> np.ndarray:
    described, trees = model
    rows = _answer_columns(rows, described["features"])
    if trees is not None:
        z = trees.raw(rows)
    else:
        z = rows @ np.asarray(described["weights"]) + described["bias"]
    return 1.0 / (1.0 + np.exp(-z))


def oof_probabilities(
    results: list[Outcome], blocks: list[str], folds, spec: AbstainSpec = ABSTAIN_GRID[0]
) -> np.ndarray:
    """Each question's answer probability from a model fitted on the other folds."""
    rows = np.asarray([r.values for r in results])
    labels = np.asarray([r.answered_right for r in results])
    probs = np.zeros(len(results))
    for fold in folds:
        inside = np.asarray([b in fold for b in blocks])
        if inside.all() or not labels[~inside].any():
            continue
        model = fit_abstention(rows[~inside], labels[~inside], spec)
        probs[inside] = _probabilities(model, rows[inside])
    return probs


def answer_metrics(results: list[Outcome], probs: np.ndarray, threshold: float) -> dict:
    """Citation and answer hit of supported questions, declined shares, at a threshold."""
    pairs = zip(results, probs, strict=True)
    answered = [(p >= threshold) and not r.checks_failed for r, p in pairs]
    sup = [(r, a) for r, a in zip(results, answered, strict=True) if r.supported]
    unsup = [(r, a) for r, a in zip(results, answered, strict=True) if not r.supported]
    return {
        "citation_hit": _mean(r.cited_right and a for r, a in sup),
        "answer_hit": _mean(r.answered_right and a for r, a in sup),
        "supported_declined": _mean(not a for _, a in sup),
        "unsupported_declined": _mean(not a for _, a in unsup),
        # the held-out blocks' kind: the block's own questions its articles do not answer
        "own_unsupported_declined": _mean(not a for r, a in unsup if r.kind == "own"),
        "sentences": _mean([r.sentences for r, a in sup if a]) if sup else 0.0,
    }


def pick_threshold(results, probs) -> float:
    """The highest threshold keeping supported questions wrongly declined within
    ``MAX_WRONGLY_DECLINED`` (so as many unsupported ones as possible are declined)."""
    best = 0.0
    for threshold in np.round(np.arange(0.0, 0.96, 0.01), 2):
        if answer_metrics(results, probs, threshold)["supported_declined"] <= MAX_WRONGLY_DECLINED:
            best = float(threshold)
    return best


def _figures(results: list[Outcome], probs: np.ndarray) -> dict:
    """The figures at the threshold the probabilities allow, and their utility."""
    threshold = pick_threshold(results, probs)
    metrics = answer_metrics(results, probs, threshold)
    utility = metrics["citation_hit"] + metrics["answer_hit"] + metrics["unsupported_declined"]
    return {**metrics, "threshold": threshold, "utility": round(utility, 4)}


def evaluate_setting(
    sets, folds, lookup, keep: float, checks: list[str], distinct=False, specs=ABSTAIN_GRID
) -> dict:
    """Out-of-fold figures of one answer setting, each abstention model of
    ``ABSTAIN_GRID`` at its own threshold; the setting's figures are those of the simplest
    model within ``SIMPLER_WITHIN`` of the best utility (its name under "abstention")."""
    blocks = [s.example.block for s in sets]
    results = outcomes(sets, keep, checks, lookup, distinct)
    by_model = {
        spec.name: _figures(results, oof_probabilities(results, blocks, folds, spec))
        for spec in specs
    }
    chosen = _first_within([(n, f["utility"]) for n, f in by_model.items()])
    others = {n: f["utility"] for n, f in by_model.items() if n != chosen}
    return {**by_model[chosen], "abstention": chosen, "other_models_utility": others}


def abstention_specs(name: str) -> tuple[AbstainSpec, ...]:
    """The abstention models to choose among: all of ``ABSTAIN_GRID`` ("auto") or one."""
    if name == "auto":
        return ABSTAIN_GRID
    chosen = tuple(spec for spec in ABSTAIN_GRID if spec.name == name)
    if not chosen:
        known = ", ".join(["auto", *(spec.name for spec in ABSTAIN_GRID)])
        raise ValueError(f"unknown abstention model {name!r} (known: {known})")
    return chosen


def choose_answer_setting(sets, folds, lookup, progress, specs=ABSTAIN_GRID) -> tuple[dict, dict]:
    """The extra-sentence ratio and whether to quote one sentence a passage (with the
    quotable checks; the earliest within ``SIMPLER_WITHIN`` of the best), then the optional
    checks added one at a time while one raises the out-of-fold citation hit + answer hit +
    unsupported declined by more than ``SIMPLER_WITHIN`` (each setting with its best
    abstention model at its own threshold): a check is kept only where it clearly helps."""
    tried: dict[str, dict] = {}

    def run(keep: float, checks: list[str], distinct: bool) -> dict:
        name = f"keep={keep} distinct={distinct} checks={'+'.join(checks) or 'none'}"
        tried[name] = evaluate_setting(sets, folds, lookup, keep, checks, distinct, specs)
        progress(f"answer {name}: {tried[name]}")
        return tried[name]

    base = list(ALWAYS_CHECKS)
    grid = [(k, d) for k in KEEP_GRID for d in (False, True)]
    # a near tie goes to the earlier setting (sentences as ranked, then one a passage), as
    # tree sizes do: float16 vectors re-encoded on another machine flipped a 0.002 lead
    keep, distinct = _first_within([(kd, run(kd[0], base, kd[1])["utility"]) for kd in grid])
    run(keep, [], distinct)  # the quotable checks' own effect, for the record
    checks: list[str] = []
    best = tried[f"keep={keep} distinct={distinct} checks={'+'.join(base)}"]
    while True:
        options = [c for c in OPTIONAL_CHECKS if c not in checks]
        scored = [(run(keep, base + checks + [c], distinct), c) for c in options]
        if not scored:
            break
        top, check = max(scored, key=lambda item: item[0]["utility"])
        # a check must earn its place by more than noise, as a larger model must: each
        # also declines supported questions (held-out blocks showed `subject`, kept for
        # +0.002 out of fold, leaving 7 of 165 supported questions nothing to quote)
        if top["utility"] <= best["utility"] + SIMPLER_WITHIN:
            break
        checks, best = checks + [check], top
    setting = {"keep": keep, "distinct": distinct, "checks": checks}
    return {**setting, "threshold": best["threshold"], "abstention": best["abstention"]}, tried


# --- one whole run ------------------------------------------------------------------------


def train(
    train_dir: Path,
    out_dir: Path,
    embedder,
    settings: Settings,
    progress: Progress = print,
    limit_blocks: int | None = None,
    all_blocks: bool = False,
    folds: int = FOLDS,
    blocks: list[list[str]] | None = None,
    max_articles: int | None = None,
    cache_dir: Path | None = None,
    abstention: str = "auto",
    leave_out_year: str | None = None,
) -> TrainReport:
    """Fit every model from the training blocks (or the given ``blocks`` of weeks) and
    write them with their manifest (``abstention``: the abstention model of
    ``ABSTAIN_GRID`` to use, or "auto" to choose it out of fold)."""
    start = time.perf_counter()
    specs = abstention_specs(abstention)
    blocks = blocks or training_weeks(train_dir, limit_blocks, all_blocks, leave_out_year)
    held = {w for b in held_out_blocks(make_blocks(week_names(train_dir))) for w in b}
    if held & {w for b in blocks for w in b}:
        raise ValueError("the held-out weeks are never trained on: choose other weeks")
    examples, articles = build_examples(
        train_dir, blocks, embedder, settings, progress, max_articles, cache_dir
    )
    lookup = articles.get
    fold_sets = block_folds(examples, folds)
    passage_params, passage_results = choose_passage_model(examples, fold_sets, progress)
    sets = sentence_sets(examples, settings.k)
    sentence_params, sentence_results = choose_sentence_model(sets, fold_sets, progress)
    answer_setting, answer_results = choose_answer_setting(sets, fold_sets, lookup, progress, specs)

    # the shipped models: refitted on every training block
    passage_model = _fit_passages(passage_params)(examples)
    sentence_model = _fit_sentences(sentence_params)(sets)
    checks = [*ALWAYS_CHECKS, *answer_setting["checks"]]
    results = outcomes(sets, answer_setting["keep"], checks, lookup, answer_setting["distinct"])
    spec = next(s for s in ABSTAIN_GRID if s.name == answer_setting["abstention"])
    abstain, abstain_trees = fit_abstention(
        np.asarray([r.values for r in results]),
        np.asarray([r.answered_right for r in results]),
        spec,
    )
    abstain["threshold"] = answer_setting["threshold"]
    answer_setting["abstention_choice"] = abstention

    own = [e for e in examples if not e.foreign and not e.small]
    report = TrainReport(
        weeks=[w for b in blocks for w in b],
        blocks=[block_name(b) for b in blocks],
        questions=len(own),
        supported=sum(e.supported for e in own),
        foreign=sum(e.foreign for e in examples),
        small_library=sum(e.small for e in examples),
        passage={"chosen": _name(passage_params), "out_of_fold_hit_at": passage_results},
        sentence={"chosen": _name(sentence_params), "out_of_fold": sentence_results},
        answer={"chosen": answer_setting, "out_of_fold": answer_results},
        seconds=round(time.perf_counter() - start, 1),
    )
    models = (passage_model, sentence_model, abstain, abstain_trees)
    _write(out_dir, models, answer_setting, report, settings)
    return report


def _write(out_dir, models, answer_setting, report, settings):
    passage_model, sentence_model, abstain, abstain_trees = models
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    passage_model.save(out_dir / "passage.npz")
    sentence_model.save(out_dir / "sentence.npz")
    (out_dir / "abstain.json").write_text(json.dumps(abstain, indent=1) + "\n")
    (out_dir / "abstain.npz").unlink(missing_ok=True)
    if abstain_trees is not None:
        abstain_trees.save(out_dir / "abstain.npz")
    manifest = {
        "trained_on": {"weeks": report.weeks, "blocks": report.blocks},
        "held_out_blocks_never_used": "see learn.weeks.held_out_blocks",
        "settings": {
            "embedding_model": settings.embedding_model,
            "max_chunk_tokens": settings.max_chunk_tokens,
            "chunk_overlap_sentences": settings.chunk_overlap_sentences,
            "candidates": CANDIDATES,
            "k": settings.k,
            "folds": FOLDS,
            "max_wrongly_declined": MAX_WRONGLY_DECLINED,
            "abstention": answer_setting["abstention_choice"],
        },
        "features": {
            "passage": list(PASSAGE_FEATURES),
            "sentence": list(SENTENCE_FEATURES),
            "answer": list(abstain["features"]),  # those the abstention model reads
        },
        "keep": answer_setting["keep"],
        "distinct": answer_setting["distinct"],
        "checks": answer_setting["checks"],
        "metrics": asdict(report),
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def default_out_dir() -> Path:
    return MODELS_DIR
