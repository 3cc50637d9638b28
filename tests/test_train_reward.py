"""The multi-view ranking reward and its parts, against hand computations, definitions, ir_measures
(nDCG@k, R@k) and the PyPI ``rbo`` package (rank-biased overlap) on seeded random lists."""
from __future__ import annotations

import itertools
import math
import random

import ir_measures
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_measures import R, nDCG

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.train.reward import (
    RankingReward, RewardConfig, ndcg_at, ranking_reward, rbo, recall_at,
)

INITIAL = ["a", "b", "c"]
TEACHER = ["a", "b", "c"]


def answer(*ids: int) -> str:
    return "<think>some reasoning</think> <answer>" + " > ".join(f"[{i}]" for i in ids) + "</answer>"


def test_perfect_list_scores_one_plus_phi_plus_gamma():
    assert ranking_reward(answer(1, 2, 3), INITIAL, {"a"}, TEACHER) == pytest.approx(1.0 + 0.2 + 0.1)


def test_reversed_list_by_hand():
    # ranked c, b, a: the relevant 'a' is third -> NDCG = 1/log2(4) = 0.5; Recall@10 = 1;
    # RBO(p=1) vs the teacher: A_1 = 0, A_2 = 1/2, A_3 = 1 -> mean 0.5.
    assert ranking_reward(answer(3, 2, 1), INITIAL, {"a"}, TEACHER) == pytest.approx(0.5 + 0.2 * 1 + 0.1 * 0.5)


def test_paper_example_recall_at_10_rewards_keeping_both_relevant_in_the_top_10():
    initial = [f"d{i}" for i in range(1, 21)]
    relevant = {"r1", "r2"}
    idcg = 1 + 1 / math.log2(3)

    def ranked_with_relevant_at(p: int, q: int) -> list[str]:
        others = iter(d for d in initial if d not in ("d1", "d2"))
        return ["r1" if r == p else "r2" if r == q else next(others) for r in range(1, 21)]

    at_9_10 = ranked_with_relevant_at(9, 10)
    at_1_11 = ranked_with_relevant_at(1, 11)
    ndcg_9_10 = (1 / math.log2(10) + 1 / math.log2(11)) / idcg  # 0.3618
    ndcg_1_11 = 1 / idcg  # 0.6131
    assert ndcg_at(at_9_10, relevant) == pytest.approx(ndcg_9_10)
    assert ndcg_at(at_1_11, relevant) == pytest.approx(ndcg_1_11)
    assert recall_at(at_9_10, relevant) == 1.0 and recall_at(at_1_11, relevant) == 0.5

    # Through the reward (teacher == the prompt order, so ids map r1 -> d1's slot etc.).
    ids = {d: i for i, d in enumerate(["r1", "r2"] + [d for d in initial if d not in ("d1", "d2")], 1)}
    prompt_order = ["r1", "r2"] + [d for d in initial if d not in ("d1", "d2")]
    no_rbo = RewardConfig(gamma=0.0)
    r_9_10 = ranking_reward(answer(*(ids[d] for d in at_9_10)), prompt_order, relevant, prompt_order, no_rbo)
    r_1_11 = ranking_reward(answer(*(ids[d] for d in at_1_11)), prompt_order, relevant, prompt_order, no_rbo)
    assert r_9_10 == pytest.approx(ndcg_9_10 + 0.2)
    assert r_1_11 == pytest.approx(ndcg_1_11 + 0.1)
    # Recall@10 narrows NDCG's gap in favour of the list that keeps both relevant passages in the top
    # 10 (the ones a sliding window carries on); with phi = 0.2 it narrows, it takes phi > 0.503 to flip.
    assert (r_1_11 - r_9_10) < (ndcg_1_11 - ndcg_9_10)
    flip = RewardConfig(phi=0.6, gamma=0.0)
    assert ranking_reward(answer(*(ids[d] for d in at_9_10)), prompt_order, relevant, prompt_order, flip) > \
        ranking_reward(answer(*(ids[d] for d in at_1_11)), prompt_order, relevant, prompt_order, flip)


@pytest.mark.parametrize("completion", [
    "[1] > [2] > [3]",                                   # no tags
    "<think>reasoning</think>",                           # no answer
    "<answer>[1] > [2] > [3]</answer>",                   # no think
    "<think>reasoning <answer>[1] > [2] > [3]</answer>",  # think never closed
    "",
])
def test_format_failures_score_minus_one(completion):
    assert ranking_reward(completion, INITIAL, {"a"}, TEACHER) == -1.0


@pytest.mark.parametrize("ids", [(1, 2), (1, 2, 3, 3), (1, 1, 3), (1, 2, 4), (0, 1, 2), ()])
def test_wrong_counts_duplicates_and_unknown_ids_score_zero(ids):
    assert ranking_reward(answer(*ids), INITIAL, {"a"}, TEACHER) == 0.0


def test_ids_are_the_numbers_they_denote():
    # [01] is passage 1, so this is the perfect list written with a leading zero.
    assert ranking_reward("<think>x</think><answer>[01] > [002] > [3]</answer>", INITIAL, {"a"}, TEACHER) == \
        pytest.approx(1.0 + 0.2 + 0.1)


def test_one_passage_under_many_spellings_scores_zero():
    # The exploit: ten spellings of the relevant passage 1 used to pass the count checks as ten
    # distinct ids and score 4.78 (NDCG summed ten times); it names one passage ten times.
    initial = [f"d{i}" for i in range(1, 11)]
    aliases = " > ".join(f"[{'0' * z}1]" for z in range(10))
    assert ranking_reward(f"<think>x</think><answer>{aliases}</answer>", initial, {"d1"}, initial) == 0.0
    assert ranking_reward(answer(1, 2, 3).replace("[3]", "[001]"), INITIAL, {"a"}, TEACHER) == 0.0


@pytest.mark.parametrize("huge", [
    "1" * 5000,        # past int()'s 4,300-digit limit: no passage
    "9" * 20,          # no passage
    "0" * 5000 + "2",  # passage 2, which the list already names
])
def test_huge_ids_score_zero_without_raising(huge):
    completion = f"<think>x</think><answer>[1] > [2] > [{huge}]</answer>"
    assert ranking_reward(completion, INITIAL, {"a"}, TEACHER) == 0.0


def test_leading_zeros_name_the_passage_up_to_the_int_limit():
    completion = f"<think>x</think><answer>[1] > [2] > [{'0' * 4299}3]</answer>"
    assert ranking_reward(completion, INITIAL, {"a"}, TEACHER) == pytest.approx(1.0 + 0.2 + 0.1)


@pytest.mark.parametrize("ids", [
    f"[1] > [2] > [{'0' * 4300}3]",  # 4,301 digits: upstream's int() raises (REFERENCE.md section 2)
    "[1] > [2]\u00b2 > [3]",        # ²: str.isdigit but not a decimal, int() raises
    "[1] > [2] > [3\u2460]",        # ①
])
def test_answers_int_cannot_read_earn_what_a_made_up_id_earns(ids):
    """The reranker keeps such a window's order (no ranking read); the reward gives such a ranking 0."""
    assert ranking_reward(f"<think>x</think><answer>{ids}</answer>", INITIAL, {"a"}, TEACHER) == 0.0


_ANSWER_TOKENS = st.sampled_from(["[1]", "[2]", "[3]", "[01]", "[0]", "[4]", "[" + "7" * 4400 + "]", " > ", ">", "x", ""])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(_ANSWER_TOKENS, max_size=8).map(
    lambda parts: "<think>r</think> <answer>" + "".join(parts) + "</answer>")))
def test_reward_is_bounded_for_any_completion(completion):
    config = RewardConfig()
    reward = ranking_reward(completion, INITIAL, {"a", "b"}, TEACHER, config)
    assert -1.0 <= reward <= 1.0 + config.phi + config.gamma


@pytest.mark.parametrize("relevant", [set(), [], ()])
def test_no_relevant_passage_is_refused(relevant):
    """Upstream divides by zero in NDCG; the reward says why instead (and GRPO's dataset refuses such lists)."""
    with pytest.raises(ReasonRankError, match="at least one relevant id"):
        ranking_reward(answer(1, 2, 3), INITIAL, relevant, TEACHER)


def test_trl_adapter_reads_dataset_columns_and_counts_calls():
    reward = RankingReward(RewardConfig(phi=0.0, gamma=0.0))
    scores = reward(prompts=["p", "p"], completions=[answer(1, 2, 3), "garbage"], completion_ids=[[], []],
                    initial_list=[INITIAL, INITIAL], relevant_docids=[["b"], ["b"]], final_list=[TEACHER, TEACHER],
                    trainer_state=None)
    assert scores == [pytest.approx(1 / math.log2(3)), -1.0]
    assert reward.calls == 2
    chat = reward(completions=[[{"role": "assistant", "content": answer(2, 1, 3)}]], initial_list=[INITIAL],
                  relevant_docids=[["b"]], final_list=[TEACHER])
    assert chat == [pytest.approx(1.0)]


def _rbo_by_definition(a, b, p):
    k = min(len(a), len(b))
    agreements = [len(set(a[:d]) & set(b[:d])) / d for d in range(1, k + 1)]
    if p == 1.0:
        return sum(agreements) / k
    return (1 - p) * sum(p ** (d - 1) * agreements[d - 1] for d in range(1, k + 1))


@pytest.mark.parametrize("p", [1.0, 0.9, 0.5])
def test_rbo_matches_its_definition_on_all_small_permutations(p):
    base = list("abcd")
    for perm in itertools.permutations(base):
        assert rbo(list(perm), base, p) == pytest.approx(_rbo_by_definition(list(perm), base, p))
    for perm in itertools.permutations("abcde", 3):  # lists of unequal content
        assert rbo(list(perm), list("cab"), p) == pytest.approx(_rbo_by_definition(list(perm), list("cab"), p))


def test_rbo_known_values():
    assert rbo(list("abc"), list("abc")) == 1.0
    assert rbo(list("abc"), list("xyz")) == 0.0
    assert rbo(list("abc"), list("abc"), p=0.9) == pytest.approx(1 - 0.9**3)  # truncated, no extrapolation
    assert rbo([], []) == 1.0
    with pytest.raises(ReasonRankError):
        rbo(list("ab"), list("ab"), p=0.0)


# -- against independent implementations, on seeded random lists -------------------------------------

CUTOFFS = (1, 3, 10, 20)


def random_case(rng: random.Random) -> tuple[list[str], dict[str, int]]:
    """A ranked list and graded qrels over a pool larger than the list (some judged docs never ranked,
    some ranked docs never judged, grade 0 = judged non-relevant); at least one judgment."""
    pool = [f"d{i}" for i in range(rng.randint(1, 40))]
    ranked = rng.sample(pool, rng.randint(1, len(pool)))
    judged = rng.sample(pool, rng.randint(1, len(pool)))
    return ranked, {d: rng.choice((0, 0, 1, 2, 3)) for d in judged}


def reference_scores(cases) -> dict[tuple[str, str], float]:
    """trec_eval's nDCG@k and R@k through ir_measures, the graded qrels made binary (grade > 0 is
    relevant), as ReasonRank's reward reads them."""
    qrels = [ir_measures.Qrel(str(i), d, int(g > 0)) for i, (_, graded) in enumerate(cases) for d, g in graded.items()]
    run = [ir_measures.ScoredDoc(str(i), d, float(len(ranked) - r))
           for i, (ranked, _) in enumerate(cases) for r, d in enumerate(ranked)]
    measures = [m @ k for k in CUTOFFS for m in (nDCG, R)]
    return {(m.query_id, str(m.measure)): m.value for m in ir_measures.iter_calc(measures, qrels, run)}


def test_ndcg_and_recall_match_ir_measures_on_random_lists():
    cases = [random_case(random.Random(seed)) for seed in range(600)]
    expected = reference_scores(cases)
    assert len(expected) == len(cases) * 2 * len(CUTOFFS)
    for i, (ranked, graded) in enumerate(cases):
        relevant = {d for d, g in graded.items() if g > 0}
        for k in CUTOFFS:
            assert ndcg_at(ranked, relevant, k) == pytest.approx(expected[(str(i), f"nDCG@{k}")], abs=1e-12)
            assert recall_at(ranked, relevant, k) == pytest.approx(expected[(str(i), f"R@{k}")], abs=1e-12)


def reference_rbo(a: list, b: list, p: float) -> float:
    """The ``rbo`` package's ``RankingSimilarity(a, b).rbo(p=p)``: upstream ReasonRank's reward calls it
    with its default p = 1.0 (average overlap), and for p < 1 without ``ext`` it is Webber et al.'s
    truncated sum at the shorter length, the two variants ``reward.rbo`` implements. Imported here: only
    the 3.11 install step (scripts/fetch_test_models.sh) puts it in the venv."""
    import rbo as rbo_package

    return rbo_package.RankingSimilarity(list(a), list(b)).rbo(p=p)


@pytest.mark.parametrize("p", [1.0, 0.9, 0.5, 0.1])
def test_rbo_matches_the_rbo_package_on_random_lists(p):
    rng = random.Random(f"rbo-{p}")
    for _ in range(400):
        n = rng.randint(1, 30)
        teacher = rng.sample(range(1, n + 1), n)
        predicted = rng.sample(range(1, n + 1), n)  # the reward's case: two orders of one list
        assert rbo(predicted, teacher, p) == pytest.approx(reference_rbo(predicted, teacher, p), abs=1e-12)
        pool = range(rng.randint(1, 40))  # unequal lengths, partly disjoint content
        a, b = rng.sample(pool, rng.randint(1, len(pool))), rng.sample(pool, rng.randint(1, len(pool)))
        assert rbo(a, b, p) == pytest.approx(reference_rbo(a, b, p), abs=1e-12)


def test_reward_is_ndcg_plus_recall_plus_rbo_of_independent_implementations():
    rng = random.Random(7)
    config = RewardConfig()
    cases, rollouts = [], []
    for _ in range(300):
        n = rng.randint(2, 20)
        initial = [f"p{i}" for i in range(n)]
        teacher = rng.sample(initial, n)
        predicted = rng.sample(range(1, n + 1), n)
        graded = {d: rng.choice((0, 1, 2)) for d in rng.sample(initial, rng.randint(1, n))}
        ranked = [initial[i - 1] for i in predicted]
        cases.append((ranked, graded))
        rollouts.append((answer(*predicted), initial, teacher, ranked))
    expected = reference_scores(cases)
    for i, ((completion, initial, teacher, ranked), (_, graded)) in enumerate(zip(rollouts, cases)):
        relevant = {d for d, g in graded.items() if g > 0}
        if not relevant:
            continue  # refused, see test_no_relevant_passage_is_refused
        reference = (expected[(str(i), "nDCG@10")] + config.phi * expected[(str(i), "R@10")]
                     + config.gamma * reference_rbo(ranked, teacher, config.p))
        assert ranking_reward(completion, initial, relevant, teacher, config) == pytest.approx(reference, abs=1e-12)
